// Provisioning rows: `provisionTaskWorktree` (branch + worktree by `git worktree add`, git
// lock, shared-state links, registry row) against git alone — `git worktree add -b` as git
// ships it (one checkout worker) and `git -c checkout.workers=0 worktree add -b` (one worker
// per CPU) — on generated repositories of 1,000, 20,000 and 50,000 files, once on the disk
// (the system temp dir) and once on tmpfs (/dev/shm). Repository, okstra home and worktrees
// share the file system. Every sample makes a fresh worktree per path, in interleaved order,
// removed (and `sync`ed) untimed afterwards. BENCH_PROVISION_PLACE=disk|tmpfs measures one.
import { existsSync, mkdirSync, mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { provisionTaskWorktree } from '../index.js'
import { median, spawnOk } from './lib.mjs'

const gitEnv = { ...process.env, GIT_AUTHOR_NAME: 'b', GIT_AUTHOR_EMAIL: 'b@b', GIT_COMMITTER_NAME: 'b', GIT_COMMITTER_EMAIL: 'b@b' }
const TMPFS_MAGIC = 0x01021994

/** A repository with `files` tracked files (100 per directory), an ignored .env and .project-docs. */
function makeRepo(root, files) {
  const repo = join(root, 'repo')
  mkdirSync(repo)
  for (let i = 0; i < files; i++) {
    const dir = join(repo, `d${Math.floor(i / 100)}`)
    if (i % 100 === 0) mkdirSync(dir)
    writeFileSync(join(dir, `f${i}.txt`), `line ${i}\n`.repeat(20))
  }
  writeFileSync(join(repo, '.gitignore'), '.env\n.project-docs\n')
  spawnOk('git', ['init', '-q', '-b', 'main'], { cwd: repo })
  spawnOk('git', ['add', '-A'], { cwd: repo })
  spawnOk('git', ['commit', '-q', '-m', 'init'], { cwd: repo, env: gitEnv })
  writeFileSync(join(repo, '.env'), 'X=1\n')
  mkdirSync(join(repo, '.project-docs'))
  return repo
}

/** The file systems to measure on: the disk, and tmpfs when /dev/shm is one. */
function places() {
  const out = [{ label: 'disk', dir: tmpdir() }]
  if (existsSync('/dev/shm') && statfsSync('/dev/shm').type === TMPFS_MAGIC) out.push({ label: 'tmpfs', dir: '/dev/shm' })
  return out
}

export async function run({ quick, only = process.env.BENCH_PROVISION_PLACE }) {
  const rows = []
  for (const place of places().filter((p) => !only || p.label === only)) {
    for (const files of [1000, 20000, 50000]) {
      const root = mkdtempSync(join(place.dir, 'okstra-bench-prov-'))
      try {
        rows.push(...measureOne(root, files, place.label, quick))
      } finally {
        rmSync(root, { recursive: true, force: true })
      }
    }
  }
  return rows
}

function measureOne(root, files, where, quick) {
  const repo = makeRepo(root, files)
  const home = join(root, 'home')
  const n = files >= 50000 ? (quick ? 1 : 3) : files >= 20000 ? (quick ? 3 : 5) : (quick ? 5 : 9)
  const paths = {
    native: (i) => provisionTaskWorktree({ projectId: 'b', taskGroup: 'g', taskId: `n${i}`, taskType: 'implementation', projectRoot: repo, home }).path,
    git: (i) => gitAdd([], `g${i}`),
    workers0: (i) => gitAdd(['-c', 'checkout.workers=0'], `w${i}`),
  }
  function gitAdd(config, name) {
    const dir = join(root, 'cli', name)
    spawnOk('git', ['-C', repo, ...config, 'worktree', 'add', '-q', '-b', name, dir, 'HEAD'])
    return dir
  }
  const samples = { native: [], git: [], workers0: [] }
  const order = Object.keys(paths)
  // One untimed warm-up round, then n rounds; the order rotates every round so no path
  // always runs right after another's `sync`.
  for (let i = -1; i < n; i++) {
    const round = order.slice(i < 0 ? 0 : i % 3).concat(order.slice(0, i < 0 ? 0 : i % 3))
    for (const p of round) {
      const t0 = process.hrtime.bigint()
      const dir = paths[p](i + 1)
      const ms = Number(process.hrtime.bigint() - t0) / 1e6
      clean(repo, dir)
      if (i >= 0) samples[p].push(ms)
    }
  }
  const inproc = median(samples.native)
  const label = `provisionTaskWorktree, ${files.toLocaleString('en')} files, ${where}`
  console.error(`${label}: native ${samples.native.map(Math.round)} git ${samples.git.map(Math.round)} workers=0 ${samples.workers0.map(Math.round)}`)
  return [
    { op: label, inproc, old: median(samples.git), oldLabel: 'git worktree add -b' },
    { op: label, inproc, old: median(samples.workers0), oldLabel: 'git -c checkout.workers=0 worktree add -b' },
  ]
}

/** Removes a sample's worktree (locked ones too) and flushes the removal, untimed. */
function clean(repo, dir) {
  spawnOk('git', ['-C', repo, 'worktree', 'remove', '--force', '--force', dir])
  spawnOk('sync', [])
}
