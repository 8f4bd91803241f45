// The demo's one git helper: runs the git CLI with a fixed demo identity and throws with
// git's stderr on failure (a demo step that silently did nothing would mislead).
import { spawnSync } from 'node:child_process'

const GIT_ENV = {
  ...process.env,
  GIT_AUTHOR_NAME: 'demo',
  GIT_AUTHOR_EMAIL: 'demo@example.com',
  GIT_COMMITTER_NAME: 'demo',
  GIT_COMMITTER_EMAIL: 'demo@example.com',
}

/** Runs `git args…` in `cwd` and returns its trimmed stdout. */
export function git(cwd, ...args) {
  const r = spawnSync('git', args, { cwd, encoding: 'utf8', env: GIT_ENV })
  if (r.status !== 0) throw new Error(`git ${args.join(' ')} failed: ${r.stderr}`)
  return r.stdout.trim()
}
