// The binding's conventions as a JS caller meets them: one argument per export (with the
// 0.1 positional forms still answering the same), `null` for absent result values, closed sets
// whose runtime values are the core's, nothing internal exported, and one resolved lock
// bound per call (an explicit `lockTimeoutMs` wins over the environment for every lock).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { ROOT, git, makeRepo, tempDir, holdLock } from './helpers.mjs'

const require = createRequire(import.meta.url)
const native = require('../index.js')
const {
  ledgerAppend, ledgerAppendAsync, ledgerAppendPr, ledgerAppendVerified, ledgerRead, ledgerReadAsync,
  upsertProjectJson, registryDoctor, registryLookup, registryReserve, Wizard, TaskType, ProvisionStatus,
} = native

test('ledger exports take one options object; the 0.1 (planRunRoot, options) form writes the same rows', async () => {
  const a = tempDir()
  const b = tempDir()
  const row = { implTaskKey: 'p/g/t#stage-1', stage: 1, status: 'done', fields: { head_commit: 'c1' } }
  assert.deepEqual(ledgerAppend({ planRunRoot: a, ...row }), { appended: true, taskKey: row.implTaskKey })
  assert.deepEqual(ledgerAppend(b, row), { appended: true, taskKey: row.implTaskKey })
  assert.deepEqual(await ledgerAppendAsync({ planRunRoot: a, ...row }), { appended: false, taskKey: row.implTaskKey })
  ledgerAppendVerified({ planRunRoot: a, implTaskKey: 'k', stage: 1, verdict: 'accepted', reportPath: 'r.md' })
  ledgerAppendVerified(b, { implTaskKey: 'k', stage: 1, verdict: 'accepted', reportPath: 'r.md' })
  ledgerAppendPr({ planRunRoot: a, implTaskKey: 'k', stages: [1], branch: 'x', url: 'u' })
  ledgerAppendPr(b, { implTaskKey: 'k', stages: [1], branch: 'x', url: 'u' })
  const strip = (rows) => rows.map(({ ts, recorded_at, at, ...r }) => r)
  const ra = ledgerRead({ planRunRoot: a })
  assert.equal(ra.rows.length, 3)
  assert.deepEqual(strip(ra.rows), strip(ledgerRead(b).rows))
  assert.deepEqual(strip((await ledgerReadAsync({ planRunRoot: a })).rows), strip(ra.rows))
  // An options object without planRunRoot, or no argument, is E_INVALID_ARG naming the field.
  assert.throws(() => ledgerRead({}), (e) => e.code === 'E_INVALID_ARG' && /planRunRoot/.test(e.message))
  assert.throws(() => ledgerAppend({ ...row }), (e) => e.code === 'E_INVALID_ARG' && /planRunRoot/.test(e.message))
  await assert.rejects(ledgerReadAsync(), (e) => e.code === 'E_INVALID_ARG')
})

test('upsertProjectJson takes { projectRoot, projectId }; the 0.1 (projectRoot, projectId) form does the same', () => {
  const a = tempDir()
  const b = tempDir()
  const x = upsertProjectJson({ projectRoot: a, projectId: 'shop' })
  const y = upsertProjectJson(b, 'shop')
  assert.equal(x.projectId, 'shop')
  assert.equal(y.projectId, 'shop')
  assert.throws(() => upsertProjectJson({ projectRoot: a, projectId: 'other' }), { code: 'E_PROJECT_ID_MISMATCH' })
  assert.throws(() => upsertProjectJson({ projectRoot: a }), { code: 'E_INVALID_ARG' })
})

test('results carry null, never undefined or a missing field, for values that do not apply', () => {
  const home = tempDir()
  const k = { home, projectId: 'p', taskGroup: 'g', taskId: 't' }
  assert.equal(registryLookup(k), null)
  const e = registryReserve({ ...k, worktreePath: join(home, 'gone'), branch: 'b', baseRef: 'x' })
  assert.ok('stage' in e && e.stage === null && e.stages === null)
  const problems = registryDoctor({ home }).problems
  assert.ok(problems.length > 0, 'the missing directory is reported')
  for (const p of problems) assert.ok('taskKey' in p && p.taskKey !== undefined, JSON.stringify(p))
  const root = makeRepo()
  const w = Wizard.create({ projectRoot: root, home, lang: 'en' })
  const first = w.next()
  assert.ok('prompts' in first && first.prompts === null, 'a plain prompt has prompts: null')
  const rejected = w.submit('no-such-task-type')
  assert.equal(rejected.ok, false)
  assert.equal(rejected.echo, null)
  assert.equal(typeof rejected.error, 'string')
  const accepted = w.submit('implementation')
  assert.equal(accepted.ok, true)
  assert.equal(accepted.error, null)
  assert.equal(accepted.code, null)
  assert.equal(w.finished(), null)
})

test('closed sets: TaskType is the wizard\'s task type list; ProvisionStatus holds the strings on disk', () => {
  const w = Wizard.create({ projectRoot: makeRepo(), home: tempDir(), lang: 'en' })
  const p = w.next()
  assert.equal(p.step, 'task_type')
  assert.deepEqual(p.options.map((o) => o.value), Object.values(TaskType))
  assert.deepEqual(Object.values(ProvisionStatus), ['created', 'reused', 'skipped-in-worktree', 'skipped-not-git'])
})

test('only the documented API is exported: no task classes, no JsWizard', () => {
  for (const name of Object.keys(native)) {
    assert.ok(!/Task$/.test(name) || name === 'TaskType', `${name} is exported`)
    assert.ok(!/^Js/.test(name), `${name} is exported`)
  }
})

test('lockTimeoutMs bounds every lock a provisioning takes, whatever OKSTRA_LOCK_TIMEOUT_MS says', async () => {
  const repo = makeRepo()
  writeFileSync(join(repo, '.gitignore'), '.env\n')
  writeFileSync(join(repo, '.env'), 'SECRET=1\n')
  git(repo, 'add', '.gitignore')
  git(repo, 'commit', '-q', '-m', 'ignore')
  const home = tempDir()
  const info = join(repo, '.git', 'info')
  mkdirSync(info, { recursive: true })
  // Another process holds the lock on the shared info/exclude (a provisioning in flight).
  const lock = join(info, 'okstra-exclude.lock')
  const holder = await holdLock(lock)
  try {
    // A child whose environment asks for a 10-minute bound; the call asks for 300 ms.
    const script = `
      const { provisionTaskWorktree } = require(${JSON.stringify(join(ROOT, 'index.js'))})
      const t0 = Date.now()
      const r = provisionTaskWorktree({ home: ${JSON.stringify(home)}, projectId: 'p', taskGroup: 'g', taskId: 't',
        taskType: 'implementation', projectRoot: ${JSON.stringify(repo)}, lockTimeoutMs: 300 })
      console.log(JSON.stringify({ ms: Date.now() - t0, status: r.status, note: r.note }))`
    const child = spawn(process.execPath, ['-e', script], {
      env: { ...process.env, OKSTRA_LOCK_TIMEOUT_MS: '600000', OKSTRA_WORKTREE_SYNC_FILES: '.env' },
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    const killer = setTimeout(() => child.kill('SIGKILL'), 20000)
    const code = await new Promise((res) => child.on('close', res))
    clearTimeout(killer)
    assert.equal(code, 0, `the call returned within 20 s (it waited on the environment's bound otherwise): ${out}`)
    const r = JSON.parse(out)
    assert.equal(r.status, 'created')
    assert.match(r.note, /info\/exclude/, 'the note says the carried entries could not be excluded')
    assert.ok(r.ms < 15000, `${r.ms} ms`)
  } finally {
    await holder.release()
  }
})
