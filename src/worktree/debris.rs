//! The debris an interrupted or crashed okstra can leave, as doctor findings paired with
//! what `repair` does about them: unfinished (or refused) journal records, okstra-locked
//! worktrees the registry lost or released, active worktrees that lost okstra's lock, git
//! records of gone okstra worktrees, branches okstra made that no entry owns, stale git
//! lock files and temp files of dead writers.
//!
//! Only this home's worktrees and branches are debris (see `owner`): another
//! `OKSTRA_HOME` on the same repository is never reported or touched.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use git2::{BranchType, Repository};

use super::doctor::{canon, worktree_names, Survey};
use super::journal::{self, Intent, Move};
use super::owner::{self, Home};
use super::{git, holders};
use crate::registry::{Problem, ProblemCode, WorktreeEntry};

/// A git `*.lock` file older than this, that no process holds open, is stale.
pub const STALE_GIT_LOCK: Duration = Duration::from_secs(600);

/// A temp file of an atomic write is debris only once it is this old (a write takes
/// milliseconds; this leaves room for a slow disk) …
pub const TEMP_MIN_AGE: Duration = Duration::from_secs(60);
/// … and its writer (the pid in its name) is gone, or it is older than this (a pid reused
/// by another process, or a writer in another pid namespace).
pub const TEMP_MAX_AGE: Duration = Duration::from_secs(600);

/// A git worktree of this home: its repository's common git dir, admin name, path, and
/// the key it belongs to when known.
#[derive(Debug, Clone)]
pub(super) struct Wt {
    pub git_dir: PathBuf,
    pub name: String,
    pub path: PathBuf,
    pub key: Option<String>,
}

/// One piece of debris, with what clears it.
pub(super) enum Debris {
    /// An unfinished provisioning: its record file and intent.
    Intent(PathBuf, Intent),
    /// An unfinished collector move: its record file and move.
    Move(PathBuf, Move),
    /// A journal record that cannot be read.
    UnreadableRecord(PathBuf),
    /// A journal record naming something outside the worktrees root.
    RefusedRecord(PathBuf),
    /// An okstra-locked worktree whose key's row is released or on another path.
    LockedOrphan(Wt),
    /// An okstra-locked worktree whose key has no row at all (the registry lost it).
    Unregistered(Wt),
    /// An active entry's worktree without okstra's lock.
    Unlocked(Wt),
    /// git's record of an okstra worktree whose directory is gone.
    Prunable(Wt),
    /// A branch okstra made (common git dir, name, where it was made, key) no entry owns.
    Branch(PathBuf, String, git2::Oid, String),
    /// A stale git lock file.
    GitLock(PathBuf),
    /// A temp file of a dead writer's atomic write.
    Temp(PathBuf),
}

/// Every piece of debris the survey shows, each with its doctor finding.
pub(super) fn find(s: &Survey) -> Vec<(Debris, Problem)> {
    let mut out = journal_debris(s);
    let pending_paths: BTreeSet<PathBuf> = s
        .intents
        .iter()
        .filter_map(|(_, i)| i.as_ref().ok().map(|i| canon(&i.path)))
        .collect();
    let mut known_branches: BTreeSet<&str> = s.entries.iter().map(|e| e.branch.as_str()).collect();
    known_branches.extend(
        s.intents
            .iter()
            .filter_map(|(_, i)| i.as_ref().ok().map(|i| i.branch.as_str())),
    );
    let rows: BTreeMap<&str, &WorktreeEntry> =
        s.entries.iter().map(|e| (e.task_key.as_str(), e)).collect();
    // Keys by directory, for worktrees without okstra's lock; only existing directories
    // canonicalize, so the gone ones keep their recorded spelling.
    let by_path: BTreeMap<PathBuf, &str> = s
        .entries
        .iter()
        .map(|e| (canon(Path::new(&e.worktree_path)), e.task_key.as_str()))
        .collect();
    for main in s.repos.values() {
        out.extend(okstra_worktrees(main, s, &rows, &by_path, &pending_paths));
        out.extend(unregistered_branches(main, &s.home, &known_branches));
        out.extend(
            stale_git_locks(main.path())
                .into_iter()
                .map(git_lock_debris),
        );
    }
    out.extend(unlocked_entries(s));
    let mut temp_dirs = vec![
        (s.root.clone(), 0),
        (s.root.join(journal::PENDING_DIR), 0),
        (s.root.join(super::doctor::REPOS_DIR), 0),
    ];
    for main in s.repos.values() {
        if let Some(w) = main.workdir() {
            temp_dirs.push((w.join(".okstra"), TEMP_DEPTH));
        }
    }
    out.extend(stale_temps(&temp_dirs).into_iter().map(temp_debris));
    out
}

fn record_problem(code: ProblemCode, file: &Path, why: &str, action: &str) -> Problem {
    Problem::new(
        code,
        None,
        format!(
            "journal record {} {why}; `okstra registry repair` {action}",
            file.display()
        ),
    )
}

/// Unfinished provisioning and assemble records, refused and unreadable ones.
fn journal_debris(s: &Survey) -> Vec<(Debris, Problem)> {
    let mut out = Vec::new();
    let unreadable = |file: &Path, e: &str| {
        (
            Debris::UnreadableRecord(file.to_path_buf()),
            record_problem(
                ProblemCode::JournalUnreadable,
                file,
                &format!("cannot be read ({e})"),
                "moves it aside",
            ),
        )
    };
    let refused = |file: &Path, e: String| {
        (
            Debris::RefusedRecord(file.to_path_buf()),
            record_problem(
                ProblemCode::JournalRefused,
                file,
                &format!("is refused ({e})"),
                "moves it aside (`.refused`) and deletes nothing it names",
            ),
        )
    };
    for (file, r) in &s.intents {
        out.push(match r {
            Ok(i) => match journal::check_intent_in(&s.root, file, i) {
                Err(e) => refused(file, e.to_string()),
                Ok(()) => (
                    Debris::Intent(file.clone(), i.clone()),
                    Problem::new(
                        ProblemCode::ProvisionUnfinished,
                        Some(&i.task_key),
                        format!(
                            "provisioning of {} at {} on branch {} (pid {}, {}) did not \
                             finish; `okstra registry repair` (or provisioning the key again) \
                             completes or undoes it",
                            i.task_key,
                            i.path.display(),
                            i.branch,
                            i.pid,
                            i.started_at
                        ),
                    ),
                ),
            },
            Err(e) => unreadable(file, e),
        });
    }
    for (file, r) in &s.moves {
        out.push(match r {
            Ok(m) => match journal::check_move_in(&s.root, file, m) {
                Err(e) => refused(file, e.to_string()),
                Ok(()) => (
                    Debris::Move(file.clone(), m.clone()),
                    Problem::new(
                        ProblemCode::AssembleUnfinished,
                        Some(&m.task_key),
                        format!(
                            "an older okstra's handoff assemble moving collector {} from {} to \
                             {} did not finish; `okstra registry repair` clears the record and \
                             leaves the collector as it is (check `git status` there), and \
                             running handoff assemble again resumes or refuses without \
                             touching it",
                            m.path.display(),
                            &m.from[..m.from.len().min(12)],
                            &m.to[..m.to.len().min(12)]
                        ),
                    ),
                ),
            },
            Err(e) => unreadable(file, e),
        });
    }
    out
}

/// This home's git worktrees of `main` the registry does not account for (unfinished
/// provisionings are left to their records): okstra-locked ones whose key has no row
/// (`worktree-unregistered`), or whose row is released or elsewhere
/// (`worktree-locked-orphan`), and records whose directory is gone (`worktree-prunable`).
fn okstra_worktrees(
    main: &Repository,
    s: &Survey,
    rows: &BTreeMap<&str, &WorktreeEntry>,
    by_path: &BTreeMap<PathBuf, &str>,
    pending: &BTreeSet<PathBuf>,
) -> Vec<(Debris, Problem)> {
    let mut out = Vec::new();
    for name in worktree_names(main) {
        let Ok(wt) = main.find_worktree(&name) else {
            continue;
        };
        let path = canon(wt.path());
        if pending.contains(&path) || !s.home.owns_worktree(&wt) {
            continue;
        }
        let mark = owner::lock_mark(&wt);
        let w = Wt {
            git_dir: main.path().to_path_buf(),
            name: name.clone(),
            path: path.clone(),
            key: mark
                .as_ref()
                .map(|m| m.key.clone())
                .or_else(|| by_path.get(&path).map(|k| k.to_string())),
        };
        let shown = path.display();
        if wt.validate().is_err() {
            // A lock someone else put is theirs to lift.
            if wt
                .is_locked()
                .is_ok_and(|l| l != git2::WorktreeLockStatus::Unlocked)
                && mark.is_none()
            {
                continue;
            }
            let p = Problem::new(
                ProblemCode::WorktreePrunable,
                w.key.as_deref(),
                format!(
                    "git still lists worktree {name} at {shown} but its directory is gone; \
                     `okstra registry repair` (or `okstra registry prune --apply`) removes \
                     git's record (by hand: `git worktree unlock {shown}` and `git worktree \
                     prune`)"
                ),
            );
            out.push((Debris::Prunable(w), p));
            continue;
        }
        let Some(mark) = mark else {
            continue;
        };
        let row = rows.get(mark.key.as_str());
        if row.is_some_and(|e| e.is_active() && canon(Path::new(&e.worktree_path)) == path) {
            continue;
        }
        let key = Some(mark.key.as_str());
        if row.is_none() && owner::parse_key(&mark.key).is_some() {
            let p = Problem::new(
                ProblemCode::WorktreeUnregistered,
                key,
                format!(
                    "git worktree {name} at {shown} is locked by okstra for {} but the \
                     registry has no row for that key (lost from a corrupt registry?); \
                     `okstra registry repair` registers it again",
                    mark.key
                ),
            );
            out.push((Debris::Unregistered(w), p));
        } else {
            let p = Problem::new(
                ProblemCode::WorktreeLockedOrphan,
                key,
                format!(
                    "git worktree {name} at {shown} is locked by okstra but no active \
                     registry entry owns it; `okstra registry repair` unlocks it (or `git \
                     worktree unlock {shown}`); the directory is kept"
                ),
            );
            out.push((Debris::LockedOrphan(w), p));
        }
    }
    out
}

/// Active entries whose worktree git knows but that lost okstra's lock (a `git worktree
/// unlock`, or an older repair racing provisioning): `git worktree prune` could then drop
/// them once unreachable.
fn unlocked_entries(s: &Survey) -> Vec<(Debris, Problem)> {
    let mut out = Vec::new();
    for e in s.entries.iter().filter(|e| e.is_active()) {
        let path = Path::new(&e.worktree_path);
        if !path.is_dir() {
            continue;
        }
        let Ok(repo) = Repository::open(path) else {
            continue;
        };
        if !repo.is_worktree() {
            continue;
        }
        let Ok(wt) = git2::Worktree::open_from_repository(&repo) else {
            continue;
        };
        if wt.is_locked().ok() != Some(git2::WorktreeLockStatus::Unlocked) {
            continue;
        }
        let (Some(name), Ok(main)) = (wt.name().ok().flatten(), git::open_main(&repo)) else {
            continue;
        };
        let w = Wt {
            git_dir: main.path().to_path_buf(),
            name: name.to_string(),
            path: canon(path),
            key: Some(e.task_key.clone()),
        };
        let p = Problem::new(
            ProblemCode::WorktreeUnlocked,
            Some(&e.task_key),
            format!(
                "the worktree of this active entry at {} is not locked in git, so `git \
                 worktree prune` may drop it; `okstra registry repair` locks it again",
                e.worktree_path
            ),
        );
        out.push((Debris::Unlocked(w), p));
    }
    out
}

/// Local branches of `main` that this home made and no entry (nor an unfinished
/// provisioning) names.
fn unregistered_branches(
    main: &Repository,
    home: &Home,
    known: &BTreeSet<&str>,
) -> Vec<(Debris, Problem)> {
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
        let Some((mark, at)) = owner::branch_mark(main, &name) else {
            continue;
        };
        if !home.owns_branch(&mark) {
            continue;
        }
        out.push((
            Debris::Branch(main.path().to_path_buf(), name.clone(), at, mark.key),
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

fn temp_debris(file: PathBuf) -> (Debris, Problem) {
    let problem = Problem::new(
        ProblemCode::TempFileStale,
        None,
        format!(
            "{} is the temp file of an interrupted atomic write (its writer is gone); \
             `okstra registry repair` removes it (or `rm {}`)",
            file.display(),
            file.display()
        ),
    );
    (Debris::Temp(file), problem)
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

/// How old the file of `e` is (`None` when unknown).
fn age(e: &std::fs::DirEntry, now: SystemTime) -> Option<Duration> {
    e.metadata()
        .and_then(|m| m.modified())
        .ok()
        .and_then(|m| now.duration_since(m).ok())
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
            let old = age(&e, now).is_some_and(|a| a > STALE_GIT_LOCK);
            if old && holders::holders(&p).is_empty() {
                found.push(p);
            }
        }
    }
    found.sort();
    found
}

/// The writer pid in a temp file name of `fsio::atomic_write`
/// (`.<name>.tmp-<pid>-<seq>-<nanos>`), or `None` when `name` is not one.
pub fn temp_writer(name: &str) -> Option<u32> {
    let rest = name.strip_prefix('.')?;
    let (_, tail) = rest.rsplit_once(".tmp-")?;
    let mut parts = tail.split('-');
    let pid = parts.next()?.parse::<u32>().ok()?;
    let seq_ok = parts.next()?.parse::<u64>().is_ok();
    let nanos_ok = parts
        .next()
        .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_hexdigit()));
    (seq_ok && nanos_ok && parts.next().is_none()).then_some(pid)
}

/// How deep [`stale_temps`] descends below a project's `.okstra/` (it holds run
/// directories a few levels down).
const TEMP_DEPTH: usize = 6;

/// Temp files of atomic writes in `dirs` (each with how many levels below it to descend;
/// regular files only, symlinks neither followed nor reported) whose writer is dead: at
/// least [`TEMP_MIN_AGE`] old, open in no process, and either their writer pid is gone or
/// they are older than [`TEMP_MAX_AGE`].
fn stale_temps(dirs: &[(PathBuf, usize)]) -> Vec<PathBuf> {
    let now = SystemTime::now();
    let mut found = Vec::new();
    let mut stack: Vec<(PathBuf, usize)> = dirs.to_vec();
    let mut seen = BTreeSet::new();
    while let Some((d, below)) = stack.pop() {
        if !seen.insert(d.clone()) {
            continue;
        }
        let Ok(list) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in list.flatten() {
            let Ok(t) = e.file_type() else {
                continue;
            };
            if t.is_dir() {
                if below > 0 {
                    stack.push((e.path(), below - 1));
                }
                continue;
            }
            let name = e.file_name();
            let Some(pid) = name.to_str().and_then(temp_writer) else {
                continue;
            };
            let Some(a) = age(&e, now).filter(|_| t.is_file()) else {
                continue;
            };
            let dead = !holders::alive(pid) || a >= TEMP_MAX_AGE;
            if a >= TEMP_MIN_AGE && dead && holders::holders(&e.path()).is_empty() {
                found.push(e.path());
            }
        }
    }
    found.sort();
    found
}

#[cfg(test)]
mod tests {
    use super::temp_writer;

    #[test]
    fn temp_names_of_atomic_write_only() {
        assert_eq!(temp_writer(".registry.json.tmp-123-4-1f"), Some(123));
        assert_eq!(temp_writer(".project.json.tmp-9-0-abc"), Some(9));
        assert_eq!(temp_writer("registry.json.tmp-123-4-1f"), None);
        assert_eq!(temp_writer(".registry.json.tmp-x-4-1f"), None);
        assert_eq!(temp_writer(".a.tmp-1-2"), None);
    }
}
