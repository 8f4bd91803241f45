// Demo part: the ledger and the stage-group handoff in a temp repository — a plan's Stage
// Map, started/done/verified events for two stages, eligibility with readable reasons, a
// collector branch assembled from real merge commits, the PR record, and git reconcile
// after a stage branch is amended.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  parseStageMap, ledgerAppend, ledgerRead, handoffRecordVerified, handoffEligible, handoffAssemble, handoffRecordPr,
  gitReconcile, registryReserve, registrySetImplementationBase,
} from '../index.js'
import { heading, step, table } from './show.mjs'
import { git } from '../__test__/fixtures/project.mjs'

const PLAN = `# 구현 계획 보고서 — 주문 내보내기

## 5.5 Stage Map

| Stage | 제목 | Depends on |
|---|---|---|
| 1 | CSV 직렬화 | (none) |
| 2 | 내보내기 API | 1 |
| 3 | 관리자 화면 | 2 |

## 5.6 Stage Validation
- 각 stage 는 \`npm test\` 를 통과해야 한다.
`

export async function run({ root, home }) {
  heading('ledger, stage map and stage-group handoff')
  const repo = join(root, 'orders-repo')
  mkdirSync(repo, { recursive: true })
  writeFileSync(join(repo, 'README.md'), '# orders\n')
  git(repo, 'init', '-q', '-b', 'main')
  git(repo, 'add', '-A')
  git(repo, 'commit', '-q', '-m', 'initial')
  const base = git(repo, 'rev-parse', 'HEAD')
  const stageBranch = (n, from, file, text) => {
    git(repo, 'checkout', '-q', '-b', `feat-export-s${n}`, from)
    writeFileSync(join(repo, file), text)
    git(repo, 'add', '-A')
    git(repo, 'commit', '-q', '-m', `stage ${n}`)
    const head = git(repo, 'rev-parse', 'HEAD')
    git(repo, 'checkout', '-q', 'main')
    return head
  }
  const runs = join(root, 'plan-run')
  mkdirSync(runs)
  const plan = join(runs, 'final-report-implementation-planning-001.md')
  writeFileSync(plan, PLAN)
  const map = parseStageMap(PLAN)
  step(`parseStageMap: ${map.stages.map((s) => `${s.number} "${s.title}" ← [${s.dependsOn}]`).join(', ')}; errors: ${map.errors.length}`)

  const task = { projectId: 'shop', taskGroup: 'orders', taskId: 'export', home }
  registryReserve({ ...task, worktreePath: repo, branch: 'feat-export', baseRef: base })
  registrySetImplementationBase({ ...task, commit: base })
  const key = 'shop/orders/export'
  const heads = { 1: stageBranch(1, 'main', 'csv.js', 'export const csv = (rows) => rows.join("\\n")\n') }
  heads[2] = stageBranch(2, 'feat-export-s1', 'api.js', 'export const route = "/export"\n')
  for (const n of [1, 2]) {
    ledgerAppend({ planRunRoot: runs, implTaskKey: key, stage: n, status: 'started', fields: { branch: `feat-export-s${n}` } })
    ledgerAppend({ planRunRoot: runs, implTaskKey: key, stage: n, status: 'done', fields: { head_commit: heads[n], branch: `feat-export-s${n}` } })
    const report = join(runs, `final-report-final-verification-00${n}.md`)
    writeFileSync(report.replace(/\.md$/, '.data.json'), JSON.stringify({ meta: { taskType: 'final-verification', verificationScope: 'single-stage', stage: n }, verdict: { token: 'accepted' } }))
    handoffRecordVerified({ planRunRoot: runs, implTaskKey: key, stage: n, reportPath: report })
  }
  const again = ledgerAppend({ planRunRoot: runs, implTaskKey: key, stage: 1, status: 'done', fields: { head_commit: heads[1] } })
  step(`recorded started/done/verified for stages 1 and 2; repeating a done row → appended: ${again.appended}`)
  table(ledgerRead({ planRunRoot: runs }).rows.map((r) => ({ ...r, head_commit: r.head_commit?.slice(0, 10) })), ['stage', 'status', 'head_commit', 'verdict', 'branch'])

  console.log('\n   handoffEligible:')
  const { stages } = handoffEligible({ planRunRoot: runs, approvedPlan: plan, projectRoot: repo })
  table(stages.map((s) => ({ ...s, reasons: s.reasons.join(' ') })), ['number', 'title', 'eligible', 'reasons'])

  try {
    handoffAssemble({ planRunRoot: runs, approvedPlan: plan, projectRoot: repo, ...task, stages: [2] })
  } catch (e) {
    step(`assemble [2] alone → ${e.code}: ${e.message}`)
  }
  const a = handoffAssemble({ planRunRoot: runs, approvedPlan: plan, projectRoot: repo, ...task, workCategory: 'feature', stages: [1, 2] })
  step(`assemble [1, 2] → ${a.status} ${a.branch} at ${a.worktreePath}`)
  table(a.merges.map((m) => ({ stage: m.stage, commit: m.commit.slice(0, 10), mergeCommit: m.mergeCommit.slice(0, 10) })), ['stage', 'commit', 'mergeCommit'])
  console.log('\n   git log --graph of the collector:')
  for (const line of git(a.worktreePath, 'log', '--graph', '--oneline', '--format=%h %s').split('\n')) console.log(`   ${line}`)
  handoffRecordPr({ planRunRoot: runs, implTaskKey: key, stages: [1, 2], branch: a.branch, url: 'https://example.com/pr/7' })
  step(`PR recorded; stage 1 now: ${handoffEligible({ planRunRoot: runs, approvedPlan: plan, projectRoot: repo }).stages[0].reasons.join(' ')}`)

  git(repo, 'checkout', '-q', 'feat-export-s2')
  git(repo, 'commit', '-q', '--amend', '-m', 'stage 2 (amended)')
  git(repo, 'checkout', '-q', 'main')
  const dry = gitReconcile({ planRunRoot: runs, projectRoot: repo, ...task })
  step(`stage 2 amended → gitReconcile dry run: ${dry.changes.map((c) => `stage ${c.stage} ${c.from.slice(0, 10)} → ${c.to.slice(0, 10)}`).join(', ')} (applied: ${dry.applied})`)
  const applied = gitReconcile({ planRunRoot: runs, projectRoot: repo, ...task, apply: true })
  step(`apply → ${applied.changes.length} reconciled done row appended; a second run finds ${gitReconcile({ planRunRoot: runs, projectRoot: repo, ...task }).changes.length} changes`)
}
