//! Stage-group handoff: which stages of an approved plan may be released
//! together (`eligible`), building their collector branch (`assemble`), and recording the
//! single-stage verification and the PR in the ledger (`record_verified`, `record_pr`).
//!
//! A stage is eligible when it is `done` in `consumers.jsonl`, its last single-stage
//! final-verification verdict is `accepted` for its current change (see `verification.rs`),
//! no `pr` row covers it yet, and each stage it depends on is either already in the base
//! branch — by any proof of [`crate::integration`]: a real, squash or rebase merge, a
//! cherry-pick — or eligible itself (so it can be selected with it). The base is the
//! repository's real default ([`crate::integration::default_base`]): `base` when given,
//! else the default remote's `HEAD`, else the main worktree's branch.

mod assemble;
mod chain;
mod collector;
mod merge;
mod verification;
mod verified;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use git2::{Oid, Repository};
use serde::Serialize;
use serde_json::Value;

pub use assemble::{assemble, AssembleRequest, AssembleStatus, Assembled, MergeRecord, Rebuilt};
pub use merge::{Engine, StageConflict, Verdict, MERGE_TREE_VERSION};
pub use verified::{record_pr, record_verified, RecordPrRequest, RecordVerifiedRequest};

use crate::error::{Code, Coded, GitError, InvalidArg};
use crate::fsio::FsError;
use crate::integration::{self, Base, IntegrationError, Proof};
use crate::ledger::{self, Ledger, LedgerError};
use crate::plan::{self, StageMap};
use crate::registry::RegistryError;
use crate::worktree::WorktreeError;

/// Handoff failures.
#[derive(Debug, thiserror::Error)]
pub enum HandoffError {
    /// A caller passed a value that cannot be used.
    #[error(transparent)]
    InvalidArg(#[from] InvalidArg),
    /// The approved plan cannot be read or its Stage Map has problems.
    #[error("the approved plan {path} cannot be used: {}", .problems.join("; "))]
    PlanInvalid {
        path: PathBuf,
        problems: Vec<String>,
    },
    /// A selected stage is not eligible, or the selection misses a dependency.
    #[error("the selected stages cannot be handed off: {}", .reasons.join(" "))]
    NotEligible { reasons: Vec<String> },
    /// Merging the selection would conflict; nothing was created.
    #[error(
        "merging the selected stages conflicts, so no collector was created: {}. Resolve the \
         conflicts on the stage branches (or hand the stages off separately) and retry",
        .conflicts.iter().map(StageConflict::to_string).collect::<Vec<_>>().join("; ")
    )]
    MergeConflict { conflicts: Vec<StageConflict> },
    /// The existing collector holds work of its own; nothing was changed.
    #[error(
        "the collector {path} holds work of its own: {what}. Nothing was changed. Commit it \
         on a stage branch, stash it (`git -C {path} stash -u`) or discard it, or release the \
         collector (`okstra worktree release`), then assemble again"
    )]
    CollectorChanged { path: PathBuf, what: String },
    /// No git new enough for the merges on `PATH`.
    #[error("assembling needs {needs}, and {why}; nothing was changed. Install a newer git on PATH and retry")]
    GitRequired { needs: String, why: String },
    /// The final report does not prove an accepted single-stage verification.
    #[error("refusing to record the verification: {}", .reasons.join("; "))]
    ReportRejected { reasons: Vec<String> },
    /// Something the handoff needs is missing.
    #[error("{0}")]
    NotFound(String),
    /// A git operation failed.
    #[error(transparent)]
    Git(#[from] GitError),
    /// The base or an integration proof failed.
    #[error(transparent)]
    Integration(#[from] IntegrationError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Worktree(#[from] WorktreeError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Fs(#[from] FsError),
}

impl Coded for HandoffError {
    fn code(&self) -> Code {
        match self {
            HandoffError::InvalidArg(e) => e.code(),
            HandoffError::PlanInvalid { .. } => Code::PlanInvalid,
            HandoffError::NotEligible { .. } => Code::NotEligible,
            HandoffError::MergeConflict { .. } => Code::MergeConflict,
            HandoffError::CollectorChanged { .. } => Code::CollectorChanged,
            HandoffError::GitRequired { .. } => Code::GitRequired,
            HandoffError::ReportRejected { .. } => Code::ReportRejected,
            HandoffError::NotFound(_) => Code::NotFound,
            HandoffError::Git(e) => e.code(),
            HandoffError::Integration(e) => e.code(),
            HandoffError::Ledger(e) => e.code(),
            HandoffError::Worktree(e) => e.code(),
            HandoffError::Registry(e) => e.code(),
            HandoffError::Fs(e) => e.code(),
        }
    }
}

/// What every handoff operation reads: the plan run's ledger, the approved plan, the
/// project's repository and the release base branch.
#[derive(Debug, Clone)]
pub struct HandoffContext {
    /// Directory holding the plan run's `consumers.jsonl`.
    pub plan_run_root: PathBuf,
    /// Path of the approved implementation-planning report (markdown).
    pub approved_plan: PathBuf,
    /// Any directory of the project's repository.
    pub project_root: PathBuf,
    /// The base branch stages are judged against; default the repository's own (the
    /// default remote's `HEAD`, else the main worktree's branch). A name is looked up as the
    /// default remote's branch, then the local branch, then any revision.
    pub base: Option<String>,
    /// Bound on the ledger lock wait (resolved at the boundary).
    pub lock_timeout: Duration,
}

/// One stage's eligibility.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StageEligibility {
    pub number: u32,
    pub title: String,
    pub eligible: bool,
    /// Readable sentences; empty when eligible.
    pub reasons: Vec<String>,
    /// How the stage's recorded head is already in the base; `None` when it is not (or the
    /// stage has no head).
    pub integrated: Option<Proof>,
    /// The dependencies already in the base, each with the proof that says so.
    pub merged_dependencies: Vec<MergedDependency>,
}

/// A dependency found in the base.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MergedDependency {
    pub stage: u32,
    pub proof: Proof,
}

/// Every stage's eligibility and the base it was judged against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Eligibility {
    pub base: Base,
    pub stages: Vec<StageEligibility>,
}

/// Everything loaded once for one operation.
pub(crate) struct Loaded {
    pub map: StageMap,
    pub rows: Vec<Value>,
    pub repo: Repository,
    /// The base branch the stages are judged against.
    pub base: Base,
    /// Stage → the integration proof of its recorded head (stages whose head is a commit).
    pub integration: BTreeMap<u32, Proof>,
    /// Stage → why its accepted verification does not hold for its current head.
    pub changed_since_verified: BTreeMap<u32, String>,
}

impl HandoffContext {
    pub(crate) fn ledger(&self) -> Ledger {
        Ledger::new(&self.plan_run_root, self.lock_timeout)
    }

    pub(crate) fn load(&self) -> Result<Loaded, HandoffError> {
        let path = &self.approved_plan;
        let text = plan::read_plan(path).map_err(|e| HandoffError::PlanInvalid {
            path: path.clone(),
            problems: vec![e],
        })?;
        let map = plan::parse_stage_map(&text);
        if !map.errors.is_empty() {
            return Err(HandoffError::PlanInvalid {
                path: path.clone(),
                problems: map.errors,
            });
        }
        let rows = self.ledger().read()?.rows;
        // Found as provisioning finds it (the git CLI's ownership and format rules).
        let repo = crate::worktree::git::require("projectRoot", &self.project_root)?;
        let repo_dir = repo.workdir().unwrap_or(repo.path()).to_path_buf();
        let base = integration::default_base(&repo_dir, self.base.as_deref())?;
        let mut loaded = Loaded {
            map,
            rows,
            repo,
            base,
            integration: BTreeMap::new(),
            changed_since_verified: BTreeMap::new(),
        };
        for (n, head) in loaded.done_heads() {
            let Some(oid) = Oid::from_str(&head).ok().filter(|_| head.len() >= 40) else {
                continue;
            };
            if loaded.repo.find_commit(oid).is_err() {
                continue;
            }
            let proof =
                integration::prove_resolved(&repo_dir, &oid.to_string(), &loaded.base.commit)?;
            loaded.integration.insert(n, proof);
            if let Some((true, Some(verified))) = verification::last_verified(&loaded.rows, n) {
                if let Some(why) = verification::changed_since(
                    &repo_dir,
                    n,
                    &verified,
                    &head,
                    &loaded.base.commit,
                )? {
                    loaded.changed_since_verified.insert(n, why);
                }
            }
        }
        Ok(loaded)
    }
}

impl Loaded {
    /// The recorded head commit of a stage's last `done` row.
    pub(crate) fn done_heads(&self) -> BTreeMap<u32, String> {
        ledger::latest_done_by_stage(&self.rows)
            .into_iter()
            .map(|(n, row)| {
                let head = row
                    .get("head_commit")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                (n, head)
            })
            .collect()
    }

    /// The proof that stage `n`'s recorded head is in the base, if it is.
    fn merged(&self, n: u32) -> Option<&Proof> {
        self.integration.get(&n).filter(|p| p.is_integrated())
    }

    /// The reasons a stage cannot be handed off, ignoring its dependencies.
    fn own_reasons(&self, n: u32, heads: &BTreeMap<u32, String>) -> Vec<String> {
        let mut reasons = Vec::new();
        match heads.get(&n).map(|h| (h, Oid::from_str(h))) {
            None => reasons.push(format!(
                "Stage {n} is not done: consumers.jsonl has no done row for it."
            )),
            Some((h, Err(_))) => reasons.push(format!(
                "Stage {n}'s done row has no valid head_commit ({h:?}); record it again or run \
                 `okstra git-reconcile`."
            )),
            Some((h, Ok(oid))) if self.repo.find_commit(oid).is_err() => reasons.push(format!(
                "Stage {n}'s recorded head commit {h} is not in the repository (rebased or \
                 amended?); run `okstra git-reconcile`."
            )),
            Some(_) => {}
        }
        if !ledger::verified_accepted_stages(&self.rows).contains(&n) {
            reasons.push(format!(
                "Stage {n} is not verified: its last single-stage final-verification verdict \
                 is not accepted."
            ));
        } else if let Some(why) = self.changed_since_verified.get(&n) {
            reasons.push(why.clone());
        }
        if let Some(pr) = self.pr_covering(n) {
            reasons.push(format!("Stage {n} is already covered by a PR ({pr})."));
        }
        reasons
    }

    fn pr_covering(&self, n: u32) -> Option<String> {
        self.rows
            .iter()
            .filter(|r| r.get("status").and_then(Value::as_str) == Some("pr"))
            .find(|r| ledger::pr_covered_stages(std::slice::from_ref(*r)).contains(&n))
            .map(|r| {
                let s = |k| r.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                format!("branch {}, {}", s("branch"), s("url"))
            })
    }

    /// Eligibility of every stage; with `selection`, dependencies must be selected or
    /// merged, otherwise eligible or merged.
    pub(crate) fn eligibility(&self, selection: Option<&BTreeSet<u32>>) -> Vec<StageEligibility> {
        let heads = self.done_heads();
        let own: BTreeMap<u32, Vec<String>> = self
            .map
            .stages
            .iter()
            .map(|s| (s.number, self.own_reasons(s.number, &heads)))
            .collect();
        let base = &self.base.name;
        self.map
            .stages
            .iter()
            .map(|s| {
                let mut reasons = own.get(&s.number).cloned().unwrap_or_default();
                let mut merged_dependencies = Vec::new();
                for &d in &s.depends_on {
                    if let Some(proof) = self.merged(d) {
                        merged_dependencies.push(MergedDependency {
                            stage: d,
                            proof: proof.clone(),
                        });
                        continue;
                    }
                    match selection {
                        Some(sel) if !sel.contains(&d) => reasons.push(format!(
                            "Stage {} depends on stage {d}, which is neither selected nor \
                             merged into {base}; add stage {d} to the selection or merge it \
                             first.",
                            s.number
                        )),
                        None if own.get(&d).is_some_and(|r| !r.is_empty()) => {
                            reasons.push(format!(
                                "Stage {} depends on stage {d}, which is not merged into \
                                 {base} and cannot be handed off with it (stage {d} is not \
                                 eligible).",
                                s.number
                            ))
                        }
                        _ => {}
                    }
                }
                StageEligibility {
                    number: s.number,
                    title: s.title.clone(),
                    eligible: reasons.is_empty(),
                    reasons,
                    integrated: self.merged(s.number).cloned(),
                    merged_dependencies,
                }
            })
            .collect()
    }
}

/// Every stage of the approved plan with whether it may be handed off now and, if not,
/// why, and the base it was judged against. Errors: `E_PLAN_INVALID`, `E_INVALID_ARG`
/// (projectRoot not in git), `E_UNKNOWN_REF` (the base resolves to no commit), `E_GIT`,
/// `E_GIT_REQUIRED`, `E_IO`.
pub fn eligible(ctx: &HandoffContext) -> Result<Eligibility, HandoffError> {
    let loaded = ctx.load()?;
    Ok(Eligibility {
        stages: loaded.eligibility(None),
        base: loaded.base,
    })
}

#[cfg(test)]
mod collector_tests;
#[cfg(test)]
mod merge_tests;
#[cfg(test)]
mod tests;

#[cfg(test)]
mod integration_tests;
