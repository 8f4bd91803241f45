// `node bench/installed.mjs`: `okstra` as a user gets it. Publishes this checkout's release to
// a local verdaccio (__test__/fixtures/release.mjs, as the release test does), installs
// `@okstra/native` into an empty project with plain `npm install`, and times every CLI door
// of `node_modules/.bin/okstra` (registry lookup and reserve, ledger append and read,
// worktree provision) against the old helper on the real Python interpreter and against this
// machine's floors (spawning /bin/true, `cat` of the ledger, `git worktree add -b`),
// interleaved in one run (spawn-timer.mjs).
// Prints one markdown table; asserts nothing (__test__/release.test.mjs does).
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { npmIn, publishRelease, startRegistry } from '../__test__/fixtures/release.mjs'
import { PYTHON, fmtMs, fmtRatio, spawnOk, spawnTimes } from './lib.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const pyReg = join(here, '..', '__test__', 'fixtures', 'py_registry.py')
const pyLedger = join(here, '..', '__test__', 'fixtures', 'py_consumers.py')
const SHA = '0'.repeat(40)
const dir = mkdtempSync(join(tmpdir(), 'okstra-bench-installed-'))
const registry = await startRegistry(dir)
try {
  publishRelease(dir, registry.env)
  const app = join(dir, 'app')
  mkdirSync(app)
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }))
  npmIn(registry.env, ['install', '@okstra/native'], app)
  const okstra = join(app, 'node_modules', '.bin', 'okstra')

  const home = join(dir, 'home')
  const env = { ...process.env, OKSTRA_HOME: home }
  const keyArgs = ['--project-id', 'p', '--task-group', 'g', '--task-id', 't', '--home', home]
  spawnTimes({ reserve: { cmd: okstra, args: ['registry', 'reserve', ...keyArgs, '--worktree-path', '/w/t', '--branch', 'feat-t', '--base-ref', SHA] } }, { n: 1, warmup: 0 })
  // A 10,000-row ledger (the bench's rows) and a 50-file repository.
  const ledger = join(dir, 'run')
  mkdirSync(ledger)
  const lines = []
  for (let s = 0; lines.length < 10_000; s++) {
    lines.push(`{"impl_task_key": "proj/grp/task", "stage": ${s}, "status": "started", "branch": "feat-task-s${s}", "run_id": "run-${s}"}`)
    lines.push(`{"impl_task_key": "proj/grp/task", "stage": ${s}, "status": "done", "head_commit": "${s.toString(16).padStart(40, '0')}"}`)
  }
  writeFileSync(join(ledger, 'consumers.jsonl'), `${lines.join('\n')}\n`)
  const repo = join(dir, 'repo')
  mkdirSync(repo)
  spawnOk('git', ['init', '-q', '-b', 'main'], { cwd: repo })
  for (let i = 0; i < 50; i++) writeFileSync(join(repo, `f${i}.txt`), `line ${i}\n`.repeat(20))
  spawnOk('git', ['add', '-A'], { cwd: repo })
  spawnOk('git', ['-c', 'user.name=b', '-c', 'user.email=b@b', 'commit', '-q', '-m', 'init'], { cwd: repo })
  const gitWt = join(dir, 'git-wt')
  mkdirSync(gitWt)

  const load = loadavg()
  // Every door in one interleaved run: okstra as installed, the old helper on the real
  // interpreter, and this machine's floors.
  const t = spawnTimes({
    lookup: { cmd: okstra, args: ['registry', 'lookup', ...keyArgs] },
    lookupPy: { cmd: PYTHON, args: [pyReg, 'lookup', 'p', 'g', 't'], env },
    reserve: { cmd: okstra, args: ['registry', 'reserve', '--project-id', 'p', '--task-group', 'g', '--task-id', 'r{i}', '--home', home, '--worktree-path', '/w/r{i}', '--branch', 'feat-r{i}', '--base-ref', SHA] },
    reservePy: { cmd: PYTHON, args: [pyReg, 'reserve', 'p', 'g', 'q{i}', '/w/q{i}', 'feat-q{i}', SHA], env },
    append: { cmd: okstra, args: ['ledger', 'append', '--plan-run-root', ledger, '--impl-task-key', 'bench', '--stage', '{i}', '--status', 'started'] },
    appendPy: { cmd: PYTHON, args: [pyLedger, ledger, 'append', 'bench', '{i}', 'started'] },
    read: { cmd: okstra, args: ['ledger', 'read', '--plan-run-root', ledger] },
    readPy: { cmd: PYTHON, args: [pyLedger, ledger, 'read'] },
    cat: { cmd: 'cat', args: [join(ledger, 'consumers.jsonl')] },
    provision: { cmd: okstra, args: ['worktree', 'provision', '--project-root', repo, '--task-type', 'implementation', '--project-id', 'p', '--task-group', 'g', '--task-id', 'w{i}', '--home', home] },
    gitAdd: { cmd: 'git', args: ['-C', repo, 'worktree', 'add', '-q', '-b', 'g{i}', join(gitWt, 'g{i}'), 'HEAD'] },
    truth: { cmd: '/bin/true' },
  }, { n: 15, warmup: 2, first: 1_000_000 })
  const fmtLoad = (l) => l.map((x) => x.toFixed(1)).join(' / ')
  console.log(`okstra = ${realpathSync(okstra)} (installed from the local registry); old path = ${PYTHON}; medians of 15, interleaved; load average ${fmtLoad(load)} → ${fmtLoad(loadavg())}\n`)
  console.log('| door | `okstra` as installed | old helper (real Python) | floor | old ÷ `okstra` | `okstra` ÷ floor |')
  console.log('|---|---|---|---|---|---|')
  const row = (door, o, py, floor, floorName) =>
    console.log(`| ${door} | ${fmtMs(o)} | ${py == null ? '—' : fmtMs(py)} | ${fmtMs(floor)} (${floorName}) | ${py == null ? '—' : fmtRatio(py / o)} | ${(o / floor).toFixed(2)}× |`)
  row('registry lookup @1', t.lookup, t.lookupPy, t.truth, 'spawn `/bin/true`')
  row('registry reserve (grows from 1 row)', t.reserve, t.reservePy, t.truth, 'spawn `/bin/true`')
  row('ledger append (fsync) @10,000 rows', t.append, t.appendPy, t.truth, 'spawn `/bin/true`')
  row('ledger read @10,000 rows', t.read, t.readPy, t.cat, '`cat` of the file')
  row('worktree provision, 50 files', t.provision, null, t.gitAdd, '`git worktree add -b`')
} finally {
  registry.stop()
  rmSync(dir, { recursive: true, force: true })
}
