// A hostile repository through the JS API and the JS CLI (docs/security.md): the same
// refusal with the same code as the native CLI and the core tests in src/security_tests.rs.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'
import { handoffRecordPr, ledgerAppend, ledgerRead, provisionTaskWorktree } from '../index.js'
import { git, makeRepo, okstra, okstraNative, tempDir } from './helpers.mjs'

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
