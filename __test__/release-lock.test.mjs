// `registry release` takes the key's provisioning lock (issue #19): a release racing a
// provisioning of the same key runs before or after it, never inside it. The interleaving
// is forced with strace (the provisioning is held just before it writes its registry row),
// not hoped for.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { git, makeRepo, okstraNative, runStraced, tempHome } from './helpers.mjs'

/** git's lock reason of the worktree at `path` (`undefined` when unlocked). */
function gitLock(repo, path) {
  const block = git(repo, 'worktree', 'list', '--porcelain').split('\n\n').find((b) => b.startsWith(`worktree ${path}\n`))
  return block?.split('\n').find((l) => l.startsWith('locked'))
}

test('a release racing a reactivating provision of the same key waits for it: row and git lock agree', async () => {
  const repo = makeRepo()
  const home = tempHome()
  const key = ['--project-id', 'p', '--task-group', 'g', '--task-id', 't', '--home', home]
  const provision = ['worktree', 'provision', '--project-root', repo, '--task-type', 'implementation', ...key]
  const first = okstraNative(provision)
  assert.equal(first.json?.status, 'created', first.stdout)
  assert.equal(okstraNative(['registry', 'release', ...key]).json?.status, 'released')
  assert.equal(gitLock(repo, first.json.path), undefined)

  // The provisioning reactivates the released entry: it locks the worktree in git again,
  // then waits 3 s when it opens the registry's lock (the reservation). The release
  // starts inside that wait.
  const t0 = Date.now()
  // (registry.lock is opened relative to the worktrees directory, opened just before; the
  // first two opens there read the cached `git --version` answer, `.git-version`, which the
  // first provisioning wrote.)
  const held = runStraced(['-P', join(home, 'worktrees'), '-e', 'trace=openat',
    '-e', 'inject=openat:delay_enter=3000000:when=3'], provision)
  await new Promise((r) => setTimeout(r, 1000))
  const rel = okstraNative(['registry', 'release', ...key])
  const releasedAt = Date.now() - t0
  const prov = await held
  assert.equal(prov.code, 0, prov.stdout)
  assert.equal(JSON.parse(prov.stdout).status, 'reused')
  assert.equal(rel.status, 0, rel.stdout + rel.stderr)
  // Before, the release ran at once, inside the provisioning: it took off the git lock the
  // provisioning had just put back, and the provisioning then made the row active — an
  // active worktree without okstra's lock (doctor: worktree-unlocked).
  const row = okstraNative(['registry', 'lookup', ...key]).json
  const doctor = okstraNative(['registry', 'doctor', '--home', home])
  assert.equal(doctor.status, 0, `row ${row.status}, git lock ${gitLock(repo, first.json.path)}: ${doctor.stdout}`)
  assert.equal(row.status, 'released')
  assert.equal(gitLock(repo, first.json.path), undefined)
  assert.ok(releasedAt >= 2500, `the release waited for the provisioning (${releasedAt} ms)`)
})
