// A TypeScript consumer of the package, compiled with `tsc --noEmit` in the test run: it
// must type-check against the generated index.d.ts as users would write it.
import {
  registryLookup, registryReserve, registryReserveAsync, registryList, registryPrune,
  registryDoctor, registryRepair, safeSegment, taskKey, computeBranchName, runCli,
  type KeyParts, type WorktreeEntry,
} from '@okstra/native'

const parts: KeyParts = { projectId: 'p', taskGroup: 'g', taskId: 't', stageNumber: 1, home: '/tmp/x' }
const found: WorktreeEntry | null = registryLookup(parts)
const stage: number | null = found ? found.stage : null
const status: 'active' | 'released' | undefined = found?.status
const entry: Promise<WorktreeEntry> = registryReserveAsync({ ...parts, worktreePath: '/w', branch: 'b', baseRef: 'x' })
const sync: WorktreeEntry = registryReserve({ ...parts, worktreePath: '/w', branch: 'b', baseRef: 'x', stages: [1, 2] })
const listed: WorktreeEntry[] = registryList({ status: 'active' })
const released: WorktreeEntry[] = registryPrune({ dryRun: true }).released
const ok: boolean = registryDoctor().ok
const moved: string | null = registryRepair().movedTo
const slug: string = safeSegment('x') + taskKey(parts) + computeBranchName({ workCategory: 'bugfix', taskId: 't' })
const code: number = runCli(['--help']).exitCode
export { stage, status, entry, sync, listed, released, ok, moved, slug, code }
