//! The worktree side of `okstra registry doctor`: git's view of the registry's worktrees
//! plus the debris an interrupted or crashed okstra can leave (see `debris`). Doctor names
//! each finding with the command that clears it and changes nothing; `repair` clears them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use git2::Repository;

use super::journal::{self, Intent, Move, Op};
use super::owner::Home;
use super::{debris, git, WorktreeError};
use crate::fsio;
use crate::ids;
use crate::registry::{DoctorReport, Problem, ProblemCode, Registry, WorktreeEntry};

/// Where the repositories okstra provisioned in are remembered (one file per repository
/// holding its common git dir), so doctor finds their debris even when no entry is left.
pub(super) const REPOS_DIR: &str = "repos";

/// Remembers `main`'s common git dir for doctor (once per repository).
pub(super) fn remember_repo(reg: &Registry, main: &Repository) -> Result<(), WorktreeError> {
    let dir = canon(main.path());
    let file = reg
        .root()
        .join(REPOS_DIR)
        .join(ids::stable_hash8(&dir.to_string_lossy()));
    if !file.exists() {
        fsio::atomic_write(&file, dir.to_string_lossy().as_bytes())?;
    }
    Ok(())
}

/// `p` canonicalized, or as given when it cannot be (a gone directory).
pub(super) fn canon(p: &Path) -> PathBuf {
    p.canonicalize().unwrap_or_else(|_| p.to_path_buf())
}

/// The names of `main`'s linked worktrees (none when git cannot list them).
pub(super) fn worktree_names(main: &Repository) -> Vec<String> {
    main.worktrees()
        .map(|n| {
            n.iter()
                .filter_map(|s| s.ok().flatten().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Everything doctor and repair look at.
pub(super) struct Survey {
    pub entries: Vec<WorktreeEntry>,
    /// Main repositories by canonical common git dir.
    pub repos: BTreeMap<PathBuf, Repository>,
    /// Unfinished provisioning records (or why one cannot be read).
    pub intents: Vec<(PathBuf, Result<Intent, String>)>,
    /// Unfinished assemble records (or why one cannot be read).
    pub moves: Vec<(PathBuf, Result<Move, String>)>,
    /// The registry's worktrees root, and the home it identifies.
    pub root: PathBuf,
    pub home: Home,
}

/// Every journal record of `op`, read (an unreadable or vanished one as its reason).
fn records<T: serde::de::DeserializeOwned>(
    reg: &Registry,
    op: Op,
) -> Vec<(PathBuf, Result<T, String>)> {
    journal::list(reg, op)
        .into_iter()
        .map(|f| {
            let r = journal::read::<T>(&f)
                .map_err(|e| e.to_string())
                .and_then(|o| o.ok_or_else(|| "vanished".to_string()));
            (f, r)
        })
        .collect()
}

/// Reads the journal and finds every repository to look in: those of the entries whose
/// directory still exists, those okstra remembered, and those of unfinished records.
pub(super) fn survey(reg: &Registry, entries: Vec<WorktreeEntry>) -> Survey {
    let mut repos: BTreeMap<PathBuf, Repository> = BTreeMap::new();
    let mut add = |git_dir: &Path| {
        if let Ok(r) = Repository::open(git_dir) {
            repos.entry(canon(r.path())).or_insert(r);
        }
    };
    for e in &entries {
        let path = Path::new(&e.worktree_path);
        // A gone directory has no repository to find (and 100k of them must stay cheap).
        if !path.exists() {
            continue;
        }
        if let Some(main) = git::discover(path).and_then(|r| git::open_main(&r).ok()) {
            add(main.path());
        }
    }
    if let Ok(files) = std::fs::read_dir(reg.root().join(REPOS_DIR)) {
        for f in files.flatten() {
            if let Ok(dir) = std::fs::read_to_string(f.path()) {
                add(Path::new(dir.trim()));
            }
        }
    }
    let intents = records::<Intent>(reg, Op::Provision);
    for i in intents.iter().filter_map(|(_, i)| i.as_ref().ok()) {
        add(&i.git_dir);
    }
    Survey {
        entries,
        repos,
        intents,
        moves: records::<Move>(reg, Op::Assemble),
        root: reg.root().to_path_buf(),
        home: Home::of(reg),
    }
}

/// The registry's consistency report plus git's view and okstra's debris. For every
/// repository the entries live in (and every one okstra provisioned in), compares `git
/// worktree list` with the registry. Extra problem codes: `branch-switched`,
/// `worktree-foreign`, and the debris codes `provision-unfinished`, `assemble-unfinished`,
/// `journal-unreadable`, `journal-refused`, `worktree-locked-orphan`,
/// `worktree-unregistered`, `worktree-unlocked`, `worktree-prunable`,
/// `branch-unregistered`, `git-lock-stale`, `temp-file-stale`, each naming the command
/// that clears it. Only this home's worktrees and branches are reported (see the `owner`
/// module): another `OKSTRA_HOME` on the same repository is invisible here. Changes
/// nothing.
pub fn doctor(reg: &Registry) -> Result<DoctorReport, WorktreeError> {
    let (mut report, entries) = reg.doctor_and_entries()?;
    let s = survey(reg, entries);
    report.problems.extend(branch_switched(&s.entries));
    report.problems.extend(git_worktree_problems(&s));
    report
        .problems
        .extend(debris::find(&s).into_iter().map(|(_, p)| p));
    report
        .problems
        .extend(crate::lifecycle::unfinished_removals(reg));
    report.ok = report.problems.is_empty();
    Ok(report)
}

/// Active entries whose directory has another branch checked out than the registered one.
fn branch_switched(entries: &[WorktreeEntry]) -> Vec<Problem> {
    entries
        .iter()
        .filter(|e| e.is_active() && Path::new(&e.worktree_path).exists())
        .filter_map(|e| {
            let b = git::head_branch(Path::new(&e.worktree_path)).filter(|b| *b != e.branch)?;
            Some(Problem::new(
                ProblemCode::BranchSwitched,
                Some(&e.task_key),
                format!(
                    "{} has branch {b} checked out, not its registered branch {}",
                    e.worktree_path, e.branch
                ),
            ))
        })
        .collect()
}

/// git's worktrees of this home that no registry entry accounts for and that okstra did
/// not lock (`worktree-foreign`): under the worktrees root, valid, not a released entry's,
/// not an unfinished provisioning's. okstra-locked and gone ones are debris.
fn git_worktree_problems(s: &Survey) -> Vec<Problem> {
    let canon_of = |e: &WorktreeEntry| canon(Path::new(&e.worktree_path));
    // A released entry keeps its directory (the next provision reactivates it).
    let known: BTreeSet<PathBuf> = s.entries.iter().map(canon_of).collect();
    let pending: BTreeSet<PathBuf> = s
        .intents
        .iter()
        .filter_map(|(_, i)| i.as_ref().ok().map(|i| canon(&i.path)))
        .collect();
    let mut problems = Vec::new();
    for main in s.repos.values() {
        for name in worktree_names(main) {
            let Ok(wt) = main.find_worktree(&name) else {
                continue;
            };
            let path = canon(wt.path());
            let unaccounted = s.home.contains(&path)
                && s.home.owns_worktree(&wt)
                && super::owner::lock_mark(&wt).is_none()
                && !pending.contains(&path)
                && !known.contains(&path)
                && wt.validate().is_ok();
            if unaccounted {
                problems.push(Problem::new(
                    ProblemCode::WorktreeForeign,
                    None,
                    format!(
                        "git worktree {name} at {} lies under the okstra root but no registry \
                         entry owns it",
                        path.display()
                    ),
                ));
            }
        }
    }
    problems
}
