// The provisioning exports as a TypeScript consumer writes them (compiled with tsc --noEmit).
import {
  provisionTaskWorktree, provisionTaskWorktreeAsync, resolveSyncEntries, cleanGateExcludes,
  isInsideLinkedWorktree, mainWorktreePath, upsertProjectJson, previewTaskWorktree, registryRepair,
  type ProvisionResult, type ProvisionPreview,
} from '@okstra/native'

const o = { projectId: 'p', taskGroup: 'g', taskId: 't', taskType: 'implementation', projectRoot: '/r' }
const r: ProvisionResult = provisionTaskWorktree({ ...o, stageNumber: 2, baseRef: 'main', workCategory: 'bugfix' })
const status: 'created' | 'reused' | 'skipped-in-worktree' | 'skipped-not-git' = r.status
const later: Promise<ProvisionResult> = provisionTaskWorktreeAsync({ ...o, groupId: 'g1', home: '/h' })
const dirs: string[] = resolveSyncEntries('/r').dirs.concat(cleanGateExcludes('/r'), r.linkedFiles, r.snapshots, r.cloned, r.copied, resolveSyncEntries('/r').copies)
const linked: boolean = isInsideLinkedWorktree('/r')
const main: string = mainWorktreePath('/r')
const pj: Record<string, unknown> = upsertProjectJson({ projectRoot: '/r', projectId: 'p' })
const pv: ProvisionPreview = previewTaskWorktree({ ...o, branch: 'feat-t-2' })
const same: typeof status = pv.status
const cleared: string[] = registryRepair({ home: '/h' }).cleared.map((p) => p.code)
export { status, later, dirs, linked, main, pj, same, cleared }
