// Provisioning rows: `provisionTaskWorktree` (branch + worktree + git lock + shared-state
// links + registry row) vs the same work the shell way — `git worktree add -b` plus the same
// symlinks in a bash script — on a generated repository of 10,000 files and on a small one.
// Every sample makes a fresh worktree; the previous one is removed (and `sync`ed) untimed.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { provisionTaskWorktree } from '../index.js'
import { measure, spawnOk } from './lib.mjs'

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
    let last = null
    const clean = () => {
      if (last) spawnOk('git', ['-C', repo, 'worktree', 'remove', '--force', '--force', last])
      last = null
      // Flush the removal's writeback now, untimed, so it does not land in the next sample.
      spawnOk('sync', [])
    }
    const inproc = measure((i) => {
      last = provisionTaskWorktree({ projectId: 'b', taskGroup: 'g', taskId: `n${i}`, taskType: 'implementation', projectRoot: repo, home }).path
    }, { n, warmup: 1, before: clean })
    clean()
    const old = measure((i) => {
      last = join(root, 'cli', `c${i}`)
      spawnOk('bash', ['-c', script, 'bench', repo, `c${i}`, last])
    }, { n, warmup: 1, before: clean })
    clean()
    rows.push({ op: `provisionTaskWorktree, ${files.toLocaleString('en')} files`, inproc, old, oldLabel: 'git worktree add -b + ln -s script' })
    rmSync(root, { recursive: true, force: true })
  }
  return rows
}
