// Times spawned commands from a small, fresh Node process. The benchmark's own process holds
// large heaps (100,000-row ledgers, registries), and spawning from it costs more than from a
// caller that does not (measured: 57-75 ms per native `okstra ledger append` from the bench
// process against 3-4 ms from a shell), which would charge the harness to whichever
// contender runs there. A launcher calling okstra is a small process, like this one.
//
// Input (stdin, JSON): { contenders: { name: { cmd, args, env?, before? } }, n, warmup, first }
// where `before` ({ cmd, args, env? }) runs untimed before each sample and `{i}` anywhere in
// args is replaced by a counter that starts at `first`, one number per call (a fresh stage
// per append, a fresh key, path and branch per reservation). Contenders are
// interleaved sample by sample. Output (stdout, JSON): { name: median ms }.
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'

const spec = JSON.parse(readFileSync(0, 'utf8'))
let counter = spec.first ?? 0

function run({ cmd, args = [], env }, timed) {
  const i = String(counter++)
  const filled = args.map((a) => a.replaceAll('{i}', i))
  const t0 = process.hrtime.bigint()
  const r = spawnSync(cmd, filled, { env: env ?? process.env, maxBuffer: 1 << 30 })
  const ms = Number(process.hrtime.bigint() - t0) / 1e6
  if (r.status !== 0 && !timed.allowFail) {
    throw new Error(`${cmd} ${filled.join(' ')} failed (${r.status}): ${r.stderr}${r.stdout}`)
  }
  return ms
}

const samples = Object.fromEntries(Object.keys(spec.contenders).map((k) => [k, []]))
for (let i = -(spec.warmup ?? 1); i < spec.n; i++) {
  for (const [name, c] of Object.entries(spec.contenders)) {
    if (c.before) run(c.before, {})
    const ms = run(c, { allowFail: c.allowFail })
    if (i >= 0) samples[name].push(ms)
  }
}
const median = (s) => {
  const v = [...s].sort((a, b) => a - b)
  const m = v.length >> 1
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2
}
process.stdout.write(JSON.stringify(Object.fromEntries(Object.entries(samples).map(([k, s]) => [k, median(s)]))))
