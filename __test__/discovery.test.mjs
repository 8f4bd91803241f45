// Issue #19, items 1 and 2: a task never runs in the user's checkout by accident, and
// `reused` means the worktree is there. Real repositories (dubious ownership as root,
// SHA-256, bare layouts), real `rm -rf` and `git worktree remove`.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync, chownSync } from 'node:fs'
import { join } from 'node:path'
import { execFileSync } from 'node:child_process'
import * as native from '@okstra/native'
import { callWithEnv, git, makeRepo, okstra, okstraProject, tempDir, tempHome } from './helpers.mjs'

const { provisionTaskWorktree, registryLookup } = native

const req = (projectRoot, home, taskId, extra = {}) => ({
  projectId: 'proj', taskGroup: 'grp', taskId, taskType: 'implementation', workCategory: 'feature',
  projectRoot, home, ...extra,
})

/** git's view of the worktrees of the repository at `dir` (any config trusted). */
const worktrees = (dir) => git(dir, '-c', 'safe.directory=*', 'worktree', 'list', '--porcelain')

// No global or system config of this machine may trust the repository for us.
const clean = { GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1', SUDO_UID: '' }

test('dubious ownership: refused with E_REPO_UNSAFE, provisioned with safe.directory from GIT_CONFIG_*', { skip: process.getuid() !== 0 && 'needs root to chown' }, () => {
  const repo = makeRepo()
  const home = tempHome()
  execFileSync('chown', ['-R', '65534:65534', repo])
  const refused = (() => {
    try {
      callWithEnv(clean, 'provisionTaskWorktree', req(repo, home, 'dub'))
    } catch (e) {
      return e
    }
  })()
  assert.equal(refused?.code, 'E_REPO_UNSAFE', String(refused))
  assert.match(refused.message, /safe\.directory/)
  assert.equal(existsSync(join(home, 'worktrees', 'registry.json')), false)
  // The CLI refuses the same way.
  const cli = okstra(['worktree', 'provision', '--project-root', repo, '--project-id', 'proj', '--task-group', 'grp',
    '--task-id', 'dub', '--task-type', 'implementation', '--work-category', 'feature', '--home', home],
  { env: { ...process.env, ...clean } })
  assert.equal(cli.json?.code, 'E_REPO_UNSAFE', cli.stdout + cli.stderr)
  for (const trust of [
    { GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'safe.directory', GIT_CONFIG_VALUE_0: '*' },
    { GIT_CONFIG_PARAMETERS: `'safe.directory'='${repo}'` },
  ]) {
    const taskId = trust.GIT_CONFIG_COUNT ? 'count' : 'params'
    const r = callWithEnv({ ...clean, ...trust }, 'provisionTaskWorktree', req(repo, home, taskId))
    assert.equal(r.status, 'created', r.note)
    assert.ok(r.path.startsWith(home), r.path)
    assert.ok(worktrees(repo).includes(`worktree ${r.path}\n`))
  }
})

test('SHA-256 repository: a coded error, never skipped-not-git', () => {
  const dir = tempDir()
  git(dir, 'init', '-q', '--object-format=sha256', '-b', 'main')
  writeFileSync(join(dir, 'a'), 'a\n')
  git(dir, 'add', 'a')
  git(dir, '-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-q', '-m', 'a')
  const home = tempHome()
  assert.throws(() => provisionTaskWorktree(req(dir, home, 'sha')), (e) => e.code === 'E_REPO_UNSUPPORTED' && /sha256/.test(e.message))
  assert.equal(existsSync(join(home, 'worktrees', 'registry.json')), false)
  // Not a repository at all is still a skip.
  assert.equal(provisionTaskWorktree(req(tempDir(), home, 'plain')).status, 'skipped-not-git')
})

/** `src` with a commit, cloned bare as `<dir>/<bare>`, checked out at `<dir>/main`. */
function bareLayout(bare) {
  const src = makeRepo()
  const dir = tempDir()
  git(dir, 'clone', '-q', '--bare', src, join(dir, bare))
  if (bare === '.bare') writeFileSync(join(dir, '.git'), 'gitdir: ./.bare\n')
  git(join(dir, bare), 'worktree', 'add', '-q', join(dir, 'main'), 'main')
  writeFileSync(join(dir, 'main', '.env'), 'X=1\n')
  return dir
}

for (const bare of ['repo.git', '.bare']) {
  test(`bare layout ${bare} + main/: the task gets its own worktree from main/, the layout root and the bare dir`, () => {
    const dir = bareLayout(bare)
    const home = tempHome()
    const starts = [join(dir, 'main'), join(dir, bare)]
    if (bare === '.bare') starts.push(dir)
    starts.forEach((root, i) => {
      const r = provisionTaskWorktree(req(root, home, `t${i}`))
      assert.equal(r.status, 'created', `${root}: ${r.note}`)
      assert.ok(r.path.startsWith(join(home, 'worktrees')), r.path)
      assert.ok(worktrees(join(dir, 'main')).includes(`worktree ${r.path}\n`))
      assert.equal(git(r.path, 'status', '--porcelain'), '')
      assert.equal(git(r.path, 'rev-parse', 'HEAD'), git(join(dir, 'main'), 'rev-parse', 'HEAD'))
      // From main/ the checkout's shared state comes along.
      if (root === join(dir, 'main')) assert.deepEqual(r.linkedFiles, ['.env'])
    })
    // The user's checkout stayed on its branch, untouched.
    assert.equal(git(join(dir, 'main'), 'status', '--porcelain'), '')
    assert.equal(git(join(dir, 'main'), 'branch', '--show-current'), 'main')
  })
}

test("a user's own linked worktree is not an okstra worktree; an okstra task worktree is", () => {
  const repo = makeRepo()
  const home = tempHome()
  const mine = join(tempDir(), 'feature')
  git(repo, 'worktree', 'add', '-q', '-b', 'feature', mine)
  const r = provisionTaskWorktree(req(mine, home, 'from-mine'))
  assert.equal(r.status, 'created', r.note)
  const s = provisionTaskWorktree(req(r.path, home, 'inside'))
  assert.equal(s.status, 'skipped-in-worktree')
  // Another home's active task worktree is recognised by git's lock reason.
  const other = provisionTaskWorktree(req(r.path, tempHome(), 'elsewhere'))
  assert.equal(other.status, 'skipped-in-worktree')
})

for (const how of ['rm -rf', 'git worktree remove']) {
  test(`reused means the worktree is there: after ${how} it is recreated on its branch, commits kept`, () => {
    const repo = makeRepo()
    const home = tempHome()
    const a = provisionTaskWorktree(req(repo, home, 'gone'))
    writeFileSync(join(a.path, 'work.txt'), 'w\n')
    git(a.path, 'add', 'work.txt')
    git(a.path, '-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-q', '-m', 'work')
    const tip = git(a.path, 'rev-parse', 'HEAD')
    if (how === 'rm -rf') rmSync(a.path, { recursive: true, force: true })
    else git(repo, 'worktree', 'remove', '--force', '--force', a.path)
    const b = provisionTaskWorktree(req(repo, home, 'gone'))
    assert.notEqual(b.status, 'reused')
    assert.equal(b.status, 'created', b.note)
    assert.match(b.note, /recorded worktree was gone.*recreated on its existing branch/)
    assert.equal(b.path, a.path)
    assert.equal(b.branch, a.branch)
    assert.equal(git(b.path, 'rev-parse', 'HEAD'), tip)
    assert.equal(readFileSync(join(b.path, 'work.txt'), 'utf8'), 'w\n')
    assert.ok(worktrees(repo).includes(`worktree ${b.path}\n`))
    assert.equal(registryLookup({ projectId: 'proj', taskGroup: 'grp', taskId: 'gone', home }).status, 'active')
    const again = provisionTaskWorktree(req(repo, home, 'gone'))
    assert.equal(again.status, 'reused')
    const doc = native.registryDoctor({ home })
    assert.deepEqual(doc.problems, [], JSON.stringify(doc))
  })
}

test('handoff and reconcile find a dubious-ownership repository as provisioning does', { skip: process.getuid() !== 0 && 'needs root to chown' }, () => {
  const { root, planPath } = okstraProject()
  const runs = tempDir('okstra-runs-')
  execFileSync('chown', ['-R', '65534:65534', root])
  const eligible = { planRunRoot: runs, approvedPlan: planPath, projectRoot: root }
  const reconcile = { planRunRoot: runs, projectRoot: root, home: tempHome() }
  const refusal = (env, name, o) => {
    try {
      callWithEnv(env, name, o)
    } catch (e) {
      return e.code
    }
  }
  // Untrusted: git's refusal, coded as provisioning codes it (before: "not inside a git
  // repository", E_INVALID_ARG), from the exports and the CLI.
  assert.equal(refusal(clean, 'handoffEligible', eligible), 'E_REPO_UNSAFE')
  assert.equal(refusal(clean, 'gitReconcile', reconcile), 'E_REPO_UNSAFE')
  const cli = okstra(['git-reconcile', '--plan-run-root', runs, '--project-root', root], { env: { ...process.env, ...clean } })
  assert.equal(cli.json?.code, 'E_REPO_UNSAFE', cli.stdout + cli.stderr)
  // Trusted through GIT_CONFIG_COUNT (as CI does): both work (before: refused by libgit2).
  const trust = { ...clean, GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'safe.directory', GIT_CONFIG_VALUE_0: '*' }
  const e = callWithEnv(trust, 'handoffEligible', eligible)
  assert.ok(e.stages.length > 0 && e.stages.every((s) => s.eligible === false), JSON.stringify(e))
  assert.deepEqual(callWithEnv(trust, 'gitReconcile', reconcile).changes, [])
  const cliOk = okstra(['git-reconcile', '--plan-run-root', runs, '--project-root', root], { env: { ...process.env, ...trust } })
  assert.equal(cliOk.status, 0, cliOk.stdout + cliOk.stderr)
  // Not a repository at all stays E_INVALID_ARG.
  assert.equal(refusal(clean, 'gitReconcile', { ...reconcile, projectRoot: tempDir() }), 'E_INVALID_ARG')
})

test('handoff and reconcile refuse a SHA-256 repository with E_REPO_UNSUPPORTED', () => {
  const dir = tempDir()
  git(dir, 'init', '-q', '--object-format=sha256', '-b', 'main')
  git(dir, '-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-q', '--allow-empty', '-m', 'a')
  const { planPath } = okstraProject()
  const runs = tempDir('okstra-runs-')
  assert.throws(() => native.handoffEligible({ planRunRoot: runs, approvedPlan: planPath, projectRoot: dir }), { code: 'E_REPO_UNSUPPORTED' })
  assert.throws(() => native.gitReconcile({ planRunRoot: runs, projectRoot: dir, home: tempHome() }), { code: 'E_REPO_UNSUPPORTED' })
})

test('the wizard reads a dubious-ownership repository trusted through GIT_CONFIG_COUNT as a repository', { skip: process.getuid() !== 0 && 'needs root to chown' }, () => {
  const { root, home, dir } = okstraProject()
  execFileSync('chown', ['-R', '65534:65534', root])
  const env = { ...process.env, ...clean, GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'safe.directory', GIT_CONFIG_VALUE_0: '*' }
  const state = join(dir, 'state.json')
  const w = (...args) => okstra(['wizard', ...args, '--state', state], { env })
  // Started from a subdirectory: the project is the repository's top (before: libgit2
  // refused the repository, so the wizard treated the project as outside git).
  let r = okstra(['wizard', 'init', '--state', state, '--project-root', join(root, 'briefs'), '--project-id', 'shop', '--home', home, '--lang', 'en'], { env })
  assert.equal(r.status, 0, r.stderr)
  for (const v of ['requirements-discovery', 'new', 'payments', 'refund-ui', 'feature', 'briefs/refund-api.md', 'develop', 'defaults', 'proceed']) {
    r = w('submit', '--value', v)
    assert.equal(r.json?.ok, true, `${v}: ${r.stdout}${r.stderr}`)
  }
  r = w('confirmation')
  assert.match(r.json.text, /base-ref\s+: develop/)
  assert.match(r.json.text, new RegExp(`worktree\\s+: .*${home.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`))
})
