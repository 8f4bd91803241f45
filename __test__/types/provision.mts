// The provisioning exports as a TypeScript consumer writes them (compiled with tsc --noEmit).
import {
  provisionTaskWorktree, provisionTaskWorktreeAsync, resolveSyncEntries, cleanGateExcludes,
  isInsideLinkedWorktree, mainWorktreePath, upsertProjectJson, type ProvisionResult,
} from '@okstra/native'

const o = { projectId: 'p', taskGroup: 'g', taskId: 't', taskType: 'implementation', projectRoot: '/r' }
const r: ProvisionResult = provisionTaskWorktree({ ...o, stageNumber: 2, baseRef: 'main', workCategory: 'bugfix' })
const status: 'created' | 'reused' | 'skipped-in-worktree' | 'skipped-not-git' = r.status
const later: Promise<ProvisionResult> = provisionTaskWorktreeAsync({ ...o, groupId: 'g1', home: '/h' })
const dirs: string[] = resolveSyncEntries('/r').dirs.concat(cleanGateExcludes('/r'), r.linkedFiles, r.snapshots, r.cloned, r.copied, resolveSyncEntries('/r').copies)
const linked: boolean = isInsideLinkedWorktree('/r')
const main: string = mainWorktreePath('/r')
const pj: Record<string, unknown> = upsertProjectJson('/r', 'p')
export { status, later, dirs, linked, main, pj }
