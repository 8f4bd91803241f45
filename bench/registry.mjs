// Registry rows: lookup and reserve at 10 → 100,000 entries. In-process (repeated lookups
// hit the per-process parsed copy), the native `okstra` executable, `node bin/okstra.cjs`,
// and the real Python interpreter running the old helper's algorithm; spawned contenders
// are interleaved sample by sample.
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { registryDoctor, registryLookup, registryRelease, registryReserve } from '../index.js'
import { NATIVE_CLI, NODE_CLI, PYTHON, atomicWriteFloor, measure, mib, spawnTimes } from './lib.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const py = join(here, '..', '__test__', 'fixtures', 'py_registry.py')
const SHA = '0'.repeat(40)

/** A registry of `size` active rows in the Python helper's layout (json.dumps indent=2). */
function seed(home, size) {
  const tasks = {}
  const branches = {}
  for (let i = 0; i < size; i++) {
    tasks[`p/g/t${i}`] = {
      project_id: 'p', task_group: 'g', task_id: `t${i}`, worktree_path: `/w/p/g/t${i}`, branch: `feat-t${i}`,
      base_ref: SHA, created_at: '2026-11-23T10:00:00+0000', last_phase: 'implementation', status: 'active',
      stage: null, implementation_base_commit: '', stages: null,
    }
    branches[`feat-t${i}`] = `p/g/t${i}`
  }
  mkdirSync(join(home, 'worktrees'), { recursive: true })
  writeFileSync(join(home, 'worktrees', 'registry.json'), `${JSON.stringify({ tasks, branches }, null, 2)}\n`)
}

export async function run({ quick }) {
  const rows = []
  for (const size of [10, 1000, 10_000, 100_000]) {
    const big = size >= 100_000
    const n = quick ? 3 : big ? 5 : 15
    const home = mkdtempSync(join(tmpdir(), 'okstra-bench-reg-'))
    const env = { ...process.env, OKSTRA_HOME: home }
    seed(home, size)
    await new Promise((resolve) => setTimeout(resolve, 50)) // let the file settle (see registry/cache.rs)
    const t = `t${size >> 1}`
    const key = { projectId: 'p', taskGroup: 'g', taskId: t, home }
    const keyArgs = ['--project-id', 'p', '--task-group', 'g', '--task-id', t, '--home', home]

    const inproc = measure(() => registryLookup(key), { n: big ? 100 : 300 })
    const spawned = spawnTimes({
      native: { cmd: NATIVE_CLI, args: ['registry', 'lookup', ...keyArgs] },
      cli: { cmd: process.execPath, args: [NODE_CLI, 'registry', 'lookup', ...keyArgs] },
      python: { cmd: PYTHON, args: [py, 'lookup', 'p', 'g', t], env },
    }, { n })
    rows.push({ op: `registryLookup @${size.toLocaleString('en')}`, inproc, ...spawned })

    // Reserve re-reserves a released key each time, so the registry keeps its size; the
    // release before each sample is not timed.
    const rkey = { projectId: 'p', taskGroup: 'g', taskId: 'bench', home }
    const release = () => registryRelease(rkey)
    const resArgs = ['registry', 'reserve', '--project-id', 'p', '--task-group', 'g', '--task-id', 'bench',
      '--worktree-path', '/w/bench', '--branch', 'feat-bench', '--base-ref', SHA, '--home', home]
    const inprocR = measure(() => registryReserve({ ...rkey, worktreePath: '/w/bench', branch: 'feat-bench', baseRef: SHA }),
      { n: big ? 5 : quick ? 20 : 60, warmup: 1, before: release })
    const untimedRelease = { cmd: NATIVE_CLI, args: ['registry', 'release', '--project-id', 'p', '--task-group', 'g', '--task-id', 'bench', '--home', home] }
    const spawnedR = spawnTimes({
      native: { before: untimedRelease, cmd: NATIVE_CLI, args: resArgs },
      cli: { before: untimedRelease, cmd: process.execPath, args: [NODE_CLI, ...resArgs] },
      python: { before: untimedRelease, cmd: PYTHON, args: [py, 'reserve', 'p', 'g', 'bench', '/w/bench', 'feat-bench', SHA], env },
    }, { n })
    rows.push({ op: `registryReserve @${size.toLocaleString('en')}`, inproc: inprocR, ...spawnedR })
    // What any reserve must at least do: replace a file of this size durably.
    const file = join(home, 'worktrees', 'registry.json')
    rows.push({ op: `  floor: write ${mib(statSync(file).size)} + fsync + rename + fsync dir`, inproc: atomicWriteFloor(file, big ? 5 : quick ? 10 : 30) })
    rmSync(home, { recursive: true, force: true })
  }
  rows.push(doctorAt(100_000, quick))
  return rows
}

/** registryDoctor over `size` active rows (their directories gone): linear work. */
function doctorAt(size, quick) {
  const home = mkdtempSync(join(tmpdir(), 'okstra-bench-doc-'))
  const tasks = {}
  const branches = {}
  for (let i = 0; i < size; i++) {
    const key = `p/g/t${i}`
    tasks[key] = { project_id: 'p', task_group: 'g', task_id: `t${i}`, worktree_path: `/nonexistent/t${i}`, branch: `feat-t${i}`,
      base_ref: SHA, created_at: '2026-01-01T00:00:00+0000', last_phase: 'implementation', status: 'active', stage: null,
      implementation_base_commit: '' }
    branches[`feat-t${i}`] = key
  }
  mkdirSync(join(home, 'worktrees'), { recursive: true })
  writeFileSync(join(home, 'worktrees', 'registry.json'), JSON.stringify({ tasks, branches }, null, 2) + '\n')
  const n = quick ? 2 : 5
  const inproc = measure(() => registryDoctor({ home }), { n, warmup: 1 })
  // The CLI exits non-zero when the doctor reports problems (every row's directory is gone).
  const args = ['registry', 'doctor', '--home', home]
  const spawned = spawnTimes({
    native: { cmd: NATIVE_CLI, args, allowFail: true },
    cli: { cmd: process.execPath, args: [NODE_CLI, ...args], allowFail: true },
  }, { n })
  rmSync(home, { recursive: true, force: true })
  return { op: `registryDoctor @${(size / 1000).toLocaleString('en')}k rows`, inproc, ...spawned }
}
