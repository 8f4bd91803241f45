//! Git reconcile: recovers `done` rows whose recorded `head_commit` went stale
//! because the stage branch was rebased or amended after it was recorded.
//!
//! For each stage's last `done` row, the stage branch is the row's `branch` field, else the
//! `branch` of the stage's `started` row, else the registry's `#stage-<N>` entry of the
//! task. When the branch tip differs from `head_commit`, a reconciled `done` row is
//! appended (`forceReappend`) with the tip as `head_commit`, `reconciled: true` and
//! `reconciled_from: <old head>`; readers take the last `done` row, so it supersedes the
//! old one. Nothing is written unless `apply` is set.

use std::path::PathBuf;

use git2::Repository;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::context::Context;
use crate::error::{Code, Coded, InvalidArg};
use crate::ids::KeyParts;
use crate::ledger::{self, Ledger, LedgerError};
use crate::registry::{Registry, RegistryError};

/// Reconcile failures.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error(transparent)]
    InvalidArg(#[from] InvalidArg),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The repository cannot be found or used (`E_REPO_UNSAFE`, `E_REPO_UNSUPPORTED`).
    #[error(transparent)]
    Worktree(#[from] crate::worktree::WorktreeError),
    /// SIGINT / SIGTERM before the first write (the CLI only).
    #[error(transparent)]
    Interrupted(#[from] crate::interrupt::Interrupted),
}

impl Coded for ReconcileError {
    fn code(&self) -> Code {
        match self {
            ReconcileError::InvalidArg(e) => e.code(),
            ReconcileError::Ledger(e) => e.code(),
            ReconcileError::Registry(e) => e.code(),
            ReconcileError::Worktree(e) => e.code(),
            ReconcileError::Interrupted(e) => e.code(),
        }
    }
}

/// What to reconcile.
#[derive(Debug, Clone, Default)]
pub struct ReconcileRequest {
    pub plan_run_root: PathBuf,
    /// Any directory of the project's repository.
    pub project_root: PathBuf,
    /// The task (needed for the registry fallback and `reset_anchor`).
    pub project_id: Option<String>,
    pub task_group: Option<String>,
    pub task_id: Option<String>,
    /// Write the reconciled rows (default: dry run).
    pub apply: bool,
    /// A commit to re-pin as the task's implementation base.
    pub reset_anchor: Option<String>,
}

/// One stale stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub stage: u32,
    pub branch: String,
    /// The recorded `head_commit`.
    pub from: String,
    /// The branch's current tip.
    pub to: String,
}

/// The re-pinned implementation base.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AnchorChange {
    pub from: Option<String>,
    pub to: String,
}

/// What changed (or would change, in a dry run).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reconciled {
    /// The registry key of the task, when `projectId`, `taskGroup` and `taskId` were given
    /// (slugged, or a row's raw text when only that one exists).
    pub task_key: Option<String>,
    pub changes: Vec<Change>,
    pub applied: bool,
    /// Stages that could not be checked, with why.
    pub skipped: Vec<String>,
    pub anchor: Option<AnchorChange>,
}

fn str_field<'a>(row: &'a Map<String, Value>, k: &str) -> Option<&'a str> {
    row.get(k).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// The task's key as the caller gave it (checked), when all three segments are given;
/// every registry read resolves it (`Registry::resolve`: slugged, or a row's raw text).
type Task = KeyParts;

/// Compares each stage's last `done` head with its branch tip; with `apply`, appends the
/// reconciled rows and re-pins the anchor. The repository is found as provisioning finds it
/// (`worktree::git::require`). Errors: `E_INVALID_ARG` (projectRoot not in git, an anchor
/// that is not a commit, `resetAnchor` without the task), `E_REPO_UNSAFE` /
/// `E_REPO_UNSUPPORTED`, `E_NOT_FOUND` (the
/// task is not in the registry), `E_LOCK_TIMEOUT`, `E_IO`, `E_REGISTRY_CORRUPT`.
pub fn reconcile(ctx: &Context, req: &ReconcileRequest) -> Result<Reconciled, ReconcileError> {
    // Found as provisioning finds it (the git CLI's ownership and format rules).
    let repo = crate::worktree::git::require("projectRoot", &req.project_root)?;
    let task = match (&req.project_id, &req.task_group, &req.task_id) {
        (Some(p), Some(g), Some(t)) => Some(KeyParts::new(p, g, t, None, None)?),
        _ => None,
    };
    let reg = Registry::open(ctx);
    let task_key = task
        .as_ref()
        .map(|t| reg.resolve(t).map(|k| k.key()))
        .transpose()?;
    let ledger = Ledger::new(&req.plan_run_root, ctx.lock_timeout());
    let rows = ledger.read()?.rows;
    let mut scan = Scan::default();
    for (stage, row) in ledger::latest_done_by_stage(&rows) {
        let Some(row) = row.as_object() else { continue };
        scan.stage(
            &repo,
            stage,
            row,
            stage_branch(&rows, row, stage, &reg, task.as_ref())?,
        );
    }
    // From the first write on (re-pinning the anchor, then one append per stale stage),
    // a signal no longer stops the command half-way: it finishes (crate::interrupt).
    crate::interrupt::check()?;
    let _finishing = req.apply.then(crate::interrupt::finishing);
    let anchor = match &req.reset_anchor {
        None => None,
        Some(sha) => Some(reset_anchor(req, &repo, &reg, task.as_ref(), sha)?),
    };
    if req.apply {
        for (key, stage, fields) in scan.appends {
            ledger.append(&key, stage, "done", true, fields)?;
        }
    }
    Ok(Reconciled {
        task_key,
        changes: scan.changes,
        applied: req.apply,
        skipped: scan.skipped,
        anchor,
    })
}

/// The stage branch of a `done` row: its own `branch`, else the `branch` of the stage's
/// `started` row, else the registry's `#stage-<N>` entry of the task.
fn stage_branch(
    rows: &[Value],
    row: &Map<String, Value>,
    stage: u32,
    reg: &Registry,
    task: Option<&Task>,
) -> Result<Option<String>, ReconcileError> {
    if let Some(b) = str_field(row, "branch") {
        return Ok(Some(b.to_string()));
    }
    let started_branch = rows
        .iter()
        .filter_map(Value::as_object)
        .filter(|r| {
            r.get("status").and_then(Value::as_str) == Some("started")
                && ledger::stage_of(r) == Some(stage)
        })
        .find_map(|r| str_field(r, "branch").map(str::to_string));
    if started_branch.is_some() {
        return Ok(started_branch);
    }
    Ok(match task {
        Some(t) => {
            let stage_key = KeyParts {
                stage: Some(stage),
                ..t.clone()
            };
            reg.lookup(&reg.resolve(&stage_key)?)?.map(|e| e.branch)
        }
        None => None,
    })
}

/// What the stage scan found: the stale stages, the rows that reconcile them, and the
/// stages that could not be checked.
#[derive(Default)]
struct Scan {
    changes: Vec<Change>,
    appends: Vec<(String, u32, Map<String, Value>)>,
    skipped: Vec<String>,
}

impl Scan {
    /// Checks one stage's last `done` row against its branch tip.
    fn stage(
        &mut self,
        repo: &Repository,
        stage: u32,
        row: &Map<String, Value>,
        branch: Option<String>,
    ) {
        let Some(branch) = branch else {
            self.skipped
                .push(format!("stage {stage}: no branch is recorded for it"));
            return;
        };
        let Ok(tip) = repo.refname_to_id(&format!("refs/heads/{branch}")) else {
            self.skipped
                .push(format!("stage {stage}: branch {branch} does not exist"));
            return;
        };
        let from = str_field(row, "head_commit").unwrap_or("").to_string();
        if from == tip.to_string() {
            return;
        }
        let mut fields = row.clone();
        for k in ["impl_task_key", "stage", "status"] {
            fields.remove(k);
        }
        fields.insert("head_commit".into(), tip.to_string().into());
        fields.insert("reconciled".into(), true.into());
        fields.insert("reconciled_from".into(), from.clone().into());
        let key = str_field(row, "impl_task_key").unwrap_or("").to_string();
        self.appends.push((key, stage, fields));
        self.changes.push(Change {
            stage,
            branch,
            from,
            to: tip.to_string(),
        });
    }
}

/// Resolves `sha` to a commit and, with `apply`, re-pins it as the task's implementation
/// base; returns the old and the new anchor.
fn reset_anchor(
    req: &ReconcileRequest,
    repo: &Repository,
    reg: &Registry,
    task: Option<&Task>,
    sha: &str,
) -> Result<AnchorChange, ReconcileError> {
    let Some(task) = task else {
        return Err(ReconcileError::InvalidArg(InvalidArg(
            "resetAnchor needs projectId, taskGroup and taskId".into(),
        )));
    };
    let commit = repo
        .revparse_single(sha)
        .and_then(|o| o.peel_to_commit())
        .map_err(|_| {
            ReconcileError::InvalidArg(InvalidArg(format!(
                "resetAnchor {sha:?} is not a commit in the repository"
            )))
        })?;
    let key = reg.resolve(task)?;
    let from = reg.get_implementation_base(&key)?;
    let to = commit.id().to_string();
    if req.apply {
        reg.reset_implementation_base(&key, &to)?;
    }
    Ok(AnchorChange { from, to })
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::testutil::git;

    #[test]
    fn a_rebased_branch_gets_a_reconciled_done_row_only_when_applied() {
        let (r, p, h) = (
            tempfile::tempdir().unwrap(),
            tempfile::tempdir().unwrap(),
            tempfile::tempdir().unwrap(),
        );
        let repo = r.path();
        git(repo, &["init", "-q", "-b", "main"]);
        git(repo, &["commit", "-q", "--allow-empty", "-m", "base"]);
        git(repo, &["checkout", "-q", "-b", "feat-t-s1"]);
        git(repo, &["commit", "-q", "--allow-empty", "-m", "stage 1"]);
        let old = git(repo, &["rev-parse", "HEAD"]);
        let ledger = Ledger::new(p.path(), std::time::Duration::from_secs(30));
        let mut f = Map::new();
        f.insert("head_commit".into(), old.clone().into());
        f.insert("report_path".into(), "r.md".into());
        ledger
            .append("p/g/t", 1, "started", false, {
                let mut m = Map::new();
                m.insert("branch".into(), "feat-t-s1".into());
                m
            })
            .unwrap();
        ledger.append("p/g/t", 1, "done", false, f).unwrap();
        git(
            repo,
            &[
                "commit",
                "-q",
                "--amend",
                "--allow-empty",
                "-m",
                "stage 1 amended",
            ],
        );
        let new = git(repo, &["rev-parse", "HEAD"]);
        let home = h.path().to_string_lossy().into_owned();
        let mut req = ReconcileRequest {
            plan_run_root: p.path().into(),
            project_root: repo.into(),
            ..Default::default()
        };
        let ctx = Context::resolve(Some(&home), None).unwrap();
        let dry = reconcile(&ctx, &req).unwrap();
        assert_eq!(
            dry.changes,
            vec![Change {
                stage: 1,
                branch: "feat-t-s1".into(),
                from: old.clone(),
                to: new.clone()
            }]
        );
        assert_eq!(ledger.read().unwrap().rows.len(), 2);
        req.apply = true;
        assert!(reconcile(&ctx, &req).unwrap().applied);
        let rows = ledger.read().unwrap().rows;
        let done = &ledger::latest_done_by_stage(&rows)[&1];
        assert_eq!(done["head_commit"], Value::String(new));
        assert_eq!(done["report_path"], "r.md");
        assert_eq!(done["reconciled_from"], Value::String(old));
        assert!(reconcile(&ctx, &req).unwrap().changes.is_empty());
        req.reset_anchor = Some("main".into());
        assert_eq!(reconcile(&ctx, &req).unwrap_err().code(), "E_INVALID_ARG");
    }
}
