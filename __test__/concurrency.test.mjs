// Issue #19 item 7: the per-repository lock covers only git's own step, so 32 processes
// provisioning 32 keys of one repository that carries an ignored node_modules by the copy
// kind do not queue behind each other's copies. The benchmark (bench/many-copies.mjs) runs
// the same with 20,000 files; the test uses 3,000 to stay within ~60 s on 2 shared cores.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import * as native from '@okstra/native'
import { git, SHM } from './helpers.mjs'
import { manyCopies } from '../bench/many-copies.mjs'

test('32 processes, 32 keys, one repository, copied node_modules: 0 E_LOCK_TIMEOUT, 32 created, git/registry/doctor agree', { timeout: 180_000 }, async () => {
  const { f, results, summary } = await manyCopies({ files: 3000, n: 32, base: SHM })
  const failed = results.filter((r) => !r.ok)
  assert.deepEqual(failed, [], JSON.stringify(summary))
  assert.equal(summary.lockTimeouts, 0)
  assert.equal(summary.created, 32)
  const list = git(f.repo, 'worktree', 'list', '--porcelain')
  const rows = native.registryList({ home: f.home, status: 'active' })
  assert.equal(rows.length, 33) // the 32 and the one provisioned alone first
  for (const r of results) {
    assert.ok(list.includes(`worktree ${r.ok.path}\n`), r.ok.path)
    assert.ok(rows.some((e) => e.worktreePath === r.ok.path && e.branch === r.ok.branch))
    assert.deepEqual([...r.ok.cloned, ...r.ok.copied], ['node_modules'])
    assert.equal(readdirSync(join(r.ok.path, 'node_modules')).length, 30)
    assert.equal(git(r.ok.path, 'status', '--porcelain'), '')
  }
  assert.deepEqual(native.registryDoctor({ home: f.home }).problems, [])
  const pending = join(f.home, 'worktrees', 'pending')
  assert.equal(existsSync(pending) ? readdirSync(pending).length : 0, 0)
  console.log(JSON.stringify(summary))
})
