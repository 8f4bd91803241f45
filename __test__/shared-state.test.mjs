// Shared state without harm, as a user meets it: real repositories with the four common
// `.gitignore` styles stay clean in every worktree provisioning makes; stage and group
// worktrees lie beside the task; the copy kind clones on a real reflink filesystem (xfs on
// a loop device) and copies byte for byte on one that cannot (tmpfs).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import {
  existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, readdirSync, statSync, statfsSync, symlinkSync,
  writeFileSync, chmodSync,
} from 'node:fs'
import { join } from 'node:path'
import * as native from '@okstra/native'
import { callWithEnv, git, makeRepo, tempDir, tempHome } from './helpers.mjs'

const { provisionTaskWorktree, resolveSyncEntries } = native

const STYLES = {
  'trailing slash': '.claude/\n.scratch/\n.project-docs/\nnode_modules/\n.env\n.env.local\n.okstra/\nconfig/local.json\n',
  'no slash': '.claude\n.scratch\n.project-docs\nnode_modules\n.env\n.env.local\n.okstra\nconfig/local.json\n',
  none: null,
  negations: '.*\n!.gitignore\n!.claude\nnode_modules/\n!node_modules/keep\n*.json\n!package.json\n!config/app.json\n',
}

function write(path, text) {
  mkdirSync(join(path, '..'), { recursive: true })
  writeFileSync(path, text)
}

/** A repository with tracked code and the machine-local state agents keep beside it. */
function repoWithState(gitignore) {
  const repo = makeRepo()
  write(join(repo, 'src', 'app.js'), 'export {}\n')
  write(join(repo, 'config', 'app.json'), '{}\n')
  write(join(repo, 'package.json'), '{}\n')
  if (gitignore !== null) writeFileSync(join(repo, '.gitignore'), gitignore)
  git(repo, 'add', '-A')
  git(repo, 'commit', '-q', '-m', 'code')
  write(join(repo, '.env'), 'SECRET=1\n')
  write(join(repo, '.env.local'), 'LOCAL=1\n')
  write(join(repo, '.claude', 'settings.local.json'), '{}\n')
  write(join(repo, '.scratch', 'notes.md'), 'n\n')
  write(join(repo, '.project-docs', 'plan.md'), 'p\n')
  write(join(repo, 'node_modules', 'pkg', 'index.js'), 'module.exports = 1\n')
  symlinkSync('pkg/index.js', join(repo, 'node_modules', 'main.js'))
  write(join(repo, 'config', 'local.json'), '{"local":true}\n')
  write(join(repo, '.worktreeinclude'), '.env.local\n')
  write(join(repo, '.okstra', 'project.json'), JSON.stringify({ worktreeCopyEntries: ['node_modules', 'config/local.json'] }))
  return repo
}

const status = (dir) => git(dir, 'status', '--porcelain', '--untracked-files=all')

for (const [style, gitignore] of Object.entries(STYLES)) {
  test(`.gitignore style "${style}": task, stage and group worktrees are clean; main gains nothing`, () => {
    const repo = repoWithState(gitignore)
    const home = tempHome()
    const mainBefore = status(repo)
    const base = { projectRoot: repo, projectId: 'p', taskGroup: 'g', taskId: 'T', taskType: 'implementation', home }
    const task = provisionTaskWorktree(base)
    const stage = provisionTaskWorktree({ ...base, stageNumber: 1 })
    const group = provisionTaskWorktree({ ...base, groupId: 'g1' })
    assert.equal(stage.path, `${task.path}.stage-1`)
    assert.equal(group.path, `${task.path}.group-g1`)
    // `.worktreeinclude` copies only what git ignores in the main worktree.
    const ignoresLocal = gitignore !== null
    const copies = [...(ignoresLocal ? ['.env.local'] : []), 'config/local.json', 'node_modules']
    for (const r of [task, stage, group]) {
      assert.equal(r.status, 'created', r.note)
      assert.ok(r.linkedFiles.includes('.env'), r.note)
      assert.deepEqual([...r.cloned, ...r.copied].sort(), copies, r.note)
      assert.equal(readlinkSync(join(r.path, 'node_modules', 'main.js')), 'pkg/index.js')
      assert.equal(status(r.path), '', `${style}: ${r.path}\n${r.note}`)
      git(r.path, 'add', '-A')
      assert.equal(git(r.path, 'diff', '--cached', '--name-only'), '', r.path)
      if (style === 'negations') {
        assert.ok(!r.linked.includes('.claude'), r.note)
        assert.match(r.note, /took \.claude out again/)
        assert.equal(existsSync(join(r.path, '.claude')), false)
      } else {
        assert.ok(r.linked.includes('.claude'), r.note)
      }
      assert.equal(existsSync(join(r.path, '.env.local')), ignoresLocal)
    }
    // The main worktree gains no status line. (The block is shared, so machine-local state
    // the main worktree did not ignore is now ignored there too; that only removes lines.)
    const before = new Set(mainBefore.split('\n'))
    for (const line of status(repo).split('\n').filter(Boolean)) assert.ok(before.has(line), line)
    const exclude = readFileSync(join(repo, '.git', 'info', 'exclude'), 'utf8')
    assert.equal(exclude.split('# >>> okstra').length, 2, exclude)
    assert.match(exclude, /^\/node_modules$/m)
    assert.doesNotMatch(exclude, /\/$/m)
  })
}

test('.worktreeinclude selections are listed by resolveSyncEntries and copied', () => {
  const repo = repoWithState(STYLES['no slash'])
  const e = resolveSyncEntries(repo)
  assert.deepEqual(e.copies, ['node_modules', 'config/local.json', '.env.local'])
  const linked = callWithEnv({ OKSTRA_WORKTREE_SYNC_DIRS: '.venv:.scratch' }, 'resolveSyncEntries', repo)
  assert.deepEqual(linked.dirs, ['.scratch'])
  assert.match(linked.notes.join('\n'), /not linked .venv: .*copy entry/)
  const r = provisionTaskWorktree({ projectRoot: repo, projectId: 'p', taskGroup: 'g', taskId: 'inc', taskType: 'x', home: tempDir() })
  assert.deepEqual([...r.cloned, ...r.copied].sort(), ['.env.local', 'config/local.json', 'node_modules'])
  assert.equal(readFileSync(join(r.path, '.env.local'), 'utf8'), 'LOCAL=1\n')
  assert.equal(lstatSync(join(r.path, '.env.local')).isSymbolicLink(), false)
})

// ---------------------------------------------------------------------------------------
// Real filesystems on loop devices and tmpfs.

function sh(cmd, args) {
  return execFileSync(cmd, args, { encoding: 'utf8', env: { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/sbin` } })
}

/** Mounts a fresh filesystem of `kind` ('xfs' | 'tmpfs'); returns { dir, cleanup } or { why }. */
function mountFresh(kind) {
  if (process.getuid?.() !== 0) return { why: 'not root: mounting needs root (CI runs as root)' }
  const base = tempDir('okstra-fs-')
  const dir = join(base, 'mnt')
  mkdirSync(dir)
  let loop = null
  const cleanup = () => {
    spawnSync('umount', [dir])
    if (loop) spawnSync('losetup', ['-d', loop])
  }
  try {
    if (kind === 'tmpfs') {
      sh('mount', ['-t', 'tmpfs', '-o', 'size=256m', 'tmpfs', dir])
    } else {
      const img = join(base, 'xfs.img')
      sh('truncate', ['-s', '600M', img])
      sh('mkfs.xfs', ['-q', '-m', 'reflink=1', img])
      loop = sh('losetup', ['-f', '--show', img]).trim()
      sh('mount', [loop, dir])
    }
  } catch (e) {
    cleanup()
    return { why: `could not make a ${kind} filesystem here: ${String(e.stderr || e.message).trim()}` }
  }
  return { dir, cleanup }
}

/** `node_modules` with `dirs × per` files of `size` bytes, an executable and a symlink. */
function generateNodeModules(root, dirs, per, size) {
  const body = Buffer.alloc(size, 'x')
  for (let d = 0; d < dirs; d++) {
    const dir = join(root, 'node_modules', `pkg${d}`)
    mkdirSync(dir, { recursive: true })
    for (let i = 0; i < per; i++) writeFileSync(join(dir, `f${i}.js`), body)
  }
  writeFileSync(join(root, 'node_modules', 'pkg0', 'cli'), '#!/bin/sh\n')
  chmodSync(join(root, 'node_modules', 'pkg0', 'cli'), 0o755)
  symlinkSync('pkg0/cli', join(root, 'node_modules', '.bin-cli'))
}

function repoOn(dir, dirs, per, size) {
  const repo = join(dir, 'repo')
  mkdirSync(repo)
  git(repo, 'init', '-q', '-b', 'main')
  writeFileSync(join(repo, '.gitignore'), 'node_modules/\n')
  git(repo, 'add', '-A')
  git(repo, 'commit', '-q', '-m', 'init')
  generateNodeModules(repo, dirs, per, size)
  return repo
}

/** Provisions task `taskId` with `node_modules` as a copy entry (given in a child's environment). */
function provisionWithCopy(repo, home, taskId) {
  return callWithEnv({ OKSTRA_WORKTREE_COPY_ENTRIES: 'node_modules' }, 'provisionTaskWorktree',
    { projectRoot: repo, projectId: 'p', taskGroup: 'g', taskId, taskType: 'x', home })
}

test('copy kind on xfs (reflink=1): 20,000-file node_modules cloned, extents shared, copy private', (t) => {
  const fs = mountFresh('xfs')
  if (fs.why) {
    t.diagnostic(fs.why)
    t.skip(fs.why)
    return
  }
  try {
    const repo = repoOn(fs.dir, 200, 100, 8192)
    execFileSync('sync')
    const usedBefore = (() => { const s = statfsSync(fs.dir); return (s.blocks - s.bfree) * s.bsize })()
    const r = provisionWithCopy(repo, join(fs.dir, 'home'), 'big')
    assert.deepEqual([r.cloned, r.copied], [['node_modules'], []], r.note)
    execFileSync('sync')
    const s = statfsSync(fs.dir)
    const grew = (s.blocks - s.bfree) * s.bsize - usedBefore
    const dataBytes = 20000 * 8192
    t.diagnostic(`filesystem usage grew ${(grew / 1e6).toFixed(1)} MB for ${(dataBytes / 1e6).toFixed(0)} MB of file data`)
    assert.ok(grew < dataBytes * 0.25, `grew ${grew} bytes`)
    const copy = join(r.path, 'node_modules', 'pkg7', 'f3.js')
    const frag = sh('filefrag', ['-v', copy])
    assert.match(frag, /shared/, frag)
    assert.equal(readdirSync(join(r.path, 'node_modules')).length, 201)
    assert.equal(statSync(join(r.path, 'node_modules', 'pkg0', 'cli')).mode & 0o777, 0o755)
    assert.equal(readlinkSync(join(r.path, 'node_modules', '.bin-cli')), 'pkg0/cli')
    writeFileSync(copy, 'changed')
    assert.equal(readFileSync(join(repo, 'node_modules', 'pkg7', 'f3.js')).length, 8192)
    assert.equal(status(r.path), '')
  } finally {
    fs.cleanup()
  }
})

test('copy kind on tmpfs (no reflink): copied byte for byte, modes and symlinks kept', (t) => {
  const fs = mountFresh('tmpfs')
  if (fs.why) {
    t.diagnostic(fs.why)
    t.skip(fs.why)
    return
  }
  try {
    const repo = repoOn(fs.dir, 10, 20, 100)
    const r = provisionWithCopy(repo, join(fs.dir, 'home'), 'small')
    assert.deepEqual([r.cloned, r.copied], [[], ['node_modules']], r.note)
    assert.match(r.note, /copied node_modules/)
    assert.equal(statSync(join(r.path, 'node_modules', 'pkg0', 'cli')).mode & 0o777, 0o755)
    assert.equal(readlinkSync(join(r.path, 'node_modules', '.bin-cli')), 'pkg0/cli')
    assert.equal(readFileSync(join(r.path, 'node_modules', 'pkg3', 'f4.js')).length, 100)
    writeFileSync(join(r.path, 'node_modules', 'pkg3', 'f4.js'), 'changed')
    assert.equal(readFileSync(join(repo, 'node_modules', 'pkg3', 'f4.js')).length, 100)
    assert.equal(status(r.path), '')
  } finally {
    fs.cleanup()
  }
})
