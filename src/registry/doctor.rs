//! `registry doctor`: a read-only consistency report of the registry against the disk and
//! against git.

use std::collections::HashMap;
use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use super::entry::WorktreeEntry;
use super::store::{BranchOwners, Doc};
use super::{Registry, Result};

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    /// `branch-index-dangling`, `branch-index-missing`,
    /// `branch-active-twice`, `worktree-missing`, `not-a-worktree` or
    /// `worktree-unknown-to-git`.
    pub code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_key: Option<String>,
    pub detail: String,
}

/// The doctor's verdict: `ok` when there are no problems.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DoctorReport {
    pub ok: bool,
    pub problems: Vec<Problem>,
}

impl Problem {
    /// A finding with its code, the task key it concerns (if any) and a readable detail
    /// naming what clears it.
    pub fn new(code: &str, key: Option<&str>, detail: String) -> Problem {
        Problem {
            code: code.into(),
            task_key: key.map(str::to_string),
            detail,
        }
    }
}

/// What git says of an active entry's directory, when something is off.
fn git_problem(e: &WorktreeEntry) -> Option<Problem> {
    let path = Path::new(&e.worktree_path);
    let key = Some(e.task_key.as_str());
    let repo = match git2::Repository::open(path) {
        Ok(r) => r,
        Err(err) => {
            return Some(Problem::new(
                "worktree-unknown-to-git",
                key,
                format!(
                    "{} exists but git does not know it as a worktree ({}); if it was pruned \
                     from git, release the entry and provision again",
                    e.worktree_path,
                    err.message()
                ),
            ))
        }
    };
    let same_dir = repo
        .workdir()
        .and_then(|w| w.canonicalize().ok())
        .zip(path.canonicalize().ok())
        .is_some_and(|(w, p)| w == p);
    (!same_dir).then(|| {
        Problem::new(
            "not-a-worktree",
            key,
            format!(
                "{} is inside a git work tree but is not the top of one",
                e.worktree_path
            ),
        )
    })
}

/// Examines every row and the branch index, in time linear in the rows.
/// `entries` are the document's rows, typed (a registry with a row that does not decode is
/// refused as corrupt before it gets here).
pub fn examine(doc: &Doc, entries: &[WorktreeEntry]) -> DoctorReport {
    let mut problems = Vec::new();
    let by_key: HashMap<&str, &WorktreeEntry> =
        entries.iter().map(|e| (e.task_key.as_str(), e)).collect();
    let owners = BranchOwners::of(entries);
    for (branch, owner) in doc.branches() {
        let owner = owner.as_str().unwrap_or_default();
        let why = match by_key.get(owner) {
            None => "which is not in the registry",
            Some(e) if !e.is_active() => "which is released",
            Some(e) if e.branch != *branch => "which is on another branch",
            Some(_) => continue,
        };
        problems.push(Problem::new(
            "branch-index-dangling",
            Some(owner),
            format!(
                "branch {branch:?} is indexed to {owner}, {why}; it blocks that branch. \
                 `okstra registry repair` drops the entry"
            ),
        ));
    }
    for (branch, (kept, others)) in &owners.by_branch {
        let e = &entries[*kept];
        if doc.branches().get(*branch).and_then(Value::as_str) != Some(e.task_key.as_str()) {
            problems.push(Problem::new(
                "branch-index-missing",
                Some(&e.task_key),
                format!(
                    "branch {branch:?} of this active entry is not indexed to it; `okstra \
                     registry repair` indexes it"
                ),
            ));
        }
        for &i in others {
            problems.push(Problem::new(
                "branch-active-twice",
                Some(&entries[i].task_key),
                format!(
                    "this active entry is on branch {branch:?}, which the newer active entry \
                     {} owns; `okstra registry repair` releases this one",
                    e.task_key
                ),
            ));
        }
    }
    for e in entries.iter().filter(|e| e.is_active()) {
        let key = Some(e.task_key.as_str());
        if !Path::new(&e.worktree_path).exists() {
            problems.push(Problem::new(
                "worktree-missing",
                key,
                format!(
                    "{} no longer exists; `okstra registry prune --apply` releases the entry",
                    e.worktree_path
                ),
            ));
        } else if let Some(p) = git_problem(e) {
            problems.push(p);
        }
    }
    DoctorReport {
        ok: problems.is_empty(),
        problems,
    }
}

impl Registry {
    /// A consistency report; changes nothing.
    pub fn doctor(&self) -> Result<DoctorReport> {
        Ok(self.doctor_and_entries()?.0)
    }

    /// [`Registry::doctor`] plus every entry it examined (file order), read once.
    pub fn doctor_and_entries(&self) -> Result<(DoctorReport, Vec<WorktreeEntry>)> {
        let (doc, entries) = Doc::load_typed(&self.file())?;
        let report = examine(&doc, &entries);
        Ok((report, entries))
    }
}
