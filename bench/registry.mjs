// Registry rows: lookup and reserve at 10 / 100 / 1000 entries, in-process vs through the
// `okstra` CLI vs spawning python3 with the old helper's algorithm (as the launcher did).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { registryDoctor, registryLookup, registryRelease, registryReserve } from '../index.js'
import { measure, spawnOk } from './lib.mjs'
import { spawnSync } from 'node:child_process'

const here = dirname(fileURLToPath(import.meta.url))
const cli = join(here, '..', 'bin', 'okstra.cjs')
const py = join(here, '..', '__test__', 'fixtures', 'py_registry.py')
const SHA = '0'.repeat(40)

export async function run({ quick }) {
  const rows = []
  const spawnN = quick ? 5 : 15
  for (const size of [10, 100, 1000]) {
    const home = mkdtempSync(join(tmpdir(), 'okstra-bench-reg-'))
    const env = { ...process.env, OKSTRA_HOME: home }
    spawnOk('python3', [py, 'reserve-many', 'p', 'g', 't', String(size)], { env })
    const key = { projectId: 'p', taskGroup: 'g', taskId: `t${size >> 1}`, home }
    const keyArgs = ['--project-id', 'p', '--task-group', 'g', '--task-id', `t${size >> 1}`, '--home', home]

    const inproc = measure(() => registryLookup(key), { n: 300 })
    const viaCli = measure(() => spawnOk('node', [cli, 'registry', 'lookup', ...keyArgs]), { n: spawnN, warmup: 1 })
    const viaPy = measure(() => spawnOk('python3', [py, 'lookup', 'p', 'g', `t${size >> 1}`], { env }), { n: spawnN, warmup: 1 })
    rows.push({ op: `registryLookup @${size}`, inproc, cli: viaCli, python: viaPy })

    // Reserve re-reserves a released key each time, so the registry keeps its size; the
    // release before each sample is not timed.
    const rkey = { projectId: 'p', taskGroup: 'g', taskId: 'bench', home }
    const res = { ...rkey, worktreePath: '/w/bench', branch: 'feat-bench', baseRef: SHA }
    const release = () => registryRelease(rkey)
    const inprocR = measure(() => registryReserve(res), { n: 100, before: release })
    const cliR = measure(
      () => spawnOk('node', [cli, 'registry', 'reserve', '--project-id', 'p', '--task-group', 'g', '--task-id', 'bench',
        '--worktree-path', '/w/bench', '--branch', 'feat-bench', '--base-ref', SHA, '--home', home]),
      { n: spawnN, warmup: 1, before: release })
    const pyR = measure(() => spawnOk('python3', [py, 'reserve', 'p', 'g', 'bench', '/w/bench', 'feat-bench', SHA], { env }),
      { n: spawnN, warmup: 1, before: release })
    rows.push({ op: `registryReserve @${size}`, inproc: inprocR, cli: cliR, python: pyR })
    rmSync(home, { recursive: true, force: true })
  }
  rows.push(doctorAt(100000, quick))
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
  const cli = measure(() => spawnSync('node', [cliPath(), 'registry', 'doctor', '--home', home], { maxBuffer: 1 << 30 }), { n, warmup: 1 })
  rmSync(home, { recursive: true, force: true })
  return { op: `registryDoctor @${size / 1000}k rows`, inproc, cli }
}

const cliPath = () => cli
