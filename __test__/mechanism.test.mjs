// How the worktree is made: `git worktree add` when a git >= 2.36 is on PATH, libgit2
// otherwise — which refuses what it cannot write as git would and notes what it skips.
// The CLI runs as a real process with a PATH that holds no git (or an old one).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { git, makeRepo, okstra, tempDir, tempHome } from './helpers.mjs'

const key = (task) => ['--project-id', 'p', '--task-group', 'g', '--task-id', task]

function provision(repo, home, task, env) {
  return okstra(['worktree', 'provision', '--project-root', repo, '--task-type', 'implementation', '--home', home, ...key(task)], env ? { env } : {})
}

/** An environment whose PATH holds no git at all. */
function noGit() {
  return { ...process.env, PATH: tempDir('okstra-nogit-path-') }
}

/** git's worktrees, branches and admin entries, and the registry: what a refusal keeps. */
function state(repo, home) {
  const reg = join(home, 'worktrees', 'registry.json')
  const admin = join(repo, '.git', 'worktrees')
  return {
    worktrees: git(repo, 'worktree', 'list', '--porcelain'),
    branches: git(repo, 'branch', '--list'),
    admin: existsSync(admin) ? readdirSync(admin) : [],
    registry: existsSync(reg) ? readFileSync(reg, 'utf8') : null,
  }
}

function commitAll(repo) {
  git(repo, 'add', '-A')
  git(repo, 'commit', '-q', '-m', 'files')
}

test('without git on PATH: libgit2 makes a clean, locked worktree and says so', () => {
  const repo = makeRepo()
  writeFileSync(join(repo, 'a.txt'), 'a\n')
  commitAll(repo)
  const home = tempHome()
  const r = provision(repo, home, 't1', noGit())
  assert.equal(r.status, 0, r.stderr)
  assert.equal(r.json.status, 'created')
  assert.match(r.json.note, /made with libgit2 \(no git on PATH\)/)
  assert.equal(git(r.json.path, 'status', '--porcelain'), '')
  assert.ok(git(repo, 'worktree', 'list', '--porcelain').includes('locked okstra task p/g/t1'))
  // git's naming of the admin entry: the directory's base name.
  assert.match(readFileSync(join(r.json.path, '.git'), 'utf8'), new RegExp(`^gitdir: ${join(repo, '.git', 'worktrees', 't1')}/?\n`))
})

test('without git on PATH: working-tree-encoding and a configured LFS filter are refused, nothing changes', () => {
  const home = tempHome()
  const enc = makeRepo()
  writeFileSync(join(enc, '.gitattributes'), '*.ini text working-tree-encoding=UTF-16LE-BOM\n')
  writeFileSync(join(enc, 'a.ini'), Buffer.from('\ufeffk=v\n', 'utf16le'))
  commitAll(enc)
  const lfs = makeRepo()
  git(lfs, 'lfs', 'install', '--local')
  git(lfs, 'lfs', 'track', '*.bin')
  writeFileSync(join(lfs, 'x.bin'), Buffer.alloc(1000, 7))
  commitAll(lfs)
  for (const [task, repo, needs] of [['enc', enc, /working-tree-encoding=UTF-16LE-BOM \(\.gitattributes\)/], ['lfs', lfs, /filter=lfs \(\.gitattributes; an external filter driver\)/]]) {
    const before = state(repo, home)
    const r = provision(repo, home, task, noGit())
    assert.equal(r.status, 1, r.stdout)
    assert.match(r.stderr, /E_GIT_REQUIRED/)
    assert.match(r.stderr, needs)
    assert.match(r.stderr, /Install git 2\.36 or newer/)
    assert.deepEqual(state(repo, home), before)
    // With git on PATH the same request succeeds.
    const ok = provision(repo, home, task)
    assert.equal(ok.status, 0, ok.stderr)
    assert.equal(git(ok.json.path, 'status', '--porcelain'), '')
  }
})

test('without git on PATH: a post-checkout hook and a sparse cone are noted as not applied', () => {
  const repo = makeRepo()
  mkdirSync(join(repo, 'in'))
  mkdirSync(join(repo, 'out'))
  writeFileSync(join(repo, 'in', 'a'), 'a\n')
  writeFileSync(join(repo, 'out', 'b'), 'b\n')
  commitAll(repo)
  git(repo, 'sparse-checkout', 'set', '--cone', 'in')
  const hook = join(repo, '.git', 'hooks', 'post-checkout')
  writeFileSync(hook, '#!/bin/sh\ntouch .hook-ran\n')
  chmodSync(hook, 0o755)
  const home = tempHome()
  const r = provision(repo, home, 'noted', noGit())
  assert.equal(r.status, 0, r.stderr)
  assert.match(r.json.note, /post-checkout hook NOT run/)
  assert.match(r.json.note, /sparse checkout of the main worktree NOT applied/)
  assert.ok(!existsSync(join(r.json.path, '.hook-ran')))
  // With git the cone and the hook apply.
  const g = provision(repo, home, 'withgit')
  assert.equal(g.status, 0, g.stderr)
  assert.doesNotMatch(g.json.note, /NOT/)
  assert.ok(existsSync(join(g.json.path, '.hook-ran')))
  assert.ok(!existsSync(join(g.json.path, 'out')))
})

test('a git older than 2.36 on PATH is not used', () => {
  const repo = makeRepo()
  const bin = tempDir('okstra-oldgit-')
  writeFileSync(join(bin, 'git'), '#!/bin/sh\necho "git version 2.30.9"\n')
  chmodSync(join(bin, 'git'), 0o755)
  const home = tempHome()
  const r = provision(repo, home, 'old', { ...process.env, PATH: bin })
  assert.equal(r.status, 0, r.stderr)
  assert.match(r.json.note, new RegExp(`made with libgit2 \\(${join(bin, 'git')} is 2\\.30\\.9, older than the 2\\.36\\.0 okstra needs\\)`))
})

test('a failing post-checkout hook fails provisioning with its output and leaves nothing behind', () => {
  const repo = makeRepo()
  const hook = join(repo, '.git', 'hooks', 'post-checkout')
  writeFileSync(hook, '#!/bin/sh\necho "hook says no" >&2\nexit 3\n')
  chmodSync(hook, 0o755)
  const home = tempHome()
  const before = state(repo, home)
  const r = provision(repo, home, 'hookfail')
  assert.equal(r.status, 1, r.stdout)
  assert.match(r.stderr, /E_GIT/)
  assert.match(r.stderr, /hook says no/)
  assert.deepEqual(state(repo, home), before)
  assert.ok(!existsSync(join(home, 'worktrees', 'p', 'g', 'hookfail')))
})

test('git --version is asked once per git executable, not once per provisioning', () => {
  const repo = makeRepo()
  const real = spawnSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).stdout.trim()
  const bin = tempDir('okstra-countgit-')
  const log = join(bin, 'calls.log')
  const wrapper = (extra) => `#!/bin/sh\n# ${extra}\necho "$*" >> '${log}'\nexec '${real}' "$@"\n`
  writeFileSync(join(bin, 'git'), wrapper('first'))
  chmodSync(join(bin, 'git'), 0o755)
  const env = { ...process.env, PATH: `${bin}:${process.env.PATH}` }
  const home = tempHome()
  const versions = () => readFileSync(log, 'utf8').split('\n').filter((l) => l === '--version').length
  for (const task of ['v1', 'v2', 'v3']) {
    const r = provision(repo, home, task, env)
    assert.equal(r.status, 0, r.stderr)
  }
  assert.equal(versions(), 1)
  assert.match(readFileSync(join(home, 'worktrees', '.git-version'), 'utf8'), new RegExp(`^${join(bin, 'git')}\t.*\t\\d+\\.\\d+`))
  // A replaced executable (another size and ctime) is asked again, once.
  writeFileSync(join(bin, 'git'), wrapper('second, a longer line'))
  for (const task of ['v4', 'v5']) {
    const r = provision(repo, home, task, env)
    assert.equal(r.status, 0, r.stderr)
  }
  assert.equal(versions(), 2)
  // A damaged file costs one question, nothing else.
  writeFileSync(join(home, 'worktrees', '.git-version'), 'garbage')
  assert.equal(provision(repo, home, 'v6', env).status, 0)
  assert.equal(versions(), 3)
})
