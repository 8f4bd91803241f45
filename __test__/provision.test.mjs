// Worktree provisioning as users load it: real repositories in temp dirs, checked with the
// git CLI; concurrency from real node processes.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, lstatSync, mkdirSync, readFileSync, statSync, writeFileSync, realpathSync } from 'node:fs'
import { join } from 'node:path'
import { createRequire } from 'node:module'
import * as native from '@okstra/native'
import { ROOT, callWithEnv, git, makeRepo, okstra, run, tempDir, tempHome } from './helpers.mjs'

const {
  provisionTaskWorktree, provisionTaskWorktreeAsync, registryLookup, registryRelease, registryReleaseAsync,
  registryDoctor, resolveSyncEntries, cleanGateExcludes, isInsideLinkedWorktree, isInsideLinkedWorktreeAsync,
  mainWorktreePath, mainWorktreePathAsync, upsertProjectJson,
} = native

/** A repository with a tracked file, an ignored `.env` and `.project-docs`, and a tag. */
function fixture() {
  const repo = makeRepo()
  writeFileSync(join(repo, 'a.txt'), 'one\n')
  writeFileSync(join(repo, '.gitignore'), '.env\n.project-docs\n.okstra/\n')
  git(repo, 'add', '-A')
  git(repo, 'commit', '-q', '-m', 'one')
  git(repo, 'tag', 'v1')
  writeFileSync(join(repo, 'a.txt'), 'two\n')
  git(repo, 'commit', '-q', '-am', 'two')
  writeFileSync(join(repo, '.env'), 'SECRET=1\n')
  mkdirSync(join(repo, '.project-docs'))
  return { repo, home: tempHome() }
}

const req = (f, taskId, extra = {}) => ({
  projectId: 'proj', taskGroup: 'grp', taskId, taskType: 'implementation', workCategory: 'feature',
  projectRoot: f.repo, home: f.home, ...extra,
})

/** What a refusal must leave unchanged: git's worktrees and branches, the registry file. */
function state(f) {
  const reg = join(f.home, 'worktrees', 'registry.json')
  return {
    worktrees: git(f.repo, 'worktree', 'list', '--porcelain'),
    branches: git(f.repo, 'branch', '--list'),
    registry: existsSync(reg) ? readFileSync(reg, 'utf8') : null,
  }
}

test('created, then reused; git lists it locked and clean; shared state linked', () => {
  const f = fixture()
  const r = provisionTaskWorktree(req(f, 'Login'))
  assert.equal(r.status, 'created')
  assert.equal(r.branch, 'feat-login')
  assert.equal(r.baseRef, git(f.repo, 'rev-parse', 'HEAD'))
  assert.deepEqual(r.linked, ['.project-docs'])
  assert.deepEqual(r.linkedFiles, ['.env'])
  assert.deepEqual(r.snapshots, [])
  assert.match(r.note, /^task worktree created at .* on branch feat-login \(base [0-9a-f]{12}; phase implementation\); linked \.project-docs; linked-files \.env$/)
  const list = git(f.repo, 'worktree', 'list', '--porcelain')
  assert.ok(list.includes(`worktree ${r.path}\n`), list)
  assert.ok(list.includes('locked okstra task proj/grp/login'), list)
  assert.equal(git(r.path, 'status', '--porcelain'), '')
  assert.ok(lstatSync(join(r.path, '.env')).isSymbolicLink())
  const again = provisionTaskWorktree(req(f, 'Login', { taskType: 'final-verification' }))
  assert.equal(again.status, 'reused')
  assert.equal(again.path, r.path)
  assert.equal(registryLookup({ projectId: 'proj', taskGroup: 'grp', taskId: 'login', home: f.home }).lastPhase, 'final-verification')
})

test('sync and async give the same result', async () => {
  const f = fixture()
  const a = provisionTaskWorktree(req(f, 'same', { stageNumber: 1 }))
  const g = fixture()
  const b = await provisionTaskWorktreeAsync(req(g, 'same', { stageNumber: 1 }))
  const strip = (r, fx) => ({ ...r, path: r.path.replace(fx.home, 'H'), baseRef: r.baseRef.length, note: r.note.replace(fx.home, 'H').replace(/base [0-9a-f]+/, '') })
  assert.deepEqual(strip(a, f), strip(b, g))
  assert.equal((await provisionTaskWorktreeAsync(req(f, 'same', { stageNumber: 1 }))).status, 'reused')
  await assert.rejects(provisionTaskWorktreeAsync(req(f, 'x', { baseRef: 'nope' })), { code: 'E_UNKNOWN_REF' })
})

test('skipped-not-git and skipped-in-worktree', async () => {
  const f = fixture()
  const plain = tempDir()
  const r = provisionTaskWorktree(req(f, 't', { projectRoot: plain }))
  assert.equal(r.status, 'skipped-not-git')
  assert.equal(r.path, plain)
  const a = provisionTaskWorktree(req(f, 'a'))
  const s = provisionTaskWorktree(req(f, 'b', { projectRoot: a.path }))
  assert.equal(s.status, 'skipped-in-worktree')
  assert.equal(s.path, a.path)
  assert.equal(registryLookup({ projectId: 'proj', taskGroup: 'grp', taskId: 'b', home: f.home }), null)
  assert.equal(isInsideLinkedWorktree(a.path), true)
  assert.equal(await isInsideLinkedWorktreeAsync(f.repo), false)
  assert.equal(realpathSync(mainWorktreePath(a.path)), realpathSync(f.repo))
  assert.equal(realpathSync(await mainWorktreePathAsync(join(a.path))), realpathSync(f.repo))
  assert.equal(mainWorktreePath(plain), plain)
})

test('stage and group worktrees of two tasks side by side; stage from another task\'s worktree', () => {
  const f = fixture()
  const made = []
  for (const taskId of ['one', 'two']) {
    for (const extra of [{ stageNumber: 1 }, { stageNumber: 2 }, { groupId: 'g1' }]) {
      made.push(provisionTaskWorktree(req(f, taskId, extra)))
    }
  }
  assert.deepEqual(made.map((r) => r.branch), ['feat-one-s1', 'feat-one-s2', 'feat-one.group-g1', 'feat-two-s1', 'feat-two-s2', 'feat-two.group-g1'])
  const list = git(f.repo, 'worktree', 'list', '--porcelain')
  for (const r of made) {
    assert.equal(r.status, 'created')
    assert.ok(list.includes(`worktree ${r.path}\n`), r.path)
  }
  // From inside task `one`'s stage worktree (a linked worktree), a stage of task `three`
  // is made from the main worktree.
  const r = provisionTaskWorktree(req(f, 'three', { stageNumber: 1, projectRoot: made[0].path }))
  assert.equal(r.status, 'created')
  assert.equal(r.baseRef, git(f.repo, 'rev-parse', 'HEAD'))
  assert.equal(realpathSync(join(r.path, '.env')), realpathSync(join(f.repo, '.env')))
})

test('base refs by branch, tag, sha; unknown ref leaves nothing', () => {
  const f = fixture()
  const v1 = git(f.repo, 'rev-parse', 'v1^{commit}')
  git(f.repo, 'branch', 'old', v1)
  git(f.repo, 'update-ref', 'refs/remotes/origin/main', v1)
  for (const [taskId, baseRef] of [['t1', 'v1'], ['t2', 'old'], ['t3', v1], ['t4', 'origin/main']]) {
    const r = provisionTaskWorktree(req(f, taskId, { baseRef }))
    assert.equal(r.baseRef, v1, baseRef)
    assert.equal(git(r.path, 'rev-parse', 'HEAD'), v1)
  }
  const before = state(f)
  assert.throws(() => provisionTaskWorktree(req(f, 't5', { baseRef: 'no-such' })), (e) => e.code === 'E_UNKNOWN_REF' && /no-such/.test(e.message))
  assert.deepEqual(state(f), before)
  assert.equal(existsSync(join(f.home, 'worktrees', 'proj', 'grp', 't5')), false)
})

test('refusals change nothing: path exists, branch exists, registry conflict', () => {
  const f = fixture()
  const taken = join(f.home, 'worktrees', 'proj', 'grp', 'taken')
  mkdirSync(taken, { recursive: true })
  let before = state(f)
  assert.throws(() => provisionTaskWorktree(req(f, 'taken')), (e) => e.code === 'E_PATH_EXISTS' && /no registry entry owns it/.test(e.message))
  assert.deepEqual(state(f), before)
  git(f.repo, 'branch', 'feat-branchy')
  before = state(f)
  assert.throws(() => provisionTaskWorktree(req(f, 'branchy')), { code: 'E_BRANCH_EXISTS' })
  assert.deepEqual(state(f), before)
  // Both names the key may get (plain, group-qualified) belong to other keys.
  native.registryReserve({ projectId: 'x', taskGroup: 'y', taskId: 'z', home: f.home, worktreePath: '/elsewhere', branch: 'feat-owned', baseRef: '' })
  native.registryReserve({ projectId: 'x', taskGroup: 'y', taskId: 'w', home: f.home, worktreePath: '/elsewhere/w', branch: 'feat-grp-owned', baseRef: '' })
  before = state(f)
  assert.throws(() => provisionTaskWorktree(req(f, 'owned')), { code: 'E_BRANCH_OWNED' })
  assert.deepEqual(state(f), before)
  assert.equal(existsSync(join(f.home, 'worktrees', 'proj', 'grp', 'owned')), false)
  assert.throws(() => provisionTaskWorktree(req(f, 't', { stageNumber: 1, groupId: 'g' })), { code: 'E_INVALID_ARG' })
})

test('precedence env → project.json → default, snapshots 0444, unsafe entries noted', () => {
  const f = fixture()
  assert.deepEqual(resolveSyncEntries(f.repo), {
    dirs: ['.project-docs', '.scratch', 'graphify-out', '.claude'], files: ['.env'], snapshots: [], copies: [], notes: [],
  })
  mkdirSync(join(f.repo, '.okstra'))
  writeFileSync(join(f.repo, 'data.db'), 'rows')
  writeFileSync(join(f.repo, '.okstra', 'project.json'), JSON.stringify({
    worktreeSyncDirs: [], worktreeSnapshotFiles: ['./data.db', 'data.db', '../evil', '/etc/passwd', 'missing.db'],
  }))
  const e = resolveSyncEntries(f.repo)
  assert.deepEqual([e.dirs, e.files, e.snapshots], [[], ['.env'], ['data.db', 'missing.db']])
  assert.equal(e.notes.length, 2)
  assert.deepEqual(cleanGateExcludes(f.repo), ['.okstra', '.env', 'data.db', 'missing.db'])
  const r = provisionTaskWorktree(req(f, 'snap'))
  assert.deepEqual(r.snapshots, ['data.db'])
  assert.equal(statSync(join(r.path, 'data.db')).mode & 0o777, 0o444)
  assert.ok(r.note.includes('skipped unsafe entry "../evil"'), r.note)
  // Env wins and replaces; empty disables.
  const env = callWithEnv({ OKSTRA_WORKTREE_SYNC_FILES: 'x.env:y.env', OKSTRA_WORKTREE_SNAPSHOT_FILES: '' },
    'resolveSyncEntries', f.repo)
  assert.deepEqual([env.files, env.snapshots], [['x.env', 'y.env'], []])
})

test('concurrent provisioning of one key from several processes: one created, the rest reused', async () => {
  const f = fixture()
  const script = `
    const n = require(${JSON.stringify(ROOT)})
    const r = n.provisionTaskWorktree(${JSON.stringify(req(f, 'race', { stageNumber: 1 }))})
    process.stdout.write(JSON.stringify(r))`
  const runs = await Promise.all(Array.from({ length: 6 }, () => run(process.execPath, ['-e', script])))
  for (const r of runs) assert.equal(r.code, 0, r.stderr)
  const results = runs.map((r) => JSON.parse(r.stdout))
  assert.deepEqual(results.map((r) => r.status).sort(), ['created', 'reused', 'reused', 'reused', 'reused', 'reused'])
  assert.equal(new Set(results.map((r) => r.path)).size, 1)
  // Different keys in one repository at once: all created, git lists them all.
  const many = await Promise.all(['k1', 'k2', 'k3', 'k4'].map((k) => run(process.execPath, ['-e', `
    const n = require(${JSON.stringify(ROOT)})
    process.stdout.write(JSON.stringify(n.provisionTaskWorktree(${JSON.stringify(req(f, k))})))`])))
  const list = git(f.repo, 'worktree', 'list', '--porcelain')
  for (const r of many) {
    assert.equal(r.code, 0, r.stderr)
    const res = JSON.parse(r.stdout)
    assert.equal(res.status, 'created')
    assert.ok(list.includes(`worktree ${res.path}\n`))
  }
})

test('registryRelease unlocks in git; doctor reads git worktree list', async () => {
  const f = fixture()
  const a = provisionTaskWorktree(req(f, 'a'))
  const b = provisionTaskWorktree(req(f, 'b'))
  assert.equal(registryDoctor({ home: f.home }).ok, true)
  git(a.path, 'checkout', '-q', '-b', 'elsewhere')
  // The lock lines as git prints them, so the absence checks below look for a text that exists.
  const lockOf = (key) => `locked okstra task ${key}`
  const listed = () => git(f.repo, 'worktree', 'list', '--porcelain')
  assert.ok(listed().includes(lockOf('proj/grp/a')) && listed().includes(lockOf('proj/grp/b')), listed())
  const released = await registryReleaseAsync({ projectId: 'proj', taskGroup: 'grp', taskId: 'b', home: f.home })
  assert.equal(released.status, 'released')
  assert.ok(!listed().includes(lockOf('proj/grp/b')), listed())
  assert.ok(listed().includes(lockOf('proj/grp/a')), 'only the released key is unlocked')
  const codes = () => registryDoctor({ home: f.home }).problems.map((p) => p.code).sort()
  assert.deepEqual(codes(), ['branch-switched'], 'a released worktree is not foreign: the next provision reactivates it')
  // Unlocked, git's own remove works; a released entry whose directory is gone is no problem.
  git(f.repo, 'worktree', 'remove', b.path)
  assert.deepEqual(codes(), ['branch-switched'])
  assert.equal(registryRelease({ projectId: 'proj', taskGroup: 'grp', taskId: 'a', home: f.home }).status, 'released')
  assert.ok(!listed().includes(lockOf('proj/grp/a')), listed())
})

test('upsertProjectJson keeps other fields; another id is refused unchanged', () => {
  const f = fixture()
  const v = upsertProjectJson({ projectRoot: f.repo, projectId: 'proj' })
  assert.equal(v.projectId, 'proj')
  const file = join(f.repo, '.okstra', 'project.json')
  writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), mcpServers: { a: 1 } }))
  assert.deepEqual(upsertProjectJson({ projectRoot: f.repo, projectId: 'proj' }).mcpServers, { a: 1 })
  const before = readFileSync(file, 'utf8')
  assert.throws(() => upsertProjectJson({ projectRoot: f.repo, projectId: 'other' }), { code: 'E_PROJECT_ID_MISMATCH' })
  assert.equal(readFileSync(file, 'utf8'), before)
})

test('CLI: worktree provision / path / branch / excludes / sync-entries / project-json; CJS require', () => {
  const f = fixture()
  const key = ['--project-id', 'proj', '--task-group', 'grp', '--task-id', 'cli', '--home', f.home]
  const p = okstra(['worktree', 'provision', '--project-root', f.repo, '--task-type', 'implementation', '--work-category', 'bugfix', ...key])
  assert.equal(p.status, 0, p.stderr)
  assert.equal(p.json.status, 'created')
  assert.equal(p.json.branch, 'fix-cli')
  assert.equal(okstra(['worktree', 'path', ...key]).json, p.json.path)
  assert.equal(okstra(['worktree', 'branch', '--work-category', 'feature', '--task-id', 'X', '--stage', '2']).json, 'feat-x-s2')
  assert.equal(okstra(['worktree', 'excludes', '--project-root', f.repo]).json[0], '.okstra')
  assert.deepEqual(okstra(['worktree', 'sync-entries', '--project-root', f.repo]).json.files, ['.env'])
  assert.equal(okstra(['worktree', 'project-json', '--project-root', f.repo, '--project-id', 'proj']).json.projectId, 'proj')
  const refused = okstra(['worktree', 'provision', '--project-root', f.repo, '--task-type', 'x', ...key.slice(0, 4), '--task-id', 'other', '--home', f.home, '--base-ref', 'nope'])
  assert.equal(refused.status, 1)
  assert.equal(refused.json.code, 'E_UNKNOWN_REF')
  const req2 = createRequire(import.meta.url)
  assert.equal(typeof req2('@okstra/native').provisionTaskWorktreeAsync, 'function')
})
