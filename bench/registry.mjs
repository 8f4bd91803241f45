// Registry rows: lookup and reserve at 10 / 100 / 1000 entries, in-process vs through the
// `okstra` CLI vs spawning python3 with the old helper's algorithm (as the launcher did).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { registryLookup, registryRelease, registryReserve } from '../index.js'
import { measure, spawnOk } from './lib.mjs'

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
  return rows
}
