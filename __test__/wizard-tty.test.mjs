// The interactive `okstra wizard`, driven through a real pseudo-terminal (python3's `pty`
// module, spawned from here): arrow-key picks, inline text validation, back, Ctrl-C leaving
// a resumable state file, resuming it, and provisioning the worktree at the end.
import test from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { readFileSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { tempDir, git, CLI, ROOT } from './helpers.mjs'
import { makeOkstraProject } from '../demo/wizard.mjs'

const DRIVER = join(ROOT, '__test__', 'fixtures', 'pty_drive.py')
const DOWN = '\u001b[B'
const ENTER = '\r'
const CTRL_C = '\u0003'

function drive(script, args) {
  const r = spawnSync('python3', [DRIVER, JSON.stringify(script), '--', process.execPath, CLI, 'wizard', ...args],
    { encoding: 'utf8', timeout: 120_000 })
  return { status: r.status, out: r.stdout + r.stderr }
}

test('interactive wizard: picks, text validation, back, Ctrl-C, resume, provision', () => {
  const dir = tempDir('okstra-tty-')
  const { root } = makeOkstraProject(join(dir, 'shop'))
  const state = join(dir, 'state.json')
  const home = join(dir, 'home')
  const args = ['--project-root', root, '--state', state, '--home', home, '--lang', 'en']

  // requirements-discovery for a new task; a bad task id is rejected inline; "<" goes back.
  let r = drive([
    ['Which phase', ENTER],
    ['existing task', DOWN + ENTER], // Create a new task
    ['Task group', 'payments' + ENTER],
    ['Task id', 'a/b' + ENTER],
    ['cannot be used', '\u0015' + 'refund-ui' + ENTER], // Ctrl-U clears the line
    ['What kind of work', DOWN.repeat(6) + ENTER], // ← Back (after the six categories)
    ['Task id', 'refund-ui' + ENTER],
    ['What kind of work', ENTER], // feature
    ['Path of the brief', 'briefs/refund-api.md' + ENTER],
    ['Which ref', DOWN + ENTER], // develop
    ['default workers', ENTER],
    ['proceed?', CTRL_C],
  ], args)
  assert.equal(r.status, 130, r.out)
  assert.match(r.out, /resume with `okstra wizard --state/)
  const saved = JSON.parse(readFileSync(state, 'utf8'))
  assert.equal(saved.answers.task_id, 'refund-ui')
  assert.equal(saved.answers.base_ref_pick, 'develop')
  assert.equal(saved.answers.branch_confirm, undefined)

  // Resume: the same branch-confirm prompt; proceed, confirm, provision right away.
  r = drive([
    ['proceed?', ENTER],
    ['Proceed with these selections?', ENTER],
    ['Provision the worktree right away?', ENTER],
  ], args)
  assert.equal(r.status, 0, r.out)
  assert.match(r.out, /Resuming/)
  assert.match(r.out, /worktree created: .*refund-ui \(feat-refund-ui\)/)
  assert.match(git(root, 'worktree', 'list'), /\[feat-refund-ui\]/)
})
