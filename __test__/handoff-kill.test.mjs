// Re-running handoff assemble is safe: 20 SIGKILLs at random instants of `okstra handoff
// assemble` (the native CLI) while the user has edits in the collector, made before the
// run, during it or right after the kill. Each time: no edit is lost, the next assemble
// succeeds or refuses with E_COLLECTOR_CHANGED leaving the edits intact, and once the user
// has put their edits away the next assemble succeeds with the stages' current heads.
// The seed is printed on failure (OKSTRA_KILL_SEED=<n> replays it).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { spawn } from 'node:child_process'
import { ledgerAppend, ledgerAppendVerified } from '@okstra/native'
import { git, makeRepo, okstraNative, NATIVE_CLI, tempDir, tempHome } from './helpers.mjs'
import { recordStages } from './fixtures/project.mjs'

const PLAN = '# plan\n\n## 5.5 Stage Map\n\n| Stage | Title | Depends on |\n|---|---|---|\n| 1 | one | (none) |\n| 2 | two | (none) |\n'

function rng(seed) {
  let s = seed >>> 0
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0
    return s / 2 ** 32
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

test('20 SIGKILLs during assemble with user edits in the collector lose nothing', async () => {
  const seed = Number(process.env.OKSTRA_KILL_SEED ?? Math.floor(Math.random() * 2 ** 31))
  const random = rng(seed)
  try {
    const repo = makeRepo()
    for (let i = 0; i < 300; i++) {
      mkdirSync(join(repo, 'src', String(i % 10)), { recursive: true })
      writeFileSync(join(repo, 'src', String(i % 10), `f${i}.txt`), `file ${i}\n`.repeat(20))
    }
    writeFileSync(join(repo, 'user.txt'), 'untouched by every stage\n')
    git(repo, 'add', '-A')
    git(repo, 'commit', '-qm', 'base')
    const base = git(repo, 'rev-parse', 'HEAD')
    // A stage head: rewrites `one.txt` and a third of the files, so the checkout has work.
    const stageHead = (n, round) => {
      git(repo, 'checkout', '-q', '-B', `s${n}`, base)
      writeFileSync(join(repo, `${n === 1 ? 'one' : 'two'}.txt`), `stage ${n} round ${round}\n`)
      for (let i = n - 1; i < 300; i += 3) {
        writeFileSync(join(repo, 'src', String(i % 10), `f${i}.txt`), `stage ${n} round ${round} file ${i}\n`.repeat(20))
      }
      git(repo, 'add', '-A')
      git(repo, 'commit', '-qm', `s${n} r${round}`)
      const h = git(repo, 'rev-parse', 'HEAD')
      git(repo, 'checkout', '-q', 'main')
      return h
    }
    const home = tempHome()
    const runs = tempDir('okstra-plan-run-')
    const plan = join(runs, 'plan.md')
    writeFileSync(plan, PLAN)
    recordStages({ repo, home, runs, base, heads: { 1: stageHead(1, 0), 2: stageHead(2, 0) }, verified: [1, 2] })
    const args = ['handoff', 'assemble', '--plan-run-root', runs, '--approved-plan', plan, '--project-root', repo,
      '--stages', '1,2', '--project-id', 'p', '--task-group', 'g', '--task-id', 't', '--home', home]
    const first = okstraNative(args)
    assert.equal(first.status, 0, first.stderr)
    const wt = first.json.worktreePath

    const edits = (i) => ({ [join(wt, 'user.txt')]: `my edit ${i}\n`, [join(wt, `mine-${i}.txt`)]: `notes ${i}\n` })
    const writeEdits = (i) => { for (const [p, t] of Object.entries(edits(i))) writeFileSync(p, t) }
    const assertEdits = (i, when) => {
      for (const [p, t] of Object.entries(edits(i))) {
        assert.ok(existsSync(p), `${when}: ${p} is gone`)
        assert.equal(readFileSync(p, 'utf8'), t, `${when}: ${p} changed`)
      }
    }
    const gitIdle = async () => {
      // A git child of a killed okstra finishes on its own (its own process group).
      for (let t = 0; t < 250 && existsSync(join(git(wt, 'rev-parse', '--git-dir'), 'index.lock')); t++) await sleep(20)
    }
    const kinds = { before: 0, during: 0, after: 0 }
    let previous = null
    for (let i = 1; i <= 20; i++) {
      const head = stageHead(1, i)
      ledgerAppend({ planRunRoot: runs, implTaskKey: 'p/g/t', stage: 1, status: 'done', forceReappend: true, fields: { head_commit: head, branch: 's1' } })
      // Each round's head is a new change: verified again, tied to that head.
      ledgerAppendVerified({ planRunRoot: runs, implTaskKey: 'p/g/t', stage: 1, verdict: 'accepted', reportPath: `r1-${i}.md`, headCommit: head })
      const kind = ['before', 'during', 'after'][Math.floor(random() * 3)]
      kinds[kind]++
      if (kind === 'before') writeEdits(i)
      const child = spawn(NATIVE_CLI, args, { stdio: 'ignore' })
      const exited = new Promise((r) => child.on('exit', r))
      const at = random() * 250
      if (kind === 'during') setTimeout(() => writeEdits(i), random() * at)
      await sleep(at)
      child.kill('SIGKILL')
      await exited
      if (kind === 'after' || !existsSync(join(wt, `mine-${i}.txt`))) writeEdits(i)
      assertEdits(i, `round ${i} after the kill`)
      await gitIdle()
      const next = okstraNative(args)
      assert.ok(next.status === 0 || next.json?.code === 'E_COLLECTOR_CHANGED', `round ${i}: ${next.stderr}`)
      assertEdits(i, `round ${i} after the next assemble`)
      // The user puts their edits away; then assemble succeeds with the current heads.
      git(wt, 'checkout', '--', 'user.txt')
      rmSync(join(wt, `mine-${i}.txt`))
      const clean = okstraNative(args)
      assert.equal(clean.status, 0, `round ${i}: ${clean.stderr}`)
      assert.equal(readFileSync(join(wt, 'one.txt'), 'utf8'), `stage 1 round ${i}\n`)
      assert.equal(git(wt, 'status', '--porcelain'), '')
      const history = git(wt, 'rev-list', 'HEAD')
      assert.ok(history.includes(head))
      if (previous) assert.ok(!history.includes(previous), `round ${i}: the rebased stage's old head is still on the branch`)
      previous = head
    }
    assert.ok(kinds.before + kinds.during + kinds.after === 20)
  } catch (e) {
    e.message = `seed ${seed} (OKSTRA_KILL_SEED=${seed} replays it): ${e.message}`
    throw e
  }
})
