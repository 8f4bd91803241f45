// Daily use through every door: one idempotent slug, one validation (the exports, the CLI
// and the wizard refuse the same inputs with the same code and a short message in JS
// terms), argument errors that name their flag, directories that must exist, prune that
// clears okstra's git lock, and a wizard whose confirmation is what provisioning makes.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import * as native from '@okstra/native'
import { ROOT, git, makeRepo, okstra, okstraProject, tempDir, tempHome } from './helpers.mjs'

const {
  safeSegment, computeBranchName, computeWorktreePath, taskKey, registryLookup, registryList,
  registryPrune, registryPruneAsync, registryDoctor, provisionTaskWorktree, ledgerRead, ledgerAppend,
  ledgerAppendAsync, Wizard, findProjectRoot,
} = native

const RUST_TYPES = /\bJs[A-Z]\w*|\bf64\b|\bu32\b|\bu64\b|rust type|napi value/i

test('safeSegment is idempotent, so a slugged id gives the same branch and path again', () => {
  const inputs = ['버그', '결제/환불', '환불-버그', 'Fix Login/Page', '', '   ', '_', '_-f68f58ad', 'a_b', '로그인 bug',
    '--a--', 'ÀÉ', 'x'.repeat(300), 'Ünïcödé 名前']
  for (let i = 0; i < 200; i++) {
    inputs.push(Array.from({ length: 1 + (i % 17) }, (_, j) => String.fromCodePoint([0x5f, 0x2d, 0x41, 0x61, 0xac00, 0x20, 0x2f, 0x30][(i * 7 + j * 3) % 8] + (j % 3))).join(''))
  }
  for (const x of inputs) {
    const once = safeSegment(x)
    assert.equal(safeSegment(once), once, `${JSON.stringify(x)} → ${once}`)
  }
  const slug = safeSegment('버그')
  assert.match(slug, /^_-[0-9a-f]{8}$/)
  // What the wizard shows (slug of the raw id) is what provisioning makes (slug of the slug).
  assert.equal(computeBranchName({ workCategory: 'bugfix', taskId: slug, stageNumber: 2 }),
    computeBranchName({ workCategory: 'bugfix', taskId: '버그', stageNumber: 2 }))
  assert.equal(computeBranchName({ workCategory: 'bugfix', taskId: '버그', stageNumber: 2 }), `fix-${slug}-s2`)
  assert.equal(okstra(['worktree', 'branch', '--work-category', 'bugfix', '--task-id', slug, '--stage', '2']).json, `fix-${slug}-s2`)
})

test('one validation: exports, CLI and wizard refuse the same ids with E_INVALID_ARG and a short message', () => {
  const repo = makeRepo()
  const home = tempHome()
  const bad = ['', '   ', 'x'.repeat(10_000), 'a/b', 'a#b', '.', '..', 'a\u0001b']
  const project = okstraProject().root
  for (const id of bad) {
    const what = JSON.stringify(id.slice(0, 12))
    const key = { projectId: 'p', taskGroup: 'g', taskId: id, home }
    const js = [
      () => computeBranchName({ workCategory: 'feature', taskId: id }),
      () => taskKey(key),
      () => computeWorktreePath(key),
      () => registryLookup(key),
      () => provisionTaskWorktree({ ...key, taskType: 'implementation', projectRoot: repo }),
    ]
    for (const f of js) {
      assert.throws(f, (e) => e.code === 'E_INVALID_ARG' && e.message.length < 200 && !RUST_TYPES.test(e.message), `${what}: ${f}`)
    }
    const keyArgs = ['--project-id', 'p', '--task-group', 'g', '--task-id', id, '--home', home]
    for (const args of [
      ['worktree', 'branch', '--task-id', id],
      ['worktree', 'provision', '--project-root', repo, '--task-type', 'implementation', ...keyArgs],
      ['worktree', 'path', ...keyArgs],
      ['registry', 'lookup', ...keyArgs],
    ]) {
      const r = okstra(args)
      assert.equal(r.status, 1, `${what} ${args[1]}: ${r.stdout}`)
      assert.equal(r.json.code, 'E_INVALID_ARG')
      assert.ok(r.json.error.length < 200, r.json.error)
    }
    // The wizard's task id answer: the same rule, the same code.
    const w = Wizard.create({ projectRoot: project, home, lang: 'en' })
    for (const [step, v] of [['task_type', 'requirements-discovery'], ['task_pick', 'new'], ['task_group', 'g']]) {
      assert.equal(w.next().step, step)
      assert.ok(w.submit(v).ok)
    }
    const r = w.submit(id)
    assert.equal(r.ok, false, what)
    assert.equal(r.code, 'E_INVALID_ARG')
    assert.ok(r.error.length < 300, r.error)
  }
  // Nothing was created by any refusal.
  assert.equal(git(repo, 'worktree', 'list').split('\n').length, 1)
  assert.equal(existsSync(join(home, 'worktrees', 'p')), false)
  // A Korean id of the maximum length is fine everywhere.
  const long = '가'.repeat(128)
  assert.match(computeBranchName({ workCategory: '', taskId: long }), /^task-_-[0-9a-f]{8}$/)
  assert.equal(okstra(['worktree', 'branch', '--task-id', long]).status, 0)
})

test('Node-API argument errors carry E_INVALID_ARG and name no Rust types', async () => {
  const cases = [
    () => registryLookup(),
    () => registryLookup({}),
    () => registryLookup({ projectId: 'a', taskGroup: 'b', taskId: 'c', stageNumber: 'x' }),
    () => taskKey({ projectId: 'a', taskGroup: 'b', taskId: 'c', stageNumber: -1 }),
    () => taskKey({ projectId: 'a', taskGroup: 'b', taskId: 'c', stageNumber: 1.5 }),
    () => provisionTaskWorktree({}),
    () => provisionTaskWorktree(),
    () => safeSegment(5),
    () => ledgerRead(),
    () => Wizard.create(),
    () => Wizard.fromJson(3),
    () => Wizard.create({ projectRoot: tempDir() }).submit(3),
    () => findProjectRoot(),
  ]
  for (const f of cases) {
    assert.throws(f, (e) => {
      assert.equal(e.code, 'E_INVALID_ARG', `${f}: ${e.code} ${e.message}`)
      assert.doesNotMatch(e.message, RUST_TYPES, `${f}`)
      return true
    })
  }
  // Async exports reject (never throw) with the same code.
  await assert.rejects(registryPruneAsync({ dryRun: 'yes' }), (e) => e.code === 'E_INVALID_ARG' && !RUST_TYPES.test(e.message))
  await assert.rejects(ledgerAppendAsync(), (e) => e.code === 'E_INVALID_ARG')
  // The class is the same class: instances still pass instanceof, statics still work.
  assert.ok(Wizard.create({ projectRoot: tempDir() }) instanceof Wizard)
})

test('CLI argument errors name the flags in the JSON', () => {
  let r = okstra(['worktree', 'provision', '--project-id', 'p'])
  assert.equal(r.status, 1)
  assert.equal(r.json.code, 'E_INVALID_ARG')
  assert.match(r.json.error, /missing required arguments .*--task-group.*--task-id/)
  assert.ok(r.json.flags.includes('--task-id') && r.json.flags.includes('--project-root'), r.stdout)
  assert.ok(!r.json.flags.includes('--project-id'))
  r = okstra(['worktree', 'branch', '--task-id', 'x', '--stage', 'two'])
  assert.match(r.json.error, /invalid value "two" for --stage/)
  assert.deepEqual(r.json.flags, ['--stage'])
  r = okstra(['registry', 'list', '--bogus'])
  assert.deepEqual(r.json.flags, ['--bogus'])
  r = okstra(['registry', 'lookup', '--project-id', 'a', '--task-group', 'b', '--task-id', 'c', '--stage', '1', '--group-id', 'g'])
  assert.match(r.json.error, /--stage and --group-id cannot be used together|--group-id and --stage cannot be used together/)
})

test('directories that must exist: refused (exit 1, nothing created) unless told to create', () => {
  const dir = tempDir()
  const missing = join(dir, 'typo', 'run')
  for (const args of [
    ['ledger', 'read', '--plan-run-root', missing],
    ['ledger', 'append', '--plan-run-root', missing, '--impl-task-key', 'k', '--stage', '1', '--status', 'started'],
    ['ledger', 'append-pr', '--plan-run-root', missing, '--impl-task-key', 'k', '--stages', '1', '--branch', 'b', '--url', 'u'],
    ['git-reconcile', '--plan-run-root', missing, '--project-root', makeRepo()],
    ['worktree', 'project-json', '--project-root', missing, '--project-id', 'p'],
    ['worktree', 'excludes', '--project-root', missing],
    ['worktree', 'sync-entries', '--project-root', missing],
  ]) {
    const r = okstra(args)
    assert.equal(r.status, 1, `${args.join(' ')}: ${r.stdout}`)
    assert.equal(r.json.code, 'E_INVALID_ARG')
    assert.match(r.json.error, /does not exist/)
    assert.equal(existsSync(join(dir, 'typo')), false, args.join(' '))
  }
  assert.throws(() => ledgerRead({ planRunRoot: missing }), (e) => e.code === 'E_INVALID_ARG')
  assert.throws(() => ledgerAppend({ planRunRoot: missing, implTaskKey: 'k', stage: 1, status: 'started' }), (e) => e.code === 'E_INVALID_ARG')
  assert.equal(existsSync(join(dir, 'typo')), false)
  // Told to: the CLI's --create and the export's create make the root and the row.
  let r = okstra(['ledger', 'append', '--plan-run-root', missing, '--create', '--impl-task-key', 'k', '--stage', '1', '--status', 'started'])
  assert.equal(r.status, 0, r.stdout)
  assert.deepEqual(r.json, { appended: true, taskKey: 'k' })
  const other = join(dir, 'other')
  assert.deepEqual(ledgerAppend({ planRunRoot: other, implTaskKey: 'k', stage: 1, status: 'done', create: true }), { appended: true, taskKey: 'k' })
  assert.equal(ledgerRead({ planRunRoot: other }).rows.length, 1)
  r = okstra(['ledger', 'read', '--plan-run-root', missing])
  assert.equal(r.status, 0)
  assert.equal(r.json.rows.length, 1)
})

test('home must be an absolute path, through the CLI and the exports', () => {
  for (const args of [['registry', 'list', '--home', 'rel/home'], ['registry', 'doctor', '--home', './h'],
    ['worktree', 'path', '--project-id', 'p', '--task-group', 'g', '--task-id', 't', '--home', 'h']]) {
    const r = okstra(args, { cwd: tempDir() })
    assert.equal(r.status, 1, r.stdout)
    assert.equal(r.json.code, 'E_INVALID_ARG')
    assert.match(r.json.error, /relative; give an absolute path/)
  }
  assert.throws(() => registryList({ home: 'rel' }), (e) => e.code === 'E_INVALID_ARG')
  const r = okstra(['registry', 'list'], { env: { ...process.env, OKSTRA_HOME: 'relative' } })
  assert.equal(r.json.code, 'E_INVALID_ARG')
})

test('registry prune --apply removes okstra\'s git lock and git\'s record of the gone worktree', () => {
  const repo = makeRepo()
  const home = tempHome()
  const req = (taskId) => ({ projectId: 'p', taskGroup: 'g', taskId, taskType: 'implementation', projectRoot: repo, home })
  const gone = provisionTaskWorktree(req('gone'))
  const kept = provisionTaskWorktree(req('kept'))
  assert.match(git(repo, 'worktree', 'list', '--porcelain'), /locked okstra task/)
  rmSync(gone.path, { recursive: true, force: true })
  assert.ok(registryDoctor({ home }).problems.some((p) => p.code === 'worktree-prunable'))
  // The dry run changes nothing.
  let r = okstra(['registry', 'prune', '--home', home])
  assert.equal(r.json.released.length, 1)
  assert.match(git(repo, 'worktree', 'list', '--porcelain'), new RegExp(`worktree ${gone.path}\\n[^]*?locked`))
  // Applied from anywhere: the repository is found through the still-existing worktree.
  r = okstra(['registry', 'prune', '--apply', '--home', home], { cwd: tempDir() })
  assert.equal(r.status, 0, r.stdout)
  assert.deepEqual(r.json.unlocked, [gone.path])
  const list = git(repo, 'worktree', 'list', '--porcelain')
  assert.ok(!list.includes(gone.path), list)
  assert.ok(list.includes(kept.path), 'the other worktree and its lock stay')
  assert.match(list, /locked okstra task p\/g\/kept/)
  assert.equal(registryDoctor({ home }).problems.length, 0, JSON.stringify(registryDoctor({ home })))
  // The export, with projectRoot when no other entry leads to the repository.
  const repo2 = makeRepo()
  const home2 = tempHome()
  const only = provisionTaskWorktree({ ...req('only'), projectRoot: repo2, home: home2 })
  rmSync(only.path, { recursive: true, force: true })
  const p = registryPrune({ dryRun: false, home: home2, projectRoot: repo2 })
  assert.deepEqual(p.unlocked, [only.path])
  assert.ok(!git(repo2, 'worktree', 'list', '--porcelain').includes(only.path))
})

/** A project with a Korean task (copied from the demo task) and its plan. */
function koreanProject() {
  const { root, home } = okstraProject('okstra-daily-')
  cpSync(join(root, '.okstra', 'tasks', 'payments', 'refund-api'), join(root, '.okstra', 'tasks', '결제', '환불-버그'), { recursive: true })
  return { root, home }
}

function walk(w, answers) {
  for (;;) {
    const p = w.next()
    if (p.kind === 'done' || p.kind === 'aborted') return p
    assert.ok(p.step in answers, `no answer for ${p.step}`)
    const r = w.submit(answers[p.step])
    assert.ok(r.ok, `${p.step}: ${r.error}`)
  }
}

test('wizard: the confirmation shows the branch and base provisioning makes (Korean task, reused task worktree, new stage)', () => {
  const { root, home } = koreanProject()
  // The task worktree exists already (an earlier phase made it).
  provisionTaskWorktree({ projectId: 'shop', taskGroup: '결제', taskId: '환불-버그', taskType: 'implementation-planning', workCategory: 'feature', projectRoot: root, home })
  const head = git(root, 'rev-parse', 'HEAD')
  const w = Wizard.create({ projectRoot: root, home, lang: 'en' })
  const answers = {
    task_type: 'implementation', task_pick: '결제/환불-버그', brief_pick: 'keep', approved_plan_pick: 'latest',
    approve_plan_confirm: 'yes', stage_pick: '1', executor_pick: 'codex', critic_pick: 'off', customize_pick: 'defaults',
  }
  for (;;) {
    const p = w.next()
    if (p.step === 'branch_confirm') break
    assert.ok(p.step in answers, `no answer for ${p.step}`)
    assert.ok(w.submit(answers[p.step]).ok)
  }
  const branch = `feat-${safeSegment('환불-버그')}-s1`
  const label = w.next().label
  assert.ok(label.includes(`branch: \`${branch}\``), label)
  assert.ok(label.includes(`base: \`main @ ${head.slice(0, 12)}\``), label)
  walk(w, { branch_confirm: 'proceed', confirm: 'proceed' })
  assert.match(w.confirmationBlock(), new RegExp(`branch\\s+: ${branch}`))
  const a = w.renderArgs()
  const p = provisionTaskWorktree({ taskType: a['task-type'], projectRoot: a['project-root'], projectId: a['project-id'],
    taskGroup: a['task-group'], taskId: a['task-id'], workCategory: a['work-category'], baseRef: a['base-ref'] || undefined,
    stageNumber: Number(a.stage), home })
  assert.equal(p.status, 'created')
  assert.equal(p.branch, branch)
  assert.equal(p.baseRef, head)
  assert.ok(label.includes(p.path), `${label} vs ${p.path}`)
})

test('wizard: a finished run never blocks a new one; Back and the language survive a resume (JS and CLI)', () => {
  const { root, home } = koreanProject()
  const sub = join(root, 'src', 'deep')
  mkdirSync(sub, { recursive: true })
  assert.equal(findProjectRoot(sub), root)
  const state = join(tempDir(), 'state.json')
  // init from a subdirectory: the project is the repository root.
  let r = okstra(['wizard', 'init', '--state', state, '--project-root', sub, '--home', home])
  assert.equal(r.status, 0, r.stdout)
  assert.equal(JSON.parse(readFileSync(state, 'utf8')).projectRoot, root)
  assert.ok(r.json.next.options.some((o) => o.value === 'requirements-discovery'))
  assert.equal(r.json.next.canGoBack, false)
  // In progress: init refuses (exit 2) unless --force.
  okstra(['wizard', 'submit', '--state', state, '--value', 'requirements-discovery'])
  r = okstra(['wizard', 'init', '--state', state, '--project-root', root, '--home', home])
  assert.equal(r.status, 2)
  assert.equal(r.json.code, 'E_PATH_EXISTS')
  // Back through the CLI, after a "resume" (every CLI call loads the saved state).
  r = okstra(['wizard', 'next', '--state', state, '--lang', 'en'])
  assert.equal(r.json.next.step, 'task_pick')
  assert.equal(r.json.next.canGoBack, true)
  assert.match(r.json.next.label, /Continue an existing task/)
  r = okstra(['wizard', 'back', '--state', state])
  assert.equal(r.json.back, true)
  assert.equal(r.json.next.step, 'task_type')
  assert.match(r.json.next.label, /Which phase/)
  assert.equal(okstra(['wizard', 'back', '--state', state]).json.back, false)
  // Finish the run (abort at the branch confirm), then init starts a new one.
  const w = Wizard.load(state)
  walk(w, { task_type: 'requirements-discovery', task_pick: '결제/환불-버그', brief_pick: 'keep', base_ref_pick: 'main',
    customize_pick: 'defaults', branch_confirm: 'abort' })
  assert.equal(w.finished(), 'aborted')
  assert.equal(w.back(), true, 'an abort can be taken back')
  assert.equal(w.finished(), null)
  walk(w, { branch_confirm: 'proceed', confirm: 'proceed' })
  assert.equal(w.finished(), 'done')
  w.save(state)
  r = okstra(['wizard', 'init', '--state', state, '--project-root', root, '--home', home])
  assert.equal(r.status, 0, r.stdout)
  assert.equal(r.json.replaced, 'done')
  assert.equal(r.json.next.step, 'task_type')
  assert.deepEqual(JSON.parse(readFileSync(state, 'utf8')).answers, {})
  // The JS API: setLang keeps answers; Back history is saved with the state.
  const v = Wizard.create({ projectRoot: root, home })
  v.submit('requirements-discovery')
  const again = Wizard.fromJson(v.toJson())
  again.setLang('en')
  assert.match(again.next().label, /existing task/)
  assert.equal(again.next().canGoBack, true)
  assert.equal(again.back(), true)
  assert.equal(again.next().step, 'task_type')
  assert.throws(() => again.setLang('fr'), (e) => e.code === 'E_INVALID_ARG')
})

test('ko catalog: no English words left outside identifiers and placeholders', () => {
  const ko = JSON.parse(readFileSync(new URL('../prompts/wizard/ko.json', import.meta.url), 'utf8'))
  // okstra's identifiers (flags, field and file names, provider and role names) stay English.
  const identifiers = new Set(['okstra', 'task', 'tasks', 'group', 'id', 'worktree', 'stage', 'brief', 'ref', 'base', 'git',
    'sha', 'auto', 'executor', 'verifier', 'critic', 'provider', 'claude', 'codex', 'gemini', 'report', 'writer', 'lead',
    'directive', 'clarification', 'response', 'workers', 'render', 'args', 'main', 'pr', 'data', 'json', 'md', 'manifest',
    'taskbriefpath', 'tasktype', 'approved', 'approvalstatus', 'implementation', 'planning', 'final', 'verification',
    'requirements', 'discovery', 'error', 'analysis', 'release', 'handoff', 'push', 'feature', 'bugfix', 'refactor',
    'improvement', 'ops', 'other', 'feat', 'fix', 'improve', 'map', 'nul', 'okstra', 'new', 'state', 'type', 'key', 'category',
    'plan', 'template', 'model', 'backend', 'checkout', 'opus', 'sonnet', 'abort', 'edit', 'customize', 'step', 'wizard',
    'project', 'docs', 'runs', 'reports', 'github', 'confirm', 'ko'])
  const words = []
  const visit = (v) => {
    if (typeof v === 'string') {
      const text = v.replace(/\{\w+\}/g, '').replace(/\b[a-z]+(-[a-z0-9]+)+\b/g, '').replace(/`[^`]*`/g, '').replace(/[\w.-]*\/[\w./<>-]*/g, '')
      for (const w of text.match(/[A-Za-z]{2,}/g) ?? []) if (!identifiers.has(w.toLowerCase())) words.push(w)
    } else if (v && typeof v === 'object') Object.values(v).forEach(visit)
  }
  visit(ko)
  assert.deepEqual(words, [])
  // Particles never follow a placeholder (the right one depends on the value's last sound).
  const raw = readFileSync(new URL('../prompts/wizard/ko.json', import.meta.url), 'utf8')
  assert.doesNotMatch(raw, /\}\s?(은|는|이|가|을|를)\s/)
  // …nor stand apart from the word they belong to (`task 를` reads as a typo).
  assert.doesNotMatch(raw, /[A-Za-z)] (은|는|을|를|이|가|에서|의|에|로) /)
})

test('building from source without a prerequisite says which one is missing', async () => {
  const { symlinkSync } = await import('node:fs')
  const { spawnSync } = await import('node:child_process')
  const bin = tempDir('okstra-path-')
  for (const tool of ['node', 'npm', 'git', 'dirname', 'python3', 'cc']) {
    const found = spawnSync('bash', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim()
    if (found) symlinkSync(found, join(bin, tool))
  }
  const r = spawnSync('/bin/bash', [join(ROOT, 'scripts', 'ensure-built.sh')], { encoding: 'utf8', env: { PATH: bin, HOME: process.env.HOME } })
  assert.equal(r.status, 1, r.stdout + r.stderr)
  assert.match(r.stderr, /missing prerequisites:\n\s+- cargo \(Rust: https:\/\/rustup\.rs/)
  assert.doesNotMatch(r.stderr, /cargo metadata|at .*\.js:\d+/)
})
