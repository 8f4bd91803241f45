// One interruption policy for every command (docs/security.md): SIGINT / SIGTERM at a random
// instant of each CLI command family (registry, ledger, handoff, reconcile, worktree,
// wizard), 10 each, through the native executable: the command exits 130 (E_INTERRUPTED)
// or completes (0), and what it writes is whole either way — never half a change. The
// random instants come from a seeded generator; the seed is printed (OKSTRA_SIGNAL_SEED
// replays a run). A signal that lands before the executable installed its handlers (the
// first instants of process start) kills it by the default action: that is counted
// separately and must have changed nothing either.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { NATIVE_CLI, git, holdLock, makeRepo, okstraNative, rng, run, tempDir } from './helpers.mjs'

const SEED = Number(process.env.OKSTRA_SIGNAL_SEED ?? Date.now() % 1_000_000)
console.log(`interrupt.test.mjs: OKSTRA_SIGNAL_SEED=${SEED}`)

const random = rng(SEED)

/** Runs `args` and sends `signal` after `delayMs`; resolves with the exit and the time taken. */
async function interrupted(args, signal, delayMs) {
  const { spawn } = await import('node:child_process')
  const start = Date.now()
  const child = spawn(NATIVE_CLI, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  child.stdout.on('data', (d) => (stdout += d))
  const timer = setTimeout(() => child.kill(signal), delayMs)
  const [code, sig] = await new Promise((resolve) => child.on('close', (c, s) => resolve([c, s])))
  clearTimeout(timer)
  return { code, signal: sig, stdout, ms: Date.now() - start }
}

/** The time one uninterrupted run of `args` takes (the window the random instant falls in). */
async function duration(args) {
  const start = Date.now()
  const r = await run(NATIVE_CLI, args)
  assert.equal(r.code, 0, `${args.join(' ')}: ${r.stdout}${r.stderr}`)
  return Date.now() - start
}

/**
 * Interrupts `make(i)` 10 times with each of SIGINT and SIGTERM at a random instant within
 * its usual duration; `check(i, outcome)` asserts the state is whole for that outcome.
 */
async function family(name, make, check, prepare = () => {}) {
  const window = Math.max(5, await duration(make(-1)))
  const tally = { completed: 0, interrupted: 0, beforeStart: 0 }
  let i = 0
  for (const signal of ['SIGINT', 'SIGTERM']) {
    for (let n = 0; n < 10; n++, i++) {
      prepare(i)
      const delay = Math.floor(random() * window * 1.2)
      const r = await interrupted(make(i), signal, delay)
      const at = `${name} #${i} ${signal} at ${delay} ms (seed ${SEED})`
      let outcome
      if (r.code === 0) outcome = 'completed'
      else if (r.code === 130) {
        outcome = 'interrupted'
        assert.equal(JSON.parse(r.stdout).code, 'E_INTERRUPTED', `${at}: ${r.stdout}`)
      } else if (r.signal === signal) outcome = 'beforeStart'
      else assert.fail(`${at}: exit ${r.code} signal ${r.signal}: ${r.stdout}`)
      assert.ok(r.ms < window + 2000, `${at}: took ${r.ms} ms`)
      tally[outcome]++
      check(i, outcome, at)
    }
  }
  console.log(`${name}: window ${window} ms, ${JSON.stringify(tally)}`)
}

/** No temp file of an atomic write left in `dir`. */
function noTemps(dir, at) {
  if (!existsSync(dir)) return
  const temps = readdirSync(dir).filter((n) => n.includes('.tmp-'))
  assert.deepEqual(temps, [], `${at}: temp files left in ${dir}`)
}

/** Every line of a ledger is a whole JSON row. */
function wholeLedger(root, at) {
  const path = join(root, 'consumers.jsonl')
  if (!existsSync(path)) return []
  const text = readFileSync(path, 'utf8')
  assert.ok(text === '' || text.endsWith('\n'), `${at}: torn last line`)
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l))
}

const KEY = (i) => ['--project-id', 'p', '--task-group', 'g', '--task-id', `t${i < 0 ? 'x' : i}`]

test('registry: interrupted reserves write a whole row or none', async () => {
  const home = tempDir('okstra-sig-home-')
  const list = () => okstraNative(['registry', 'list', '--home', home]).json
  await family(
    'registry',
    (i) => ['registry', 'reserve', ...KEY(i), '--home', home, '--worktree-path', `/w/t${i}`, '--branch', `feat-t${i}`, '--base-ref', 'c'.repeat(40)],
    (i, outcome, at) => {
      const rows = list()
      assert.ok(Array.isArray(rows), `${at}: registry unreadable`)
      const mine = rows.filter((r) => r.taskKey.endsWith(`:t${i}`) || r.taskKey.endsWith(`/t${i}`))
      if (outcome !== 'completed') assert.equal(mine.length, 0, `${at}: a row was written by an interrupted call`)
      else assert.equal(mine.length, 1, `${at}: completed without its row`)
      noTemps(home, at)
    },
  )
})

test('registry: a reserve waiting on the lock ends at SIGINT with 130 and writes nothing', async () => {
  const home = tempDir('okstra-sig-home-')
  mkdirSync(join(home, 'worktrees'), { recursive: true })
  const lock = await holdLock(join(home, 'worktrees', 'registry.lock'))
  try {
    const r = await interrupted(['registry', 'reserve', ...KEY(1), '--home', home, '--worktree-path', '/w/1', '--branch', 'feat-1', '--base-ref', 'c'.repeat(40)], 'SIGINT', 300)
    assert.equal(r.code, 130, r.stdout)
    assert.equal(JSON.parse(r.stdout).code, 'E_INTERRUPTED')
    assert.ok(r.ms < 1000, `took ${r.ms} ms after the signal at 300 ms`)
  } finally {
    await lock.release()
  }
  assert.deepEqual(okstraNative(['registry', 'list', '--home', home]).json, [])
})

test('ledger and handoff: interrupted appends leave whole rows, one per completed call', async () => {
  for (const name of ['ledger', 'handoff']) {
    const root = tempDir('okstra-sig-run-')
    const completed = new Set()
    await family(
      name,
      (i) =>
        name === 'ledger'
          ? ['ledger', 'append', '--plan-run-root', root, '--create', '--impl-task-key', 'k', '--stage', String(i + 2), '--status', 'started']
          : ['handoff', 'record-pr', '--plan-run-root', root, '--create', '--impl-task-key', 'k', '--stages', '1', '--branch', `b${i}`, '--url', `u${i}`],
      (i, outcome, at) => {
        const rows = wholeLedger(root, at)
        const mine = rows.filter((r) => (name === 'ledger' ? r.stage === i + 2 : r.branch === `b${i}`))
        if (outcome === 'completed') completed.add(i)
        assert.equal(mine.length, outcome === 'completed' ? 1 : 0, `${at}: ${mine.length} rows`)
      },
    )
  }
})

test('reconcile: interrupted dry runs and applies leave the ledger whole', async () => {
  const repo = makeRepo('okstra-sig-repo-')
  const head = git(repo, 'rev-parse', 'HEAD')
  const root = tempDir('okstra-sig-run-')
  const home = tempDir('okstra-sig-home-')
  assert.equal(okstraNative(['ledger', 'append', '--plan-run-root', root, '--impl-task-key', 'k', '--stage', '1', '--status', 'done', '--fields', JSON.stringify({ head_commit: head, branch: 'main' })]).status, 0)
  const before = readFileSync(join(root, 'consumers.jsonl'), 'utf8')
  await family(
    'reconcile',
    (i) => ['git-reconcile', '--plan-run-root', root, '--project-root', repo, '--home', home, ...(i % 2 ? ['--apply'] : [])],
    (i, outcome, at) => {
      wholeLedger(root, at)
      // Nothing is stale, so even an apply that completes writes nothing.
      assert.equal(readFileSync(join(root, 'consumers.jsonl'), 'utf8'), before, at)
    },
  )
})

test('worktree: interrupted provisioning leaves everything or nothing', async () => {
  const repo = makeRepo('okstra-sig-repo-')
  const home = tempDir('okstra-sig-home-')
  const base = ['worktree', 'provision', '--project-root', repo, '--home', home, '--task-type', 'implementation', '--work-category', 'feature']
  await family(
    'worktree',
    (i) => [...base, ...KEY(i)],
    (i, outcome, at) => {
      const branches = git(repo, 'branch', '--list', `feat-t${i}`)
      const entry = okstraNative(['registry', 'lookup', ...KEY(i), '--home', home]).json
      const wt = join(home, 'worktrees', 'p', 'g', `t${i}`)
      const made = [branches !== '', entry != null && entry.ok !== false, existsSync(wt)]
      if (outcome === 'completed') assert.deepEqual(made, [true, true, true], `${at}: ${made}`)
      else assert.deepEqual(made, [false, false, false], `${at}: half a provisioning left: ${made}`)
    },
  )
  assert.match(git(repo, 'branch', '--list', 'main'), /main/)
})

test('wizard: an interrupted init leaves a whole state file or none', async () => {
  const repo = makeRepo('okstra-sig-repo-')
  const dir = tempDir('okstra-sig-state-')
  await family(
    'wizard',
    (i) => ['wizard', 'init', '--state', join(dir, `s${i}.json`), '--project-root', repo, '--project-id', 'p'],
    (i, outcome, at) => {
      const path = join(dir, `s${i}.json`)
      if (outcome === 'completed') JSON.parse(readFileSync(path, 'utf8'))
      else assert.ok(!existsSync(path), `${at}: an interrupted init wrote its state file`)
      noTemps(dir, at)
    },
  )
})
