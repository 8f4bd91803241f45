//! The collector worktree's checks and its one change, all through the git CLI in the
//! collector: whether it holds work of its own (`git status`, the checked-out branch), and
//! moving it to the assembled merge (`git merge --ff-only`, or `git checkout -B` for a
//! rebuild). Neither git command overwrites local changes or untracked files
//! (`--no-overwrite-ignore`: nor ignored ones); nothing here resets, cleans or removes.

use std::path::Path;
use std::time::{Duration, Instant};

use super::merge::Engine;
use super::HandoffError;
use crate::error::{GitCause, GitError};
use crate::worktree::git::{cli, retry_while};

/// Refuses (`E_COLLECTOR_CHANGED`) a collector at `path` that does not have `branch`
/// checked out or has uncommitted or untracked changes (git's own view: `git status`,
/// honouring `.gitignore`).
pub(crate) fn check_untouched(
    engine: &Engine,
    path: &Path,
    branch: &str,
) -> Result<(), HandoffError> {
    let changed = |what: String| HandoffError::CollectorChanged {
        path: path.to_path_buf(),
        what,
    };
    wait_for_git(path);
    let head = engine.git_in(path, &["symbolic-ref", "-q", "HEAD"])?;
    let head = String::from_utf8_lossy(&head.stdout).trim().to_string();
    if head != format!("refs/heads/{branch}") {
        return Err(changed(format!(
            "it has {} checked out instead of its branch {branch}",
            if head.is_empty() {
                "a detached HEAD".to_string()
            } else {
                head
            }
        )));
    }
    let out = engine.git_in(
        path,
        &[
            "--no-optional-locks",
            "status",
            "--porcelain=v1",
            "-z",
            "--untracked-files=all",
        ],
    )?;
    if !out.status.success() {
        return Err(GitError::new(
            "status",
            path,
            GitCause::Exit {
                status: out.status,
                output: cli::printed(&out),
            },
        )
        .into());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let paths: Vec<&str> = text
        .split('\0')
        .filter(|l| l.len() > 3)
        .map(|l| &l[3..])
        .collect();
    if !paths.is_empty() {
        const SHOWN: usize = 10;
        let mut list = paths[..paths.len().min(SHOWN)].join(", ");
        if paths.len() > SHOWN {
            list.push_str(&format!(" and {} more", paths.len() - SHOWN));
        }
        return Err(changed(format!("uncommitted or untracked changes: {list}")));
    }
    Ok(())
}

/// How long a re-run waits for a git still working in the collector (its `index.lock`), such
/// as the checkout of an assemble that was killed while git went on in its own process
/// group.
const GIT_BUSY_WAIT: Duration = Duration::from_secs(10);

/// Waits, at most [`GIT_BUSY_WAIT`], while the collector's `index.lock` exists. A lock left
/// by a git that died stays; `git status` then shows what that git left half-done, and the
/// caller refuses it.
fn wait_for_git(path: &Path) {
    let Some(lock) = std::fs::read_to_string(path.join(".git"))
        .ok()
        .and_then(|t| t.strip_prefix("gitdir:").map(|g| g.trim().to_string()))
        .map(|g| path.join(g).join("index.lock"))
    else {
        return;
    };
    let start = Instant::now();
    while lock.exists() && start.elapsed() < GIT_BUSY_WAIT {
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Moves the collector at `path` (branch `branch`, now at `from`) to `to`: `git merge
/// --ff-only` when `to` contains `from`, else `git checkout -B <branch> <to>`. `checked`:
/// the collector existed before this call, so it is checked again (under the caller's key
/// lock) right before the move. Retried while one of git's lock files is busy.
pub(crate) fn move_to(
    engine: &Engine,
    path: &Path,
    branch: &str,
    from: &str,
    to: &str,
    checked: bool,
) -> Result<(), HandoffError> {
    // `to` reaches git's command line: only ever an object id okstra computed (a merge it
    // made, the implementation base), never a name git could read as an option.
    let is_oid = |c: &&str| matches!(c.len(), 40 | 64) && c.bytes().all(|b| b.is_ascii_hexdigit());
    if let Some(bad) = [from, to].into_iter().find(|c| !is_oid(c)) {
        return Err(crate::error::InvalidArg(format!(
            "moving the collector {} from {from:?} to {to:?}: {bad:?} is not an object id",
            path.display()
        ))
        .into());
    }
    let tip = engine.git_in(path, &["rev-parse", "--verify", "-q", "HEAD"])?;
    let tip = String::from_utf8_lossy(&tip.stdout).trim().to_string();
    if tip == to {
        return Ok(());
    }
    if checked {
        check_untouched(engine, path, branch)?;
    }
    if tip != from {
        return Err(HandoffError::CollectorChanged {
            path: path.to_path_buf(),
            what: format!("its branch {branch} moved to {tip} while assembling"),
        });
    }
    let ff = engine.is_ancestor(from, to)?;
    let args: Vec<&str> = if ff {
        vec!["merge", "--quiet", "--ff-only", "--no-overwrite-ignore", to]
    } else {
        vec![
            "checkout",
            "--quiet",
            "--no-overwrite-ignore",
            "-B",
            branch,
            to,
            "--",
        ]
    };
    let op = if ff { "merge --ff-only" } else { "checkout -B" };
    retry_while(
        || {
            let out = engine.git_in(path, &args).map_err(|e| e.cause)?;
            if out.status.success() {
                Ok(())
            } else {
                Err(GitCause::Exit {
                    status: out.status,
                    output: cli::printed(&out),
                })
            }
        },
        cli::busy,
    )
    .map_err(|c| GitError::new(op, path, c))?;
    Ok(())
}
