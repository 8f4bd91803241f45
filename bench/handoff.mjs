// handoffAssemble of 5 stages on a 20,000-file repository against doing the same by hand
// with git (`git worktree add -b` at the base, then `git merge --no-edit` of each stage
// head), in one run, samples interleaved. Each sample makes a new collector (a new group
// id); its worktree is removed, untimed, after it.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { handoffAssemble, handoffRecordVerified, ledgerAppend, registryReserve, registrySetImplementationBase } from '../index.js'
import { median, spawnOk } from './lib.mjs'

const FILES = 20000
const STAGES = 5
const gitEnv = { ...process.env, GIT_AUTHOR_NAME: 'b', GIT_AUTHOR_EMAIL: 'b@b', GIT_COMMITTER_NAME: 'b', GIT_COMMITTER_EMAIL: 'b@b' }
const git = (repo, ...args) => spawnOk('git', ['-C', repo, ...args], { env: gitEnv }).stdout.trim()

/** The repository, the base and one head per stage (each rewrites 200 files of its own). */
function makeRepo(root) {
  const repo = join(root, 'repo')
  mkdirSync(repo)
  for (let i = 0; i < FILES; i++) {
    const dir = join(repo, `d${Math.floor(i / 100)}`)
    if (i % 100 === 0) mkdirSync(dir)
    writeFileSync(join(dir, `f${i}.txt`), `line ${i}\n`.repeat(20))
  }
  git(repo, 'init', '-q', '-b', 'main')
  git(repo, 'add', '-A')
  git(repo, 'commit', '-q', '-m', 'init')
  const base = git(repo, 'rev-parse', 'HEAD')
  const heads = {}
  for (let s = 1; s <= STAGES; s++) {
    git(repo, 'checkout', '-q', '-b', `s${s}`, base)
    for (let i = 0; i < 200; i++) {
      const f = s * 3000 + i * 7
      writeFileSync(join(repo, `d${Math.floor(f / 100)}`, `f${f}.txt`), `stage ${s} ${i}\n`)
    }
    git(repo, 'commit', '-q', '-am', `stage ${s}`)
    heads[s] = git(repo, 'rev-parse', 'HEAD')
  }
  git(repo, 'checkout', '-q', 'main')
  return { repo, base, heads }
}

export async function run({ quick }) {
  const root = mkdtempSync(join(tmpdir(), 'okstra-bench-handoff-'))
  try {
    const { repo, base, heads } = makeRepo(root)
    const home = join(root, 'home')
    const runs = join(root, 'runs')
    mkdirSync(runs)
    const plan = join(runs, 'plan.md')
    const rows = Array.from({ length: STAGES }, (_, i) => `| ${i + 1} | s${i + 1} | (none) |`).join('\n')
    writeFileSync(plan, `# plan\n\n## 5.5 Stage Map\n\n| Stage | Title | Depends on |\n|---|---|---|\n${rows}\n`)
    const task = { projectId: 'b', taskGroup: 'g', taskId: 't', home }
    registryReserve({ ...task, worktreePath: repo, branch: 'feat-t', baseRef: base })
    registrySetImplementationBase({ ...task, commit: base })
    for (const [n, head] of Object.entries(heads)) {
      ledgerAppend({ planRunRoot: runs, implTaskKey: 'b/g/t', stage: Number(n), status: 'done', fields: { head_commit: head } })
      const report = join(runs, `fv-${n}.md`)
      writeFileSync(report.replace(/\.md$/, '.data.json'), JSON.stringify({ taskType: 'final-verification', verificationScope: 'single-stage', verdictToken: 'accepted' }))
      handoffRecordVerified({ planRunRoot: runs, implTaskKey: 'b/g/t', stage: Number(n), reportPath: report })
    }
    const stages = Object.keys(heads).map(Number)
    const paths = {
      okstra: (i) => handoffAssemble({ planRunRoot: runs, approvedPlan: plan, projectRoot: repo, ...task, workCategory: 'feature', stages, groupId: `o${i}` }).worktreePath,
      git: (i) => {
        const dir = join(root, 'hand', `h${i}`)
        git(repo, 'worktree', 'add', '-q', '-b', `hand-${i}`, dir, base)
        for (const h of Object.values(heads)) git(dir, 'merge', '-q', '--no-edit', h)
        return dir
      },
    }
    const samples = { okstra: [], git: [] }
    const n = quick ? 2 : 5
    for (let i = -1; i < n; i++) {
      const order = i % 2 ? ['okstra', 'git'] : ['git', 'okstra']
      for (const p of order) {
        const t0 = process.hrtime.bigint()
        const dir = paths[p](i + 1)
        const ms = Number(process.hrtime.bigint() - t0) / 1e6
        git(repo, 'worktree', 'remove', '--force', '--force', dir)
        spawnOk('sync', [])
        if (i >= 0) samples[p].push(ms)
      }
    }
    console.error(`handoffAssemble 5 stages: okstra ${samples.okstra.map(Math.round)} git ${samples.git.map(Math.round)}`)
    return [{
      op: `handoffAssemble, ${STAGES} stages, ${FILES.toLocaleString('en')} files`,
      inproc: median(samples.okstra),
      old: median(samples.git),
      oldLabel: 'git worktree add -b + 5 × git merge',
    }]
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
}
