// Demo part: worktree provisioning in a temp repository — a task worktree, reuse by a later
// phase, an implementation stage worktree, a refusal that changes nothing — and
// `git worktree list` beside the registry rows.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { provisionTaskWorktree, registryList, registryRelease, cleanGateExcludes } from '../index.js'
import { heading, step, table } from './show.mjs'
import { git } from '../__test__/fixtures/project.mjs'

export async function run({ root, home }) {
  heading('worktree provisioning')
  const repo = join(root, 'shop-repo')
  mkdirSync(join(repo, 'src'), { recursive: true })
  writeFileSync(join(repo, 'src', 'checkout.js'), 'export const total = (xs) => xs.reduce((a, b) => a + b, 0)\n')
  writeFileSync(join(repo, '.gitignore'), '.env\n.project-docs\n.okstra/\n')
  git(repo, 'init', '-q', '-b', 'main')
  git(repo, 'add', '-A')
  git(repo, 'commit', '-q', '-m', 'initial')
  writeFileSync(join(repo, '.env'), 'PAYMENT_KEY=demo\n')
  mkdirSync(join(repo, '.project-docs'))
  step(`temp repository ${repo} (untracked .env and .project-docs to share)`)

  const task = { projectId: 'shop', taskGroup: 'payments', taskId: 'Refund Timeout', projectRoot: repo, workCategory: 'bugfix', home }
  const t = provisionTaskWorktree({ ...task, taskType: 'requirements-discovery' })
  step(`${t.status}: ${t.note}`)
  const again = provisionTaskWorktree({ ...task, taskType: 'implementation-planning' })
  step(`next phase → ${again.status}: ${again.note}`)
  const s = provisionTaskWorktree({ ...task, taskType: 'implementation', stageNumber: 1, projectRoot: t.path })
  step(`stage 1, asked from inside the task worktree → ${s.status}: ${s.note}`)
  try {
    provisionTaskWorktree({ ...task, taskId: 'other', taskType: 'implementation', baseRef: 'no-such-branch' })
  } catch (e) {
    step(`unknown base ref is refused, nothing made: ${e.code}`)
  }
  step(`clean-gate excludes: ${cleanGateExcludes(repo).join(', ')}`)
  console.log('\n   git worktree list:')
  for (const line of git(repo, 'worktree', 'list').split('\n')) console.log(`   ${line}`)
  console.log('\n   registry rows:')
  table(registryList({ home, projectId: 'shop' }).filter((e) => e.taskGroup === 'payments'), ['taskKey', 'branch', 'status', 'lastPhase', 'worktreePath'])
  registryRelease({ ...task, taskId: 'refund-timeout', stageNumber: 1 })
  step('released stage 1: registry row released and its git lock removed:')
  for (const line of git(repo, 'worktree', 'list').split('\n')) console.log(`   ${line}`)
}
