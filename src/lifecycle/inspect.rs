//! What okstra knows about one worktree before it may remove it: its git state (dirty,
//! untracked, stashes, whether its commits are integrated or pushed), who is inside it,
//! whether okstra made it and whether another tool locked it, and from those the reasons
//! a removal is refused ([`Blocker`]). `status`, `remove` and `gc` all judge by this one
//! function, so they never disagree.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::git::Git;
use super::LifecycleError;
use crate::integration::{self, Proof};
use crate::worktree::git::LOCK_REASON_PREFIX;
use crate::worktree::holders;

/// Counts from `git status`: staged, modified (unstaged), untracked (a wholly untracked
/// directory counts once, as `git status` shows it) and conflicted paths.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Dirty {
    pub staged: u32,
    pub modified: u32,
    pub untracked: u32,
    pub conflicted: u32,
}

impl Dirty {
    /// Whether tracked files differ from HEAD (staged, modified or conflicted).
    pub fn tracked(&self) -> bool {
        self.staged + self.modified + self.conflicted > 0
    }
}

/// Why a worktree may not be removed (without `--force` for the first four).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    /// Tracked files differ from HEAD (staged, modified, conflicted).
    Dirty,
    /// Files git does not ignore and does not track.
    Untracked,
    /// Stash entries made on the worktree's branch.
    Stash,
    /// Commits that are neither in the base (by any integration proof) nor on any
    /// remote-tracking branch.
    Unpushed,
    /// A live process works inside the directory (its cwd or an open file).
    ProcessInside,
    /// The directory is not a linked worktree okstra made (outside the home's worktrees
    /// root and not locked with okstra's reason, or not a linked worktree at all).
    NotOkstra,
    /// git's worktree lock holds a reason another tool wrote.
    LockedByOther,
}

impl Reason {
    /// Whether `--force` may remove despite this reason (after recording a snapshot): the
    /// work reasons. A process inside, a worktree okstra did not make and another tool's
    /// lock are never overridden.
    pub fn forceable(self) -> bool {
        matches!(
            self,
            Reason::Dirty | Reason::Untracked | Reason::Stash | Reason::Unpushed
        )
    }

    /// The serialized name (`dirty`, `process-inside`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Dirty => "dirty",
            Reason::Untracked => "untracked",
            Reason::Stash => "stash",
            Reason::Unpushed => "unpushed",
            Reason::ProcessInside => "process-inside",
            Reason::NotOkstra => "not-okstra",
            Reason::LockedByOther => "locked-by-other",
        }
    }
}

/// One reason with what it found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Blocker {
    pub reason: Reason,
    pub detail: String,
}

/// The integration answer shown: the proof's name (`ancestor`, `same-tree`,
/// `merge-adds-nothing`, `patch-id`, `not-integrated`) and the base it was judged against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Integration {
    pub integrated: bool,
    pub proof: String,
    pub base: String,
    pub base_commit: String,
}

/// Everything [`inspect`] found about one worktree directory.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub exists: bool,
    /// The common git dir of its repository (absolute).
    pub common_dir: Option<PathBuf>,
    /// git's admin entry of this linked worktree (`<common>/worktrees/<name>`).
    pub admin_dir: Option<PathBuf>,
    /// The branch checked out (`None` when detached or unknown).
    pub branch: Option<String>,
    pub head: Option<String>,
    pub dirty: Dirty,
    pub stashes: u32,
    pub integration: Option<Integration>,
    /// The head is on some remote-tracking branch.
    pub pushed: bool,
    pub ahead: Option<u32>,
    pub behind: Option<u32>,
    pub holders: Vec<u32>,
    pub okstra_made: bool,
    /// git's lock reason, when locked.
    pub lock: Option<String>,
    pub blockers: Vec<Blocker>,
}

/// The admin dir named by a linked worktree's `.git` file (`gitdir: …`); `None` when `.git`
/// is not such a file (a main worktree, not a worktree at all).
pub fn admin_dir_of(path: &Path) -> Option<PathBuf> {
    let meta = std::fs::symlink_metadata(path.join(".git")).ok()?;
    if !meta.is_file() || meta.len() > 4096 {
        return None;
    }
    let text = std::fs::read_to_string(path.join(".git")).ok()?;
    let dir = PathBuf::from(text.strip_prefix("gitdir:")?.trim());
    Some(if dir.is_absolute() {
        dir
    } else {
        path.join(dir)
    })
}

/// The common git dir an admin dir names in its `commondir` file (relative to it).
fn common_dir_of(admin: &Path) -> Option<PathBuf> {
    let text = std::fs::read_to_string(admin.join("commondir")).ok()?;
    let dir = PathBuf::from(text.trim());
    let dir = if dir.is_absolute() {
        dir
    } else {
        admin.join(dir)
    };
    dir.canonicalize().ok()
}

/// Counts `git status --porcelain=v2 -z` output; returns the counts, the branch and the
/// head commit it names.
fn parse_status(out: &[u8]) -> (Dirty, Option<String>, Option<String>) {
    let mut d = Dirty::default();
    let (mut branch, mut head) = (None, None);
    let mut fields = out.split(|b| *b == 0);
    while let Some(f) = fields.next() {
        let line = String::from_utf8_lossy(f);
        if let Some(b) = line.strip_prefix("# branch.head ") {
            branch = (b != "(detached)").then(|| b.to_string());
        } else if let Some(o) = line.strip_prefix("# branch.oid ") {
            head = (o != "(initial)").then(|| o.to_string());
        } else if line.starts_with("1 ") || line.starts_with("2 ") {
            let xy = line.as_bytes().get(2..4).unwrap_or(b"..");
            d.staged += u32::from(xy[0] != b'.');
            d.modified += u32::from(xy[1] != b'.');
            if line.starts_with("2 ") {
                // A rename's original path is the next NUL-separated field.
                fields.next();
            }
        } else if line.starts_with("u ") {
            d.conflicted += 1;
        } else if line.starts_with("? ") {
            d.untracked += 1;
        }
    }
    (d, branch, head)
}

/// Per-repository facts, computed once for all its worktrees.
#[derive(Debug, Clone, Default)]
pub struct RepoFacts {
    /// The base branch (`None` when the repository has none to judge by).
    pub base: Option<(String, String)>,
    /// Stash subjects (`WIP on <branch>: …`, `On <branch>: …`).
    pub stash_subjects: Vec<String>,
}

/// The stash reflog's size bound: a larger one is read by git instead.
const STASH_LOG_MAX: u64 = 1 << 20;

/// The base and stash list of the repository holding `dir` (common git dir `common`). The
/// stash subjects are read from the stash reflog file (`<common>/logs/refs/stash`, one
/// `<old> <new> <who> <when>\t<subject>` line per entry), which saves a git run per
/// repository; an odd or large one is asked of `git log -g`.
pub fn repo_facts(git: &Git, common: &Path, dir: &Path) -> Result<RepoFacts, LifecycleError> {
    let base = integration::default_base(dir, None)
        .ok()
        .map(|b| (b.name, b.commit));
    let log = common.join("logs/refs/stash");
    let stash_subjects = match std::fs::symlink_metadata(&log) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Ok(m) if m.is_file() && m.len() <= STASH_LOG_MAX => std::fs::read(&log)
            .map(|b| {
                String::from_utf8_lossy(&b)
                    .lines()
                    .filter_map(|l| l.split_once('\t').map(|(_, s)| s.to_string()))
                    .collect()
            })
            .map_err(crate::fsio::io_err("read", &log))?,
        _ => {
            let out = git.output(
                "stash list",
                dir,
                &["log", "-g", "--format=%gs", "refs/stash", "--"],
            )?;
            if out.status.success() {
                String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .map(str::to_string)
                    .collect()
            } else {
                Vec::new()
            }
        }
    };
    Ok(RepoFacts {
        base,
        stash_subjects,
    })
}

/// Inspects the worktree at `path` of a registry row (on `row_branch`) in home worktrees
/// root `root`. `repo` supplies the per-repository facts (computed on first use); `counts`
/// also counts commits ahead of and behind the base (`status`; a removal does not need it).
pub fn inspect(
    git: &Git,
    path: &Path,
    root: &Path,
    row_branch: &str,
    repo: &(dyn Fn(&Path, &Path) -> Result<RepoFacts, LifecycleError> + Sync),
    counts: bool,
) -> Result<Facts, LifecycleError> {
    let mut f = Facts {
        exists: std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()),
        ..Facts::default()
    };
    if !f.exists {
        return Ok(f);
    }
    let mut blockers = Vec::new();
    let admin = admin_dir_of(path);
    let under_root = crate::worktree::git::real_path_lenient(path)
        .starts_with(crate::worktree::git::real_path_lenient(root));
    f.lock = admin
        .as_ref()
        .and_then(|a| std::fs::read_to_string(a.join("locked")).ok());
    let okstra_lock = f
        .lock
        .as_deref()
        .is_some_and(|r| r.starts_with(LOCK_REASON_PREFIX));
    f.okstra_made = admin.is_some() && (under_root || okstra_lock);
    if !f.okstra_made {
        blockers.push(Blocker::new(
            Reason::NotOkstra,
            if admin.is_none() {
                format!("{} is not a linked git worktree", path.display())
            } else {
                format!(
                    "{} lies outside the okstra worktrees root {} and has no okstra lock",
                    path.display(),
                    root.display()
                )
            },
        ));
    }
    if let Some(reason) = f.lock.as_deref().filter(|_| !okstra_lock) {
        let reason = reason.trim();
        blockers.push(Blocker::new(
            Reason::LockedByOther,
            format!(
                "git worktree lock with reason {} (not okstra's); `git worktree unlock {}` \
                 if that tool is done with it",
                crate::ids::excerpt(reason),
                path.display()
            ),
        ));
    }
    let holders = holders::holders(path);
    if !holders.is_empty() {
        blockers.push(Blocker::new(
            Reason::ProcessInside,
            format!(
                "process{} {} work{} inside",
                if holders.len() == 1 { "" } else { "es" },
                holders
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                if holders.len() == 1 { "s" } else { "" }
            ),
        ));
    }
    f.holders = holders;
    let Some(admin) = admin else {
        f.blockers = blockers;
        return Ok(f);
    };
    let common = match common_dir_of(&admin) {
        Some(c) => c,
        None => git.common_dir(path)?,
    };
    f.admin_dir = Some(admin);
    f.common_dir = Some(common.clone());
    let facts = work(git, path, &common, row_branch, repo, &mut f, &mut blockers)?;
    integrate(git, path, &facts, counts, &mut f, &mut blockers)?;
    f.blockers = blockers;
    Ok(f)
}

/// git's view of the work in the worktree: status counts and stashes on its branch.
fn work(
    git: &Git,
    path: &Path,
    common: &Path,
    row_branch: &str,
    repo: &(dyn Fn(&Path, &Path) -> Result<RepoFacts, LifecycleError> + Sync),
    f: &mut Facts,
    blockers: &mut Vec<Blocker>,
) -> Result<RepoFacts, LifecycleError> {
    let status = git.bytes(
        "status",
        path,
        &[
            "status",
            "--porcelain=v2",
            "-z",
            "--branch",
            "--untracked-files=normal",
            "--ignore-submodules=none",
        ],
    )?;
    let (dirty, branch, head) = parse_status(&status);
    f.dirty = dirty;
    f.branch = branch;
    f.head = head;
    if dirty.tracked() {
        blockers.push(Blocker::new(
            Reason::Dirty,
            format!(
                "{} staged, {} modified, {} conflicted",
                dirty.staged, dirty.modified, dirty.conflicted
            ),
        ));
    }
    if dirty.untracked > 0 {
        blockers.push(Blocker::new(
            Reason::Untracked,
            format!("{} untracked path(s) git does not ignore", dirty.untracked),
        ));
    }
    let facts = repo(common, path)?;
    let stash_branch = f.branch.clone().unwrap_or_else(|| row_branch.to_string());
    f.stashes = facts
        .stash_subjects
        .iter()
        .filter(|s| {
            s.strip_prefix("WIP on ")
                .or_else(|| s.strip_prefix("On "))
                .and_then(|r| r.split_once(": "))
                .is_some_and(|(b, _)| b == stash_branch)
        })
        .count() as u32;
    if f.stashes > 0 {
        blockers.push(Blocker::new(
            Reason::Stash,
            format!(
                "{} stash entr{} made on branch {stash_branch} (`git stash list`)",
                f.stashes,
                if f.stashes == 1 { "y" } else { "ies" }
            ),
        ));
    }
    Ok(facts)
}

/// Whether the head's work is in the base (ahead/behind, the proof) or at least pushed.
fn integrate(
    git: &Git,
    path: &Path,
    facts: &RepoFacts,
    counts: bool,
    f: &mut Facts,
    blockers: &mut Vec<Blocker>,
) -> Result<(), LifecycleError> {
    if let (Some(head), Some((base_name, base_commit))) = (f.head.clone(), facts.base.clone()) {
        let proof = integration::prove_resolved(path, &head, &base_commit)
            .map_err(|e| LifecycleError::Integration(Box::new(e)))?;
        let counted = if !counts {
            String::new()
        } else {
            git.text(
                "rev-list",
                path,
                &[
                    "rev-list",
                    "--left-right",
                    "--count",
                    &format!("{base_commit}...{head}"),
                    "--",
                ],
            )?
        };
        let mut n = counted.split_whitespace().map(|v| v.parse::<u32>().ok());
        f.behind = n.next().flatten();
        f.ahead = n.next().flatten();
        if !proof.is_integrated() {
            f.pushed = on_remote(git, path, &head)?;
            if !f.pushed {
                let listed = match &proof {
                    Proof::NotIntegrated { unmatched } => unmatched
                        .iter()
                        .map(|c| c.get(..12).unwrap_or(c).to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                    _ => String::new(),
                };
                blockers.push(Blocker::new(
                    Reason::Unpushed,
                    format!(
                        "commit(s) {listed} are not in {base_name} and not on any \
                         remote-tracking branch; push or merge them"
                    ),
                ));
            }
        }
        f.integration = Some(Integration {
            integrated: proof.is_integrated(),
            proof: proof.name().to_string(),
            base: base_name,
            base_commit,
        });
    }
    Ok(())
}

impl Blocker {
    fn new(reason: Reason, detail: String) -> Blocker {
        Blocker { reason, detail }
    }
}

/// Whether `commit` is reachable from any remote-tracking branch.
fn on_remote(git: &Git, dir: &Path, commit: &str) -> Result<bool, LifecycleError> {
    let out = git.text(
        "for-each-ref",
        dir,
        &[
            "for-each-ref",
            "--count=1",
            "--format=%(refname)",
            &format!("--contains={commit}"),
            "refs/remotes/",
        ],
    )?;
    Ok(!out.is_empty())
}

#[cfg(test)]
mod tests {
    use super::parse_status;

    #[test]
    fn porcelain_v2_counts() {
        let out = b"# branch.oid abc\x00# branch.head feat\x001 M. N... 100644 100644 100644 a b x\x001 .M N... 100644 100644 100644 a b y\x002 R. N... 100644 100644 100644 a b R100 new\x00old\x00u UU N... 1 2 3 4 a b c z\x00? u1\x00? u2/\x00";
        let (d, b, h) = parse_status(out);
        assert_eq!(
            (d.staged, d.modified, d.untracked, d.conflicted),
            (2, 1, 2, 1)
        );
        assert_eq!(b.as_deref(), Some("feat"));
        assert_eq!(h.as_deref(), Some("abc"));
        let (_, b, h) = parse_status(b"# branch.oid (initial)\0# branch.head (detached)\0");
        assert_eq!((b, h), (None, None));
    }
}
