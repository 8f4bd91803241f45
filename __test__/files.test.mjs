// Every file the module writes, attacked with real processes: two writers of one file with
// the interleaving forced by strace, symlinks planted by a repository, a full disk (a small
// tmpfs), a user who cannot read the registry (setpriv), a stage map deep enough to
// overflow a recursive walk, registry invariants broken by hand, and lock waits under load.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  statSync,
  symlinkSync,
  writeFileSync,
  openSync,
  writeSync,
  closeSync,
  ftruncateSync,
} from 'node:fs'
import { dirname, join } from 'node:path'
import { CLI, ROOT, callWithEnv, okstra, okstraProject, run, tempDir, holdLock } from './helpers.mjs'
import { DEMO_ANSWERS } from './fixtures/project.mjs'

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

async function waitFor(pred, ms, what) {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (pred()) return
    await sleep(5)
  }
  throw new Error(`timed out waiting for ${what}`)
}

const RENAMES = 'rename,renameat,renameat2'

/**
 * Runs the CLI twice on one file: the first process is held inside its rename (strace
 * delays it 1.5 s) while the second runs from start to end. With a shared temp name the
 * second truncated and renamed the first's temp file, so the first failed or published a
 * 0-byte file.
 */
async function twoWritersOneFile(args, dir, cwd) {
  const first = run(
    'strace',
    ['-f', '-qq', '-o', '/dev/null', '-e', `trace=${RENAMES}`, '-e', `inject=${RENAMES}:delay_enter=1500000`,
      process.execPath, CLI, ...args],
    { cwd },
  )
  await waitFor(() => existsSync(dir) && readdirSync(dir).some((n) => n.includes('.tmp')), 20000, 'the first temp file')
  const second = await run(process.execPath, [CLI, ...args], { cwd })
  return [await first, second]
}

function assertNoTemp(dir) {
  assert.deepEqual(readdirSync(dir).filter((n) => n.includes('.tmp')), [], 'no temp file is left')
}

test('two project-json writers at once both succeed and leave one whole file', async () => {
  const root = tempDir()
  const [a, b] = await twoWritersOneFile(['worktree', 'project-json', '--project-root', root, '--project-id', 'shop'], join(root, '.okstra'), root)
  assert.equal(a.code, 0, a.stdout + a.stderr)
  assert.equal(b.code, 0, b.stdout + b.stderr)
  const data = JSON.parse(readFileSync(join(root, '.okstra', 'project.json'), 'utf8'))
  assert.equal(data.projectId, 'shop')
  assertNoTemp(join(root, '.okstra'))
})

test('two wizard saves to one relative state file at once both succeed', async () => {
  const dir = tempDir()
  const home = tempDir()
  const args = ['wizard', 'init', '--state', 'state.json', '--project-root', dir, '--project-id', 'shop', '--home', home, '--lang', 'en', '--force']
  const [a, b] = await twoWritersOneFile(args, dir, dir)
  assert.equal(a.code, 0, a.stdout + a.stderr)
  assert.equal(b.code, 0, b.stdout + b.stderr)
  const state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8'))
  assert.equal(typeof state, 'object')
  assertNoTemp(dir)
  // A bare relative name (no directory part) was E_IO "fsync directory : No such file".
  const r = okstra(['wizard', 'next', '--state', 'state.json'], { cwd: dir })
  assert.equal(r.status, 0, r.stdout + r.stderr)
})

test('a temp-file symlink planted in a repository is never followed', () => {
  const root = tempDir()
  const outside = join(tempDir(), 'precious.txt')
  writeFileSync(outside, 'keep me\n')
  mkdirSync(join(root, '.okstra'))
  // What a repository can track: the old fixed temp name pointing out of the project.
  symlinkSync(outside, join(root, '.okstra', 'project.json.tmp'))
  const r = okstra(['worktree', 'project-json', '--project-root', root, '--project-id', 'shop'])
  assert.equal(r.status, 0, r.stdout + r.stderr)
  assert.equal(readFileSync(outside, 'utf8'), 'keep me\n')
  assert.equal(JSON.parse(readFileSync(join(root, '.okstra', 'project.json'), 'utf8')).projectId, 'shop')
})

test('an 80,000-stage dependency chain is refused with a clear error, not a crash', async () => {
  const dir = tempDir()
  const plan = join(dir, 'plan.md')
  let md = '## 5.5 Stage Map\n| Stage | Title | Depends on |\n|---|---|---|\n| 1 | t | (none) |\n'
  for (let i = 2; i <= 80000; i++) md += `| ${i} | t | ${i - 1} |\n`
  writeFileSync(plan, md)
  const script = `
    const { parseStageMap } = require(${JSON.stringify(ROOT)})
    const md = require('node:fs').readFileSync(${JSON.stringify(plan)}, 'utf8')
    const m = parseStageMap(md)
    console.log(JSON.stringify({ n: m.stages.length, errors: m.errors }))`
  const r = await run(process.execPath, ['-e', script])
  assert.equal(r.signal, null, `killed by ${r.signal}`)
  assert.equal(r.code, 0, r.stderr)
  const out = JSON.parse(r.stdout)
  assert.equal(out.n, 1000)
  assert.ok(out.errors.some((e) => e.includes('more than the 1000')), out.errors.join('\n'))
})

/** Mounts a tmpfs of `size` at a new directory; returns it and an unmount function. */
function smallTmpfs(size) {
  const mnt = tempDir('okstra-tmpfs-')
  const m = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', mnt], { encoding: 'utf8' })
  assert.equal(m.status, 0, `mount tmpfs: ${m.stderr}`)
  return { mnt, umount: () => spawnSync('umount', ['-l', mnt]) }
}

test('ENOSPC during a ledger append leaves no partial row and says the disk is full', () => {
  const { mnt, umount } = smallTmpfs('64k')
  try {
    const root = join(mnt, 'run')
    const ledger = (status, fields) =>
      okstra(['ledger', 'append', '--plan-run-root', root, '--create', '--impl-task-key', 'p/g/t', '--stage', '1', '--status', status,
        ...(fields ? ['--fields', JSON.stringify(fields)] : [])])
    assert.equal(ledger('started').status, 0)
    const file = join(root, 'consumers.jsonl')
    const before = readFileSync(file)
    // Fill the disk, then free one page: the next row (12 KB) starts to fit and then fails.
    const filler = join(mnt, 'filler')
    const fd = openSync(filler, 'w')
    let size = 0
    try {
      for (;;) size += writeSync(fd, Buffer.alloc(4096, 120))
    } catch (e) {
      assert.equal(e.code, 'ENOSPC')
    }
    ftruncateSync(fd, Math.max(0, size - 4096))
    closeSync(fd)
    const r = ledger('done', { head_commit: 'a'.repeat(40), notes: 'x'.repeat(12000) })
    assert.equal(r.status, 1, r.stdout)
    assert.equal(r.json.code, 'E_IO')
    assert.match(r.json.error, /disk is full/)
    assert.match(r.json.error, /consumers\.jsonl/)
    assert.deepEqual(readFileSync(file), before, 'the ledger is exactly as it was')
    // Space back: the append works and no torn line is ever reported.
    spawnSync('rm', ['-f', filler])
    assert.equal(ledger('done', { head_commit: 'a'.repeat(40) }).status, 0)
    const read = okstra(['ledger', 'read', '--plan-run-root', root])
    assert.equal(read.json.rows.length, 2)
    assert.deepEqual(read.json.skipped, [])
  } finally {
    umount()
  }
})

/** Runs the CLI as `nobody` (no supplementary groups). */
function okstraAsNobody(args) {
  const r = spawnSync('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', process.execPath, CLI, ...args], { encoding: 'utf8' })
  let json
  try {
    json = JSON.parse(r.stdout)
  } catch {}
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, json }
}

test('a registry the user cannot read is E_IO with the path and reason, everywhere, and repair leaves it', () => {
  const home = tempDir()
  chmodSync(home, 0o755)
  const r0 = okstra(['registry', 'reserve', '--home', home, '--project-id', 'p', '--task-group', 'g', '--task-id', 't',
    '--worktree-path', '/w/t', '--branch', 'feat-t', '--base-ref', 'main'])
  assert.equal(r0.status, 0, r0.stdout)
  const file = join(home, 'worktrees', 'registry.json')
  chmodSync(file, 0o600)
  const before = readFileSync(file)
  const key = ['--home', home, '--project-id', 'p', '--task-group', 'g', '--task-id', 't']
  for (const args of [['registry', 'lookup', ...key], ['registry', 'list', '--home', home], ['registry', 'doctor', '--home', home]]) {
    const r = okstraAsNobody(args)
    assert.equal(r.json?.code, 'E_IO', `${args.join(' ')}: ${r.stdout}${r.stderr}`)
    assert.match(r.json.error, /registry\.json/)
    assert.match(r.json.error, /Permission denied/)
  }
  // Repair cannot help (and must not "fix" it): the lock file is not writable either, so
  // it fails E_IO before touching anything; as root, repair sees a valid file.
  const rep = okstraAsNobody(['registry', 'repair', '--home', home])
  assert.equal(rep.json?.code, 'E_IO', rep.stdout + rep.stderr)
  assert.deepEqual(readFileSync(file), before)
  // A directory where the file should be: E_IO too, not "corrupt, run repair".
  const home2 = tempDir()
  mkdirSync(join(home2, 'worktrees', 'registry.json'), { recursive: true })
  for (const args of [['registry', 'list', '--home', home2], ['registry', 'repair', '--home', home2],
    ['registry', 'lookup', '--home', home2, '--project-id', 'p', '--task-group', 'g', '--task-id', 't']]) {
    const r = okstra(args)
    assert.equal(r.json?.code, 'E_IO', `${args.join(' ')}: ${r.stdout}`)
    assert.match(r.json.error, /Is a directory/)
  }
  assert.ok(statSync(join(home2, 'worktrees', 'registry.json')).isDirectory())
})

test('a branch index entry to a missing key no longer blocks the branch; repair keeps the newest owner', () => {
  const home = tempDir()
  const reserve = (task, branch) =>
    okstra(['registry', 'reserve', '--home', home, '--project-id', 'p', '--task-group', 'g', '--task-id', task,
      '--worktree-path', `/nonexistent/${task}`, '--branch', branch, '--base-ref', 'main'])
  assert.equal(reserve('a', 'feat-a').status, 0)
  assert.equal(reserve('b', 'feat-b').status, 0)
  const file = join(home, 'worktrees', 'registry.json')
  const doc = JSON.parse(readFileSync(file, 'utf8'))
  doc.branches['feat-ghost'] = 'p/g/ghost'
  // Two active rows on one branch, as a hand edit or an old writer could leave.
  doc.tasks['p/g/a'].created_at = '2020-01-01T00:00:00+0000'
  doc.tasks['p/g/b'].created_at = '2024-01-01T00:00:00+0000'
  doc.tasks['p/g/b'].branch = 'feat-a'
  writeFileSync(file, JSON.stringify(doc, null, 2) + '\n')
  const doctor = okstra(['registry', 'doctor', '--home', home])
  const codes = doctor.json.problems.map((p) => `${p.code} ${p.taskKey}`)
  assert.ok(codes.includes('branch-index-dangling p/g/ghost'), codes.join('\n'))
  assert.ok(codes.includes('branch-active-twice p/g/a'), codes.join('\n'))
  // Was E_BRANCH_OWNED by a task that does not exist, forever.
  const r = reserve('c', 'feat-ghost')
  assert.equal(r.status, 0, r.stdout)
  const rep = okstra(['registry', 'repair', '--home', home])
  assert.equal(rep.status, 0, rep.stdout)
  assert.deepEqual(rep.json.released, ['p/g/a'])
  const after = JSON.parse(readFileSync(file, 'utf8'))
  assert.equal(after.branches['feat-a'], 'p/g/b')
  assert.equal(after.tasks['p/g/a'].status, 'released')
  const again = okstra(['registry', 'doctor', '--home', home])
  assert.deepEqual(again.json.problems.filter((p) => p.code.startsWith('branch')), [])
})

test('6 processes x 8 s of registry writes with a 3 s bound: no E_LOCK_TIMEOUT', async () => {
  const home = tempDir()
  const worker = `
    const { registryReserve, registryRelease, registryTouchPhase } = require(${JSON.stringify(ROOT)})
    const id = process.argv[1]
    const base = { home: ${JSON.stringify(home)}, projectId: 'p', taskGroup: 'g', lockTimeoutMs: 3000 }
    const end = Date.now() + 8000
    let ops = 0, timeouts = 0, other = 0
    for (let i = 0; Date.now() < end; i++) {
      const k = { ...base, taskId: 'w' + id + '-' + (i % 4) }
      try {
        registryReserve({ ...k, worktreePath: '/nonexistent/' + k.taskId, branch: 'b-' + k.taskId, baseRef: 'main' })
        registryTouchPhase({ ...k, phase: 'p' + i })
        registryRelease(k)
        ops += 3
      } catch (e) {
        if (e.code === 'E_LOCK_TIMEOUT') timeouts++
        else { other++; console.error(e.code, e.message) }
      }
    }
    console.log(JSON.stringify({ ops, timeouts, other }))`
  const outs = await Promise.all([1, 2, 3, 4, 5, 6].map((id) => run(process.execPath, ['-e', worker, String(id)])))
  const results = outs.map((o) => {
    assert.equal(o.code, 0, o.stderr)
    return JSON.parse(o.stdout)
  })
  const timeouts = results.reduce((n, r) => n + r.timeouts, 0)
  const other = results.reduce((n, r) => n + r.other, 0)
  assert.equal(other, 0)
  assert.equal(timeouts, 0, JSON.stringify(results))
  assert.ok(results.every((r) => r.ops > 0), JSON.stringify(results))
})

test('a CLI waiting over 1 s for a lock held by the Python helper says which lock on stderr', async () => {
  const home = tempDir()
  const lockPath = join(home, 'worktrees', 'registry.lock')
  mkdirSync(dirname(lockPath), { recursive: true })
  // Python's fcntl.flock holds registry.lock (the lock both runtimes share) until released.
  const holder = await holdLock(lockPath)
  try {
    const started = Date.now()
    const cli = spawn(process.execPath, [CLI, 'registry', 'touch-phase', '--home', home, '--project-id', 'p',
      '--task-group', 'g', '--task-id', 't', '--phase', 'x', '--lock-timeout-ms', '60000'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    let stdout = ''
    cli.stdout.on('data', (d) => (stdout += d))
    const exited = new Promise((resolve) => cli.on('close', resolve))
    // Once the CLI says it is blocked, the holder goes away and the CLI goes on at once.
    let timer
    const said = await Promise.race([
      new Promise((resolve) => cli.stderr.on('data', (d) => {
        stderr += d
        if (/Blocking waiting/.test(stderr)) resolve(true)
      })),
      new Promise((resolve) => { timer = setTimeout(() => resolve(false), 10000) }),
    ])
    clearTimeout(timer)
    const noticed = Date.now() - started
    if (!said) cli.kill('SIGKILL')
    assert.ok(said, `no notice on stderr after 10 s of waiting: ${JSON.stringify(stderr)}`)
    await holder.release()
    assert.equal(await exited, 0, stdout + stderr)
    assert.match(stderr, /okstra: Blocking waiting for file lock on .*registry\.lock/)
    assert.ok(noticed >= 1000, `the notice came after ${noticed} ms`)
  } finally {
    await holder.release()
  }
  // A wait-free call says nothing.
  const quick = await run(process.execPath, [CLI, 'registry', 'touch-phase', '--home', home, '--project-id', 'p',
    '--task-group', 'g', '--task-id', 't', '--phase', 'y'])
  assert.equal(quick.code, 0)
  assert.equal(quick.stderr, '')
})

// The environment asks every child for a 10-minute bound; each call below asks for 300 ms.
// Without the call's own bound reaching the lock, the call waits on the environment's.
const LONG_ENV = { ...process.env, OKSTRA_LOCK_TIMEOUT_MS: '600000' }

test('project.json: lockTimeoutMs / --lock-timeout-ms bound the wait for the project root lock', async () => {
  const { root } = okstraProject('okstra-pj-lock-')
  const holder = await holdLock(root)
  try {
    let t0 = Date.now()
    assert.throws(
      () => callWithEnv(LONG_ENV, 'upsertProjectJson', { projectRoot: root, projectId: 'shop', lockTimeoutMs: 300 }),
      (e) => e.code === 'E_LOCK_TIMEOUT' && e.message.includes(root),
    )
    assert.ok(Date.now() - t0 < 10000, `JS waited ${Date.now() - t0} ms`)
    t0 = Date.now()
    const cli = okstra(['worktree', 'project-json', '--project-root', root, '--project-id', 'shop', '--lock-timeout-ms', '300'],
      { env: LONG_ENV, timeout: 20000 })
    assert.equal(cli.json?.code, 'E_LOCK_TIMEOUT', cli.stdout + cli.stderr)
    assert.equal(cli.status, 1)
    assert.ok(Date.now() - t0 < 10000, `CLI waited ${Date.now() - t0} ms`)
    assert.ok(!existsSync(join(root, '.okstra', 'project.json')), 'nothing written')
  } finally {
    await holder.release()
  }
  assert.equal(callWithEnv(LONG_ENV, 'upsertProjectJson', { projectRoot: root, projectId: 'shop', lockTimeoutMs: 300 }).projectId, 'shop')
})

test("the wizard's plan approval: lockTimeoutMs / --lock-timeout-ms bound the wait for the plan's directory lock", async () => {
  const { dir, root, planPath, home } = okstraProject('okstra-plan-lock-')
  const state = join(dir, 'state.json')
  const wizard = (args, lockMs) => okstra(['wizard', ...args, '--state', state, ...(lockMs ? ['--lock-timeout-ms', String(lockMs)] : [])],
    { env: LONG_ENV, timeout: 20000 })
  assert.equal(wizard(['init', '--project-root', root, '--home', home, '--lang', 'en']).status, 0)
  for (let p = wizard(['next']).json.next; p.step !== 'approve_plan_confirm'; p = wizard(['next']).json.next) {
    assert.equal(wizard(['submit', '--value', DEMO_ANSWERS[p.step]]).json.ok, true, p.step)
  }
  const before = readFileSync(state, 'utf8')
  // The JS API: a wizard created with lockTimeoutMs, driven to the same question in a child.
  const script = `
    const { Wizard } = require(${JSON.stringify(ROOT)})
    const answers = ${JSON.stringify(DEMO_ANSWERS)}
    const w = Wizard.create({ projectRoot: ${JSON.stringify(root)}, home: ${JSON.stringify(home)}, projectId: 'shop', lang: 'en', lockTimeoutMs: 300 })
    for (let p = w.next(); p.step !== 'approve_plan_confirm'; p = w.next()) w.submit(answers[p.step])
    const t0 = Date.now()
    try { w.submit('yes'); console.log(JSON.stringify({ ok: true })) }
    catch (e) { console.log(JSON.stringify({ code: e.code, ms: Date.now() - t0 })) }`
  const holder = await holdLock(dirname(planPath))
  try {
    const js = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env: LONG_ENV, timeout: 20000 })
    assert.equal(js.status, 0, js.stderr)
    const out = JSON.parse(js.stdout)
    assert.equal(out.code, 'E_LOCK_TIMEOUT', js.stdout)
    assert.ok(out.ms < 10000, `JS waited ${out.ms} ms`)
    const t0 = Date.now()
    const cli = wizard(['submit', '--value', 'yes'], 300)
    assert.equal(cli.json?.code, 'E_LOCK_TIMEOUT', cli.stdout + cli.stderr)
    assert.equal(cli.status, 1)
    assert.ok(Date.now() - t0 < 10000, `CLI waited ${Date.now() - t0} ms`)
    assert.equal(readFileSync(state, 'utf8'), before, 'the state file is unchanged')
  } finally {
    await holder.release()
  }
  assert.equal(wizard(['submit', '--value', 'yes'], 300).json.ok, true)
  const data = JSON.parse(readFileSync(planPath.replace(/\.md$/, '.data.json'), 'utf8'))
  assert.equal(data.meta.approvalStatus, 'approved')
})
