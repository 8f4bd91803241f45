// TypeScript consumer of the ledger, stage map, handoff and reconcile exports: it must
// type-check against the generated index.d.ts as users would write it.
import {
  ledgerRead, ledgerAppend, ledgerAppendAsync, ledgerLatestDoneByStage, ledgerVerifiedAcceptedStages,
  ledgerPrCoveredStages, parseStageMap, handoffEligible, handoffAssembleAsync, handoffRecordVerified,
  handoffRecordPr, gitReconcile, type StageMap, type HandoffAssembleResult,
} from '@okstra/native'

const root = '/tmp/run'
const { rows, skipped } = ledgerRead({ planRunRoot: root })
const firstSkipped: number | undefined = skipped[0]?.line
const appended: boolean = ledgerAppend({ planRunRoot: root, implTaskKey: 'p/g/t', stage: 1, status: 'done', fields: { head_commit: 'x' } }).appended
const later: Promise<{ appended: boolean }> = ledgerAppendAsync({ planRunRoot: root, implTaskKey: 'p/g/t', stage: 1, status: 'started' })
const done: Record<string, unknown> | undefined = ledgerLatestDoneByStage(rows)[1]
const accepted: number[] = ledgerVerifiedAcceptedStages(rows).concat(ledgerPrCoveredStages(rows))
const map: StageMap = parseStageMap('## 5.5 Stage Map\n')
const deps: number[] = map.stages.flatMap((s) => s.dependsOn)
const ctx = { planRunRoot: root, approvedPlan: '/tmp/plan.md', projectRoot: '/tmp/repo' }
const reasons: string[] = handoffEligible(ctx).stages.flatMap((s) => s.reasons)
const assembled: Promise<HandoffAssembleResult> = handoffAssembleAsync({ ...ctx, stages: [1], projectId: 'p', taskGroup: 'g', taskId: 't' })
const status: Promise<'created' | 'reused'> = assembled.then((a) => a.status)
const recorded: boolean = handoffRecordVerified({ planRunRoot: root, implTaskKey: 'k', stage: 1, reportPath: 'r.md' }).appended
  && handoffRecordPr({ planRunRoot: root, implTaskKey: 'k', stages: [1], branch: 'b', url: 'u' }).appended
const changes: { stage: number; from: string; to: string }[] = gitReconcile({ planRunRoot: root, projectRoot: '/tmp/repo', apply: false }).changes
export { firstSkipped, appended, later, done, accepted, deps, reasons, status, recorded, changes }
