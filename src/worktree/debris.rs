//! The debris an interrupted or crashed okstra can leave, as doctor findings paired with
//! what `repair` does about them: unfinished journal records, okstra-locked worktrees no
//! active entry owns, branches okstra made that no entry owns, and stale git lock files.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use git2::{BranchType, Repository};

use super::doctor::{canon, okstra_locked, worktree_names, Survey};
use super::journal::{Intent, Move};
use super::{git, holders};
use crate::registry::{Problem, ProblemCode};

/// A git `*.lock` file older than this, that no process holds open, is stale.
pub const STALE_GIT_LOCK: Duration = Duration::from_secs(600);

/// One piece of debris, with what clears it.
pub(super) enum Debris {
    /// An unfinished provisioning: its record file and intent.
    Intent(PathBuf, Intent),
    /// An unfinished collector move: its record file and move.
    Move(PathBuf, Move),
    /// A journal record that cannot be read.
    UnreadableRecord(PathBuf),
    /// An okstra-locked worktree (common git dir, admin name) no active entry owns.
    LockedOrphan(PathBuf, String),
    /// A branch okstra made (common git dir, name, where it was made) no entry owns.
    Branch(PathBuf, String, git2::Oid),
    /// A stale git lock file.
    GitLock(PathBuf),
}

/// Every piece of debris the survey shows, each with its doctor finding.
pub(super) fn find(s: &Survey) -> Vec<(Debris, Problem)> {
    let mut out = journal_debris(s);
    let pending_paths: BTreeSet<PathBuf> = s
        .intents
        .iter()
        .filter_map(|(_, i)| i.as_ref().ok().map(|i| canon(&i.path)))
        .collect();
    let pending_branches: BTreeSet<&str> = s
        .intents
        .iter()
        .filter_map(|(_, i)| i.as_ref().ok().map(|i| i.branch.as_str()))
        .collect();
    let active: BTreeSet<PathBuf> = s
        .entries
        .iter()
        .filter(|e| e.is_active())
        .map(|e| canon(Path::new(&e.worktree_path)))
        .collect();
    let mut known_branches: BTreeSet<&str> = s.entries.iter().map(|e| e.branch.as_str()).collect();
    known_branches.extend(pending_branches);
    for main in s.repos.values() {
        out.extend(locked_orphans(main, &active, &pending_paths));
        out.extend(unregistered_branches(main, &known_branches));
        out.extend(
            stale_git_locks(main.path())
                .into_iter()
                .map(git_lock_debris),
        );
    }
    out
}

fn unreadable(file: &Path, e: &str) -> (Debris, Problem) {
    (
        Debris::UnreadableRecord(file.to_path_buf()),
        Problem::new(
            ProblemCode::JournalUnreadable,
            None,
            format!(
                "journal record {} cannot be read ({e}); `okstra registry repair` moves it \
                 aside",
                file.display()
            ),
        ),
    )
}

/// Unfinished provisioning and assemble records, and unreadable ones.
fn journal_debris(s: &Survey) -> Vec<(Debris, Problem)> {
    let mut out = Vec::new();
    for (file, r) in &s.intents {
        out.push(match r {
            Ok(i) => (
                Debris::Intent(file.clone(), i.clone()),
                Problem::new(
                    ProblemCode::ProvisionUnfinished,
                    Some(&i.task_key),
                    format!(
                        "provisioning of {} at {} on branch {} (pid {}, {}) did not finish; \
                         `okstra registry repair` (or provisioning the key again) completes \
                         or undoes it",
                        i.task_key,
                        i.path.display(),
                        i.branch,
                        i.pid,
                        i.started_at
                    ),
                ),
            ),
            Err(e) => unreadable(file, e),
        });
    }
    for (file, r) in &s.moves {
        out.push(match r {
            Ok(m) => (
                Debris::Move(file.clone(), m.clone()),
                Problem::new(
                    ProblemCode::AssembleUnfinished,
                    Some(&m.task_key),
                    format!(
                        "an older okstra's handoff assemble moving collector {} from {} to {} \
                         did not finish; `okstra registry repair` clears the record and \
                         leaves the collector as it is (check `git status` there), and \
                         running handoff assemble again resumes or refuses without touching it",
                        m.path.display(),
                        &m.from[..m.from.len().min(12)],
                        &m.to[..m.to.len().min(12)]
                    ),
                ),
            ),
            Err(e) => unreadable(file, e),
        });
    }
    out
}

/// Worktrees of `main` locked by okstra whose directory exists but that neither an active
/// entry nor an unfinished provisioning owns.
fn locked_orphans(
    main: &Repository,
    active: &BTreeSet<PathBuf>,
    pending: &BTreeSet<PathBuf>,
) -> Vec<(Debris, Problem)> {
    let mut out = Vec::new();
    for name in worktree_names(main) {
        let Ok(wt) = main.find_worktree(&name) else {
            continue;
        };
        let path = canon(wt.path());
        if !okstra_locked(&wt)
            || !wt.path().exists()
            || active.contains(&path)
            || pending.contains(&path)
        {
            continue;
        }
        out.push((
            Debris::LockedOrphan(main.path().to_path_buf(), name.clone()),
            Problem::new(
                ProblemCode::WorktreeLockedOrphan,
                None,
                format!(
                    "git worktree {name} at {} is locked by okstra but no active registry \
                     entry owns it; `okstra registry repair` unlocks it (or `git worktree \
                     unlock {}`); the directory is kept",
                    path.display(),
                    path.display()
                ),
            ),
        ));
    }
    out
}

/// Local branches of `main` that okstra made and no entry (nor an unfinished provisioning)
/// names.
fn unregistered_branches(main: &Repository, known: &BTreeSet<&str>) -> Vec<(Debris, Problem)> {
    let Ok(branches) = main.branches(Some(BranchType::Local)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (b, _) in branches.flatten() {
        let Ok(Some(name)) = b.name().map(|n| n.map(str::to_string)) else {
            continue;
        };
        if known.contains(name.as_str()) {
            continue;
        }
        if let Some(at) = git::okstra_created_at(main, &name) {
            out.push((
                Debris::Branch(main.path().to_path_buf(), name.clone(), at),
                Problem::new(
                    ProblemCode::BranchUnregistered,
                    None,
                    format!(
                        "branch {name} in {} was made by okstra but no registry entry owns it; \
                         `okstra registry repair` deletes it while it still points at {at} and \
                         nothing has it checked out",
                        main.path().display()
                    ),
                ),
            ));
        }
    }
    out
}

fn git_lock_debris(lock: PathBuf) -> (Debris, Problem) {
    let problem = Problem::new(
        ProblemCode::GitLockStale,
        None,
        format!(
            "git lock file {} is older than {} min and no process holds it; `okstra registry \
             repair` removes it (or `rm {}`)",
            lock.display(),
            STALE_GIT_LOCK.as_secs() / 60,
            lock.display()
        ),
    );
    (Debris::GitLock(lock), problem)
}

/// The directories git keeps lock files in under a common git dir: the top level, every
/// worktree's admin dir and every directory under `refs/`.
fn git_lock_dirs(git_dir: &Path) -> Vec<PathBuf> {
    let mut dirs = vec![git_dir.to_path_buf()];
    if let Ok(wts) = std::fs::read_dir(git_dir.join("worktrees")) {
        dirs.extend(wts.flatten().map(|d| d.path()));
    }
    let mut refs = vec![git_dir.join("refs")];
    while let Some(d) = refs.pop() {
        if let Ok(list) = std::fs::read_dir(&d) {
            for e in list.flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    refs.push(e.path());
                }
            }
            dirs.push(d);
        }
    }
    dirs
}

/// git `*.lock` files under a common git dir older than [`STALE_GIT_LOCK`] that no process
/// holds open.
fn stale_git_locks(git_dir: &Path) -> Vec<PathBuf> {
    let now = SystemTime::now();
    let mut found = Vec::new();
    for d in git_lock_dirs(git_dir) {
        let Ok(list) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in list.flatten() {
            let p = e.path();
            let is_lock = p.extension().is_some_and(|x| x == "lock")
                && e.file_type().is_ok_and(|t| t.is_file());
            if !is_lock {
                continue;
            }
            let old = e
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|m| now.duration_since(m).ok())
                .is_some_and(|age| age > STALE_GIT_LOCK);
            if old && holders::holders(&p).is_empty() {
                found.push(p);
            }
        }
    }
    found.sort();
    found
}
