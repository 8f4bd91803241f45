// `registry repair` racing provisioning, with real processes: SIGKILLs at random (seeded)
// instants never cost an active worktree its registry row or its git lock; and two
// OKSTRA_HOMEs on one repository through the CLI never touch each other.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { spawn } from 'node:child_process'
import { NATIVE_CLI, git, makeRepo, okstraNative, rng, runStraced, tempHome } from './helpers.mjs'

function small() {
  const repo = makeRepo()
  writeFileSync(join(repo, 'a.txt'), 'one\n')
  git(repo, 'add', '-A')
  git(repo, 'commit', '-q', '-m', 'one')
  return { repo, home: tempHome() }
}


/** Runs the native CLI, killing it with SIGKILL after `ms` (never, when `ms` is null). */
function runKilled(args, ms) {
  return new Promise((resolve, reject) => {
    const child = spawn(NATIVE_CLI, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.resume()
    const t = ms === null ? null : setTimeout(() => child.kill('SIGKILL'), ms)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      if (t) clearTimeout(t)
      resolve({ code, signal, stdout })
    })
  })
}

const provisionArgs = (f, taskId) => ['worktree', 'provision', '--project-root', f.repo, '--project-id', 'p',
  '--task-group', 'g', '--task-id', taskId, '--task-type', 'implementation', '--home', f.home]

/** git's okstra lock reason per worktree path. */
function gitLocks(repo) {
  const locks = new Map()
  let path = null
  for (const l of git(repo, 'worktree', 'list', '--porcelain').split('\n')) {
    if (l.startsWith('worktree ')) path = l.slice(9)
    else if (l.startsWith('locked ')) locks.set(path, l.slice(7))
  }
  return locks
}

/**
 * Runs the native CLI under strace with `straceArgs` in its own process group, and kills
 * the group (strace and the command) with SIGKILL after `ms`.
 */
function runStracedKilled(straceArgs, args, ms) {
  return new Promise((resolve, reject) => {
    const child = spawn('strace', ['-f', '-qq', '-o', '/dev/null', ...straceArgs, NATIVE_CLI, ...args],
      { stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    let stdout = ''
    let killed = false
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.resume()
    const t = setTimeout(() => {
      killed = true
      try {
        process.kill(-child.pid, 'SIGKILL')
      } catch {}
    }, ms)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(t)
      resolve({ code, killed, stdout })
    })
  })
}

test('30 SIGKILLs at random instants during `registry repair` held while a provisioning runs: no active worktree loses its row or its lock', async () => {
  const seed = Number(process.env.OKSTRA_TEST_SEED ?? Date.now() % 2 ** 31)
  const random = rng(seed)
  const f = small()
  const pending = join(f.home, 'worktrees', 'pending')
  const made = new Map()
  const outcomes = { repairKilled: 0, repairFinished: 0 }
  const HOLD = 700
  const t0 = Date.now()
  for (let i = 0; i < 30; i++) {
    const key = `k${i}`
    // The interleaving is forced, not hoped for: the repair has read the registry and is
    // held (strace) on its first look at the journal for HOLD ms; the provisioning of the
    // round's key starts inside that hold. The repair is killed at a random instant, before,
    // inside or after the hold (then it acts on what it read).
    const rep = runStracedKilled(['-P', pending, '-e', 'trace=openat', '-e', `inject=openat:delay_enter=${HOLD * 1000}:when=1`],
      ['registry', 'repair', '--home', f.home], Math.floor(random() * (HOLD + 1500)))
    await new Promise((r) => setTimeout(r, 150))
    const prov = await runKilled(provisionArgs(f, key), null)
    const r = await rep
    outcomes[r.killed ? 'repairKilled' : 'repairFinished']++
    assert.equal(prov.code, 0, `seed ${seed}, round ${i}: ${prov.stdout}`)
    made.set(`p/g/${key}`, JSON.parse(prov.stdout).path)
    const rows = okstraNative(['registry', 'list', '--home', f.home, '--status', 'active']).json
    const active = new Map(rows.map((e) => [e.taskKey, e.worktreePath]))
    const locks = gitLocks(f.repo)
    for (const [k, path] of made) {
      assert.equal(active.get(k), path, `seed ${seed}, round ${i}: ${k} lost its row`)
      assert.match(locks.get(path) ?? '', new RegExp(`^okstra task ${k}( |$)`), `seed ${seed}, round ${i}: ${k} lost its lock`)
    }
  }
  assert.ok(outcomes.repairFinished > 0 && outcomes.repairKilled > 0, `seed ${seed}: ${JSON.stringify(outcomes)}`)
  const last = okstraNative(['registry', 'repair', '--home', f.home])
  assert.equal(last.status, 0, last.stdout)
  const doctor = okstraNative(['registry', 'doctor', '--home', f.home])
  assert.equal(doctor.status, 0, `seed ${seed}: ${doctor.stdout}`)
  console.log(`# repair SIGKILL: ${JSON.stringify(outcomes)}, seed ${seed}, ${Date.now() - t0} ms`)
})

test('two OKSTRA_HOMEs on one repository: doctor, repair and prune of one never report or touch the other', () => {
  const f = small()
  const a = { repo: f.repo, home: f.home }
  const b = { repo: f.repo, home: tempHome() }
  const a1 = okstraNative(provisionArgs(a, 'a1')).json
  const a2 = okstraNative(provisionArgs(a, 'a2')).json
  okstraNative(['registry', 'release', '--home', a.home, '--project-id', 'p', '--task-group', 'g', '--task-id', 'a2'])
  git(f.repo, 'worktree', 'remove', '--force', a2.path)
  okstraNative(provisionArgs(b, 'b1'))
  const before = [git(f.repo, 'worktree', 'list', '--porcelain'), git(f.repo, 'branch', '--list')]
  const doctor = okstraNative(['registry', 'doctor', '--home', b.home])
  assert.equal(doctor.status, 0, doctor.stdout)
  assert.equal(okstraNative(['registry', 'repair', '--home', b.home]).status, 0)
  assert.equal(okstraNative(['registry', 'prune', '--apply', '--home', b.home, '--project-root', f.repo]).status, 0)
  assert.deepEqual([git(f.repo, 'worktree', 'list', '--porcelain'), git(f.repo, 'branch', '--list')], before)
  assert.match(gitLocks(f.repo).get(a1.path), /^okstra task p\/g\/a1 \(registry /)
  assert.match(git(f.repo, 'branch', '--list', a2.branch), new RegExp(a2.branch), "A's released branch is kept")
})

test('repair held (strace) between reading the registry and the journal while a provisioning finishes: the new worktree keeps its lock', async () => {
  const f = small()
  okstraNative(provisionArgs(f, 'a'))
  const pending = join(f.home, 'worktrees', 'pending')
  const t0 = Date.now()
  // The repair reads the registry, then waits 4 s on its first look at the journal; the
  // provisioning of `b` runs from start to end inside that wait.
  const repair = runStraced(['-P', pending, '-e', 'trace=openat', '-e', 'inject=openat:delay_enter=4000000:when=1'],
    ['registry', 'repair', '--home', f.home])
  await new Promise((r) => setTimeout(r, 600))
  const b = okstraNative(provisionArgs(f, 'b'))
  assert.equal(b.json.status, 'created', b.stdout)
  assert.ok(Date.now() - t0 < 4000, 'the provisioning ran inside the held repair')
  const rep = await repair
  assert.equal(rep.code, 0, rep.stdout)
  assert.match(gitLocks(f.repo).get(b.json.path) ?? '', /^okstra task p\/g\/b( |$)/, 'b keeps its lock')
  const doctor = okstraNative(['registry', 'doctor', '--home', f.home])
  assert.equal(doctor.status, 0, doctor.stdout)
})
