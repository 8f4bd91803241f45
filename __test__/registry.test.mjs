import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readFileSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { spawn, spawnSync } from 'node:child_process'
import * as native from '@okstra/native'
import { CLI, PY_REGISTRY, ROOT, okstra, okstraNative, run, tempDir, tempHome, holdLock } from './helpers.mjs'

const {
  registryLookup, registryReserve, registryReserveAsync, registryRelease, registryReleaseAsync,
  registryList, registryTouchPhase, registryRepair, registryDoctorAsync, registryDoctor,
  registryPrune, registryPruneAsync, safeSegment, taskKey, computeWorktreePath, computeBranchName,
} = native

const SHA = 'a'.repeat(40)
const key = (home, taskId, extra = {}) => ({ projectId: 'p', taskGroup: 'g', taskId, home, ...extra })
const reservation = (home, taskId, extra = {}) => ({
  ...key(home, taskId), worktreePath: `/w/${taskId}`, branch: `feat-${taskId}`, baseRef: SHA, ...extra,
})
const registryFile = (home) => join(home, 'worktrees', 'registry.json')
const py = (home, ...args) =>
  spawnSync('python3', [PY_REGISTRY, ...args], { encoding: 'utf8', env: { ...process.env, OKSTRA_HOME: home } })

test('ESM import exposes the API and ids behave as documented', () => {
  assert.equal(safeSegment('Fix Login/Page'), 'fix-login-page')
  assert.notEqual(safeSegment('버그'), safeSegment('기능'))
  assert.match(safeSegment('버그'), /^_-[0-9a-f]{8}$/)
  assert.equal(taskKey({ projectId: 'p', taskGroup: 'g', taskId: 't', stageNumber: 3 }), 'p/g/t#stage-3')
  assert.equal(taskKey({ projectId: 'p', taskGroup: 'g', taskId: 't', groupId: 'x1' }), 'p/g/t#group-x1')
  assert.equal(computeWorktreePath({ projectId: 'P', taskGroup: 'G', taskId: 'T 1', stageNumber: 2, home: '/h' }), '/h/worktrees/p/g/t-1.stage-2')
  assert.equal(computeBranchName({ workCategory: 'feature', taskId: 'T', groupId: 'g1' }), 'feat-t.group-g1')
  for (const bad of [{ taskId: '' }, { taskId: 'a/b' }, { taskId: 'a#b' }, { stageNumber: 1, groupId: 'x' }, { stageNumber: 1.5 }]) {
    assert.throws(() => taskKey({ projectId: 'p', taskGroup: 'g', taskId: 't', ...bad }), { code: 'E_INVALID_ARG' })
  }
})

test('CJS require loads the same module', () => {
  const r = spawnSync(process.execPath, ['-e', "const n = require('@okstra/native'); process.stdout.write(n.safeSegment('A B') + ' ' + typeof n.registryReserveAsync)"], { cwd: ROOT, encoding: 'utf8' })
  assert.equal(r.status, 0, r.stderr)
  assert.equal(r.stdout, 'a-b function')
})

test('reserve, lookup, touch, release; sync and async agree', async () => {
  const home = tempDir()
  const a = registryReserve(reservation(home, 'a', { phase: 'requirements-discovery' }))
  const b = await registryReserveAsync(reservation(home, 'b', { phase: 'requirements-discovery' }))
  const strip = ({ createdAt, taskKey, taskId, worktreePath, branch, ...rest }) => rest
  assert.deepEqual(strip(a), strip(b))
  assert.equal(a.stage, null)
  assert.equal(a.stages, null)
  assert.deepEqual(registryLookup(key(home, 'a')), a)
  assert.equal(registryLookup(key(home, 'zz')), null)
  registryTouchPhase({ ...key(home, 'a'), phase: 'implementation' })
  assert.equal(registryLookup(key(home, 'a')).lastPhase, 'implementation')
  const relSync = registryRelease(key(home, 'a'))
  const relAsync = await registryReleaseAsync(key(home, 'b'))
  assert.equal(relSync.status, 'released')
  assert.equal(relAsync.status, 'released')
  assert.equal(await registryReleaseAsync(key(home, 'none')), null)
  assert.deepEqual(registryList({ home, status: 'active' }), [])
})

test('refusals carry stable codes, say what to do, and change nothing', async () => {
  const home = tempDir()
  registryReserve(reservation(home, 'a'))
  const before = readFileSync(registryFile(home))
  assert.throws(() => registryReserve(reservation(home, 'a', { branch: 'other' })), (e) => e.code === 'E_TASK_KEY_ACTIVE' && /release it/.test(e.message))
  await assert.rejects(registryReserveAsync(reservation(home, 'b', { branch: 'feat-a' })), (e) => e instanceof Error && e.code === 'E_BRANCH_OWNED' && /p\/g\/a/.test(e.message))
  assert.throws(() => registryReserve(reservation(home, 'c', { worktreePath: 'relative' })), { code: 'E_INVALID_ARG' })
  assert.throws(() => registryList({ home, status: 'nope' }), { code: 'E_INVALID_ARG' })
  assert.deepEqual(readFileSync(registryFile(home)), before)
})

test('a corrupt registry is refused untouched, and repair salvages the valid rows', async () => {
  const home = tempDir()
  for (const t of ['a', 'b', 'c']) registryReserve(reservation(home, t))
  const full = readFileSync(registryFile(home), 'utf8')
  const torn = full.slice(0, full.indexOf('"p/g/c"') + 60)
  writeFileSync(registryFile(home), torn)
  assert.throws(() => registryLookup(key(home, 'a')), (e) => e.code === 'E_REGISTRY_CORRUPT' && e.message.includes('registry.json') && /repair/.test(e.message))
  assert.throws(() => registryReserve(reservation(home, 'd')), { code: 'E_REGISTRY_CORRUPT' })
  assert.equal(readFileSync(registryFile(home), 'utf8'), torn)
  const cli = okstra(['registry', 'list', '--home', home])
  assert.equal(cli.status, 1)
  assert.equal(cli.json.code, 'E_REGISTRY_CORRUPT')
  const rep = registryRepair({ home })
  assert.equal(rep.salvaged, 2)
  assert.equal(rep.dropped, 1)
  assert.equal(readFileSync(rep.movedTo, 'utf8'), torn)
  assert.deepEqual(registryList({ home }).map((e) => e.taskKey), ['p/g/a', 'p/g/b'])
  assert.equal(registryRepair({ home }).movedTo, null)
})

test('prune is a dry run by default; doctor reports; async variants agree', async () => {
  const home = tempDir()
  const live = tempDir()
  registryReserve(reservation(home, 'live', { worktreePath: live }))
  registryReserve(reservation(home, 'gone', { worktreePath: join(live, 'missing') }))
  assert.deepEqual(registryPrune({ home }).released.map((e) => e.taskKey), ['p/g/gone'])
  assert.deepEqual((await registryPruneAsync({ home })).released.map((e) => e.taskKey), ['p/g/gone'])
  const doc = registryDoctor({ home })
  assert.deepEqual(await registryDoctorAsync({ home }), doc)
  assert.equal(doc.ok, false)
  assert.ok(doc.problems.some((p) => p.code === 'worktree-missing' && p.taskKey === 'p/g/gone'))
  assert.equal(registryPrune({ home, dryRun: false }).released[0].status, 'released')
  assert.equal(registryLookup(key(home, 'gone')).status, 'released')
  assert.equal(registryLookup(key(home, 'live')).status, 'active')
})

test('unknown fields and top-level keys survive every rewrite', () => {
  const home = tempDir()
  registryReserve(reservation(home, 'a'))
  const data = JSON.parse(readFileSync(registryFile(home), 'utf8'))
  data.schema = 3
  data.tasks['p/g/a'].note = { by: 'user', tags: ['x'] }
  writeFileSync(registryFile(home), JSON.stringify(data))
  registryTouchPhase({ ...key(home, 'a'), phase: 'x' })
  registryReserve(reservation(home, 'b'))
  registryRelease(key(home, 'a'))
  const after = JSON.parse(readFileSync(registryFile(home), 'utf8'))
  assert.equal(after.schema, 3)
  assert.deepEqual(after.tasks['p/g/a'].note, { by: 'user', tags: ['x'] })
  assert.deepEqual(Object.keys(after), ['tasks', 'branches', 'schema'])
})

test('Python helper and this module share one registry: each reads the other, byte-identical layout', () => {
  const home = tempDir()
  let r = py(home, 'reserve', 'p', '그룹', 'py1', '/w/py1', 'feat-py1', SHA)
  assert.equal(r.status, 0, r.stderr)
  const fromPy = registryLookup({ projectId: 'p', taskGroup: '그룹', taskId: 'py1', home })
  assert.equal(fromPy.branch, 'feat-py1')
  assert.equal(fromPy.status, 'active')
  // Ours is registered under the slugged key, as provisioning registers it (one id, one
  // entry: docs/formats.md); the Python helper finds it by that key, and we by either text.
  const group = safeSegment('그룹')
  assert.equal(registryReserve({ ...reservation(home, 'js1'), taskGroup: '그룹' }).taskKey, `p/${group}/js1`)
  r = py(home, 'lookup', 'p', group, 'js1')
  assert.equal(r.status, 0, r.stderr)
  assert.equal(JSON.parse(r.stdout).worktree_path, '/w/js1')
  assert.equal(registryLookup({ projectId: 'p', taskGroup: group, taskId: 'js1', home }).worktreePath, '/w/js1')
  // Python rewriting our file reproduces it byte for byte, so the layouts are the same.
  const ours = readFileSync(registryFile(home), 'utf8')
  r = py(home, 'release', 'p', '그룹', 'zz-missing')
  const rewrite = spawnSync('python3', ['-c', `import json,sys; d=json.load(open(sys.argv[1])); sys.stdout.write(json.dumps(d, indent=2, ensure_ascii=False) + "\\n")`, registryFile(home)], { encoding: 'utf8' })
  assert.equal(rewrite.stdout, ours)
  assert.ok(ours.includes('"p/그룹/py1"'), 'non-ASCII kept as is')
  // A Python release of our row frees the branch for us.
  assert.equal(py(home, 'release', 'p', group, 'js1').status, 0)
  assert.equal(registryLookup({ projectId: 'p', taskGroup: '그룹', taskId: 'js1', home }).status, 'released')
})

const RESERVER = `
const { registryReserve } = require(process.argv[1]);
const [home, prefix, count] = process.argv.slice(2);
let ok = 0, active = 0, other = [];
for (let i = 0; i < Number(count); i++) {
  const t = prefix.endsWith('!') ? 'same' : prefix + i;
  try {
    registryReserve({ projectId: 'p', taskGroup: 'g', taskId: t, home, worktreePath: '/w/' + t, branch: 'feat-' + t, baseRef: '${SHA}' });
    ok++;
  } catch (e) { if (e.code === 'E_TASK_KEY_ACTIVE') active++; else other.push(e.code + ': ' + e.message); }
}
process.stdout.write(JSON.stringify({ ok, active, other }));
`

test('node processes and the Python helper reserving at once lose nothing', async () => {
  const home = tempDir()
  const env = { ...process.env, OKSTRA_HOME: home }
  const procs = []
  for (let n = 0; n < 4; n++) procs.push(run(process.execPath, ['-e', RESERVER, ROOT, home, `n${n}-`, '25']))
  procs.push(run('python3', [PY_REGISTRY, 'reserve-many', 'p', 'g', 'py-', '25'], { env }))
  const results = await Promise.all(procs)
  for (const r of results) assert.equal(r.code, 0, r.stderr)
  for (const r of results.slice(0, 4)) assert.deepEqual(JSON.parse(r.stdout), { ok: 25, active: 0, other: [] })
  const all = registryList({ home })
  assert.equal(all.length, 125)
  const data = JSON.parse(readFileSync(registryFile(home), 'utf8'))
  assert.equal(Object.keys(data.branches).length, 125)
})

test('contended reservations of one key: exactly one winner, the rest E_TASK_KEY_ACTIVE', async () => {
  const home = tempDir()
  const procs = []
  for (let n = 0; n < 6; n++) procs.push(run(process.execPath, ['-e', RESERVER, ROOT, home, 'same!', '1']))
  const results = (await Promise.all(procs)).map((r) => JSON.parse(r.stdout))
  assert.equal(results.reduce((s, r) => s + r.ok, 0), 1)
  assert.equal(results.reduce((s, r) => s + r.active, 0), 5)
  assert.deepEqual(results.flatMap((r) => r.other), [])
})

const CRASHER = `
const { registryReserve } = require(process.argv[1]);
const [home, prefix] = process.argv.slice(2);
for (let i = 0; ; i++) {
  const t = prefix + i;
  registryReserve({ projectId: 'p', taskGroup: 'g', taskId: t, home, worktreePath: '/w/' + t, branch: 'feat-' + t, baseRef: '${SHA}' });
  process.stdout.write(t + '\\n');
}
`

test('SIGKILL during rewrites leaves a registry that parses with every earlier row', async () => {
  const home = tempDir()
  // Enough rows that each rewrite takes a while, so kills land mid-write.
  registryReserve(reservation(home, 'seed'))
  const reported = new Set(['seed'])
  for (let round = 0; round < 6; round++) {
    const child = spawn(process.execPath, ['-e', CRASHER, ROOT, home, `r${round}-`], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    // Kill once this child has reported rows (a fixed sleep loses to a slow Node start on a
    // busy machine), at a different instant each round.
    let exited = false
    child.on('exit', () => (exited = true))
    while (!exited && out.split('\n').length < 4) await new Promise((res) => setTimeout(res, 5))
    await new Promise((res) => setTimeout(res, round * 7))
    child.kill('SIGKILL')
    await new Promise((res) => child.on('close', res))
    for (const t of out.split('\n').filter(Boolean)) reported.add(t)
    // Parses, and every reservation the child reported as done is there.
    const rows = registryList({ home })
    const keys = new Set(rows.map((e) => e.taskId))
    for (const t of reported) assert.ok(keys.has(t), `row ${t} lost after kill in round ${round}`)
  }
  assert.ok(reported.size > 20, `the children made progress (${reported.size} rows)`)
})

test('a lock held too long gives E_LOCK_TIMEOUT naming the lock file', async () => {
  const home = tempDir()
  registryReserve(reservation(home, 'a'))
  const lock = join(home, 'worktrees', 'registry.lock')
  // The Python helper's own lock: fcntl.flock on the same file.
  const holder = await holdLock(lock)
  const t0 = Date.now()
  assert.throws(() => registryReserve(reservation(home, 'b', { lockTimeoutMs: 200 })), (e) => e.code === 'E_LOCK_TIMEOUT' && e.message.includes(lock))
  assert.ok(Date.now() - t0 < 2000)
  const cli = okstra(['registry', 'release', '--project-id', 'p', '--task-group', 'g', '--task-id', 'a', '--home', home], { env: { ...process.env, OKSTRA_LOCK_TIMEOUT_MS: '150' } })
  assert.equal(cli.status, 1)
  assert.equal(cli.json.code, 'E_LOCK_TIMEOUT')
  // Reads do not wait for the lock.
  assert.equal(registryLookup(key(home, 'a')).status, 'active')
  await holder.release()
  assert.equal(registryRelease(key(home, 'a')).status, 'released')
})

test('okstra CLI: JSON results, JSON errors with exit codes, help', () => {
  const home = tempDir()
  const args = ['--project-id', 'p', '--task-group', 'g', '--task-id', 't', '--home', home]
  let r = okstra(['registry', 'reserve', ...args, '--worktree-path', '/w/t', '--branch', 'feat-t', '--base-ref', SHA, '--stage', '2'])
  assert.equal(r.status, 0, r.stderr)
  assert.equal(r.json.taskKey, 'p/g/t#stage-2')
  assert.deepEqual(r.json, registryLookup({ ...key(home, 't'), stageNumber: 2 }))
  r = okstra(['registry', 'reserve', ...args, '--worktree-path', '/w/t', '--branch', 'feat-t', '--base-ref', SHA, '--stage', '2'])
  assert.equal(r.status, 2)
  assert.deepEqual(Object.keys(r.json), ['ok', 'code', 'error'])
  assert.equal(r.json.code, 'E_TASK_KEY_ACTIVE')
  assert.match(r.stderr, /E_TASK_KEY_ACTIVE/)
  r = okstra(['registry', 'active-stages', ...args])
  assert.deepEqual(r.json, [2])
  r = okstra(['registry', 'lookup', '--home', home])
  assert.equal(r.status, 1)
  assert.equal(r.json.code, 'E_INVALID_ARG')
  r = okstra(['registry', 'lookup', '--help'])
  assert.equal(r.status, 0)
  assert.match(r.stdout, /--project-id/)
  r = okstra(['registry', 'lookup', '--task-group', 'g', '--task-id', 't', '--home', home], { env: { ...process.env, OKSTRA_PROJECT_ID: 'p' } })
  assert.equal(r.status, 0)
  assert.equal(r.json, null)
})

test('the .node file links no libssl, libgit2 or libz dynamically', () => {
  const node = join(ROOT, 'okstra-native.linux-x64-gnu.node')
  assert.ok(existsSync(node))
  const r = spawnSync('readelf', ['-d', node], { encoding: 'utf8' })
  assert.equal(r.status, 0, r.stderr)
  const needed = [...r.stdout.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1])
  assert.ok(needed.length > 0)
  for (const lib of needed) assert.doesNotMatch(lib, /ssl|crypto|git2|libz|ssh/, `links ${lib}`)
})

test('repeated lookups are served from a copy that follows every replacement, the Python helper\'s too', async () => {
  const home = tempDir()
  registryReserve(reservation(home, 'a'))
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
  await sleep(50)
  assert.equal(registryLookup(key(home, 'a')).status, 'active')
  assert.equal(registryLookup(key(home, 'a')).status, 'active') // from the copy
  // The Python helper releases and reserves anew (its own load + json.dumps + os.replace).
  assert.equal(py(home, 'release', 'p', 'g', 'a').status, 0)
  assert.equal(registryLookup(key(home, 'a')).status, 'released')
  assert.equal(py(home, 'reserve', 'p', 'g', 'b', '/w/b', 'feat-b', SHA).status, 0)
  assert.equal(registryLookup(key(home, 'b')).worktreePath, '/w/b')
  await sleep(50)
  assert.equal(registryLookup(key(home, 'b')).branch, 'feat-b')
  // Another process (this module in a child) replaces it: seen at once.
  const child = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(join(ROOT, 'index.js'))}).registryRelease(${JSON.stringify(key(home, 'b'))})`], { encoding: 'utf8' })
  assert.equal(child.status, 0, child.stderr)
  assert.equal(registryLookup(key(home, 'b')).status, 'released')
  // A file replaced by garbage is refused, not served from the copy.
  writeFileSync(registryFile(home), '{"tasks": ')
  assert.throws(() => registryLookup(key(home, 'b')), { code: 'E_REGISTRY_CORRUPT' })
})

test('the CLI lookup index: written for a settled registry, never trusted after the Python helper or a writer of ours replaces it', () => {
  const home = tempHome()
  const idx = join(home, 'worktrees', 'registry.idx')
  const lookup = (taskId) => {
    const r = okstraNative(['registry', 'lookup', '--project-id', 'p', '--task-group', 'g', '--task-id', taskId, '--home', home])
    assert.equal(r.status, 0, r.stderr)
    return JSON.parse(r.stdout)
  }
  registryReserve(reservation(home, 'a'))
  // "Just now" without a timing assumption: an mtime that is not yet older than the
  // settling time when the lookup reads the file (here a minute ahead, so however long the
  // CLI takes to start on a loaded machine, the file has not settled).
  const fresh = new Date(Date.now() + 60_000)
  utimesSync(registryFile(home), fresh, fresh)
  assert.equal(lookup('a').branch, 'feat-a')
  assert.equal(existsSync(idx), false, 'a registry written just now gets no index')
  assert.equal(lookup('a').branch, 'feat-a')
  assert.equal(existsSync(idx), false, 'nor on the next lookup while it has not settled')
  const past = new Date(Date.now() - 5000)
  utimesSync(registryFile(home), past, past)
  assert.equal(lookup('a').branch, 'feat-a')
  assert.equal(existsSync(idx), true, 'a settled one does')
  assert.equal(lookup('none'), null)
  // The Python helper replaces the file: the next lookup sees its change at once.
  assert.equal(py(home, 'release', 'p', 'g', 'a').status, 0)
  assert.equal(lookup('a').status, 'released')
  assert.equal(py(home, 'reserve', 'p', 'g', 'b', '/w/b', 'feat-b', SHA).status, 0)
  const later = new Date(Date.now() - 4000)
  utimesSync(registryFile(home), later, later)
  assert.equal(lookup('b').worktreePath, '/w/b')
  // Ours too, and a garbage index is ignored.
  registryReserve(reservation(home, 'c'))
  assert.equal(lookup('c').branch, 'feat-c')
  writeFileSync(idx, 'garbage')
  assert.equal(lookup('b').worktreePath, '/w/b')
  assert.equal(lookup('c').branch, 'feat-c')
})
