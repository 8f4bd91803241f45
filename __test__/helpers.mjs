// Shared helpers for the Node tests: temp dirs that clean up, real child processes, and
// real git repositories made with the git CLI.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { spawn, spawnSync } from 'node:child_process'
import { after } from 'node:test'

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
export const CLI = join(ROOT, 'bin', 'okstra.cjs')
export const PY_REGISTRY = join(ROOT, '__test__', 'fixtures', 'py_registry.py')

const made = []
after(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true })
})

/** A fresh temp directory, removed after the test file. */
export function tempDir(prefix = 'okstra-test-') {
  const d = mkdtempSync(join(tmpdir(), prefix))
  made.push(d)
  return d
}

/** Runs the okstra CLI; returns { status, stdout, stderr, json }. */
export function okstra(args, opts = {}) {
  return spawnCli(process.execPath, [CLI, ...args], opts)
}

function spawnCli(cmd, args, opts) {
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

/** Runs git and returns trimmed stdout; throws with git's stderr on failure. */
export function git(cwd, ...args) {
  const r = spawnSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' },
  })
  if (r.status !== 0) throw new Error(`git ${args.join(' ')} failed: ${r.stderr}`)
  return r.stdout.trim()
}

/** A new repository on branch `main` with one commit. */
export function makeRepo(prefix = 'okstra-repo-') {
  const dir = tempDir(prefix)
  git(dir, 'init', '-q', '-b', 'main')
  git(dir, 'commit', '-q', '--allow-empty', '-m', 'init')
  return dir
}

/** The native `okstra` executable the build puts in the per-platform package. */
export const NATIVE_CLI = join(ROOT, 'npm', 'linux-x64-gnu', 'okstra')

/** Runs the native okstra executable; same result shape as `okstra`. */
export function okstraNative(args, opts = {}) {
  return spawnCli(NATIVE_CLI, args, opts)
}

/**
 * Calls export `name` with `args` in a child Node process whose environment is this one's
 * plus `env`, and returns its result (through JSON). Settings read from the environment
 * (OKSTRA_WORKTREE_*, OKSTRA_HOME, …) are given per call this way: a test never changes
 * this process's environment, which every other test in the file shares. A throw in the
 * child is rethrown here with its `code`.
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
  })
  if (r.status !== 0) throw new Error(`${name} in a child process exited ${r.status}: ${r.stderr}`)
  const out = JSON.parse(r.stdout)
  if (!('ok' in out)) throw Object.assign(new Error(out.message), { code: out.code })
  return out.ok
}
