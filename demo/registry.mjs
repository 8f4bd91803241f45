// Demo part: a registry session — reserve, reuse refusal, stage rows, implementation base,
// release, prune and doctor, all in the demo's temp OKSTRA_HOME.
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import {
  computeBranchName, computeWorktreePath, registryDoctor, registryList,
  registryListActiveStageNumbers, registryPrune, registryRelease, registryReserve,
  registrySetImplementationBase, safeSegment, taskKey,
} from '../index.js'
import { heading, step, table } from './show.mjs'

export async function run({ home }) {
  heading('registry')
  const task = { projectId: 'shop', taskGroup: safeSegment('결제 버그'), taskId: 'checkout-500', home }
  step(`safeSegment('결제 버그') = ${task.taskGroup}   (non-ASCII gets a stable hash suffix)`)
  step(`taskKey = ${taskKey(task)}`)
  const path = computeWorktreePath(task)
  const branch = computeBranchName({ workCategory: 'bugfix', taskId: task.taskId })
  step(`computeWorktreePath = ${path}`)
  step(`computeBranchName(bugfix) = ${branch}`)
  mkdirSync(path, { recursive: true })
  registryReserve({ ...task, worktreePath: path, branch, baseRef: 'a'.repeat(40), phase: 'requirements-discovery' })
  step('reserved the task worktree')
  try {
    registryReserve({ ...task, worktreePath: path, branch, baseRef: 'a'.repeat(40) })
  } catch (e) {
    step(`reserving it again is refused: ${e.code}`)
  }
  for (const n of [1, 2]) {
    const stage = { ...task, stageNumber: n }
    registryReserve({
      ...stage, worktreePath: computeWorktreePath(stage), branch: computeBranchName({ workCategory: 'bugfix', taskId: task.taskId, stageNumber: n }),
      baseRef: 'b'.repeat(40), phase: 'implementation',
    })
  }
  step(`active stages: [${registryListActiveStageNumbers(task).join(', ')}]`)
  step(`implementation base pinned: ${registrySetImplementationBase({ ...task, commit: 'c'.repeat(40) }).slice(0, 12)}…`)
  step(`pinning again keeps the first: ${registrySetImplementationBase({ ...task, commit: 'd'.repeat(40) }).slice(0, 12)}…`)
  registryRelease({ ...task, stageNumber: 2 })
  step('released stage 2')
  table(registryList({ home }), ['taskKey', 'branch', 'status', 'lastPhase'])
  const prune = registryPrune({ home })
  step(`prune (dry run) would release ${prune.released.length} entr${prune.released.length === 1 ? 'y' : 'ies'} whose directory is gone: ${prune.released.map((e) => e.taskKey).join(', ')}`)
  const doc = registryDoctor({ home })
  step(`doctor: ok=${doc.ok}`)
  for (const p of doc.problems) console.log(`     ${p.code}  ${p.taskKey ?? ''}  ${p.detail}`)
  step(`registry file: ${join(home, 'worktrees', 'registry.json')}`)
}
