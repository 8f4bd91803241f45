// The native `okstra` executable: the same command line as the JS shim (same stdout,
// stderr and exit code for the same state) and no Node-API symbols. The install that puts
// it in place of the JS shim is tested through a real registry in release.test.mjs.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'
import { NATIVE_CLI, okstra, okstraNative, tempDir } from './helpers.mjs'

const SHA = 'c'.repeat(40)
const KEY = ['--project-id', 'p', '--task-group', 'g', '--task-id', 't']

/** Command lines run in order against one OKSTRA_HOME / plan run root (`H` and `R` stand for them). */
const SCRIPT = [
  ['--version'],
  ['--help'],
  ['registry', '--help'],
  ['registry', 'lookup', ...KEY, '--home', 'H'],
  ['registry', 'reserve', ...KEY, '--worktree-path', '/w/t', '--branch', 'feat-t', '--base-ref', SHA, '--stage', '2', '--home', 'H'],
  ['registry', 'lookup', ...KEY, '--home', 'H'],
  ['registry', 'reserve', ...KEY, '--worktree-path', '/w/t', '--branch', 'feat-t', '--base-ref', SHA, '--stage', '2', '--home', 'H'],
  ['registry', 'reserve', ...KEY.slice(0, 4), '--task-id', 'u', '--worktree-path', '/w/u', '--branch', 'feat-t', '--base-ref', SHA, '--home', 'H'],
  ['registry', 'reserve', ...KEY, '--worktree-path', 'relative', '--branch', 'x', '--base-ref', SHA, '--home', 'H'],
  ['registry', 'lookup', '--home', 'H'],
  ['registry', 'lookup', ...KEY, '--bogus'],
  ['registry', 'list', '--home', 'H'],
  ['registry', 'release', ...KEY, '--home', 'H'],
  ['ledger', 'append', '--plan-run-root', 'R', '--impl-task-key', 'k', '--stage', '1', '--status', 'done', '--fields', '{"head_commit": "h1", "note": "한글"}'],
  ['ledger', 'append', '--plan-run-root', 'R', '--impl-task-key', 'k', '--stage', '1', '--status', 'done'],
  ['ledger', 'append', '--plan-run-root', 'R', '--impl-task-key', 'k', '--stage', '1', '--status', 'merged'],
  ['ledger', 'append-pr', '--plan-run-root', 'R', '--impl-task-key', 'k', '--stages', '2,1', '--branch', 'b', '--url', 'u'],
  ['ledger', 'read', '--plan-run-root', 'R'],
  ['worktree', 'branch', '--work-category', 'bugfix', '--task-id', 'Checkout 500', '--stage', '3'],
  ['wizard', '--help'],
  [],
]

function play(run) {
  const dir = tempDir('okstra-parity-')
  const sub = (a) => (a === 'H' ? join(dir, 'home') : a === 'R' ? join(dir, 'run') : a)
  return SCRIPT.map((args) => {
    const r = run(args.map(sub), { env: { ...process.env, LANG: 'C' } })
    const norm = (s) => s.replaceAll(dir, '<DIR>').replace(/"createdAt": "[^"]*"/g, '"createdAt": "<T>"')
    return { args: args.join(' '), status: r.status, stdout: norm(r.stdout), stderr: norm(r.stderr) }
  })
}

test('the native executable prints what the JS shim prints, with the same exit codes', () => {
  const viaNode = play(okstra)
  const viaNative = play(okstraNative)
  for (let i = 0; i < SCRIPT.length; i++) assert.deepEqual(viaNative[i], viaNode[i])
  // The script covers success, conflict (2), refusal (1) and clap's own errors.
  assert.deepEqual([...new Set(viaNode.map((r) => r.status))].sort(), [0, 1, 2])
})

test('the executable links no Node-API symbol and only libc/libgcc', () => {
  const nm = spawnSync('nm', ['-D', '--undefined-only', NATIVE_CLI], { encoding: 'utf8' })
  assert.equal(nm.status, 0, nm.stderr)
  assert.doesNotMatch(nm.stdout, /napi_/)
  const ldd = spawnSync('ldd', [NATIVE_CLI], { encoding: 'utf8' }).stdout
  const libs = ldd.split('\n').map((l) => l.trim().split(/\s/)[0]).filter(Boolean).filter((l) => !l.startsWith('linux-vdso'))
  for (const l of libs) assert.match(l, /^(libc\.so|libgcc_s\.so|\/lib64\/ld-linux|libm\.so)/, ldd)
})
