// `node bench/registry-rss.mjs [--rows=100000]`: peak RSS of a Node process that reads a
// registry of `rows` rows (`registryLookup`) and reserves one row (`registryReserve`), the
// life of a long-running launcher. Each case runs in a fresh process; the baseline loads the
// module and does nothing. The extra peak over the baseline, divided by the file's size,
// says how many copies of the registry the process held at its peak. Asserts nothing.
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const rows = Number(process.argv.find((a) => a.startsWith('--rows='))?.slice(7) ?? 100_000)
const index = process.argv.find((a) => a.startsWith('--index='))?.slice(8) ?? join(here, '..', 'index.js')

if (process.argv[2] === '--child') {
  const { registryLookup, registryReserve } = await import(index)
  const [, , , home, what] = process.argv
  const key = (t) => ({ projectId: 'p', taskGroup: 'g', taskId: t })
  if (what !== 'baseline') {
    registryLookup({ ...key('t7'), home })
    if (what === 'lookup+reserve' || what === 'lookup+reserve+lookup') {
      registryReserve({ ...key('fresh'), home, worktreePath: '/w/fresh', branch: 'feat-fresh', baseRef: 'a'.repeat(40) })
    }
    if (what === 'lookup+reserve+lookup') registryLookup({ ...key('t7'), home })
  }
  process.stdout.write(String(process.resourceUsage().maxRSS * 1024))
  process.exit(0)
}

/** A registry of `n` rows in the writers' layout (Python's json.dumps(indent=2)). */
function seed(home, n) {
  const tasks = {}
  const branches = {}
  for (let i = 0; i < n; i++) {
    tasks[`p/g/t${i}`] = {
      task_key: `p/g/t${i}`, project_id: 'p', task_group: 'g', task_id: `t${i}`,
      worktree_path: `/w/t${i}`, branch: `feat-t${i}`, base_ref: 'a'.repeat(40),
      status: 'active', created_at: '2026-01-01T00:00:00+0000', last_phase: 'implementation',
    }
    branches[`feat-t${i}`] = `p/g/t${i}`
  }
  mkdirSync(join(home, 'worktrees'), { recursive: true })
  const file = join(home, 'worktrees', 'registry.json')
  writeFileSync(file, JSON.stringify({ version: 1, tasks, branches }, null, 2) + '\n')
  return statSync(file).size
}

const dir = mkdtempSync(join(tmpdir(), 'okstra-bench-rss-'))
try {
  const home = join(dir, 'home')
  const size = seed(home, rows)
  const peak = (what) => {
    seed(home, rows)
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', home, what, `--index=${index}`], { encoding: 'utf8' })
    if (r.status !== 0) throw new Error(r.stderr)
    return Number(r.stdout)
  }
  const mb = (b) => `${(b / 1e6).toFixed(1)} MB`
  console.log(`registry of ${rows.toLocaleString('en')} rows, ${mb(size)}; load average ${loadavg()[0].toFixed(1)}\n`)
  console.log('| process | peak RSS | over the baseline | ÷ file size |')
  console.log('|---|---|---|---|')
  const base = peak('baseline')
  console.log(`| loads the module only | ${mb(base)} | — | — |`)
  for (const what of ['lookup', 'lookup+reserve', 'lookup+reserve+lookup']) {
    const p = peak(what)
    console.log(`| ${what} | ${mb(p)} | ${mb(p - base)} | ${((p - base) / size).toFixed(2)} |`)
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}
