// `npm run bench`: every benchmark part side by side in one run, printed as a markdown table
// (medians) and written to bench/RESULTS.md. Columns: in-process (the Node-API call), the
// native `okstra` executable (what `okstra` is after an install), `node bin/okstra.cjs` (the
// JS shim, where no platform binary exists), and the old path: the real Python interpreter
// (sys.executable, resolved once) running the old helper's algorithm. `--quick` takes fewer
// samples. Benchmarks report figures; they assert nothing (the tests do that).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { PYTHON, floors, fmtMs, fmtRatio } from './lib.mjs'

const parts = ['registry', 'ledger', 'provision', 'handoff', 'wizard']
const quick = process.argv.includes('--quick')
const only = process.argv.find((a) => a.startsWith('--only='))?.slice(7).split(',')
const here = dirname(fileURLToPath(import.meta.url))

const lines = [
  '| operation | in-process | `okstra` (native) | `node bin/okstra.cjs` | old path | old ÷ native `okstra` | old ÷ in-process |',
  '|---|---|---|---|---|---|---|',
]
const cell = (v) => (v == null ? '—' : fmtMs(v))
const ratio = (a, b) => (a == null || b == null ? '—' : fmtRatio(a / b))
function add(r) {
  const old = r.python ?? r.old
  lines.push(`| ${r.op} | ${cell(r.inproc)} | ${cell(r.native)} | ${cell(r.cli)} | ${cell(old)}${old != null && r.oldLabel ? ` (${r.oldLabel})` : ''} | ${ratio(old, r.native)} | ${ratio(old, r.inproc)} |`)
  console.error(`done: ${r.op}`)
}
const loadBefore = loadavg()
const floorDir = mkdtempSync(join(tmpdir(), 'okstra-bench-floor-'))
try {
  for (const r of floors(floorDir, { quick })) add(r)
} finally {
  rmSync(floorDir, { recursive: true, force: true })
}
for (const name of parts.filter((p) => !only || only.includes(p))) {
  const mod = await import(`./${name}.mjs`)
  for (const r of await mod.run({ quick })) add(r)
}
const carry = !only || only.includes('carry') ? await (await import('./carry.mjs')).table({ quick }) : []
if (carry.length) console.error('done: carry')
// The machine's load during the run: figures from a shared machine are read as ratios.
const load = (l) => l.map((x) => x.toFixed(1)).join(' / ')
const header = `Measured ${new Date().toISOString().slice(0, 16)}Z on ${process.platform}/${process.arch} (${cpus().length} CPUs), ` +
  `Node ${process.version}, old path = ${PYTHON}, ${quick ? 'quick' : 'full'} run` +
  `${only ? ` of ${only.join(', ')}` : ''}. Load average (1 / 5 / 15 min) at the start ${load(loadBefore)}, at the end ${load(loadavg())}.\n\n`
const tables = [lines.join('\n'), ...(carry.length ? [carry.join('\n')] : [])].join('\n\n')
writeFileSync(join(here, 'RESULTS.md'), `# Benchmark results\n\n${header}${tables}\n`)
console.log(tables)
