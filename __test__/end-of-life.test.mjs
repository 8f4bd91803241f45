// The end of a worktree's life through both doors: the JS exports and the `okstra` CLI
// refuse and succeed alike (E_REMOVE_REFUSED, exit 2), a forced removal is restored, and 30
// SIGKILLs at random instants of `okstra worktree remove` and `gc --apply` are finished by
// the next call with no dirty work lost and git, the registry and doctor agreeing.
// The seed is printed on failure (OKSTRA_KILL_SEED=<n> replays it).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { spawn } from 'node:child_process'
import * as native from '@okstra/native'
import { SHM, git, makeRepo, okstra, okstraNative, NATIVE_CLI, tempDir, tempHome } from './helpers.mjs'

const {
  provisionTaskWorktree, worktreeStatus, worktreeStatusAsync, worktreeRemove, worktreeRemoveAsync,
  worktreeRestoreAsync, worktreeSnapshots, worktreeGc, worktreeGcAsync, registryLookup,
  ledgerAppend, ledgerAppendVerified, ledgerAppendPr,
} = native

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

function rng(seed) {
  let s = seed >>> 0
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0
    return s / 2 ** 32
  }
}

const key = (home, taskId) => ({ projectId: 'p', taskGroup: 'g', taskId, home })

test('the JS API and the CLI refuse, remove, list and restore alike', async () => {
  const repo = makeRepo()
  const home = tempHome()
  const wt = provisionTaskWorktree({ ...key(home, 'a'), taskType: 'implementation', projectRoot: repo }).path
  writeFileSync(join(wt, 'notes.txt'), 'my notes\n')
  let thrown
  try {
    worktreeRemove(key(home, 'a'))
  } catch (e) {
    thrown = e
  }
  assert.equal(thrown?.code, 'E_REMOVE_REFUSED')
  assert.match(thrown.message, /untracked/)
  // The reasons as data: the same objects as status's blockers, each with what was found.
  assert.deepEqual(thrown.reasons.map((r) => r.reason), ['untracked'])
  assert.match(thrown.reasons[0].detail, /1 untracked path/)
  assert.ok(thrown instanceof Error)
  const rejected = await worktreeRemoveAsync(key(home, 'a')).catch((e) => e)
  assert.equal(rejected.code, 'E_REMOVE_REFUSED')
  assert.deepEqual(rejected.reasons, thrown.reasons)
  const cli = okstra(['worktree', 'remove', '--project-id', 'p', '--task-group', 'g', '--task-id', 'a', '--home', home])
  assert.equal(cli.status, 2)
  assert.equal(cli.json.code, 'E_REMOVE_REFUSED')
  assert.equal(cli.json.error, thrown.message)
  assert.deepEqual(cli.json.reasons, thrown.reasons)
  assert.deepEqual(Object.keys(cli.json), ['ok', 'code', 'error', 'reasons'])
  const nat = okstraNative(['worktree', 'remove', '--project-id', 'p', '--task-group', 'g', '--task-id', 'a', '--home', home])
  assert.equal(nat.status, 2)
  assert.equal(nat.stdout, cli.stdout)
  assert.ok(existsSync(join(wt, 'notes.txt')), 'a refusal changes nothing')

  const [row] = worktreeStatus({ home })
  assert.equal(row.taskKey, 'p/g/a')
  assert.equal(row.removable, false)
  assert.deepEqual(row.blockers.map((b) => b.reason), ['untracked'])
  assert.deepEqual(row.blockers, thrown.reasons)
  assert.equal(row.dirty.untracked, 1)
  assert.deepEqual((await worktreeStatusAsync({ home })).map((r) => r.taskKey), ['p/g/a'])
  // Off a terminal the CLI prints the JSON; --json is accepted by every command.
  const st = okstraNative(['worktree', 'status', '--home', home])
  assert.equal(st.status, 0, st.stderr)
  assert.equal(st.json[0].taskKey, 'p/g/a')
  assert.equal(okstraNative(['--json', 'registry', 'list', '--home', home]).status, 0)
  assert.equal(okstraNative(['registry', 'list', '--json', '--home', home]).status, 0)

  const gcDry = worktreeGc({ home })
  assert.equal(gcDry.applied, false)
  assert.equal(gcDry.candidates[0].action, 'keep')
  assert.equal((await worktreeGcAsync({ home, apply: true })).candidates[0].removed, false)
  assert.ok(existsSync(join(wt, 'notes.txt')))

  const removed = await worktreeRemoveAsync({ ...key(home, 'a'), force: true })
  assert.equal(removed.snapshot.ref, 'refs/okstra/snapshots/p/g/a/1')
  assert.ok(!existsSync(wt))
  assert.ok(!git(repo, 'worktree', 'list', '--porcelain').includes(wt))
  assert.deepEqual(worktreeSnapshots(key(home, 'a')).map((s) => s.number), [1])
  const back = await worktreeRestoreAsync(key(home, 'a'))
  assert.equal(back.path, wt)
  assert.equal(readFileSync(join(wt, 'notes.txt'), 'utf8'), 'my notes\n')
  assert.equal(registryLookup(key(home, 'a')).status, 'active')
  await assert.rejects(worktreeRemoveAsync({ ...key(home, 'nope') }), { code: 'E_NOT_FOUND' })
  assert.throws(() => worktreeGc({ home, olderThan: 'soon' }), { code: 'E_INVALID_ARG' })
})

test('status shows a stage\'s ledger state from the plan run roots it is given', async () => {
  const repo = makeRepo()
  const home = tempHome()
  const run = join(tempDir('okstra-eol-run-'), 'run')
  for (const stageNumber of [1, 2]) {
    provisionTaskWorktree({ ...key(home, 's'), stageNumber, taskType: 'implementation', projectRoot: repo })
  }
  const at = { planRunRoot: run, implTaskKey: 'p/g/s' }
  ledgerAppend({ ...at, stage: 1, status: 'started', create: true })
  ledgerAppend({ ...at, stage: 1, status: 'done', fields: { head_commit: 'abc' } })
  ledgerAppendVerified({ ...at, stage: 1, verdict: 'accepted', reportPath: 'r.md' })
  ledgerAppendPr({ ...at, stages: [1], branch: 'feat-s-s1', url: 'https://git.example/pr/1' })
  const ledgers = (rows) => Object.fromEntries(rows.map((r) => [r.taskKey, r.ledger]))
  assert.deepEqual(ledgers(worktreeStatus({ home })), { 'p/g/s#stage-1': null, 'p/g/s#stage-2': null })
  const want = {
    'p/g/s#stage-1': { state: 'done', verified: 'accepted', pr: 'https://git.example/pr/1' },
    'p/g/s#stage-2': null,
  }
  assert.deepEqual(ledgers(worktreeStatus({ home, planRunRoot: run })), want)
  assert.deepEqual(ledgers(await worktreeStatusAsync({ home, planRunRoot: [run] })), want)
  for (const cli of [okstra, okstraNative]) {
    const st = cli(['worktree', 'status', '--plan-run-root', run, '--home', home])
    assert.equal(st.status, 0, st.stderr)
    assert.deepEqual(ledgers(st.json), want)
  }
  // An unusable plan run root fails the call with the ledger reader's code.
  const missing = join(run, 'no-such')
  assert.throws(() => worktreeStatus({ home, planRunRoot: missing }), { code: 'E_INVALID_ARG' })
  await assert.rejects(worktreeStatusAsync({ home, planRunRoot: [run, missing] }), { code: 'E_INVALID_ARG' })
  const bad = okstraNative(['worktree', 'status', '--plan-run-root', missing, '--home', home])
  assert.notEqual(bad.status, 0)
  assert.equal(bad.json.code, 'E_INVALID_ARG')
  assert.throws(() => worktreeStatus({ home, planRunRoot: 7 }), { code: 'E_INVALID_ARG' })
})

test('30 SIGKILLs during remove and gc --apply: the next call finishes, no work lost', async () => {
  const seed = Number(process.env.OKSTRA_KILL_SEED ?? Math.floor(Math.random() * 2 ** 31))
  const random = rng(seed)
  console.log(`# kill seed ${seed} (OKSTRA_KILL_SEED=${seed} replays it)`)
  try {
    const dir = tempDir('okstra-eol-', SHM)
    const repo = join(dir, 'repo')
    mkdirSync(repo)
    git(repo, 'init', '-q', '-b', 'main')
    writeFileSync(join(repo, '.gitignore'), 'node_modules/\n')
    for (let i = 0; i < 200; i++) writeFileSync(join(repo, `f${i}.txt`), `file ${i}\n`)
    git(repo, 'add', '-A')
    git(repo, '-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qm', 'base')
    const home = join(dir, 'home')
    const provision = (id) => provisionTaskWorktree({ ...key(home, id), taskType: 'implementation', projectRoot: repo })
    // A worktree with work in it that nothing may ever remove.
    const keeper = provision('keeper').path
    writeFileSync(join(keeper, 'f1.txt'), 'my edit\n')
    writeFileSync(join(keeper, 'mine.txt'), 'my file\n')
    const cli = (...args) => okstraNative([...args, '--home', home])
    const stages = { remove: 0, gc: 0 }
    const states = { 'no record, worktree there': 0, 'record, worktree there': 0, 'record, worktree moved': 0, 'no record, worktree moved': 0 }
    for (let i = 1; i <= 30; i++) {
      const id = `k${i}`
      const wt = provision(id).path
      mkdirSync(join(wt, 'node_modules', 'x'), { recursive: true })
      for (let f = 0; f < 300; f++) writeFileSync(join(wt, 'node_modules', 'x', `m${f}.js`), 'x\n')
      const branch = registryLookup(key(home, id)).branch
      const kind = i % 2 ? 'remove' : 'gc'
      stages[kind]++
      const args = kind === 'remove'
        ? ['worktree', 'remove', '--project-id', 'p', '--task-group', 'g', '--task-id', id, '--home', home]
        : ['worktree', 'gc', '--apply', '--home', home]
      // Every rename (the journal record's atomic write, the move into the trash) is held
      // 40 ms by strace, so the random instant lands before, between and after the steps.
      const child = spawn('strace', ['-f', '-qq', '--seccomp-bpf', '-o', '/dev/null', '-e', 'trace=rename,renameat,renameat2', '-e', 'inject=rename,renameat,renameat2:delay_exit=40000', NATIVE_CLI, ...args], { stdio: 'ignore', detached: true })
      const exited = new Promise((r) => child.on('exit', r))
      await sleep(random() * 350)
      try {
        process.kill(-child.pid, 'SIGKILL')
      } catch {}
      await exited
      const record = existsSync(join(home, 'worktrees', 'pending')) &&
        readdirSync(join(home, 'worktrees', 'pending')).some((f) => f.startsWith('remove-'))
      states[`${record ? 'record' : 'no record'}, ${existsSync(wt) ? 'worktree there' : 'worktree moved'}`] += 1
      // The next call: status finishes an interrupted removal; then the same command again
      // (retried while a git child of the killed call is still inside: process-inside).
      const st = cli('worktree', 'status')
      assert.equal(st.status, 0, `round ${i}: ${st.stderr}`)
      let again
      for (let t = 0; t < 100; t++) {
        again = okstraNative(args)
        if (!/process-inside/.test(again.stdout)) break
        await sleep(50)
      }
      assert.equal(again.status, 0, `round ${i}: ${again.stdout}`)
      if (kind === 'gc') assert.ok(again.json.candidates.some((c) => c.taskKey === `p/g/${id}` && c.removed) || !existsSync(wt) , `round ${i}`)
      const listed = git(repo, 'worktree', 'list', '--porcelain')
      assert.ok(!listed.includes(`worktree ${wt}\n`), `round ${i}: git still lists ${wt}`)
      assert.ok(!existsSync(wt), `round ${i}: ${wt} is still there`)
      assert.equal(registryLookup(key(home, id)).status, 'released', `round ${i}`)
      assert.equal(git(repo, 'branch', '--list', branch), '', `round ${i}: integrated branch kept`)
      assert.equal(readFileSync(join(keeper, 'f1.txt'), 'utf8'), 'my edit\n', `round ${i}`)
      assert.equal(readFileSync(join(keeper, 'mine.txt'), 'utf8'), 'my file\n', `round ${i}`)
      const pending = join(home, 'worktrees', 'pending')
      assert.deepEqual(existsSync(pending) ? readdirSync(pending).filter((f) => f.startsWith('remove-')) : [], [])
      const doc = cli('registry', 'doctor')
      assert.equal(doc.status, 0, `round ${i}: doctor: ${doc.stdout}`)
    }
    assert.equal(stages.remove + stages.gc, 30)
    console.log(`# states at the kill: ${JSON.stringify(states)}`)
    // The kills landed on both sides of the point of no return.
    assert.ok(states['no record, worktree there'] + states['record, worktree there'] > 0, JSON.stringify(states))
    assert.ok(states['record, worktree moved'] + states['no record, worktree moved'] > 0, JSON.stringify(states))
    assert.ok(git(repo, 'worktree', 'list', '--porcelain').includes(`worktree ${keeper}\n`))
  } catch (e) {
    e.message = `seed ${seed} (OKSTRA_KILL_SEED=${seed} replays it): ${e.message}`
    throw e
  }
})
