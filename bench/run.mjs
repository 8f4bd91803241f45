// `npm run bench`: every benchmark part side by side in one run, printed as a markdown table
// (medians) with ratios against the old path (spawning python3 as the launcher did), and
// written to bench/RESULTS.md. `--quick` takes fewer samples. Benchmarks report figures;
// they assert nothing (the tests do that).
import { writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { fmtMs, fmtRatio } from './lib.mjs'

const parts = ['registry', 'provision', 'ledger', 'wizard']
const quick = process.argv.includes('--quick')
const here = dirname(fileURLToPath(import.meta.url))

const lines = [
  '| operation | in-process | `okstra` CLI | old path | old ÷ in-process | CLI ÷ in-process |',
  '|---|---|---|---|---|---|',
]
for (const name of parts) {
  const mod = await import(`./${name}.mjs`)
  for (const r of await mod.run({ quick })) {
    const old = r.python ?? r.old
    lines.push(`| ${r.op} | ${fmtMs(r.inproc)} | ${r.cli == null ? '—' : fmtMs(r.cli)} | ${old == null ? '—' : fmtMs(old)}${r.oldLabel ? ` (${r.oldLabel})` : ''} | ${old == null ? '—' : fmtRatio(old / r.inproc)} | ${r.cli == null ? '—' : fmtRatio(r.cli / r.inproc)} |`)
    console.error(`done: ${r.op}`)
  }
}
const carry = await (await import('./carry.mjs')).table({ quick })
console.error('done: carry')
const header = `Measured ${new Date().toISOString().slice(0, 10)} on ${process.platform}/${process.arch}, Node ${process.version}, ${quick ? 'quick' : 'full'} run.\n\n`
writeFileSync(join(here, 'RESULTS.md'), `# Benchmark results\n\n${header}${lines.join('\n')}\n\n${carry.join('\n')}\n`)
console.log(`${lines.join('\n')}\n\n${carry.join('\n')}`)
