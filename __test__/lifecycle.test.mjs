// Provisioning and handoff that never get stuck: SIGKILL / SIGINT at random instants, the
// next call of the same key, re-entry after release, branch clashes, doctor's debris.
// Real processes and real repositories; the kill loops run on tmpfs (/dev/shm) to keep the
// file's wall time to a few minutes.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync, utimesSync } from 'node:fs'
import { join } from 'node:path'
import * as native from '@okstra/native'
import { CLI, ROOT, SHM, git, makeRepo, okstra, tempDir, tempHome } from './helpers.mjs'
import { recordStages } from './fixtures/project.mjs'
import { spawn, spawnSync } from 'node:child_process'

const {
  provisionTaskWorktree, previewTaskWorktree, registryRelease, registryList, registryDoctor, registryRepair,
  handoffAssemble, registryReserve,
} = native

const fastDir = (prefix) => tempDir(prefix, SHM)

/** A repository of `dirs` directories × 30 files (default 3,000 files) on tmpfs. */
function bigRepo(dirs = 100) {
  const dir = fastDir('okstra-big-')
  const repo = join(dir, 'repo')
  mkdirSync(repo)
  git(repo, 'init', '-q', '-b', 'main')
  for (let d = 0; d < dirs; d++) {
    mkdirSync(join(repo, `d${d}`))
    for (let f = 0; f < 30; f++) writeFileSync(join(repo, `d${d}`, `f${f}.txt`), `file ${d}/${f}\n`)
  }
  git(repo, 'add', '-A')
  git(repo, 'commit', '-q', '-m', 'base')
  return { repo, home: join(dir, 'home') }
}

const req = (f, taskId, extra = {}) => ({
  projectId: 'p', taskGroup: 'g', taskId, taskType: 'implementation', workCategory: 'feature',
  projectRoot: f.repo, home: f.home, ...extra,
})


/**
 * Spawns a process and kills it with `signal` `ms` after it started — after spawn, or once
 * `started()` holds (polled every 5 ms) — and resolves with its exit.
 */
function killAfter(cmd, args, ms, signal, started = () => true) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let done = false
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.resume()
    let t
    const poll = () => {
      if (done) return
      if (started()) t = setTimeout(() => child.kill(signal), ms)
      else t = setTimeout(poll, 5)
    }
    poll()
    child.on('error', reject)
    child.on('close', (code, sig) => { done = true; clearTimeout(t); resolve({ code, signal: sig, stdout }) })
  })
}

/** Whether a provisioning journal record exists (the call got past Node's start-up). */
const recording = (home) => () => {
  const dir = join(home, 'worktrees', 'pending')
  return existsSync(dir) && readdirSync(dir).some((n) => n.startsWith('provision-') && n.endsWith('.json'))
}

/** git's worktrees, git's okstra branches and the registry's active rows agree; no debris. */
function assertAgree(f) {
  const active = registryList({ home: f.home, status: 'active' }).filter((e) => e.worktreePath.startsWith(f.home))
  const listed = git(f.repo, 'worktree', 'list', '--porcelain').split('\n')
    .filter((l) => l.startsWith('worktree ')).map((l) => l.slice(9)).filter((p) => p.startsWith(f.home))
  assert.deepEqual(listed.sort(), active.map((e) => e.worktreePath).sort(), 'git worktree list = registry')
  const branches = git(f.repo, 'branch', '--format=%(refname:short)').split('\n').filter((b) => b && b !== 'main')
  assert.deepEqual(branches.sort(), active.map((e) => e.branch).sort(), 'git branch = registry')
  const admin = join(f.repo, '.git', 'worktrees')
  assert.equal(existsSync(admin) ? readdirSync(admin).length : 0, active.length, 'no orphan admin entry')
  const pending = join(f.home, 'worktrees', 'pending')
  assert.deepEqual(existsSync(pending) ? readdirSync(pending).filter((n) => n.endsWith('.json')) : [], [], 'no journal record left')
  const dirs = readdirSync(join(f.home, 'worktrees', 'p', 'g')).map((d) => join(f.home, 'worktrees', 'p', 'g', d))
  assert.deepEqual(dirs.sort(), active.map((e) => e.worktreePath).sort(), 'no orphan directory')
  const doctor = registryDoctor({ home: f.home })
  assert.equal(doctor.ok, true, JSON.stringify(doctor.problems))
}

/** How long one uninterrupted provisioning of the big repo takes here, in ms. */
function measure(f, key = 'measure') {
  const t = Date.now()
  assert.equal(provisionTaskWorktree(req(f, key)).status, 'created')
  return Date.now() - t
}

test('30 SIGKILLs at random instants during provisioning: every next provision of the key succeeds, git and registry agree', async () => {
  const f = bigRepo()
  // The kill timer starts once the journal record exists, so an uninterrupted run's time
  // (the faster of two, the first is cold) bounds the instants that land mid-way.
  const span = Math.min(measure(f, 'measure'), measure(f, 'measure2'))
  const outcomes = { killedMidway: 0, finished: 0 }
  for (let i = 0; i < 30; i++) {
    const key = `k${i}`
    const script = `require(${JSON.stringify(ROOT)}).provisionTaskWorktree(${JSON.stringify(req(f, key))})`
    const r = await killAfter(process.execPath, ['-e', script], Math.floor(Math.random() * span), 'SIGKILL')
    outcomes[r.signal === 'SIGKILL' ? 'killedMidway' : 'finished']++
    const again = provisionTaskWorktree(req(f, key))
    assert.ok(['created', 'reused'].includes(again.status), `kill ${i}: ${again.status}`)
    assert.equal(git(again.path, 'status', '--porcelain'), '', `kill ${i}: the worktree is complete and clean`)
  }
  assertAgree(f)
  assert.ok(outcomes.killedMidway >= 20, JSON.stringify(outcomes))
  console.log(`# SIGKILL: ${JSON.stringify(outcomes)}, span ${span} ms`)
})

test('30 SIGINTs through the CLI: it rolls back before exiting (130) or finishes; the next provision succeeds', async () => {
  const f = bigRepo()
  const span = measure(f)
  const outcomes = { rolledBack: 0, finished: 0, beforeStart: 0 }
  for (let i = 0; i < 30; i++) {
    const key = `c${i}`
    const args = [CLI, 'worktree', 'provision', '--project-root', f.repo, '--project-id', 'p', '--task-group', 'g',
      '--task-id', key, '--task-type', 'implementation', '--work-category', 'feature', '--home', f.home]
    // At a random instant of the provisioning itself (once its journal record exists).
    const r = await killAfter(process.execPath, args, Math.floor(Math.random() * span), 'SIGINT', recording(f.home))
    const path = join(f.home, 'worktrees', 'p', 'g', key)
    if (r.code === 130) {
      outcomes.rolledBack++
      assert.match(r.stdout, /E_INTERRUPTED/)
      // Rolled back before exiting: nothing of the key is left.
      assert.equal(existsSync(path), false, `SIGINT ${i}: directory left`)
      assert.equal(git(f.repo, 'branch', '--list', `feat-${key}`), '', `SIGINT ${i}: branch left`)
    } else if (r.code === 0) {
      outcomes.finished++
    } else {
      assert.equal(r.signal, 'SIGINT', `SIGINT ${i}: exit ${r.code} ${r.stdout}`)
      outcomes.beforeStart++
    }
    const again = provisionTaskWorktree(req(f, key))
    assert.ok(['created', 'reused'].includes(again.status))
    assert.equal(git(again.path, 'status', '--porcelain'), '')
  }
  assertAgree(f)
  assert.ok(outcomes.rolledBack >= 20, JSON.stringify(outcomes))
  console.log(`# SIGINT: ${JSON.stringify(outcomes)}, span ${span} ms`)
})

const PLAN = `# plan

## 5.5 Stage Map

| Stage | 제목 | Depends on |
|---|---|---|
| 1 | one | (none) |
| 2 | two | (none) |
`

/** Two verified stages that each rewrite 600 of 1,200 files (no conflict). */
function handoffSetup() {
  const f = bigRepo(40)
  const { repo, home } = f
  const base = git(repo, 'rev-parse', 'HEAD')
  const heads = {}
  for (const n of [1, 2]) {
    git(repo, 'checkout', '-q', '-b', `feat-t-s${n}`, base)
    for (let d = (n - 1) * 20; d < n * 20; d++) {
      for (let i = 0; i < 30; i++) writeFileSync(join(repo, `d${d}`, `f${i}.txt`), `stage ${n} ${d}/${i}\n`)
    }
    git(repo, 'commit', '-q', '-am', `stage ${n}`)
    heads[n] = git(repo, 'rev-parse', 'HEAD')
  }
  git(repo, 'checkout', '-q', 'main')
  const runs = fastDir('okstra-runs-')
  const plan = join(runs, 'final-report-implementation-planning-001.md')
  writeFileSync(plan, PLAN)
  const { task } = recordStages({ repo, home, runs, base, heads, verified: [1, 2] })
  const asm = { planRunRoot: runs, approvedPlan: plan, projectRoot: repo, ...task, workCategory: 'feature' }
  return { ...f, asm, heads }
}

test('20 SIGKILLs during handoffAssemble: every re-run succeeds with a clean collector', async () => {
  const h = handoffSetup()
  const first = handoffAssemble({ ...h.asm, stages: [1, 2], groupId: 'probe' })
  assert.equal(first.status, 'created')
  // The kill timer starts at spawn: bound the instants by an uninterrupted child's whole
  // run (Node's start-up included), so most kills land mid-way on a busy machine too.
  const t = Date.now()
  const probe = spawnSync(process.execPath, ['-e',
    `require(${JSON.stringify(ROOT)}).handoffAssemble(${JSON.stringify({ ...h.asm, stages: [1, 2], groupId: 'probe2' })})`])
  const span = Date.now() - t
  assert.equal(probe.status, 0, String(probe.stderr))
  const outcomes = { killedMidway: 0, finished: 0 }
  for (let i = 0; i < 20; i++) {
    const o = { ...h.asm, stages: [1, 2], groupId: `g${i}` }
    const script = `require(${JSON.stringify(ROOT)}).handoffAssemble(${JSON.stringify(o)})`
    const r = await killAfter(process.execPath, ['-e', script], Math.floor(Math.random() * span), 'SIGKILL')
    outcomes[r.signal === 'SIGKILL' ? 'killedMidway' : 'finished']++
    const again = handoffAssemble(o)
    assert.ok(['created', 'reused'].includes(again.status))
    assert.equal(git(again.worktreePath, 'status', '--porcelain'), '', `kill ${i}: collector clean`)
    assert.equal(git(again.worktreePath, 'rev-parse', 'HEAD^{tree}'), git(first.worktreePath, 'rev-parse', 'HEAD^{tree}'))
    for (const n of [1, 2]) git(h.repo, 'merge-base', '--is-ancestor', h.heads[n], again.branch)
  }
  const doctor = registryDoctor({ home: h.home })
  assert.deepEqual(doctor.problems.filter((p) => /unfinished|orphan|unregistered/.test(p.code)), [])
  assert.ok(outcomes.killedMidway >= 12, JSON.stringify(outcomes))
  console.log(`# assemble SIGKILL: ${JSON.stringify(outcomes)}, span ${span} ms`)
})

/** A small repository for the re-entry and clash tests. */
function small() {
  const repo = makeRepo()
  writeFileSync(join(repo, 'a.txt'), 'one\n')
  git(repo, 'add', '-A')
  git(repo, 'commit', '-q', '-m', 'one')
  return { repo, home: tempHome() }
}

test('release → provision reactivates (reused, same path and branch); directory deleted → recreated on the same branch with its commits', () => {
  const f = small()
  const key = { projectId: 'p', taskGroup: 'g', taskId: 'login', home: f.home }
  const a = provisionTaskWorktree(req(f, 'login'))
  writeFileSync(join(a.path, 'work.txt'), 'mine\n')
  git(a.path, 'add', '.')
  git(a.path, 'commit', '-q', '-m', 'work')
  const tip = git(a.path, 'rev-parse', 'HEAD')
  registryRelease(key)
  assert.equal(previewTaskWorktree(req(f, 'login')).status, 'reused')
  const b = provisionTaskWorktree(req(f, 'login'))
  assert.deepEqual([b.status, b.path, b.branch], ['reused', a.path, a.branch])
  assert.match(b.note, /reactivated/)
  assert.match(git(f.repo, 'worktree', 'list', '--porcelain'), /locked okstra task p\/g\/login/)
  registryRelease(key)
  rmSync(a.path, { recursive: true, force: true })
  const p = previewTaskWorktree(req(f, 'login'))
  assert.deepEqual([p.status, p.path, p.branch], ['created', a.path, a.branch])
  const c = provisionTaskWorktree(req(f, 'login'))
  assert.deepEqual([c.status, c.path, c.branch], ['created', a.path, a.branch])
  assert.match(c.note, /existing branch/)
  assert.equal(git(c.path, 'rev-parse', 'HEAD'), tip, 'its commits are kept')
  assert.equal(git(c.path, 'status', '--porcelain'), '')
  assert.equal(registryDoctor({ home: f.home }).ok, true)
})

test('same task id in two groups, a single-stage collector beside its stage: all created; clashes name the owner', () => {
  const f = small()
  const mk = (group, extra = {}) => provisionTaskWorktree({ ...req(f, 'login'), taskGroup: group, ...extra })
  assert.equal(previewTaskWorktree({ ...req(f, 'login'), taskGroup: 'backend' }).branch, 'feat-login')
  const back = mk('backend')
  const prev = previewTaskWorktree({ ...req(f, 'login'), taskGroup: 'frontend' })
  const front = mk('frontend')
  assert.deepEqual([back.status, front.status], ['created', 'created'])
  assert.deepEqual([back.branch, front.branch], ['feat-login', 'feat-frontend-login'])
  assert.deepEqual([prev.status, prev.path, prev.branch], [front.status, front.path, front.branch], 'preview = provision')
  const stage = mk('backend', { stageNumber: 1 })
  const collector = mk('backend', { groupId: 's1' })
  assert.deepEqual([stage.status, collector.status], ['created', 'created'])
  assert.deepEqual([stage.branch, collector.branch], ['feat-login-s1', 'feat-login.group-s1'])
  // Both candidate names taken by other keys: E_BRANCH_OWNED naming the owner; never "delete".
  registryReserve({ projectId: 'x', taskGroup: 'y', taskId: 'z', home: f.home, worktreePath: '/elsewhere', branch: 'feat-ops-login', baseRef: '' })
  assert.throws(() => mk('ops'), (e) => e.code === 'E_BRANCH_OWNED' && /x\/y\/z \(active\)/.test(e.message) &&
    /--branch/.test(e.message) && !/branch -D/.test(e.message))
  const cli = okstra(['worktree', 'provision', '--project-root', f.repo, '--project-id', 'p', '--task-group', 'ops',
    '--task-id', 'login', '--task-type', 'implementation', '--work-category', 'feature', '--home', f.home])
  assert.equal(cli.status, 2)
  assert.equal(cli.json.code, 'E_BRANCH_OWNED')
  // A branch okstra did not make: E_BRANCH_EXISTS saying so; --branch is the way out.
  git(f.repo, 'branch', 'feat-mine')
  assert.throws(() => provisionTaskWorktree(req(f, 'mine')), (e) => e.code === 'E_BRANCH_EXISTS' && /not created by okstra/.test(e.message))
  const out = okstra(['worktree', 'provision', '--project-root', f.repo, '--project-id', 'p', '--task-group', 'g',
    '--task-id', 'mine', '--task-type', 'implementation', '--home', f.home, '--branch', 'feat-mine-2'])
  assert.equal(out.status, 0, out.stdout)
  assert.deepEqual([out.json.status, out.json.branch], ['created', 'feat-mine-2'])
  const pv = okstra(['worktree', 'preview', '--project-root', f.repo, '--project-id', 'p', '--task-group', 'g',
    '--task-id', 'mine', '--task-type', 'implementation', '--home', f.home])
  assert.equal(pv.json.status, 'reused')
})

test('doctor reports debris with the command that clears it and exits 1; repair clears it', async () => {
  const f = small()
  const a = provisionTaskWorktree(req(f, 'a'))
  // An okstra-locked worktree whose row was released behind git's back, an okstra branch
  // no row owns, a stale git lock file, an unfinished provisioning record.
  const raw = JSON.parse(await import('node:fs').then((fs) => fs.readFileSync(join(f.home, 'worktrees', 'registry.json'), 'utf8')))
  raw.tasks['p/g/a'].status = 'released'
  delete raw.branches[a.branch]
  writeFileSync(join(f.home, 'worktrees', 'registry.json'), JSON.stringify(raw, null, 2) + '\n')
  const b = provisionTaskWorktree(req(f, 'b'))
  const reg = JSON.parse((await import('node:fs')).readFileSync(join(f.home, 'worktrees', 'registry.json'), 'utf8'))
  delete reg.tasks['p/g/b']
  delete reg.branches[b.branch]
  writeFileSync(join(f.home, 'worktrees', 'registry.json'), JSON.stringify(reg, null, 2) + '\n')
  git(f.repo, 'worktree', 'unlock', b.path)
  git(f.repo, 'worktree', 'remove', '--force', b.path)
  const lock = join(f.repo, '.git', 'refs', 'heads', 'stale.lock')
  writeFileSync(lock, '')
  const old = new Date(Date.now() - 3600_000)
  utimesSync(lock, old, old)
  const pending = join(f.home, 'worktrees', 'pending')
  mkdirSync(pending, { recursive: true })
  writeFileSync(join(pending, 'provision-deadbeef.json'), JSON.stringify({
    taskKey: 'p/g/ghost', gitDir: join(f.repo, '.git'), path: join(f.home, 'worktrees', 'p', 'g', 'ghost'), admin: 'ghost-x',
    branch: 'feat-ghost', base: git(f.repo, 'rev-parse', 'HEAD'), branchExisted: false, createdParent: null, pid: 1, startedAt: 'then',
  }))
  const doc = okstra(['registry', 'doctor', '--home', f.home])
  assert.equal(doc.status, 1, 'doctor exits 1 when it reports problems')
  const codes = doc.json.problems.map((p) => p.code)
  for (const c of ['worktree-locked-orphan', 'branch-unregistered', 'git-lock-stale', 'provision-unfinished']) {
    assert.ok(codes.includes(c), `${c} in ${codes}`)
  }
  for (const p of doc.json.problems.filter((p) => /orphan|unregistered|stale|unfinished/.test(p.code))) {
    assert.match(p.detail, /okstra registry repair/)
  }
  const fixed = registryRepair({ home: f.home })
  assert.ok(fixed.cleared.length >= 4, JSON.stringify(fixed))
  assert.equal(existsSync(lock), false)
  assert.equal(git(f.repo, 'branch', '--list', b.branch), '')
  assert.doesNotMatch(git(f.repo, 'worktree', 'list', '--porcelain'), /locked okstra task p\/g\/a/)
  const again = okstra(['registry', 'doctor', '--home', f.home])
  assert.equal(again.status, 0, again.stdout)
})
