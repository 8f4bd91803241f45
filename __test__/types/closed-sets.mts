// The closed sets and the null convention of the typings, checked exactly: each assertion
// fails to compile when a literal union widens to `string`, a value gains or loses a member,
// or a result field turns optional (`?: T`) instead of `T | null`.
import type {
  AppendResult, AssembleStatus, DoctorProblem, EntryStatus, GitReconcileResult, HandoffAssembleResult,
  LedgerAppendOptions, LedgerReadOptions, ProblemCode, Prompt, PromptKind, ProvisionPreview, ProvisionResult,
  ProvisionStatus, RepairResult, SubmitResult, TaskKeyParts, TaskType, Wizard, WizardOutcome, WorktreeEntry,
} from '@okstra/native'
import type * as native from '@okstra/native'

// True only when A and B are the same type (not merely assignable either way).
type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false
function exact<A, B>(ok: Equals<A, B>): Equals<A, B> {
  return ok
}

export const checks = [
  exact<ProvisionStatus, 'created' | 'reused' | 'skipped-in-worktree' | 'skipped-not-git'>(true),
  exact<ProvisionResult['status'], ProvisionStatus>(true),
  exact<ProvisionPreview['status'], ProvisionStatus>(true),
  exact<AssembleStatus, 'created' | 'reused'>(true),
  exact<HandoffAssembleResult['status'], AssembleStatus>(true),
  exact<EntryStatus, 'active' | 'released'>(true),
  exact<WorktreeEntry['status'], EntryStatus>(true),
  exact<PromptKind, 'pick' | 'text' | 'pick_group' | 'done' | 'aborted'>(true),
  exact<Prompt['kind'], PromptKind>(true),
  exact<WizardOutcome, 'done' | 'aborted'>(true),
  exact<ReturnType<Wizard['finished']>, WizardOutcome | null>(true),
  exact<TaskType, 'requirements-discovery' | 'error-analysis' | 'implementation-planning' | 'implementation' | 'final-verification' | 'release-handoff'>(true),
  exact<LedgerAppendOptions['status'], 'started' | 'done'>(true),
  exact<ProblemCode,
    | 'branch-index-dangling' | 'branch-index-missing' | 'branch-active-twice' | 'worktree-missing' | 'not-a-worktree'
    | 'worktree-unknown-to-git' | 'branch-switched' | 'worktree-prunable' | 'worktree-foreign' | 'provision-unfinished'
    | 'assemble-unfinished' | 'remove-unfinished' | 'journal-unreadable' | 'journal-refused' | 'worktree-locked-orphan'
    | 'worktree-unregistered' | 'worktree-unlocked' | 'branch-unregistered' | 'git-lock-stale' | 'temp-file-stale'>(true),
  exact<DoctorProblem['code'], ProblemCode>(true),
  exact<RepairResult['cleared'][number]['code'], ProblemCode>(true),
  // Results: a missing value is `null`, always present (never `undefined`, never optional).
  exact<WorktreeEntry['stage'], number | null>(true),
  exact<WorktreeEntry['stages'], number[] | null>(true),
  exact<SubmitResult['echo'], string | null>(true),
  exact<SubmitResult['error'], string | null>(true),
  exact<SubmitResult['code'], string | null>(true),
  exact<Prompt['prompts'], Prompt[] | null>(true),
  exact<DoctorProblem['taskKey'], string | null>(true),
  exact<RepairResult['movedTo'], string | null>(true),
  exact<GitReconcileResult['anchor'], native.AnchorChange | null>(true),
  // Async exports resolve to the sync export's result, generated (no hand-written types).
  exact<ReturnType<typeof native.registryReleaseAsync>, Promise<WorktreeEntry | null>>(true),
  exact<ReturnType<typeof native.registryTouchPhaseAsync>, Promise<void>>(true),
  exact<ReturnType<typeof native.ledgerAppendAsync>, Promise<AppendResult>>(true),
  exact<ReturnType<typeof native.provisionTaskWorktreeAsync>, Promise<ProvisionResult>>(true),
  exact<ReturnType<typeof native.mainWorktreePathAsync>, Promise<string>>(true),
  exact<ReturnType<Wizard['submitAsync']>, Promise<SubmitResult>>(true),
  // One argument per export; ledger reads take no lock bound.
  exact<Parameters<typeof native.ledgerRead>, [o: LedgerReadOptions]>(true),
  exact<keyof LedgerReadOptions, 'planRunRoot'>(true),
  // taskKey takes the key alone (no home or lock bound, which it would ignore).
  exact<Parameters<typeof native.taskKey>, [p: TaskKeyParts]>(true),
  exact<keyof TaskKeyParts, 'projectId' | 'taskGroup' | 'taskId' | 'stageNumber' | 'groupId'>(true),
]

// @ts-expect-error: a status outside the set is refused.
export const badStatus: ProvisionStatus = 'made'
// @ts-expect-error: the internal class name does not leak.
export type Leak = native.JsWizard
