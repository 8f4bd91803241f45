// Provisioning rows: `provisionTaskWorktree` (branch + worktree + git lock + shared-state
// links + registry row) vs the same work the shell way — `git worktree add -b` plus the same
// symlinks in a bash script — on a generated repository of 10,000 files and on a small one.
// Every sample makes a fresh worktree, removed (and `sync`ed) untimed afterwards.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { provisionTaskWorktree } from '../index.js'
import { median, spawnOk } from './lib.mjs'

const gitEnv = { ...process.env, GIT_AUTHOR_NAME: 'b', GIT_AUTHOR_EMAIL: 'b@b', GIT_COMMITTER_NAME: 'b', GIT_COMMITTER_EMAIL: 'b@b' }

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

const script = `set -e
git -C "$1" worktree add -q -b "$2" "$3" HEAD
for e in .project-docs .scratch graphify-out .claude .env; do
  if [ -e "$1/$e" ] && [ ! -e "$3/$e" ]; then ln -s "$1/$e" "$3/$e"; fi
done`

export async function run({ quick }) {
  const rows = []
  for (const files of [10000, 20]) {
    const root = mkdtempSync(join(tmpdir(), 'okstra-bench-prov-'))
    const repo = makeRepo(root, files)
    const home = join(root, 'home')
    const n = files > 1000 ? (quick ? 3 : 9) : (quick ? 10 : 40)
    // Samples alternate between the two paths (after one untimed warm-up each), so both see
    // the same machine: on a shared 2-core VM the disk's load drifts by several × within a
    // minute, which made back-to-back series disagree on the order of the two paths.
    const native = []
    const shell = []
    for (let i = -1; i < n; i++) {
      const t0 = process.hrtime.bigint()
      const made = provisionTaskWorktree({ projectId: 'b', taskGroup: 'g', taskId: `n${i + 1}`, taskType: 'implementation', projectRoot: repo, home }).path
      const t1 = process.hrtime.bigint()
      clean(repo, made)
      const dir = join(root, 'cli', `c${i + 1}`)
      const t2 = process.hrtime.bigint()
      spawnOk('bash', ['-c', script, 'bench', repo, `c${i + 1}`, dir])
      const t3 = process.hrtime.bigint()
      clean(repo, dir)
      if (i >= 0) {
        native.push(Number(t1 - t0) / 1e6)
        shell.push(Number(t3 - t2) / 1e6)
      }
    }
    rows.push({ op: `provisionTaskWorktree, ${files.toLocaleString('en')} files`, inproc: median(native), old: median(shell), oldLabel: 'git worktree add -b + ln -s script' })
    rmSync(root, { recursive: true, force: true })
  }
  return rows
}

/** Removes a sample's worktree (locked ones too) and flushes the removal, untimed. */
function clean(repo, dir) {
  spawnOk('git', ['-C', repo, 'worktree', 'remove', '--force', '--force', dir])
  spawnOk('sync', [])
}
