// Shared helpers for the Node tests: temp dirs removed after the test file, real child
// processes, and the fixtures of `fixtures/project.mjs` placed in such temp dirs. The
// fixtures themselves (git, repositories, the sample okstra project, the wizard driver)
// live in `fixtures/project.mjs`, which the demo and the benchmarks import too.
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { spawn, spawnSync } from 'node:child_process'
import { after } from 'node:test'
import { git, initRepo, makeOkstraProject } from './fixtures/project.mjs'

export { git }

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
export const CLI = join(ROOT, 'bin', 'okstra.cjs')
export const PY_REGISTRY = join(ROOT, '__test__', 'fixtures', 'py_registry.py')

const made = []
after(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true })
})

/** tmpfs when there is one (fast for big repositories), else the temp directory. */
export const SHM = existsSync('/dev/shm') ? '/dev/shm' : tmpdir()

/** A fresh temp directory (under `base`), removed after the test file. */
export function tempDir(prefix = 'okstra-test-', base = tmpdir()) {
  const d = mkdtempSync(join(base, prefix))
  made.push(d)
  return d
}

/** A fresh okstra home (an empty temp directory) for one test. */
export function tempHome() {
  return tempDir('okstra-home-')
}

/** Runs the okstra CLI; returns { status, stdout, stderr, json }. */
export function okstra(args, opts = {}) {
  return spawnCli(process.execPath, [CLI, ...args], opts)
}

/** Runs `cmd args…` to the end; returns { status, stdout, stderr, json } (json: stdout parsed, when it is JSON). */
export function spawnCli(cmd, args, opts) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts })
  let json
  try {
    json = JSON.parse(r.stdout)
  } catch {
    json = undefined
  }
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, json }
}

/** Starts a child process and resolves with { code, signal, stdout, stderr } when it exits. */
export function run(cmd, args, opts = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }))
  })
}

/** A new repository on branch `main` with one commit. */
export function makeRepo(prefix = 'okstra-repo-') {
  return initRepo(tempDir(prefix))
}

/**
 * The sample okstra project (`makeOkstraProject`) at `<dir>/shop` in a fresh temp `dir`,
 * with `home` = `<dir>/home` (not created). Returns `{ dir, root, planPath, home }`.
 */
export function okstraProject(prefix = 'okstra-project-') {
  const dir = tempDir(prefix)
  const { root, planPath } = makeOkstraProject(join(dir, 'shop'))
  return { dir, root, planPath, home: join(dir, 'home') }
}

/** The native `okstra` executable the build puts in the per-platform package. */
// OKSTRA_NATIVE_CLI: another build of the executable (scripts/test-cross.sh runs the musl one).
export const NATIVE_CLI = process.env.OKSTRA_NATIVE_CLI ?? join(ROOT, 'npm', 'linux-x64-gnu', 'okstra')

/** Runs the native okstra executable; same result shape as `okstra`. */
export function okstraNative(args, opts = {}) {
  return spawnCli(NATIVE_CLI, args, opts)
}

/**
 * Calls export `name` with `args` in a child Node process whose environment is this one's
 * plus `env`, and returns its result (through JSON). Settings read from the environment
 * (OKSTRA_WORKTREE_*, OKSTRA_HOME, …) are given per call this way: a test never changes
 * this process's environment, which every other test in the file shares. A throw in the
 * child is rethrown here with its `code`; a child still running after 2 min is killed and
 * reported.
 */
export function callWithEnv(env, name, ...args) {
  const script = `
    const n = require(${JSON.stringify(ROOT)})
    let out
    try { out = { ok: n[${JSON.stringify(name)}](...JSON.parse(process.argv[1])) } }
    catch (e) { out = { code: e.code, message: e.message } }
    process.stdout.write(JSON.stringify(out))`
  const r = spawnSync(process.execPath, ['-e', script, JSON.stringify(args)], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 120_000, // a call stuck on a lock fails the test instead of hanging it
  })
  if (r.status !== 0) throw new Error(`${name} in a child process exited ${r.status}: ${r.stderr}`)
  const out = JSON.parse(r.stdout)
  if (!('ok' in out)) throw Object.assign(new Error(out.message), { code: out.code })
  return out.ok
}

/**
 * Another process (Python's `fcntl.flock`, the lock the Python helper takes too) holding an
 * exclusive lock on `path` — a lock file or a directory — until `release()`. Resolves once
 * the lock is held.
 */
export async function holdLock(path) {
  const holder = spawn('python3', ['-c', `
import fcntl, os, sys, time
p = sys.argv[1]
fd = os.open(p, os.O_RDONLY) if os.path.isdir(p) else os.open(p, os.O_RDWR | os.O_CREAT, 0o644)
fcntl.flock(fd, fcntl.LOCK_EX)
print('held', flush=True)
time.sleep(120)
`, path], { stdio: ['ignore', 'pipe', 'inherit'] })
  await new Promise((resolve, reject) => {
    holder.stdout.once('data', resolve)
    holder.once('exit', (code) => reject(new Error(`the lock holder exited ${code} before locking ${path}`)))
  })
  return {
    release: () => {
      holder.kill()
      return new Promise((resolve) => (holder.exitCode !== null || holder.signalCode !== null ? resolve() : holder.once('close', resolve)))
    },
  }
}

/** Runs the native CLI under strace with `straceArgs`; resolves with its exit. */
export function runStraced(straceArgs, args) {
  return new Promise((resolve, reject) => {
    const child = spawn('strace', ['-f', '-qq', '-o', '/dev/null', ...straceArgs, NATIVE_CLI, ...args],
      { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.resume()
    child.on('error', reject)
    child.on('close', (code, signal) => resolve({ code, signal, stdout }))
  })
}

/** mulberry32: a small seeded generator, so a failing run can be replayed from its seed. */
export function rng(seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
