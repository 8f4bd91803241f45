// Timing helpers shared by the benchmark parts. Figures are medians of wall-clock samples.
import { spawnSync } from 'node:child_process'

export function median(samples) {
  const s = [...samples].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

/** Runs `fn` `warmup` times untimed, then `n` times timed; `before` runs untimed each time. */
export function measure(fn, { n = 200, warmup = 10, before } = {}) {
  for (let i = 0; i < warmup; i++) {
    before?.(i)
    fn(i)
  }
  const samples = []
  for (let i = 0; i < n; i++) {
    before?.(warmup + i)
    const t0 = process.hrtime.bigint()
    fn(warmup + i)
    samples.push(Number(process.hrtime.bigint() - t0) / 1e6)
  }
  return median(samples)
}

/** Spawns a command and throws with its output when it fails. */
export function spawnOk(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts })
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}${r.stdout}`)
  return r
}

export const fmtMs = (ms) => (ms < 0.01 ? `${(ms * 1000).toFixed(2)} µs` : ms < 1 ? `${(ms * 1000).toFixed(0)} µs` : `${ms.toFixed(1)} ms`)
export const fmtRatio = (r) => (r >= 100 ? `${Math.round(r)}×` : `${r.toFixed(1)}×`)
