// `node bench/provision-steps.mjs [--files=50,2000] [--n=9] [--okstra=PATH] [--place=disk|tmpfs] [--lfs]`:
// the fixed cost of `okstra worktree provision` (the native executable, as a launcher
// spawns it) against `git worktree add -b` on the same generated repository, samples
// interleaved (order alternating), each worktree removed and `sync`ed untimed. Every okstra
// sample runs with OKSTRA_TIMINGS=1, and the median of each step it reports (src/timing.rs)
// is printed, so the table says where provisioning's time goes beyond git's own. `--lfs`
// makes every file an LFS pointer (a `filter=lfs` attribute with git-lfs installed: the
// smudge filter runs per file in both contenders). Prints markdown; asserts nothing.
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { NATIVE_CLI, fmtMs, median, spawnOk } from './lib.mjs'

const arg = (name, dflt) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? dflt
const sizes = arg('files', '50,2000').split(',').map(Number)
const n = Number(arg('n', '9'))
const okstra = arg('okstra', NATIVE_CLI)
const lfs = process.argv.includes('--lfs')
const base = arg('place', 'disk') === 'tmpfs' ? '/dev/shm' : tmpdir()
const gitEnv = { ...process.env, GIT_AUTHOR_NAME: 'b', GIT_AUTHOR_EMAIL: 'b@b', GIT_COMMITTER_NAME: 'b', GIT_COMMITTER_EMAIL: 'b@b' }

function makeRepo(root, files) {
  const repo = join(root, 'repo')
  mkdirSync(repo)
  spawnOk('git', ['init', '-q', '-b', 'main'], { cwd: repo })
  if (lfs) {
    spawnOk('git', ['lfs', 'install', '--local'], { cwd: repo })
    writeFileSync(join(repo, '.gitattributes'), '*.bin filter=lfs diff=lfs merge=lfs -text\n')
  }
  for (let i = 0; i < files; i++) {
    const dir = join(repo, `d${Math.floor(i / 100)}`)
    if (i % 100 === 0) mkdirSync(dir)
    writeFileSync(join(dir, lfs ? `f${i}.bin` : `f${i}.txt`), `line ${i}\n`.repeat(20))
  }
  spawnOk('git', ['add', '-A'], { cwd: repo })
  spawnOk('git', ['commit', '-q', '-m', 'init'], { cwd: repo, env: gitEnv })
  return repo
}

function timed(cmd, args, env) {
  const t0 = process.hrtime.bigint()
  const r = spawnSync(cmd, args, { encoding: 'utf8', env })
  const ms = Number(process.hrtime.bigint() - t0) / 1e6
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}${r.stdout}`)
  return { ms, stderr: r.stderr }
}

function clean(repo, dir) {
  spawnOk('git', ['-C', repo, 'worktree', 'remove', '--force', '--force', dir])
  spawnOk('sync', [])
}

const out = []
out.push(`okstra = ${okstra}; ${lfs ? 'LFS repository; ' : ''}${base}; medians of ${n}; load average at the start ${loadavg().map((x) => x.toFixed(1)).join(' / ')}`)
for (const files of sizes) {
  const root = mkdtempSync(join(base, 'okstra-bench-steps-'))
  try {
    const repo = makeRepo(root, files)
    const home = join(root, 'home')
    const env = { ...process.env, OKSTRA_HOME: home, OKSTRA_TIMINGS: '1' }
    const samples = { okstra: [], git: [] }
    const steps = new Map()
    for (let i = -1; i < n; i++) {
      const order = i % 2 ? ['okstra', 'git'] : ['git', 'okstra']
      for (const who of order) {
        if (who === 'okstra') {
          const r = timed(okstra, ['worktree', 'provision', '--project-id', 'b', '--task-group', 'g', '--task-id', `t${i + 1}`,
            '--project-root', repo, '--task-type', 'implementation'], env)
          clean(repo, join(home, 'worktrees', 'b', 'g', `t${i + 1}`))
          if (i < 0) continue
          samples.okstra.push(r.ms)
          for (const line of r.stderr.split('\n')) {
            const m = /^okstra-timing (.+) (\d+)$/.exec(line)
            if (m) steps.set(m[1], [...(steps.get(m[1]) ?? []), Number(m[2]) / 1000])
          }
        } else {
          const dir = join(root, 'git', `g${i + 1}`)
          const r = timed('git', ['-C', repo, 'worktree', 'add', '-q', '-b', `g${i + 1}`, dir, 'HEAD'], process.env)
          clean(repo, dir)
          if (i >= 0) samples.git.push(r.ms)
        }
      }
    }
    const o = median(samples.okstra)
    const g = median(samples.git)
    out.push('', `### ${files.toLocaleString('en')} files${lfs ? ' (LFS)' : ''}`, '',
      '| step | median |', '|---|---|',
      `| **\`okstra worktree provision\`, whole process** | **${fmtMs(o)}** |`,
      `| **\`git worktree add -b\`, whole process** | **${fmtMs(g)}** |`,
      `| okstra ÷ git | ${(o / g).toFixed(2)}× |`)
    let sum = 0
    for (const [step, v] of steps) {
      sum += median(v)
      out.push(`| okstra step: ${step} | ${fmtMs(median(v))} |`)
    }
    out.push(`| okstra: process start, exit and the rest (whole − steps) | ${fmtMs(o - sum)} |`)
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
}
out.push('', `load average at the end ${loadavg().map((x) => x.toFixed(1)).join(' / ')}`)
console.log(out.join('\n'))
