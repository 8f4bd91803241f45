//! Exports of the stage-group handoff and git reconcile.

use std::path::PathBuf;
use std::time::Duration;

use napi::bindgen_prelude::AsyncTask;
use napi_derive::napi;

use super::ledger::AppendResult;
use super::{context, invalid_arg, js_err, lock_bound, stage_arg, task, Result};
use crate::handoff::{self, HandoffContext};
use crate::integration::{BaseSource, PatchMatch, Proof};
use crate::reconcile;

fn stages_arg(v: Vec<f64>) -> Result<Vec<u32>> {
    v.into_iter()
        .map(|n| stage_arg(Some(n))?.ok_or_else(|| invalid_arg("a stage number is required")))
        .collect()
}

/// Options of `handoffEligible`.
#[napi(object)]
pub struct HandoffEligibleOptions {
    /// Directory holding the plan run's `consumers.jsonl`.
    pub plan_run_root: String,
    /// Path of the approved implementation-planning report (markdown).
    pub approved_plan: String,
    /// Any directory of the project's repository.
    pub project_root: String,
    /// The base branch to judge against: the default remote's branch of that name, else the
    /// local branch, else any revision. Default: the default remote's `HEAD` (`origin`, else
    /// the first remote), else the main worktree's branch.
    pub base: Option<String>,
    /// How long to wait for a lock (default `OKSTRA_LOCK_TIMEOUT_MS`, else 30000).
    pub lock_timeout_ms: Option<f64>,
}

impl HandoffEligibleOptions {
    fn ctx(&self, lock_timeout: Duration) -> HandoffContext {
        HandoffContext {
            plan_run_root: PathBuf::from(&self.plan_run_root),
            approved_plan: PathBuf::from(&self.approved_plan),
            project_root: PathBuf::from(&self.project_root),
            base: self.base.clone(),
            lock_timeout,
        }
    }
}

/// How a branch's work is in the base (`integration::Proof` of the core).
#[napi(object, object_from_js = false, use_nullable = true)]
pub struct IntegrationProof {
    /// `ancestor`, `same-tree`, `merge-adds-nothing` or `patch-id`.
    pub proof: String,
    /// For `patch-id`: `every-commit` or `combined-diff`.
    pub matched: Option<String>,
}

impl From<&Proof> for IntegrationProof {
    fn from(p: &Proof) -> Self {
        IntegrationProof {
            proof: p.name().to_string(),
            matched: match p {
                Proof::PatchId { matched } => Some(
                    match matched {
                        PatchMatch::EveryCommit => "every-commit",
                        PatchMatch::CombinedDiff => "combined-diff",
                    }
                    .to_string(),
                ),
                _ => None,
            },
        }
    }
}

/// A dependency already in the base.
#[napi(object, object_from_js = false, use_nullable = true)]
pub struct MergedDependency {
    pub stage: u32,
    pub proof: IntegrationProof,
}

/// One stage's eligibility.
#[napi(object, object_from_js = false, use_nullable = true)]
pub struct StageEligibility {
    pub number: u32,
    pub title: String,
    pub eligible: bool,
    /// Readable sentences (not done, not verified-accepted, changed since verified, already
    /// covered by a PR, a dependency neither in the base nor eligible); empty when eligible.
    pub reasons: Vec<String>,
    /// How the stage's recorded head is already in the base; `null` when it is not.
    pub integrated: Option<IntegrationProof>,
    /// The dependencies already in the base, each with its proof.
    pub merged_dependencies: Vec<MergedDependency>,
}

/// The base branch the stages were judged against.
#[napi(object, object_from_js = false, use_nullable = true)]
pub struct HandoffBase {
    /// As messages name it: `origin/master`, `master`, or the revision given.
    pub name: String,
    pub commit: String,
    /// `given`, `remote-head` or `main-worktree`.
    pub source: String,
}

/// Every Stage Map stage with its eligibility, and the base.
#[napi(object, object_from_js = false, use_nullable = true)]
pub struct HandoffEligibleResult {
    pub base: HandoffBase,
    pub stages: Vec<StageEligibility>,
}

fn eligible(o: HandoffEligibleOptions) -> Result<HandoffEligibleResult> {
    let ctx = o.ctx(lock_bound(o.lock_timeout_ms)?);
    let e = handoff::eligible(&ctx).map_err(js_err)?;
    Ok(HandoffEligibleResult {
        base: HandoffBase {
            name: e.base.name,
            commit: e.base.commit,
            source: match e.base.source {
                BaseSource::Given => "given",
                BaseSource::RemoteHead => "remote-head",
                BaseSource::MainWorktree => "main-worktree",
            }
            .to_string(),
        },
        stages: e
            .stages
            .into_iter()
            .map(|s| StageEligibility {
                number: s.number,
                title: s.title,
                eligible: s.eligible,
                reasons: s.reasons,
                integrated: s.integrated.as_ref().map(IntegrationProof::from),
                merged_dependencies: s
                    .merged_dependencies
                    .iter()
                    .map(|d| MergedDependency {
                        stage: d.stage,
                        proof: (&d.proof).into(),
                    })
                    .collect(),
            })
            .collect(),
    })
}

/// Which stages of the approved plan may be handed off now, and why not for the others,
/// judged against the repository's real default branch (or `base`). Throws
/// `E_PLAN_INVALID` (unreadable plan or Stage Map errors), `E_INVALID_ARG` (projectRoot not
/// in git), `E_REPO_UNSAFE` / `E_REPO_UNSUPPORTED` (the repository is found as provisioning
/// finds it), `E_UNKNOWN_REF` (the base resolves to no commit; the message names it),
/// `E_GIT`, `E_GIT_REQUIRED`, `E_IO`.
#[napi]
pub fn handoff_eligible(o: HandoffEligibleOptions) -> Result<HandoffEligibleResult> {
    eligible(o)
}

task!(
    /// The Promise of `handoffEligible`.
    EligibleTask => HandoffEligibleResult
);

/// `handoffEligible` on the libuv pool.
#[napi]
pub fn handoff_eligible_async(o: HandoffEligibleOptions) -> AsyncTask<EligibleTask> {
    EligibleTask::run(move || eligible(o))
}

/// Options of `handoffAssemble`.
#[napi(object)]
pub struct HandoffAssembleOptions {
    pub plan_run_root: String,
    pub approved_plan: String,
    pub project_root: String,
    pub base: Option<String>,
    /// The stages to release together (merged in dependency order).
    pub stages: Vec<f64>,
    pub project_id: String,
    pub task_group: String,
    pub task_id: String,
    /// Picks the branch prefix (bugfix→fix, feature→feat, …; else task).
    pub work_category: Option<String>,
    /// Collector id (`#group-<ID>`); default `s<a>-<b>…` from the stages in merge order.
    pub group_id: Option<String>,
    /// `OKSTRA_HOME` override.
    pub home: Option<String>,
    /// How long to wait for a lock (default `OKSTRA_LOCK_TIMEOUT_MS`, else 30000).
    pub lock_timeout_ms: Option<f64>,
}

/// Whether `handoffAssemble` built the collector now or found it built for the same
/// selection.
// Mirrors `handoff::AssembleStatus`: the core carries no Node-API types.
#[napi(string_enum)]
pub enum AssembleStatus {
    #[napi(value = "created")]
    Created,
    #[napi(value = "reused")]
    Reused,
}

impl From<handoff::AssembleStatus> for AssembleStatus {
    fn from(s: handoff::AssembleStatus) -> Self {
        match s {
            handoff::AssembleStatus::Created => AssembleStatus::Created,
            handoff::AssembleStatus::Reused => AssembleStatus::Reused,
        }
    }
}

/// One stage merged into the collector.
// Mirrors `handoff::MergeRecord` field by field: the core carries no Node-API types.
#[napi(object, object_from_js = false, use_nullable = true)]
pub struct StageMerge {
    pub stage: u32,
    /// The stage's recorded head commit.
    pub commit: String,
    /// The two-parent merge commit; empty when an earlier stage's merge contained it.
    pub merge_commit: String,
}

/// The collector branch and worktree.
#[napi(object, object_from_js = false, use_nullable = true)]
pub struct HandoffAssembleResult {
    pub branch: String,
    pub worktree_path: String,
    pub merges: Vec<StageMerge>,
    /// `created`, or `reused` on a re-run for the same selection.
    pub status: AssembleStatus,
    /// Set when a re-run rebuilt the collector branch (a stage's head changed, say after a
    /// rebase): the merges it replaced, none of which stays on the branch.
    pub rebuilt: Option<AssembleRebuilt>,
}

/// What a re-run of `handoffAssemble` rebuilt.
// Mirrors `handoff::Rebuilt` field by field: the core carries no Node-API types.
#[napi(object, object_from_js = false, use_nullable = true)]
pub struct AssembleRebuilt {
    /// The collector branch's tip before the call.
    pub previous_tip: String,
    /// The earlier merges no longer on the branch, oldest first.
    pub replaced: Vec<StageMerge>,
}

fn stage_merges(ms: Vec<handoff::MergeRecord>) -> Vec<StageMerge> {
    ms.into_iter()
        .map(|m| StageMerge {
            stage: m.stage,
            commit: m.commit,
            merge_commit: m.merge_commit,
        })
        .collect()
}

fn assemble(o: HandoffAssembleOptions) -> Result<HandoffAssembleResult> {
    let context = context(o.home.as_deref(), o.lock_timeout_ms)?;
    let req = handoff::AssembleRequest {
        ctx: HandoffContext {
            plan_run_root: PathBuf::from(&o.plan_run_root),
            approved_plan: PathBuf::from(&o.approved_plan),
            project_root: PathBuf::from(&o.project_root),
            base: o.base,
            lock_timeout: context.lock_timeout(),
        },
        stages: stages_arg(o.stages)?,
        project_id: o.project_id,
        task_group: o.task_group,
        task_id: o.task_id,
        work_category: o.work_category.unwrap_or_default(),
        group_id: o.group_id,
    };
    let a = handoff::assemble(&context, &req).map_err(js_err)?;
    Ok(HandoffAssembleResult {
        branch: a.branch,
        worktree_path: a.worktree_path,
        merges: stage_merges(a.merges),
        status: a.status.into(),
        rebuilt: a.rebuilt.map(|r| AssembleRebuilt {
            previous_tip: r.previous_tip,
            replaced: stage_merges(r.replaced),
        }),
    })
}

/// Re-checks eligibility for the selection, merges each stage's recorded head in dependency
/// order with git itself (`git merge-tree --write-tree`, so the repository's merge
/// configuration and drivers apply, and the preflight is the real merge), then provisions
/// the collector worktree (`#group-<ID>` key, `git worktree add` at the task's
/// implementation base) and fast-forwards it to the two-parent merge commits with `git
/// merge --ff-only`. Nothing is created on a conflict; a later failure removes and releases
/// the collector. Re-running is safe: a collector with uncommitted or untracked changes,
/// another branch checked out or commits of its own is refused unchanged
/// (`E_COLLECTOR_CHANGED`); otherwise it is brought to the stages' current heads, rebuilt
/// from the first merge whose stage head changed (`rebuilt`). Throws `E_NOT_ELIGIBLE`
/// (eligibility or closure), `E_MERGE_CONFLICT` (message lists the conflicting paths per
/// stage pair), `E_COLLECTOR_CHANGED`, `E_PLAN_INVALID`, `E_NOT_FOUND` (no implementation
/// base), `E_INVALID_ARG`, `E_REPO_UNSAFE`, `E_REPO_UNSUPPORTED`, `E_GIT_REQUIRED` (no
/// git ≥ 2.38 on PATH), `E_GIT`, and provisioning's codes.
#[napi]
pub fn handoff_assemble(o: HandoffAssembleOptions) -> Result<HandoffAssembleResult> {
    assemble(o)
}

task!(
    /// The Promise of `handoffAssemble`.
    AssembleTask => HandoffAssembleResult
);

/// `handoffAssemble` on the libuv pool.
#[napi]
pub fn handoff_assemble_async(o: HandoffAssembleOptions) -> AsyncTask<AssembleTask> {
    AssembleTask::run(move || assemble(o))
}

/// Options of `handoffRecordVerified`.
#[napi(object)]
pub struct HandoffRecordVerifiedOptions {
    pub plan_run_root: String,
    pub impl_task_key: String,
    pub stage: f64,
    /// The final report (`….md`, its `….data.json` sibling is read) or the data.json.
    pub report_path: String,
    /// The stage head commit that was verified (full id); default the head of the stage's
    /// last `done` row.
    pub head_commit: Option<String>,
    /// How long to wait for `consumers.lock` (default `OKSTRA_LOCK_TIMEOUT_MS`, else 30000).
    pub lock_timeout_ms: Option<f64>,
}

/// Records a stage's single-stage final verification after checking the report data
/// (`taskType` final-verification, `verificationScope` single-stage, `verdictToken` or
/// `verdict.token` accepted; top level or under `meta`). The row records the verified head
/// (`headCommit`, default the stage's last `done` head). Throws `E_REPORT_REJECTED`
/// (nothing written), `E_INVALID_ARG`, `E_LOCK_TIMEOUT`, `E_IO`.
#[napi]
pub fn handoff_record_verified(o: HandoffRecordVerifiedOptions) -> Result<AppendResult> {
    let appended = handoff::record_verified(&handoff::RecordVerifiedRequest {
        plan_run_root: PathBuf::from(&o.plan_run_root),
        impl_task_key: o.impl_task_key,
        stage: stage_arg(Some(o.stage))?.unwrap_or_default(),
        report_path: PathBuf::from(&o.report_path),
        head_commit: o.head_commit,
        lock_timeout: lock_bound(o.lock_timeout_ms)?,
    })
    .map_err(js_err)?;
    Ok(appended.into())
}

/// Records the PR a stage group was handed off in (idempotent per branch). Throws
/// `E_INVALID_ARG` (also for a missing plan run root without `create`),
/// `E_LOCK_TIMEOUT`, `E_IO`.
#[napi]
pub fn handoff_record_pr(o: super::ledger::LedgerAppendPrOptions) -> Result<AppendResult> {
    let appended = handoff::record_pr(&handoff::RecordPrRequest {
        plan_run_root: PathBuf::from(&o.plan_run_root),
        impl_task_key: o.impl_task_key,
        stages: stages_arg(o.stages)?,
        branch: o.branch,
        url: o.url,
        lock_timeout: lock_bound(o.lock_timeout_ms)?,
        create: o.create.unwrap_or(false),
    })
    .map_err(js_err)?;
    Ok(appended.into())
}

/// Options of `gitReconcile`.
#[napi(object)]
pub struct GitReconcileOptions {
    pub plan_run_root: String,
    pub project_root: String,
    /// The task: lets stage branches be found in the registry and is needed by `resetAnchor`.
    pub project_id: Option<String>,
    pub task_group: Option<String>,
    pub task_id: Option<String>,
    /// Write the reconciled rows (default `false`: dry run).
    pub apply: Option<bool>,
    /// A commit to re-pin as the task's implementation base (written only with `apply`).
    pub reset_anchor: Option<String>,
    /// `OKSTRA_HOME` override.
    pub home: Option<String>,
    /// How long to wait for a lock (default `OKSTRA_LOCK_TIMEOUT_MS`, else 30000).
    pub lock_timeout_ms: Option<f64>,
}

/// A stage whose recorded head went stale.
#[napi(object, object_from_js = false, use_nullable = true)]
pub struct ReconcileChange {
    pub stage: u32,
    pub branch: String,
    /// The recorded `head_commit`.
    pub from: String,
    /// The stage branch's current tip.
    pub to: String,
}

/// The re-pinned implementation base (`from` is `null` when none was pinned).
#[napi(object, object_from_js = false, use_nullable = true)]
pub struct AnchorChange {
    pub from: Option<String>,
    pub to: String,
}

/// What changed, or would change in a dry run; `anchor` is `null` without `resetAnchor`.
#[napi(object, object_from_js = false, use_nullable = true)]
pub struct GitReconcileResult {
    /// The task's registry key when `projectId`, `taskGroup` and `taskId` were given
    /// (slugged, or a row's raw text when only that one exists), else `null`.
    pub task_key: Option<String>,
    pub changes: Vec<ReconcileChange>,
    pub applied: bool,
    /// Stages that could not be checked (no branch recorded, branch gone), with why.
    pub skipped: Vec<String>,
    pub anchor: Option<AnchorChange>,
}

fn git_reconcile_impl(o: GitReconcileOptions) -> Result<GitReconcileResult> {
    let context = context(o.home.as_deref(), o.lock_timeout_ms)?;
    let r = reconcile::reconcile(
        &context,
        &reconcile::ReconcileRequest {
            plan_run_root: PathBuf::from(&o.plan_run_root),
            project_root: PathBuf::from(&o.project_root),
            project_id: o.project_id,
            task_group: o.task_group,
            task_id: o.task_id,
            apply: o.apply.unwrap_or(false),
            reset_anchor: o.reset_anchor,
        },
    )
    .map_err(js_err)?;
    Ok(GitReconcileResult {
        task_key: r.task_key,
        changes: r
            .changes
            .into_iter()
            .map(|c| ReconcileChange {
                stage: c.stage,
                branch: c.branch,
                from: c.from,
                to: c.to,
            })
            .collect(),
        applied: r.applied,
        skipped: r.skipped,
        anchor: r.anchor.map(|a| AnchorChange {
            from: a.from,
            to: a.to,
        }),
    })
}

/// For each stage whose last `done` `head_commit` differs from its stage branch's tip
/// (rebased, amended), a reconciled `done` row (`forceReappend`, `reconciled: true`,
/// `reconciled_from`) with the tip; `resetAnchor` re-pins the implementation base in the
/// registry. The task's segments name its registry entry as every door does (slugged, or
/// a row written under the raw text when only that one exists). Dry run unless `apply`.
/// Throws `E_INVALID_ARG`, `E_REPO_UNSAFE` / `E_REPO_UNSUPPORTED` (the repository is found
/// as provisioning finds it), `E_NOT_FOUND`, `E_LOCK_TIMEOUT`, `E_IO`,
/// `E_REGISTRY_CORRUPT`.
#[napi]
pub fn git_reconcile(o: GitReconcileOptions) -> Result<GitReconcileResult> {
    git_reconcile_impl(o)
}

task!(
    /// The Promise of `gitReconcile`.
    ReconcileTask => GitReconcileResult
);

/// `gitReconcile` on the libuv pool.
#[napi]
pub fn git_reconcile_async(o: GitReconcileOptions) -> AsyncTask<ReconcileTask> {
    ReconcileTask::run(move || git_reconcile_impl(o))
}
