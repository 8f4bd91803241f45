// One id, one entry, at every door (issue #19, item 3): the same `taskId` text
// (`'Checkout 500'`, which provisioning registers as `checkout-500`) names the same entry
// through provisioning, the registry exports and commands, the ledger, handoff and
// reconcile, by the JS API (sync and async) and the CLI; rows the Python helper wrote under
// the raw text stay addressable; a registry entry passed back as options addresses itself
// or is refused with E_KEY_MISMATCH. Real git repositories, real processes.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'
import * as native from '@okstra/native'
import { PY_REGISTRY, ROOT, git, makeRepo, okstra, tempDir, tempHome } from './helpers.mjs'

const {
  provisionTaskWorktree, provisionTaskWorktreeAsync, registryLookup, registryRelease, registryReleaseAsync,
  registryList, registryTouchPhase, registryListActiveStageNumbers, registrySetImplementationBase,
  registryGetImplementationBase, registryReserve, ledgerAppend, ledgerAppendAsync, ledgerRead,
  handoffRecordPr, gitReconcile, taskKey,
} = native

const PY_CONSUMERS = join(ROOT, '__test__', 'fixtures', 'py_consumers.py')
const RAW = { projectId: 'Shop', taskGroup: 'pay', taskId: 'Checkout 500' }
const SLUG_KEY = 'shop/pay/checkout-500'
const flags = (home, extra = []) => ['--project-id', 'Shop', '--task-group', 'pay', '--task-id', 'Checkout 500', '--home', home, ...extra]
const gitLocked = (repo, path) => {
  const list = git(repo, 'worktree', 'list', '--porcelain')
  const block = list.split('\n\n').find((b) => b.startsWith(`worktree ${path}\n`))
  assert.ok(block, `${path} in git worktree list:\n${list}`)
  return /\nlocked/.test(block)
}

test('the raw taskId names the provisioned entry at every registry door (JS sync/async and CLI)', async () => {
  const home = tempHome()
  const repo = makeRepo()
  const made = provisionTaskWorktree({ ...RAW, home, projectRoot: repo, taskType: 'implementation', workCategory: 'bugfix' })
  assert.equal(made.status, 'created')
  assert.equal(made.taskKey, SLUG_KEY)
  assert.equal(taskKey(RAW), SLUG_KEY)
  const stage = await provisionTaskWorktreeAsync({ ...RAW, stageNumber: 1, home, projectRoot: repo, taskType: 'implementation', workCategory: 'bugfix' })
  assert.equal(stage.taskKey, `${SLUG_KEY}#stage-1`)

  // Lookups: the JS export and the CLI (which answers from the lookup index) agree.
  assert.equal(registryLookup({ ...RAW, home })?.taskKey, SLUG_KEY)
  const cli = okstra(['registry', 'lookup', ...flags(home)])
  assert.equal(cli.status, 0, cli.stderr)
  assert.equal(cli.json?.taskKey, SLUG_KEY)
  assert.equal(okstra(['registry', 'lookup', ...flags(home, ['--stage', '1'])]).json?.taskKey, `${SLUG_KEY}#stage-1`)
  assert.deepEqual(registryListActiveStageNumbers({ ...RAW, home }), [1])
  assert.deepEqual(okstra(['registry', 'active-stages', ...flags(home)]).json, [1])
  assert.deepEqual(registryList({ projectId: 'Shop', home }).map((e) => e.taskKey), [SLUG_KEY, `${SLUG_KEY}#stage-1`])
  assert.equal(okstra(['registry', 'list', '--project-id', 'Shop', '--home', home]).json?.length, 2)

  // Writes through the raw text land on the entry.
  registryTouchPhase({ ...RAW, home, phase: 'final-verification' })
  assert.equal(registryLookup({ ...RAW, home }).lastPhase, 'final-verification')
  const base = git(repo, 'rev-parse', 'HEAD')
  assert.equal(registrySetImplementationBase({ ...RAW, home, commit: base }), base)
  assert.equal(okstra(['registry', 'get-implementation-base', ...flags(home)]).json, base)
  assert.equal(registryGetImplementationBase({ projectId: 'shop', taskGroup: 'pay', taskId: 'checkout-500', home }), base)
  // Reserving the raw text again is the active entry's conflict, not a second entry.
  assert.throws(() => registryReserve({ ...RAW, home, worktreePath: '/w/x', branch: 'fix-x', baseRef: base }), { code: 'E_TASK_KEY_ACTIVE' })

  // Release by the CLI (the stage) and the async export (the task): each releases its own
  // entry and takes okstra's git lock off its worktree.
  const rel = okstra(['registry', 'release', ...flags(home, ['--stage', '1'])])
  assert.equal(rel.status, 0, rel.stderr)
  assert.equal(rel.json?.taskKey, `${SLUG_KEY}#stage-1`)
  assert.equal(rel.json?.status, 'released')
  assert.equal(gitLocked(repo, stage.path), false)
  assert.equal(registryLookup({ ...RAW, home }).status, 'active')
  const relTask = await registryReleaseAsync({ ...RAW, home })
  assert.equal(relTask?.taskKey, SLUG_KEY)
  assert.equal(gitLocked(repo, made.path), false)
  const json = JSON.parse(readFileSync(join(home, 'worktrees', 'registry.json'), 'utf8'))
  assert.deepEqual(Object.keys(json.tasks).sort(), [SLUG_KEY, `${SLUG_KEY}#stage-1`])
  assert.ok(Object.values(json.tasks).every((r) => r.status === 'released'))
})

test('ledger, handoff and reconcile take the raw text as the provisioned key', () => {
  const home = tempHome()
  const repo = makeRepo()
  const runs = tempDir('okstra-runs-')
  provisionTaskWorktree({ ...RAW, home, projectRoot: repo, taskType: 'implementation', workCategory: 'bugfix' })
  const made = provisionTaskWorktree({ ...RAW, stageNumber: 1, home, projectRoot: repo, taskType: 'implementation', workCategory: 'bugfix' })
  git(made.path, 'commit', '-q', '--allow-empty', '-m', 'stage 1')
  const head = git(made.path, 'rev-parse', 'HEAD')
  // The JS export writes the slugged key; the CLI with the same raw text finds that row.
  assert.deepEqual(ledgerAppend({ planRunRoot: runs, implTaskKey: 'Shop/pay/Checkout 500', stage: 1, status: 'done', fields: { head_commit: head } }), { appended: true, taskKey: SLUG_KEY })
  const again = okstra(['ledger', 'append', '--plan-run-root', runs, '--impl-task-key', 'Shop/pay/Checkout 500', '--stage', '1', '--status', 'done'])
  assert.equal(again.status, 0, again.stderr)
  assert.deepEqual(again.json, { appended: false, taskKey: SLUG_KEY })
  assert.deepEqual(handoffRecordPr({ planRunRoot: runs, implTaskKey: 'Shop/pay/Checkout 500', stages: [1], branch: 'fix-x', url: 'https://example/pr/1' }), { appended: true, taskKey: SLUG_KEY })
  assert.deepEqual(ledgerRead({ planRunRoot: runs }).rows.map((r) => r.impl_task_key), [SLUG_KEY, SLUG_KEY])

  // Reconcile finds the stage branch through the registry (the done row records none)
  // and re-pins the task's anchor by the raw text.
  git(made.path, 'commit', '-q', '--amend', '--allow-empty', '-m', 'stage 1 amended')
  const tip = git(made.path, 'rev-parse', 'HEAD')
  const r = gitReconcile({ planRunRoot: runs, projectRoot: repo, ...RAW, home, resetAnchor: head, apply: true })
  assert.equal(r.taskKey, SLUG_KEY)
  assert.deepEqual(r.changes.map((c) => [c.stage, c.to]), [[1, tip]])
  assert.equal(registryGetImplementationBase({ ...RAW, home }), head)
})

test('rows the Python helper wrote under the raw text stay that entry at every door', async () => {
  const home = tempHome()
  const repo = makeRepo()
  const env = { ...process.env, OKSTRA_HOME: home }
  // A worktree the Python helper registered under the raw key text.
  const wt = join(tempDir('okstra-pywt-'), 'checkout')
  git(repo, 'worktree', 'add', '-q', '-b', 'fix-checkout-500', wt)
  git(repo, 'worktree', 'lock', '--reason', 'python helper', wt)
  const base = git(repo, 'rev-parse', 'HEAD')
  const py = spawnSync('python3', [PY_REGISTRY, 'reserve', 'Shop', 'pay', 'Checkout 500', wt, 'fix-checkout-500', base], { encoding: 'utf8', env })
  assert.equal(py.status, 0, py.stderr)
  const RAW_KEY = 'Shop/pay/Checkout 500'

  // Provisioning reuses that entry (before: a second worktree under the slugged key).
  const p = provisionTaskWorktree({ ...RAW, home, projectRoot: repo, taskType: 'implementation', workCategory: 'bugfix' })
  assert.equal(p.status, 'reused', p.note)
  assert.equal(p.taskKey, RAW_KEY)
  assert.equal(p.path, wt)
  const cliP = okstra(['worktree', 'provision', ...flags(home, ['--task-type', 'implementation', '--project-root', repo, '--work-category', 'bugfix'])])
  assert.equal(cliP.json?.taskKey, RAW_KEY, cliP.stderr)
  assert.equal(cliP.json?.status, 'reused')
  assert.equal(registryLookup({ ...RAW, home })?.taskKey, RAW_KEY)
  assert.equal(okstra(['registry', 'lookup', ...flags(home)]).json?.taskKey, RAW_KEY)
  assert.deepEqual(registryList({ projectId: 'shop', home }).map((e) => e.taskKey), [RAW_KEY])

  // The ledger: a row the Python helper appended under the raw text keeps the task's
  // identity (no second `done` row), from the export and the CLI.
  const runs = tempDir('okstra-runs-')
  const pyAppend = spawnSync('python3', [PY_CONSUMERS, runs, 'append', RAW_KEY, '1', 'done', base], { encoding: 'utf8' })
  assert.equal(pyAppend.status, 0, pyAppend.stderr)
  assert.deepEqual(await ledgerAppendAsync({ planRunRoot: runs, implTaskKey: RAW_KEY, stage: 1, status: 'done' }), { appended: false, taskKey: RAW_KEY })
  const cliL = okstra(['ledger', 'append', '--plan-run-root', runs, '--impl-task-key', RAW_KEY, '--stage', '1', '--status', 'started'])
  assert.deepEqual(cliL.json, { appended: true, taskKey: RAW_KEY }, cliL.stderr)
  assert.deepEqual(ledgerRead({ planRunRoot: runs }).rows.map((r) => r.impl_task_key), [RAW_KEY, RAW_KEY])

  // Released by the raw text: the Python row, and okstra's release leaves the user's
  // (the helper's) git lock alone.
  const rel = registryRelease({ ...RAW, home })
  assert.equal(rel?.taskKey, RAW_KEY)
  assert.equal(rel?.status, 'released')
  const json = JSON.parse(readFileSync(join(home, 'worktrees', 'registry.json'), 'utf8'))
  assert.deepEqual(Object.keys(json.tasks), [RAW_KEY])
  assert.deepEqual(json.branches, {})
})

test('a registry entry passed back as options addresses that entry, or is refused', async () => {
  const home = tempHome()
  const repo = makeRepo()
  const opts = { projectId: 'shop', taskGroup: 'pay', taskId: 'login', home, projectRoot: repo, taskType: 'implementation' }
  provisionTaskWorktree(opts)
  provisionTaskWorktree({ ...opts, stageNumber: 1 })
  provisionTaskWorktree({ ...opts, stageNumber: 2 })
  const stage1 = registryLookup({ ...opts, stageNumber: 1 })
  const stage2 = registryLookup({ ...opts, stageNumber: 2 })
  assert.equal(stage1.stage, 1)

  // `{...stageEntry}` has `stage`, not `stageNumber`: before, it released the task.
  const released = registryRelease({ ...stage1, home })
  assert.equal(released?.taskKey, 'shop/pay/login#stage-1')
  assert.equal(registryLookup(opts).status, 'active')
  assert.equal(registryLookup({ ...opts, stageNumber: 2 }).status, 'active')
  assert.equal((await registryReleaseAsync({ ...stage2, home }))?.taskKey, 'shop/pay/login#stage-2')
  assert.equal(registryLookup(opts).status, 'active')

  // Fields that name two entries: refused, nothing changed.
  const before = readFileSync(join(home, 'worktrees', 'registry.json'), 'utf8')
  const task = registryLookup(opts)
  for (const bad of [{ ...task, stageNumber: 1 }, { ...stage1, stageNumber: 2 }, { ...task, taskId: 'other' }, { ...stage1, stage: 2 }, { ...task, taskKey: 'nonsense' }]) {
    assert.throws(() => registryRelease({ ...bad, home }), { code: 'E_KEY_MISMATCH' }, JSON.stringify(bad))
    await assert.rejects(registryReleaseAsync({ ...bad, home }), { code: 'E_KEY_MISMATCH' })
  }
  assert.throws(() => provisionTaskWorktree({ ...task, stageNumber: 3, home, projectRoot: repo, taskType: 'implementation' }), { code: 'E_KEY_MISMATCH' })
  assert.equal(readFileSync(join(home, 'worktrees', 'registry.json'), 'utf8'), before)

  // The CLI refuses the same way, and `--task-key` alone with agreeing flags addresses it.
  const cliBad = okstra(['registry', 'release', '--project-id', 'shop', '--task-group', 'pay', '--task-id', 'login', '--stage', '2', '--task-key', 'shop/pay/login#stage-1', '--home', home])
  assert.equal(cliBad.status, 1)
  assert.equal(cliBad.json?.code, 'E_KEY_MISMATCH', cliBad.stderr)
  assert.equal(readFileSync(join(home, 'worktrees', 'registry.json'), 'utf8'), before)
  const cliOk = okstra(['registry', 'lookup', '--project-id', 'shop', '--task-group', 'pay', '--task-id', 'login', '--task-key', 'shop/pay/login#stage-1', '--home', home])
  assert.equal(cliOk.json?.taskKey, 'shop/pay/login#stage-1', cliOk.stderr)
})
