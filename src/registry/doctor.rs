//! `registry doctor`: a read-only consistency report of the registry against the disk and
//! against git.

use std::collections::HashMap;
use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use super::entry::WorktreeEntry;
use super::store::{BranchOwners, Doc};
use super::{Registry, Result};

/// Declares [`ProblemCode`] from one table: variant, code string, what it means and what
/// clears it (the table of `docs/errors.md`).
macro_rules! problem_codes {
    ($($variant:ident = $text:literal, $meaning:literal;)+) => {
        /// The kind of a doctor finding, serialized as its kebab-case code
        /// (`branch-index-dangling`, …): a closed set, documented in `docs/errors.md`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ProblemCode {
            $(#[doc = $meaning] $variant,)+
        }

        impl ProblemCode {
            /// Every finding code, in the order of `docs/errors.md`.
            pub const ALL: &'static [ProblemCode] = &[$(ProblemCode::$variant),+];

            /// The code as the report spells it, e.g. `worktree-missing`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ProblemCode::$variant => $text,)+
                }
            }

            /// What it means and what clears it, in one line.
            pub fn meaning(self) -> &'static str {
                match self {
                    $(ProblemCode::$variant => $meaning,)+
                }
            }
        }
    };
}

problem_codes! {
    BranchIndexDangling = "branch-index-dangling",
        "The `branches` index names a key for a branch that is not in the registry, is \
         released or is on another branch (the detail says which); it blocks that branch. \
         `okstra registry repair` drops the index entry.";
    BranchIndexMissing = "branch-index-missing",
        "An active entry's branch is not indexed to it. `okstra registry repair` indexes it.";
    BranchActiveTwice = "branch-active-twice",
        "Two active entries are on one branch. `okstra registry repair` keeps the newest and \
         releases the other.";
    WorktreeMissing = "worktree-missing",
        "An active entry's directory no longer exists. Provisioning the key again recreates \
         the worktree at its path on its recorded branch (its commits kept); `okstra registry \
         prune --apply` releases the entry instead.";
    NotAWorktree = "not-a-worktree",
        "An active entry's directory is inside a git work tree but not the top of one: move \
         it aside, release the entry and provision again.";
    WorktreeUnknownToGit = "worktree-unknown-to-git",
        "An active entry's directory exists but git does not know it as a worktree (pruned \
         from git?): move the directory aside (it may hold work), then provision the key \
         again, which recreates the worktree on its recorded branch.";
    BranchSwitched = "branch-switched",
        "An entry's worktree has another branch checked out than the registered one: check \
         out the registered branch in it (or release the entry).";
    WorktreePrunable = "worktree-prunable",
        "git still lists a worktree of this home whose directory is gone. `okstra registry \
         repair` (or `okstra registry prune --apply`) removes git's record; by hand: `git \
         worktree unlock <path>` and `git worktree prune`.";
    WorktreeForeign = "worktree-foreign",
        "A git worktree lies under the okstra root but no registry entry owns it: remove it \
         with `git worktree remove <path>` if it is not yours to keep.";
    ProvisionUnfinished = "provision-unfinished",
        "A provisioning record whose process died. `okstra registry repair` (or provisioning \
         the key again) completes or undoes it.";
    AssembleUnfinished = "assemble-unfinished",
        "A handoff assemble record an older okstra left when its process died. `okstra \
         registry repair` clears the record and leaves the collector untouched (anything \
         half-done shows in `git status` there); running handoff assemble again resumes, or \
         refuses while the collector has changes.";
    RemoveUnfinished = "remove-unfinished",
        "A worktree removal whose process died. `okstra registry repair` (or any `okstra \
         worktree remove`, `status` or `gc`) finishes it: git's record and the branch when \
         integrated go, the row is released, the trash is emptied; a removal killed before \
         its directory moved is dropped, with the worktree untouched.";
    JournalUnreadable = "journal-unreadable",
        "A journal record that does not parse. `okstra registry repair` moves it aside \
         (`.unreadable`).";
    JournalRefused = "journal-refused",
        "A journal record naming a directory outside the okstra worktrees root (or an admin \
         entry that is not a plain name). `okstra registry repair` moves it aside \
         (`.refused`) and deletes nothing it names.";
    WorktreeLockedOrphan = "worktree-locked-orphan",
        "A worktree git keeps locked with okstra's reason that no active entry owns. `okstra \
         registry repair` unlocks it (the directory is kept).";
    WorktreeUnregistered = "worktree-unregistered",
        "A worktree git keeps locked for this home whose key has no registry row (lost from a \
         corrupt registry). `okstra registry repair` registers it again from git's record \
         (path, checked-out branch, the commit okstra branched from).";
    WorktreeUnlocked = "worktree-unlocked",
        "An active entry's worktree is not locked in git, so `git worktree prune` could drop \
         it. `okstra registry repair` locks it again with okstra's reason.";
    BranchUnregistered = "branch-unregistered",
        "A branch whose reflog says okstra created it that no registry row owns. `okstra \
         registry repair` deletes it while it still points where it was created and nothing \
         has it checked out.";
    GitLockStale = "git-lock-stale",
        "A git `*.lock` (git dir, `refs/`, a worktree's admin dir) older than 10 min that no \
         process holds open. `okstra registry repair` removes it.";
    TempFileStale = "temp-file-stale",
        "A temp file of an interrupted atomic write (`.<name>.tmp-<pid>-…` beside the \
         registry, in the journal, or under a project's `.okstra/`) at least 1 min old, open \
         in no process, whose writer is gone (or that is over 10 min old). `okstra registry \
         repair` removes it.";
}

impl std::fmt::Display for ProblemCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ProblemCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    /// What kind of finding (the closed set [`ProblemCode`]).
    pub code: ProblemCode,
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
    pub fn new(code: ProblemCode, key: Option<&str>, detail: String) -> Problem {
        Problem {
            code,
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
                ProblemCode::WorktreeUnknownToGit,
                key,
                format!(
                    "{} exists but git does not know it as a worktree ({}); move it aside \
                     (it may hold work) and provision the key again to recreate it on its \
                     branch",
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
            ProblemCode::NotAWorktree,
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
            ProblemCode::BranchIndexDangling,
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
                ProblemCode::BranchIndexMissing,
                Some(&e.task_key),
                format!(
                    "branch {branch:?} of this active entry is not indexed to it; `okstra \
                     registry repair` indexes it"
                ),
            ));
        }
        for &i in others {
            problems.push(Problem::new(
                ProblemCode::BranchActiveTwice,
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
                ProblemCode::WorktreeMissing,
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
