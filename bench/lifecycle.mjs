// `node bench/lifecycle.mjs [--quick]`: the end-of-life commands against git by hand, one run,
// printed as a markdown table (medians of wall-clock samples).
//
// - `okstra worktree status` of 50 worktrees of a 20,000-file repository (every row judged:
//   git status, the integration proof, ahead/behind, processes inside) against `git status
//   --porcelain` over the same 50 run by `xargs -P$(nproc)`.
// - `okstra worktree remove` of a worktree holding a 20,000-file copied `node_modules`: the
//   time until the command returns (the directory is renamed into the trash and deleted in
//   the background) against `git worktree remove --force` of the same.
// Benchmarks report figures; they assert nothing (the tests do that).
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import * as native from '@okstra/native'
import { NATIVE_CLI, fmtMs, median, spawnOk } from './lib.mjs'

const quick = process.argv.includes('--quick')
const N = quick ? 3 : 5
const git = (dir, ...args) => spawnOk('git', ['-C', dir, ...args]).stdout.trim()
const time = (fn) => {
  const t0 = process.hrtime.bigint()
  fn()
  return Number(process.hrtime.bigint() - t0) / 1e6
}

/** A repository of `files` files in directories of 100, committed on `main`. */
function repoOf(dir, files) {
  const repo = join(dir, 'repo')
  mkdirSync(repo, { recursive: true })
  git(repo, 'init', '-q', '-b', 'main')
  writeFileSync(join(repo, '.gitignore'), 'node_modules/\n')
  for (let d = 0; d < files / 100; d++) {
    mkdirSync(join(repo, `d${d}`))
    for (let f = 0; f < 100; f++) writeFileSync(join(repo, `d${d}`, `f${f}.txt`), `file ${d}/${f}\n`)
  }
  git(repo, 'add', '-A')
  git(repo, '-c', 'user.name=b', '-c', 'user.email=b@b', 'commit', '-qm', 'base')
  return repo
}

function nodeModules(dir, files) {
  for (let d = 0; d < files / 100; d++) {
    const sub = join(dir, 'node_modules', `pkg${d}`)
    mkdirSync(sub, { recursive: true })
    for (let f = 0; f < 100; f++) writeFileSync(join(sub, `m${f}.js`), `module.exports = ${f}\n`)
  }
}

const only = process.argv.find((a) => a.startsWith('--only='))?.slice(7)
console.log('| operation | okstra | git by hand | okstra ÷ git |\n|---|---|---|---|')

function statusRow(dir) {
  const repo = repoOf(dir, 20_000)
  const home = join(dir, 'home')
  const paths = []
  for (let i = 0; i < 50; i++) {
    const r = native.provisionTaskWorktree({ projectId: 'b', taskGroup: 'g', taskId: `t${i}`, home, taskType: 'implementation', projectRoot: repo })
    paths.push(r.path)
    if (i % 10 === 0) console.error(`provisioned ${i + 1}/50`)
  }
  writeFileSync(join(dir, 'paths'), paths.join('\n') + '\n')
  const nproc = cpus().length
  const st = []
  const gs = []
  for (let i = 0; i < N + 1; i++) {
    const a = time(() => spawnOk(NATIVE_CLI, ['worktree', 'status', '--json', '--home', home]))
    const b = time(() => spawnOk('sh', ['-c', `xargs -P${nproc} -I{} git -C {} status --porcelain < "$1" > /dev/null`, 'sh', join(dir, 'paths')]))
    if (i > 0) {
      st.push(a)
      gs.push(b)
    }
  }
  const stMs = median(st)
  const gsMs = median(gs)
  console.log(`| \`okstra worktree status\`, 50 worktrees × 20,000 files | ${fmtMs(stMs)} (samples ${st.map((v) => v.toFixed(0)).join(', ')}) | ${fmtMs(gsMs)} (\`git status --porcelain\`, \`xargs -P${nproc}\`; samples ${gs.map((v) => v.toFixed(0)).join(', ')}) | ${(stMs / gsMs).toFixed(2)}× |`)
}

function removeRow(dir) {
  const home = join(dir, 'home')
  const small = repoOf(join(dir, 's'), 100)
  const rm = []
  const rmGit = []
  for (let i = 0; i < N; i++) {
    const wt = native.provisionTaskWorktree({ projectId: 'b', taskGroup: 'rm', taskId: `r${i}`, home, taskType: 'implementation', projectRoot: small }).path
    nodeModules(wt, 20_000)
    rm.push(time(() => spawnOk(NATIVE_CLI, ['worktree', 'remove', '--project-id', 'b', '--task-group', 'rm', '--task-id', `r${i}`, '--home', home])))
    const plain = join(dir, `plain${i}`)
    git(small, 'worktree', 'add', '-q', '-b', `plain${i}`, plain)
    nodeModules(plain, 20_000)
    rmGit.push(time(() => spawnOk('git', ['-C', small, 'worktree', 'remove', '--force', plain])))
    // Let the background deletion finish before the next sample.
    spawnSync('sh', ['-c', `while [ -n "$(ls -A "${join(home, 'worktrees', '.trash')}" 2>/dev/null)" ]; do sleep 0.05; done`])
  }
  const rmMs = median(rm)
  const rmGitMs = median(rmGit)
  console.log(`| \`okstra worktree remove\`, worktree with a 20,000-file \`node_modules\`: until it returns | ${fmtMs(rmMs)} (samples ${rm.map((v) => v.toFixed(0)).join(', ')}) | ${fmtMs(rmGitMs)} (\`git worktree remove --force\`; samples ${rmGit.map((v) => v.toFixed(0)).join(', ')}) | ${(rmMs / rmGitMs).toFixed(2)}× |`)
}

for (const [name, part] of [['remove', removeRow], ['status', statusRow]]) {
  if (only && only !== name) continue
  const dir = mkdtempSync(join(tmpdir(), 'okstra-bench-eol-'))
  try {
    part(dir)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
