// A hostile repository through the JS API and the JS CLI (docs/security.md): the same
// refusal with the same code as the native CLI and the core tests in src/security_tests.rs.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'
import { handoffRecordPr, ledgerAppend, ledgerRead, provisionTaskWorktree } from '../index.js'
import { CLI, NATIVE_CLI, ROOT, git, makeRepo, okstra, okstraNative, spawnCli, tempDir } from './helpers.mjs'

/** A plan run root with `name` a symlink to a file outside holding "keep". */
function planted(name) {
  const dir = tempDir('okstra-sec-')
  const outside = join(dir, 'outside')
  mkdirSync(outside)
  writeFileSync(join(outside, 'secret'), 'keep\n')
  const root = join(dir, 'repo', '.okstra', 'runs', 'r1')
  mkdirSync(root, { recursive: true })
  const target = name === 'consumers.lock' ? join(outside, 'created') : join(outside, 'secret')
  symlinkSync(target, join(root, name))
  const untouched = () => {
    assert.deepEqual(readdirSync(outside), ['secret'], 'nothing created outside')
    assert.equal(readFileSync(join(outside, 'secret'), 'utf8'), 'keep\n', 'nothing written outside')
  }
  return { root, untouched }
}

for (const name of ['consumers.jsonl', 'consumers.idx', 'consumers.lock']) {
  test(`a planted ${name} symlink: E_UNSAFE_FILE from the JS API, the JS CLI and the native CLI`, () => {
    const { root, untouched } = planted(name)
    assert.throws(() => ledgerAppend({ planRunRoot: root, implTaskKey: 'k', stage: 1, status: 'started' }), (e) => e.code === 'E_UNSAFE_FILE' && e.message.includes(name))
    assert.throws(() => handoffRecordPr({ planRunRoot: root, implTaskKey: 'k', stages: [1], branch: 'b', url: 'u' }), (e) => e.code === 'E_UNSAFE_FILE')
    const args = ['ledger', 'append', '--plan-run-root', root, '--impl-task-key', 'k', '--stage', '1', '--status', 'started']
    for (const cli of [okstra(args), okstraNative(args)]) {
      assert.equal(cli.status, 1, cli.stdout)
      assert.equal(cli.json.code, 'E_UNSAFE_FILE')
    }
    untouched()
  })
}

test('a FIFO ledger is refused at once, never opened', () => {
  const root = tempDir('okstra-sec-')
  assert.equal(spawnSync('mkfifo', [join(root, 'consumers.jsonl')]).status, 0)
  const t0 = Date.now()
  assert.throws(() => ledgerRead({ planRunRoot: root }), (e) => e.code === 'E_UNSAFE_FILE' && e.message.includes('a FIFO'))
  const cli = okstraNative(['ledger', 'read', '--plan-run-root', root], { timeout: 5000 })
  assert.equal(cli.json?.code, 'E_UNSAFE_FILE', cli.stdout)
  assert.ok(Date.now() - t0 < 2000)
})

test('a branch git would read as an option is refused before anything runs, the same in JS and the CLI', () => {
  const repo = makeRepo('okstra-sec-repo-')
  const home = tempDir('okstra-sec-home-')
  const before = git(repo, 'for-each-ref', '--format=%(refname) %(objectname)')
  for (const branch of ['-m', '-M', '--force']) {
    assert.throws(
      () => provisionTaskWorktree({ projectId: 'p', taskGroup: 'g', taskId: 't', taskType: 'implementation', projectRoot: repo, branch, home }),
      (e) => e.code === 'E_INVALID_ARG' && e.message.includes('starts with `-`'),
    )
    const cli = okstra(['worktree', 'provision', '--project-id', 'p', '--task-group', 'g', '--task-id', 't', '--task-type', 'implementation', '--project-root', repo, '--home', home, `--branch=${branch}`])
    assert.equal(cli.json?.code, 'E_INVALID_ARG', cli.stdout)
  }
  assert.equal(git(repo, 'for-each-ref', '--format=%(refname) %(objectname)'), before, "the user's branches are untouched")
  assert.deepEqual(readdirSync(home), [], 'nothing was registered')
})

/**
 * Runs `cmd args…` with OKSTRA_LOCK_TIMEOUT_MS set to the raw bytes `value` (a Buffer may
 * hold bytes that are not UTF-8, which Node's `env` cannot pass): bash sets it from printf.
 */
function withRawLockEnv(value, cmd, args) {
  const octal = [...value].map((b) => `\\${b.toString(8).padStart(3, '0')}`).join('')
  return spawnCli('bash', ['-c', `OKSTRA_LOCK_TIMEOUT_MS="$(printf '${octal}')" exec "$@"`, 'bash', cmd, ...args], { timeout: 60_000 })
}

test('a bad OKSTRA_LOCK_TIMEOUT_MS is E_INVALID_ARG from the JS API, the JS CLI and the native CLI, never the default', () => {
  const home = tempDir('okstra-sec-home-')
  const run = tempDir('okstra-sec-run-')
  const cases = ['soon', '-5', '1.5', '86400001', '99999999999999999999999'].map((s) => Buffer.from(s))
  cases.push(Buffer.from([0x35, 0x30, 0xff])) // "50" + a byte that is not UTF-8
  const script = `
    const n = require(${JSON.stringify(ROOT)})
    const out = []
    for (const call of [() => n.registryList({ home: process.argv[1] }), () => n.ledgerAppend({ planRunRoot: process.argv[2], implTaskKey: 'k', stage: 1, status: 'started' })]) {
      try { call(); out.push('ok') } catch (e) { out.push(e.code + ' ' + e.message) }
    }
    process.stdout.write(JSON.stringify(out))`
  for (const value of cases) {
    const shown = JSON.stringify(value.toString('latin1'))
    const js = withRawLockEnv(value, process.execPath, ['-e', script, home, run])
    assert.equal(js.status, 0, js.stderr)
    for (const r of js.json) assert.match(r, /^E_INVALID_ARG .*OKSTRA_LOCK_TIMEOUT_MS/, `${shown}: ${r}`)
    for (const [cmd, pre] of [[process.execPath, [CLI]], [NATIVE_CLI, []]]) {
      for (const args of [['registry', 'list', '--home', home], ['ledger', 'append', '--plan-run-root', run, '--impl-task-key', 'k', '--stage', '1', '--status', 'started']]) {
        const cli = withRawLockEnv(value, cmd, [...pre, ...args])
        assert.equal(cli.status, 1, `${shown} ${args[0]}: ${cli.stdout}${cli.stderr}`)
        assert.equal(cli.json?.code, 'E_INVALID_ARG', `${shown}: ${cli.stdout}`)
        assert.match(cli.json.error, /OKSTRA_LOCK_TIMEOUT_MS/)
      }
    }
  }
  assert.deepEqual(readdirSync(run), [], 'nothing appended')
  // The explicit bound has the same one-day cap in JS and the CLI.
  assert.throws(() => ledgerAppend({ planRunRoot: run, implTaskKey: 'k', stage: 1, status: 'started', lockTimeoutMs: 86_400_001 }), (e) => e.code === 'E_INVALID_ARG')
  const cli = okstraNative(['ledger', 'append', '--plan-run-root', run, '--impl-task-key', 'k', '--stage', '1', '--status', 'started', '--lock-timeout-ms', '86400001'])
  assert.equal(cli.json?.code, 'E_INVALID_ARG', cli.stdout)
})
