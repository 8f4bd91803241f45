//! The worktree side of `okstra registry doctor` / `repair`: git's view of the registry's
//! worktrees, and the debris an interrupted or crashed okstra can leave — unfinished
//! journal records, okstra-locked worktrees no active entry owns, branches okstra made that
//! no entry owns, and stale git lock files. Doctor names each with the command that clears
//! it; [`repair`] clears them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use git2::{BranchType, Repository, WorktreeLockStatus};
use serde::Serialize;

use super::journal::{self, Intent, Move, Op};
use super::locks::{lock_key_str, lock_repo};
use super::{git, holders, WorktreeError};
use crate::fsio;
use crate::ids;
use crate::registry::{DoctorReport, Problem, Registry, WorktreeEntry, ACTIVE};

/// A git `*.lock` file older than this, that no process holds open, is stale.
pub const STALE_GIT_LOCK: Duration = Duration::from_secs(600);

/// Where the repositories okstra provisioned in are remembered (one file per repository
/// holding its common git dir), so doctor finds their debris even when no entry is left.
const REPOS_DIR: &str = "repos";

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

fn canon(p: &Path) -> PathBuf {
    p.canonicalize().unwrap_or_else(|_| p.to_path_buf())
}

fn problem(code: &str, key: Option<&str>, detail: String) -> Problem {
    Problem {
        code: code.into(),
        task_key: key.map(str::to_string),
        detail,
    }
}

/// Everything doctor and repair look at.
struct Survey {
    entries: Vec<WorktreeEntry>,
    repos: BTreeMap<PathBuf, Repository>,
    intents: Vec<(PathBuf, Result<Intent, String>)>,
    moves: Vec<(PathBuf, Result<Move, String>)>,
}

fn survey(reg: &Registry, entries: Vec<WorktreeEntry>) -> Result<Survey, WorktreeError> {
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
    let read_all = |op| -> Vec<_> {
        journal::list(reg, op)
            .into_iter()
            .map(|f| (f.clone(), f))
            .collect()
    };
    let intents: Vec<(PathBuf, Result<Intent, String>)> = read_all(Op::Provision)
        .into_iter()
        .map(|(f, p)| {
            let r = journal::read::<Intent>(&p)
                .map_err(|e| e.to_string())
                .and_then(|o| o.ok_or_else(|| "vanished".to_string()));
            (f, r)
        })
        .collect();
    for (_, i) in &intents {
        if let Ok(i) = i {
            add(&i.git_dir);
        }
    }
    let moves = read_all(Op::Assemble)
        .into_iter()
        .map(|(f, p)| {
            let r = journal::read::<Move>(&p)
                .map_err(|e| e.to_string())
                .and_then(|o| o.ok_or_else(|| "vanished".to_string()));
            (f, r)
        })
        .collect();
    Ok(Survey {
        entries,
        repos,
        intents,
        moves,
    })
}

/// One piece of debris, with what clears it.
enum Debris {
    Intent(PathBuf, Intent),
    Move(PathBuf, Move),
    UnreadableRecord(PathBuf),
    LockedOrphan(PathBuf, String),
    Branch(PathBuf, String, git2::Oid),
    GitLock(PathBuf),
}

fn unreadable(file: &Path, e: &str) -> (Debris, Problem) {
    (
        Debris::UnreadableRecord(file.to_path_buf()),
        problem(
            "journal-unreadable",
            None,
            format!(
                "journal record {} cannot be read ({e}); `okstra registry repair` moves it \
                 aside",
                file.display()
            ),
        ),
    )
}

fn debris(s: &Survey) -> Vec<(Debris, Problem)> {
    let mut out = Vec::new();
    let mut pending_paths = BTreeSet::new();
    let mut pending_branches = BTreeSet::new();
    for (file, r) in &s.intents {
        match r {
            Ok(i) => {
                pending_paths.insert(canon(&i.path));
                pending_branches.insert(i.branch.clone());
                out.push((
                    Debris::Intent(file.clone(), i.clone()),
                    problem(
                        "provision-unfinished",
                        Some(&i.task_key),
                        format!(
                            "provisioning of {} at {} on branch {} (pid {}, {}) did not finish; \
                             `okstra registry repair` (or provisioning the key again) \
                             completes or undoes it",
                            i.task_key,
                            i.path.display(),
                            i.branch,
                            i.pid,
                            i.started_at
                        ),
                    ),
                ));
            }
            Err(e) => out.push(unreadable(file, e)),
        }
    }
    for (file, r) in &s.moves {
        match r {
            Ok(m) => out.push((
                Debris::Move(file.clone(), m.clone()),
                problem(
                    "assemble-unfinished",
                    Some(&m.task_key),
                    format!(
                        "handoff assemble moving collector {} from {} to {} did not finish; \
                         `okstra registry repair` resets its checkout to the branch, and \
                         running handoff assemble again resumes",
                        m.path.display(),
                        &m.from[..m.from.len().min(12)],
                        &m.to[..m.to.len().min(12)]
                    ),
                ),
            )),
            Err(e) => out.push(unreadable(file, e)),
        }
    }
    let active: BTreeSet<PathBuf> = s
        .entries
        .iter()
        .filter(|e| e.status == ACTIVE)
        .map(|e| canon(Path::new(&e.worktree_path)))
        .collect();
    let known_branches: BTreeSet<&str> = s.entries.iter().map(|e| e.branch.as_str()).collect();
    for main in s.repos.values() {
        for name in main
            .worktrees()
            .map(|n| {
                n.iter()
                    .filter_map(|s| s.ok().flatten().map(str::to_string))
                    .collect::<Vec<String>>()
            })
            .unwrap_or_default()
        {
            let Ok(wt) = main.find_worktree(&name) else {
                continue;
            };
            let path = canon(wt.path());
            let okstra_locked = matches!(
                wt.is_locked(),
                Ok(WorktreeLockStatus::Locked(Some(r))) if r.starts_with(git::LOCK_REASON_PREFIX)
            );
            if okstra_locked
                && wt.path().exists()
                && !active.contains(&path)
                && !pending_paths.contains(&path)
            {
                out.push((
                    Debris::LockedOrphan(main.path().to_path_buf(), name.clone()),
                    problem(
                        "worktree-locked-orphan",
                        None,
                        format!(
                            "git worktree {name} at {} is locked by okstra but no active \
                             registry entry owns it; `okstra registry repair` unlocks it (or \
                             `git worktree unlock {}`); the directory is kept",
                            path.display(),
                            path.display()
                        ),
                    ),
                ));
            }
        }
        if let Ok(branches) = main.branches(Some(BranchType::Local)) {
            for (b, _) in branches.flatten() {
                let Ok(Some(name)) = b.name().map(|n| n.map(str::to_string)) else {
                    continue;
                };
                if known_branches.contains(name.as_str()) || pending_branches.contains(&name) {
                    continue;
                }
                if let Some(at) = git::okstra_created_at(main, &name) {
                    out.push((
                        Debris::Branch(main.path().to_path_buf(), name.clone(), at),
                        problem(
                            "branch-unregistered",
                            None,
                            format!(
                                "branch {name} in {} was made by okstra but no registry entry \
                                 owns it; `okstra registry repair` deletes it while it still \
                                 points at {at} and nothing has it checked out",
                                main.path().display()
                            ),
                        ),
                    ));
                }
            }
        }
        for lock in stale_git_locks(main.path()) {
            out.push((
                Debris::GitLock(lock.clone()),
                problem(
                    "git-lock-stale",
                    None,
                    format!(
                        "git lock file {} is older than {} min and no process holds it; \
                         `okstra registry repair` removes it (or `rm {}`)",
                        lock.display(),
                        STALE_GIT_LOCK.as_secs() / 60,
                        lock.display()
                    ),
                ),
            ));
        }
    }
    out
}

/// git `*.lock` files under a common git dir (top level, `refs/`, each worktree's admin
/// dir) older than [`STALE_GIT_LOCK`] that no process holds open.
fn stale_git_locks(git_dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
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
    let now = SystemTime::now();
    for d in dirs {
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

/// The registry's consistency report plus git's view and okstra's debris. For every
/// repository the entries live in (and every one okstra provisioned in), compares `git
/// worktree list` with the registry. Extra problem codes: `branch-switched`,
/// `worktree-prunable`, `worktree-foreign`, and the debris codes `provision-unfinished`,
/// `assemble-unfinished`, `journal-unreadable`, `worktree-locked-orphan`,
/// `branch-unregistered`, `git-lock-stale`, each naming the command that clears it.
/// Changes nothing.
pub fn doctor(reg: &Registry) -> Result<DoctorReport, WorktreeError> {
    let (mut report, entries) = reg.doctor_and_entries()?;
    let s = survey(reg, entries)?;
    let active: Vec<&WorktreeEntry> = s.entries.iter().filter(|e| e.status == ACTIVE).collect();
    for e in &active {
        let path = Path::new(&e.worktree_path);
        if !path.exists() {
            continue;
        }
        if let Some(b) = git::head_branch(path).filter(|b| *b != e.branch) {
            report.problems.push(problem(
                "branch-switched",
                Some(&e.task_key),
                format!(
                    "{} has branch {b} checked out, not its registered branch {}",
                    e.worktree_path, e.branch
                ),
            ));
        }
    }
    let owned: BTreeMap<PathBuf, &WorktreeEntry> = active
        .iter()
        .map(|e| (canon(Path::new(&e.worktree_path)), *e))
        .collect();
    // A released entry keeps its directory (the next provision reactivates it).
    let released: BTreeSet<PathBuf> = s
        .entries
        .iter()
        .filter(|e| e.status != ACTIVE)
        .map(|e| canon(Path::new(&e.worktree_path)))
        .collect();
    let pending: BTreeSet<PathBuf> = s
        .intents
        .iter()
        .filter_map(|(_, i)| i.as_ref().ok().map(|i| canon(&i.path)))
        .collect();
    let okstra_root = canon(reg.root());
    for main in s.repos.values() {
        let Ok(names) = main.worktrees() else {
            continue;
        };
        for name in names.iter().filter_map(|n| n.ok().flatten()) {
            let Ok(wt) = main.find_worktree(name) else {
                continue;
            };
            let path = canon(wt.path());
            if !path.starts_with(&okstra_root) || pending.contains(&path) {
                continue;
            }
            let owner = owned.get(&path).map(|e| e.task_key.as_str());
            let okstra_locked = matches!(
                wt.is_locked(),
                Ok(WorktreeLockStatus::Locked(Some(r))) if r.starts_with(git::LOCK_REASON_PREFIX)
            );
            if wt.validate().is_err() {
                report.problems.push(problem(
                    "worktree-prunable",
                    owner,
                    format!(
                        "git still lists worktree {name} at {} but its directory is gone; \
                         `git worktree unlock {}` and `git worktree prune` clear it, then \
                         `okstra registry prune --apply` releases the entry (provisioning \
                         the key again also clears it)",
                        path.display(),
                        path.display()
                    ),
                ));
            } else if owner.is_none() && !okstra_locked && !released.contains(&path) {
                report.problems.push(problem(
                    "worktree-foreign",
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
    report
        .problems
        .extend(debris(&s).into_iter().map(|(_, p)| p));
    report.ok = report.problems.is_empty();
    Ok(report)
}

/// What `repair` did: the registry file's repair plus the debris it cleared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorktreeRepair {
    #[serde(flatten)]
    pub registry: crate::registry::RepairReport,
    /// The doctor findings this repair cleared.
    pub cleared: Vec<Problem>,
}

/// Repairs the registry file (`Registry::repair`), then clears okstra's debris: completes
/// or undoes unfinished provisionings, resets the checkout of interrupted assembles to
/// their branch, moves unreadable journal records aside, unlocks okstra-locked worktrees no
/// active entry owns (directories kept), deletes branches okstra made that no entry owns
/// while they still point where they were created and nothing has them checked out, and
/// removes stale git lock files. Takes the key and repository locks provisioning takes.
pub fn repair(reg: &Registry) -> Result<WorktreeRepair, WorktreeError> {
    let registry = reg.repair()?;
    let s = survey(reg, reg.list(None, None)?)?;
    let mut cleared = Vec::new();
    for (d, p) in debris(&s) {
        let done = match d {
            Debris::Intent(file, intent) => {
                let _k = lock_key_str(reg, &intent.task_key)?;
                let main = Repository::open(&intent.git_dir).ok();
                let _r = match &main {
                    Some(m) => Some(lock_repo(reg, m)?),
                    None => None,
                };
                match journal::read::<Intent>(&file)? {
                    Some(i) => {
                        journal::recover(reg, &file, &i, reg.lock_timeout())?;
                        true
                    }
                    None => false,
                }
            }
            Debris::Move(file, m) => {
                let _k = lock_key_str(reg, &m.task_key)?;
                journal::undo_move(&m);
                journal::clear(&file)?;
                true
            }
            Debris::UnreadableRecord(file) => {
                let mut aside = file.as_os_str().to_owned();
                aside.push(".unreadable");
                std::fs::rename(&file, &aside).is_ok()
            }
            Debris::LockedOrphan(git_dir, name) => Repository::open(git_dir)
                .ok()
                .and_then(|m| m.find_worktree(&name).ok())
                .is_some_and(|w| w.unlock().is_ok()),
            Debris::Branch(git_dir, name, at) => Repository::open(git_dir)
                .is_ok_and(|m| journal::delete_branch_at(&m, &name, &at.to_string())),
            Debris::GitLock(file) => std::fs::remove_file(file).is_ok(),
        };
        if done {
            cleared.push(p);
        }
    }
    Ok(WorktreeRepair { registry, cleared })
}
