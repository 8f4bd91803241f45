import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  handoffEligible, handoffEligibleAsync, handoffAssemble, handoffAssembleAsync, handoffRecordVerified,
  handoffRecordPr, gitReconcile, gitReconcileAsync, ledgerRead, ledgerLatestDoneByStage,
  registryGetImplementationBase, registryLookup,
} from '@okstra/native'
import { git, makeRepo, okstra, tempDir, tempHome } from './helpers.mjs'
import { recordStages } from './fixtures/project.mjs'

const PLAN = `# 구현 계획 보고서

## 5.5 Stage Map

| Stage | 제목 | Depends on |
|---|---|---|
| 1 | 스키마 | (none) |
| 2 | 워커 | 1 |
| 3 | 충돌하는 변경 | (none) |
| 4 | 검증 안 됨 | (none) |

## 5.6 Stage Validation
`

/** A repo with stage branches: s1 and s3 both rewrite a.txt (they conflict), s2 adds b.txt on top of s1. */
function setup() {
  const repo = makeRepo()
  writeFileSync(join(repo, 'a.txt'), 'base\n')
  git(repo, 'add', '.')
  git(repo, 'commit', '-qm', 'base')
  const base = git(repo, 'rev-parse', 'HEAD')
  const branch = (name, from, file, text) => {
    git(repo, 'checkout', '-q', '-b', name, from)
    writeFileSync(join(repo, file), text)
    git(repo, 'add', '.')
    git(repo, 'commit', '-qm', name)
    return git(repo, 'rev-parse', 'HEAD')
  }
  const heads = {
    1: branch('feat-t-s1', base, 'a.txt', 'stage one\n'),
    3: branch('feat-t-s3', base, 'a.txt', 'stage three\n'),
    4: branch('feat-t-s4', base, 'd.txt', 'four\n'),
  }
  heads[2] = branch('feat-t-s2', 'feat-t-s1', 'b.txt', 'stage two\n')
  git(repo, 'checkout', '-q', 'main')
  const home = tempHome()
  const runs = tempDir('okstra-plan-run-')
  const plan = join(runs, 'final-report-implementation-planning-001.md')
  writeFileSync(plan, PLAN)
  const { task, results } = recordStages({ repo, home, runs, base, heads, verified: [1, 2, 3], started: true })
  for (const r of results) assert.deepEqual(r, { appended: true, taskKey: 'p/g/t' })
  const ctx = { planRunRoot: runs, approvedPlan: plan, projectRoot: repo }
  return { repo, home, runs, plan, base, heads, task, ctx, asm: { ...ctx, ...task, workCategory: 'feature' } }
}

test('handoffEligible gives each stage readable reasons', async () => {
  const { ctx } = setup()
  const { stages } = handoffEligible(ctx)
  assert.deepEqual(stages.map((s) => [s.number, s.eligible]), [[1, true], [2, true], [3, true], [4, false]])
  assert.deepEqual(stages[3].reasons, ['Stage 4 is not verified: its last single-stage final-verification verdict is not accepted.'])
  assert.equal(stages[1].title, '워커')
  assert.deepEqual(await handoffEligibleAsync(ctx), handoffEligible(ctx))
})

test('handoffEligible judges against the real default branch and names the proof of a squash-merged dependency', () => {
  const { repo, ctx, runs, plan } = setup()
  git(repo, 'branch', '-m', 'main', 'master')
  let r = handoffEligible(ctx)
  assert.deepEqual(r.base, { name: 'master', commit: git(repo, 'rev-parse', 'master'), source: 'main-worktree' })
  assert.deepEqual(r.stages[1].mergedDependencies, [])
  // Stage 1 squash-merged into master (as a PR's "Squash and merge" does): stage 2 may go alone.
  writeFileSync(join(repo, 'z.txt'), 'master moved on\n')
  git(repo, 'add', 'z.txt')
  git(repo, 'commit', '-qm', 'other work')
  git(repo, 'merge', '-q', '--squash', 'feat-t-s1')
  git(repo, 'commit', '-qm', 'Stage 1 (#1)')
  r = handoffEligible(ctx)
  assert.deepEqual(r.stages[0].integrated, { proof: 'merge-adds-nothing', matched: null })
  assert.deepEqual(r.stages[1].mergedDependencies, [{ stage: 1, proof: { proof: 'merge-adds-nothing', matched: null } }])
  assert.equal(r.stages[1].eligible, true)
  const cli = okstra(['handoff', 'eligible', '--plan-run-root', runs, '--approved-plan', plan, '--project-root', repo])
  assert.equal(cli.status, 0, cli.stderr)
  assert.equal(cli.json.base.name, 'master')
  assert.deepEqual(cli.json.stages[1].merged_dependencies, [{ stage: 1, proof: { proof: 'merge-adds-nothing' } }])
  // A base that does not exist: the same coded refusal from the export and the CLI, naming it.
  assert.throws(() => handoffEligible({ ...ctx, base: 'main' }), { code: 'E_UNKNOWN_REF', message: /the base "main" does not resolve/ })
  const bad = okstra(['handoff', 'eligible', '--plan-run-root', runs, '--approved-plan', plan, '--project-root', repo, '--base', 'main'])
  assert.equal(bad.status, 1)
  assert.equal(bad.json.code, 'E_UNKNOWN_REF')
  assert.match(bad.json.error, /the base "main" does not resolve/)
})

test('record-verified refuses anything but an accepted single-stage final verification, writing nothing', () => {
  const { runs } = setup()
  const before = readFileSync(join(runs, 'consumers.jsonl'), 'utf8')
  const bad = join(runs, 'bad.data.json')
  writeFileSync(bad, JSON.stringify({ taskType: 'final-verification', verificationScope: 'whole-task', verdictToken: 'rejected' }))
  assert.throws(() => handoffRecordVerified({ planRunRoot: runs, implTaskKey: 'p/g/t', stage: 4, reportPath: bad }), {
    code: 'E_REPORT_REJECTED',
    message: /verificationScope is "whole-task", expected "single-stage"; the verdict token is "rejected", expected "accepted"/,
  })
  writeFileSync(bad, JSON.stringify({ meta: { taskType: 'implementation' } }))
  assert.throws(() => handoffRecordVerified({ planRunRoot: runs, implTaskKey: 'p/g/t', stage: 4, reportPath: bad }), {
    code: 'E_REPORT_REJECTED', message: /taskType is "implementation", expected "final-verification"/,
  })
  assert.throws(() => handoffRecordVerified({ planRunRoot: runs, implTaskKey: 'p/g/t', stage: 4, reportPath: join(runs, 'missing.md') }), { code: 'E_REPORT_REJECTED' })
  assert.equal(readFileSync(join(runs, 'consumers.jsonl'), 'utf8'), before)
})

test('assemble refuses a selection missing a dependency (closure) and a conflict creates nothing', () => {
  const { repo, home, asm } = setup()
  assert.throws(() => handoffAssemble({ ...asm, stages: [2] }), {
    code: 'E_NOT_ELIGIBLE', message: /Stage 2 depends on stage 1, which is neither selected nor merged into main;/,
  })
  assert.throws(() => handoffAssemble({ ...asm, stages: [4] }), { code: 'E_NOT_ELIGIBLE', message: /Stage 4 is not verified/ })
  assert.throws(() => handoffAssemble({ ...asm, stages: [1, 3] }), {
    code: 'E_MERGE_CONFLICT', message: /stage 3 × stage 1 on a\.txt/,
  })
  assert.equal(git(repo, 'branch', '--list', 'feat-t-s1-3'), '')
  assert.equal(git(repo, 'worktree', 'list').split('\n').length, 1)
  assert.equal(registryLookup({ projectId: 'p', taskGroup: 'g', taskId: 't', groupId: 's1-3', home }), null)
  const cli = okstra(['handoff', 'assemble', '--plan-run-root', asm.planRunRoot, '--approved-plan', asm.approvedPlan,
    '--project-root', repo, '--stages', '3,1', '--project-id', 'p', '--task-group', 'g', '--task-id', 't', '--home', home])
  assert.equal(cli.status, 2, cli.stderr)
  assert.equal(cli.json.code, 'E_MERGE_CONFLICT')
  const notEligible = okstra(['handoff', 'assemble', '--plan-run-root', asm.planRunRoot, '--approved-plan', asm.approvedPlan,
    '--project-root', repo, '--stages', '2', '--project-id', 'p', '--task-group', 'g', '--task-id', 't', '--home', home])
  assert.equal(notEligible.status, 1)
  assert.equal(notEligible.json.code, 'E_NOT_ELIGIBLE')
})

test('assemble merges in dependency order with two-parent merge commits, and a re-run is safe', async () => {
  const { repo, home, base, heads, asm, runs } = setup()
  const a = handoffAssemble({ ...asm, stages: [2, 1] })
  assert.equal(a.status, 'created')
  assert.equal(a.branch, 'feat-t.group-s1-2')
  assert.deepEqual(a.merges.map((m) => [m.stage, m.commit]), [[1, heads[1]], [2, heads[2]]])
  for (const m of a.merges) {
    const parents = git(repo, 'rev-list', '--parents', '-n', '1', m.mergeCommit).split(' ')
    assert.equal(parents.length, 3, 'a merge commit has two parents')
    assert.equal(parents[2], m.commit)
  }
  assert.equal(git(repo, 'rev-list', '--parents', '-n', '1', a.merges[0].mergeCommit).split(' ')[1], base)
  assert.equal(git(a.worktreePath, 'rev-parse', 'HEAD'), a.merges[1].mergeCommit)
  assert.equal(readFileSync(join(a.worktreePath, 'a.txt'), 'utf8'), 'stage one\n')
  assert.equal(readFileSync(join(a.worktreePath, 'b.txt'), 'utf8'), 'stage two\n')
  assert.equal(git(a.worktreePath, 'status', '--porcelain', '--untracked-files=no'), '')
  assert.match(git(repo, 'worktree', 'list'), /feat-t\.group-s1-2/)
  const entry = registryLookup({ projectId: 'p', taskGroup: 'g', taskId: 't', groupId: 's1-2', home })
  assert.equal(entry.status, 'active')
  assert.equal(entry.worktreePath, a.worktreePath)
  assert.deepEqual(entry.stages, [1, 2], 'the collector row records the stages it covers')
  const again = await handoffAssembleAsync({ ...asm, stages: [1, 2] })
  assert.equal(again.status, 'reused')
  assert.deepEqual(again.merges, a.merges)
  assert.equal(git(a.worktreePath, 'rev-parse', 'HEAD'), a.merges[1].mergeCommit)
  // Once a PR covers them, the stages are no longer eligible.
  assert.deepEqual(handoffRecordPr({ planRunRoot: runs, implTaskKey: 'p/g/t', stages: [2, 1], branch: a.branch, url: 'https://example/pr/1' }), { appended: true, taskKey: 'p/g/t' })
  assert.deepEqual(handoffRecordPr({ planRunRoot: runs, implTaskKey: 'p/g/t', stages: [1, 2], branch: a.branch, url: 'https://example/pr/1' }), { appended: false, taskKey: 'p/g/t' })
  const { stages } = handoffEligible(asm)
  assert.match(stages[0].reasons[0], /Stage 1 is already covered by a PR \(branch feat-t\.group-s1-2, https:\/\/example\/pr\/1\)/)
})

test('gitReconcile finds amended stage branches, dry-run first, then re-records and re-pins', async () => {
  const { repo, home, runs, heads, task, ctx } = setup()
  git(repo, 'checkout', '-q', 'feat-t-s3')
  git(repo, 'commit', '-q', '--amend', '-m', 'stage 3, amended')
  const amended = git(repo, 'rev-parse', 'HEAD')
  git(repo, 'checkout', '-q', 'main')
  const before = readFileSync(join(runs, 'consumers.jsonl'), 'utf8')
  const dry = gitReconcile({ planRunRoot: runs, projectRoot: repo, ...task })
  assert.deepEqual(dry.changes, [{ stage: 3, branch: 'feat-t-s3', from: heads[3], to: amended }])
  assert.equal(dry.applied, false)
  assert.equal(readFileSync(join(runs, 'consumers.jsonl'), 'utf8'), before)
  const applied = await gitReconcileAsync({ planRunRoot: runs, projectRoot: repo, ...task, apply: true, resetAnchor: 'feat-t-s4' })
  assert.deepEqual(applied.changes, dry.changes)
  assert.deepEqual(applied.anchor, { from: git(repo, 'rev-parse', 'main'), to: heads[4] })
  const done = ledgerLatestDoneByStage(ledgerRead({ planRunRoot: runs }).rows)
  assert.equal(done[3].head_commit, amended)
  assert.equal(done[3].reconciled, true)
  assert.equal(done[3].reconciled_from, heads[3])
  assert.equal(done[3].branch, 'feat-t-s3')
  assert.equal(registryGetImplementationBase(task), heads[4])
  assert.deepEqual(gitReconcile({ planRunRoot: runs, projectRoot: repo, ...task, apply: true }).changes, [])
  const settled = readFileSync(join(runs, 'consumers.jsonl'), 'utf8')
  const cli = okstra(['git-reconcile', '--plan-run-root', runs, '--project-root', repo, '--home', home])
  assert.equal(cli.status, 0, cli.stderr)
  assert.deepEqual(cli.json.changes, [])
  assert.equal(readFileSync(join(runs, 'consumers.jsonl'), 'utf8'), settled, 'a dry run with nothing to do writes nothing')
  assert.equal(handoffEligible(ctx).stages[2].eligible, true)
})

test('okstra handoff eligible and record-pr print JSON; a bad plan is E_PLAN_INVALID', () => {
  const { repo, runs, plan } = setup()
  const r = okstra(['handoff', 'eligible', '--plan-run-root', runs, '--approved-plan', plan, '--project-root', repo])
  assert.equal(r.status, 0, r.stderr)
  assert.equal(r.json.stages.length, 4)
  const pr = okstra(['handoff', 'record-pr', '--plan-run-root', runs, '--impl-task-key', 'p/g/t', '--stages', '4', '--branch', 'b', '--url', 'u'])
  assert.deepEqual(pr.json, { appended: true, taskKey: 'p/g/t' })
  const badPlan = join(runs, 'bad.md')
  writeFileSync(badPlan, '## 5.5 Stage Map\n- Stage 1: a — depends-on: 2\n- Stage 2: b — depends-on: 1\n')
  assert.throws(() => handoffEligible({ planRunRoot: runs, approvedPlan: badPlan, projectRoot: repo }), {
    code: 'E_PLAN_INVALID', message: /stages 1 → 2 → 1 form a dependency cycle/,
  })
})

test('--help works for every new command', () => {
  for (const args of [['handoff', '--help'], ['handoff', 'assemble', '--help'], ['handoff', 'eligible', '--help'],
    ['handoff', 'record-verified', '--help'], ['handoff', 'record-pr', '--help'], ['git-reconcile', '--help'],
    ['ledger', '--help'], ['ledger', 'append', '--help']]) {
    const r = okstra(args)
    assert.equal(r.status, 0, args.join(' '))
    assert.match(r.stdout, /Usage: okstra/, args.join(' '))
  }
})
