// The interactive `okstra wizard`, driven through a real pseudo-terminal (python3's `pty`
// module, spawned from here): arrow-key picks, inline text validation, back, Ctrl-C leaving
// a resumable state file, resuming it, and provisioning the worktree at the end.
import test from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { git, okstraProject, CLI, ROOT } from './helpers.mjs'

const DRIVER = join(ROOT, '__test__', 'fixtures', 'pty_drive.py')
const DOWN = '\u001b[B'
const ENTER = '\r'
const CTRL_C = '\u0003'

function drive(script, args, cwd = undefined) {
  const r = spawnSync('python3', [DRIVER, JSON.stringify(script), '--', process.execPath, CLI, 'wizard', ...args],
    { encoding: 'utf8', timeout: 120_000, cwd })
  return { status: r.status, out: r.stdout + r.stderr }
}

test('interactive wizard: picks, text validation, back, Ctrl-C, resume, provision', () => {
  const { dir, root, home } = okstraProject('okstra-tty-')
  const state = join(dir, 'state.json')
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
    ['Proceed?', CTRL_C],
  ], args)
  assert.equal(r.status, 130, r.out)
  assert.match(r.out, /resume with `okstra wizard --state/)
  const saved = JSON.parse(readFileSync(state, 'utf8'))
  assert.equal(saved.answers.task_id, 'refund-ui')
  assert.equal(saved.answers.base_ref_pick, 'develop')
  assert.equal(saved.answers.branch_confirm, undefined)

  // Resume: the same branch-confirm prompt; proceed, confirm, provision right away.
  // The branch confirm shows the exact branch and base provisioning then makes.
  const develop = git(root, 'rev-parse', 'develop').trim()
  r = drive([
    ['Proceed?', ENTER],
    ['Proceed with these selections?', ENTER],
    ['Provision the worktree right away?', ENTER],
  ], args)
  assert.equal(r.status, 0, r.out)
  assert.match(r.out, /Resuming/)
  assert.match(r.out, new RegExp(`branch: \`feat-refund-ui\`\\s+base: \`develop @ ${develop.slice(0, 12)}\``))
  assert.match(r.out, new RegExp(`Worktree created: .*refund-ui \\(branch feat-refund-ui, base ${develop.slice(0, 12)}\\)`))
  assert.match(git(root, 'worktree', 'list'), /\[feat-refund-ui\]/)

  // A second run after the finished one: asked to start a new run, which starts from the
  // first question with a fresh state (the finished state never blocks it).
  r = drive([
    ['The previous run is finished', ''],
    ['Start a new run?', ENTER],
    ['Starting a new run', ''],
    ['Which phase', CTRL_C],
  ], args)
  assert.equal(r.status, 130, r.out)
  assert.doesNotMatch(r.out, /Provision the worktree right away/)
  const fresh = JSON.parse(readFileSync(state, 'utf8'))
  assert.deepEqual(fresh.answers, {}, 'the finished answers are gone')
  // --new starts over outright.
  r = drive([['Which phase', CTRL_C]], [...args, '--new'])
  assert.equal(r.status, 130, r.out)
  assert.doesNotMatch(r.out, /Resuming|previous run/)
})

test('interactive wizard: Ctrl-C, then resume in English with Back working', () => {
  const { dir, root, home } = okstraProject('okstra-tty-')
  const state = join(dir, 'state.json')
  const args = ['--project-root', root, '--state', state, '--home', home]
  // Korean (the default): two answers, then Ctrl-C.
  let r = drive([
    ['어떤 단계를 실행할까요?', ENTER], // requirements-discovery
    ['기존 task를 이어서', DOWN + ENTER], // 새 task 만들기
    ['task group 이름을 입력하세요', CTRL_C],
  ], args)
  assert.equal(r.status, 130, r.out)
  assert.match(r.out, /상태는 .* 파일에 저장되어 있습니다/)
  // Resumed with --lang en: English, and Back returns to the task pick, then the phase.
  r = drive([
    ['Resuming', ''],
    ['Task group', '<' + ENTER],
    ['existing task', DOWN.repeat(2) + ENTER], // ← Back (after the task and "new")
    ['Which phase', CTRL_C],
  ], [...args, '--lang', 'en'])
  assert.equal(r.status, 130, r.out)
  assert.doesNotMatch(r.out, /no earlier question/)
  const saved = JSON.parse(readFileSync(state, 'utf8'))
  assert.equal(saved.lang, 'en')
  assert.deepEqual(saved.answers, {}, 'both answers were taken back')
})

test('interactive wizard: started from a subdirectory, the project is the repository root', () => {
  const { root, home } = okstraProject('okstra-tty-')
  const sub = join(root, 'src', 'deep')
  mkdirSync(sub, { recursive: true })
  const r = drive([
    ['Which phase', ENTER],
    ['payments/refund-api', CTRL_C], // the existing task of the root is offered
  ], ['--home', home, '--lang', 'en'], sub)
  assert.equal(r.status, 130, r.out)
  const state = JSON.parse(readFileSync(join(root, '.okstra', 'wizard-state.json'), 'utf8'))
  assert.equal(state.projectRoot, root)
  assert.equal(state.answers.task_type, 'requirements-discovery')
  assert.ok(!existsSync(join(root, 'src', '.okstra')), 'nothing written in the subdirectory')
  assert.ok(!existsSync(join(sub, '.okstra')), 'nothing written in the subdirectory')
})
