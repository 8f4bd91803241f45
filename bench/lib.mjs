// Timing helpers shared by the benchmark parts. Figures are medians of wall-clock samples.
import { spawnSync } from 'node:child_process'
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))

/** The JS shim (`node bin/okstra.cjs`) and the native executable (what an install puts at `okstra`). */
export const NODE_CLI = join(here, '..', 'bin', 'okstra.cjs')
export const NATIVE_CLI = join(here, '..', 'npm', 'linux-x64-gnu', 'okstra')

/**
 * The real Python interpreter, resolved once: `python3` on PATH may be a wrapper (pyenv's is
 * a bash script adding 100+ ms per start), which would flatter every comparison with the old
 * path. The launcher's own `python3` call paid that too, but the interpreter is the fair floor.
 */
export const PYTHON = (() => {
  const r = spawnSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' })
  if (r.status !== 0 || !r.stdout.trim()) throw new Error(`cannot resolve python3's sys.executable: ${r.stderr}`)
  return r.stdout.trim()
})()

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

const TIMER = join(here, 'spawn-timer.mjs')

/**
 * Times spawned contenders ({ name: { cmd, args, env?, before?, allowFail? } }) from a small
 * fresh process (see spawn-timer.mjs), interleaved sample by sample; `{i}` anywhere in args
 * becomes a fresh number per call, counting from `first`. Returns the median per contender.
 */
export function spawnTimes(contenders, { n = 15, warmup = 1, first = 0 } = {}) {
  const r = spawnOk(process.execPath, [TIMER], { input: JSON.stringify({ contenders, n, warmup, first }) })
  return JSON.parse(r.stdout)
}

/** Spawns a command and throws with its output when it fails. */
export function spawnOk(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 256 << 20, ...opts })
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}${r.stdout}`)
  return r
}

/** `bytes` as MiB (or KiB below one MiB) for a row label. */
export const mib = (bytes) => (bytes >= 1 << 20 ? `${(bytes / (1 << 20)).toFixed(1)} MiB` : `${Math.round(bytes / 1024)} KiB`)

/**
 * The floor of durably replacing a file: write `body` (default: `file`'s bytes) to a temp
 * file beside `file`, fsync, rename it over a scratch file, fsync the directory. That is
 * what the atomic write does, and the least any registry change must do, since the format
 * is one JSON file.
 */
export function atomicWriteFloor(file, n, body = readFileSync(file)) {
  const dir = dirname(file)
  const target = join(dir, 'floor.json')
  return measure(() => {
    const tmp = `${target}.tmp`
    const fd = openSync(tmp, 'w')
    writeSync(fd, body)
    fsyncSync(fd)
    closeSync(fd)
    renameSync(tmp, target)
    const d = openSync(dir, 'r')
    fsyncSync(d)
    closeSync(d)
  }, { n, warmup: 2 })
}

/** This machine's floors: what the file system and process creation cost by themselves. */
export function floors(dir, { quick }) {
  mkdirSync(dir, { recursive: true })
  const n = quick ? 20 : 60
  const atomic = atomicWriteFloor(join(dir, 'floor.json'), n, Buffer.alloc(4096, 'x'))
  const log = join(dir, 'floor.jsonl')
  writeFileSync(log, '')
  const line = Buffer.from(`${'{"k": "v"}'.padEnd(120)}\n`)
  const append = measure(() => {
    const fd = openSync(log, 'a')
    writeSync(fd, line)
    fsyncSync(fd)
    closeSync(fd)
  }, { n, warmup: 3 })
  const { spawnTrue } = spawnTimes({ spawnTrue: { cmd: '/bin/true' } }, { n, warmup: 3 })
  const { spawnNode, spawnPy } = spawnTimes({
    spawnNode: { cmd: process.execPath, args: ['-e', '0'] },
    spawnPy: { cmd: PYTHON, args: ['-c', 'pass'] },
  }, { n: quick ? 5 : 15 })
  return [
    { op: 'floor: write 4 KiB + fsync + rename + fsync dir', inproc: atomic },
    { op: 'floor: append one line + fsync', inproc: append },
    { op: 'floor: spawn /bin/true', inproc: spawnTrue },
    { op: 'floor: spawn node -e 0', inproc: spawnNode },
    { op: `floor: spawn ${PYTHON} -c pass`, inproc: spawnPy },
  ]
}

export const fmtMs = (ms) => (ms < 0.01 ? `${(ms * 1000).toFixed(2)} µs` : ms < 1 ? `${(ms * 1000).toFixed(0)} µs` : `${ms.toFixed(1)} ms`)
export const fmtRatio = (r) => (r >= 100 ? `${Math.round(r)}×` : `${r.toFixed(1)}×`)
