// The Wizard class as users load it (ESM and CJS), the `okstra wizard` CLI round trip, and
// the demo driver end to end (wizard → provisioning → registry → git worktree list), all on
// real git repositories in temp dirs.
import test from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { readFileSync, writeFileSync } from 'node:fs'
import { Wizard } from '../index.js'
import { okstra, okstraProject, git } from './helpers.mjs'
import { driveWizard, DEMO_ANSWERS } from './fixtures/project.mjs'

const require = createRequire(import.meta.url)

const project = () => okstraProject('okstra-wizard-')

test('ESM and CJS load the same Wizard class', () => {
  const cjs = require('../index.js')
  assert.equal(cjs.Wizard, Wizard)
  assert.equal(typeof Wizard.create, 'function')
})

test('scripted walk to done renders the arguments; resume gives the same prompt', () => {
  const { root, home, planPath } = project()
  const seen = []
  const { args, wizard } = driveWizard({
    projectRoot: root, home,
    before: (prompt, wizard) => {
      seen.push(prompt.step)
      if (prompt.step === 'branch_confirm') assert.match(prompt.label, /feat-refund-api-s1/, 'the stage worktree of the picked stage')
      const resumed = Wizard.fromJson(wizard.toJson())
      assert.deepEqual(resumed.next(), prompt)
    },
  })
  assert.equal(seen[0], 'task_type')
  assert.equal(args['task-type'], 'implementation')
  assert.equal(args.stage, '1')
  assert.equal(args.workers, '')
  assert.equal(args['base-ref'], 'main')
  assert.equal(args['codex-model'], 'gpt-5.5-high')
  assert.equal(args['approved-plan'], planPath)
  assert.equal(wizard.next().kind, 'done')
  const data = JSON.parse(readFileSync(planPath.replace(/\.md$/, '.data.json'), 'utf8'))
  assert.equal(data.meta.approvalStatus, 'approved')
  assert.equal(data.meta.taskType, 'implementation-planning')
})

test('a rejected answer returns ok:false and leaves the state byte-for-byte unchanged', () => {
  const { root, home } = project()
  const w = Wizard.create({ projectRoot: root, home, lang: 'en' })
  const before = w.toJson()
  const r = w.submit('deploy')
  assert.equal(r.ok, false)
  assert.equal(r.code, 'E_INVALID_ARG')
  assert.match(r.error, /deploy is not one of the options/)
  assert.equal(r.next.step, 'task_type')
  assert.equal(w.toJson(), before)
})

test('final-verification: explicit stage, no base ref, no branch confirm', () => {
  const { root, home } = project()
  const w = Wizard.create({ projectRoot: root, home })
  const steps = []
  for (const v of ['final-verification', 'payments/refund-api', 'keep', 'latest', 'yes']) {
    steps.push(w.next().step)
    assert.ok(w.submit(v).ok)
  }
  assert.deepEqual(steps, ['task_type', 'task_pick', 'brief_pick', 'approved_plan_pick', 'approve_plan_confirm'])
  const stage = w.next()
  assert.deepEqual(stage.options.map((o) => o.value), ['1', '2'])
  const r = w.submit('auto')
  assert.equal(r.ok, false)
  assert.match(r.error, /final-verification/)
  for (const v of ['2', 'defaults']) assert.ok(w.submit(v).ok)
  assert.equal(w.next().step, 'confirm')
  assert.ok(w.submit('proceed').ok)
  const args = w.renderArgs()
  assert.equal(args['base-ref'], '')
  assert.equal(args.stage, '2')
})

test('abort is terminal and renderArgs refuses it with E_WIZARD_ABORTED', () => {
  const { root, home } = project()
  const w = Wizard.create({ projectRoot: root, home })
  for (const v of ['error-analysis', 'payments/refund-api', 'keep', 'main', 'defaults', 'abort']) assert.ok(w.submit(v).ok, v)
  assert.equal(w.next().kind, 'aborted')
  assert.throws(() => w.renderArgs(), (e) => e.code === 'E_WIZARD_ABORTED')
})

test('a state of another version fails with a clear, coded error', () => {
  assert.throws(() => Wizard.fromJson('{"task_type": "implementation"}'),
    (e) => e.code === 'E_WIZARD_STATE_VERSION' && /Python/.test(e.message))
  assert.throws(() => Wizard.create({ projectRoot: '/nope/nowhere' }), (e) => e.code === 'E_INVALID_ARG')
})

test('pick_group batches the customize prompts and takes a JSON object', () => {
  const { root, home } = project()
  const w = Wizard.create({ projectRoot: root, home, groups: true })
  for (const v of ['implementation-planning', 'payments/refund-api', 'keep', 'main', 'customize', '']) assert.ok(w.submit(v).ok, v)
  const g = w.next()
  assert.equal(g.kind, 'pick_group')
  assert.deepEqual(g.prompts.map((p) => p.step),
    ['lead_model', 'claude_model', 'codex_model', 'gemini_model', 'report_writer_model', 'directive', 'related_tasks', 'clarification_response'])
  const before = w.toJson()
  assert.equal(w.submit('{"lead_model": "has space"}').ok, false)
  assert.equal(w.toJson(), before)
  assert.ok(w.submit(JSON.stringify({ lead_model: 'opus', gemini_model: 'pro' })).ok)
  assert.equal(w.next().step, 'branch_confirm')
})

test('save/load round trip through a state file', () => {
  const { root, home, dir } = project()
  const w = Wizard.create({ projectRoot: root, home })
  w.submit('release-handoff')
  const file = join(dir, 'state.json')
  w.save(file)
  const back = Wizard.load(file)
  assert.deepEqual(back.next(), w.next())
  assert.equal(JSON.parse(readFileSync(file, 'utf8')).version, 1)
})

test('okstra wizard CLI round trip: init, next, submit, confirmation, render-args', () => {
  const { root, home, dir } = project()
  const state = join(dir, 'cli-state.json')
  let r = okstra(['wizard', 'init', '--state', state, '--project-root', root, '--project-id', 'shop', '--home', home, '--lang', 'en'])
  assert.equal(r.status, 0, r.stderr)
  assert.equal(r.json.next.step, 'task_type')
  r = okstra(['wizard', 'submit', '--state', state, '--value', 'bogus'])
  assert.equal(r.status, 0)
  assert.equal(r.json.ok, false)
  const saved = readFileSync(state, 'utf8')
  r = okstra(['wizard', 'submit', '--state', state, '--value', 'bogus'])
  assert.equal(readFileSync(state, 'utf8'), saved, 'a rejected answer leaves the state file as it was')
  for (const v of ['requirements-discovery', 'new', 'payments', 'refund-ui', 'feature', 'briefs/refund-api.md', 'develop', 'defaults', 'proceed']) {
    r = okstra(['wizard', 'submit', '--state', state, '--value', v])
    assert.equal(r.json.ok, true, `${v}: ${r.stdout}`)
  }
  r = okstra(['wizard', 'next', '--state', state])
  assert.equal(r.json.next.step, 'confirm')
  r = okstra(['wizard', 'confirmation', '--state', state])
  assert.match(r.json.text, /base-ref\s+: develop/)
  r = okstra(['wizard', 'render-args', '--state', state])
  assert.equal(r.json.ok, false, 'not done yet')
  okstra(['wizard', 'submit', '--state', state, '--value', 'proceed'])
  r = okstra(['wizard', 'render-args', '--state', state])
  assert.equal(r.status, 0)
  assert.equal(r.json.args['task-id'], 'refund-ui')
  assert.equal(r.json.args['base-ref'], 'develop')
  writeFileSync(state, '{"version": 7}')
  r = okstra(['wizard', 'next', '--state', state])
  assert.equal(r.status, 1)
  assert.equal(r.json.code, 'E_WIZARD_STATE_VERSION')
})

test('demo driver: wizard to done, provision what it rendered, reuse afterwards', () => {
  const { root, home } = project()
  const { args, wizard } = driveWizard({ projectRoot: root, home })
  assert.equal(args.stage, '1')
  const p = wizard.provision()
  assert.equal(p.status, 'created')
  assert.equal(p.branch, 'feat-refund-api-s1')
  assert.match(git(root, 'worktree', 'list'), /feat-refund-api-s1/)
  // With the stage worktree registered, a second run reuses it: base-ref renders empty.
  const again = driveWizard({ projectRoot: root, home, answers: { ...DEMO_ANSWERS } })
  assert.equal(again.args['base-ref'], '')
  assert.equal(again.wizard.provision().status, 'reused')
})

test('nextAsync / submitAsync give what next / submit give', async () => {
  const { root, home } = project()
  const a = Wizard.create({ projectRoot: root, home })
  const b = Wizard.create({ projectRoot: root, home })
  for (const v of ['error-analysis', 'nope', 'payments/refund-api', 'keep', 'main', 'defaults']) {
    assert.deepEqual(await b.nextAsync(), a.next())
    assert.deepEqual(await b.submitAsync(v), a.submit(v))
  }
  assert.equal(b.toJson(), a.toJson())
  assert.equal((await b.nextAsync()).step, 'branch_confirm')
})

test('wizardText fills the terminal texts in the core; wizardInteractiveOptions is the CLI parser', () => {
  const native = createRequire(import.meta.url)('../index.js')
  assert.equal(native.wizardText('en', 'saved', { file: '/x/{file}.json' }).includes('/x/{file}.json'), true)
  assert.match(native.wizardText('ko', 'saved', { file: '/s.json' }), /\/s\.json/)
  assert.throws(() => native.wizardText('en', 'no_such_text'), { code: 'E_INVALID_ARG' })
  assert.throws(() => native.wizardText('fr', 'saved'), { code: 'E_INVALID_ARG' })
  const { root } = project()
  const sub = join(root, 'briefs')
  const o = native.wizardInteractiveOptions(['wizard', '--project-root', sub, '--lang', 'en', '--new'])
  assert.equal(o.projectRoot, root)
  assert.equal(o.stateFile, join(root, '.okstra', 'wizard-state.json'))
  assert.deepEqual([o.lang, o.fresh], ['en', true])
  assert.equal(native.wizardInteractiveOptions(['wizard', 'next', '--state', 'x']), null)
  assert.equal(native.wizardInteractiveOptions(['wizard', '--no-such-flag']), null)
  assert.throws(() => native.wizardInteractiveOptions(['wizard', '--project-root', join(root, 'nope')]), { code: 'E_INVALID_ARG' })
})

test('approving the plan while another process holds its directory lock is E_LOCK_TIMEOUT, not a bad answer', async () => {
  const { spawn, spawnSync } = await import('node:child_process')
  const { dirname } = await import('node:path')
  const { root, planPath, home, dir } = project()
  const state = join(dir, 'state.json')
  assert.equal(okstra(['wizard', 'init', '--state', state, '--project-root', root, '--home', home]).status, 0)
  for (const v of ['implementation', 'payments/refund-api', 'keep', 'main', 'latest']) {
    assert.equal(okstra(['wizard', 'submit', '--state', state, '--value', v]).json.ok, true, v)
  }
  const before = readFileSync(state, 'utf8')
  const reports = dirname(planPath)
  // -o: only flock itself holds the lock (not its sleep), so killing its group frees it.
  const holder = spawn('flock', ['-o', reports, 'sleep', '20'], { stdio: 'ignore', detached: true })
  const exited = new Promise((r) => holder.once('exit', r))
  try {
    // Wait until the holder has the lock.
    for (let i = 0; i < 200 && spawnSync('flock', ['-n', reports, 'true']).status === 0; i++) {
      await new Promise((r) => setTimeout(r, 25))
    }
    const r = okstra(['wizard', 'submit', '--state', state, '--value', 'yes'],
      { env: { ...process.env, OKSTRA_LOCK_TIMEOUT_MS: '300' } })
    assert.equal(r.status, 1, r.stdout)
    assert.equal(r.json.code, 'E_LOCK_TIMEOUT', r.stdout)
    assert.equal(readFileSync(state, 'utf8'), before, 'the state is unchanged')
  } finally {
    process.kill(-holder.pid, 'SIGKILL')
  }
  // Once the lock is free the same answer is accepted and the plan approved.
  await exited
  assert.equal(okstra(['wizard', 'submit', '--state', state, '--value', 'yes']).json.ok, true)
  const data = JSON.parse(readFileSync(planPath.replace(/\.md$/, '.data.json'), 'utf8'))
  assert.equal(data.meta.approvalStatus, 'approved')
})
