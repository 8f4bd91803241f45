//! The base a branch is judged against: the repository's real default branch, not a name
//! assumed for it.
//!
//! 1. A base the caller gives (`--base`, `base`) is looked up as the default remote's
//!    remote-tracking branch (`refs/remotes/<remote>/<base>`), then the local branch
//!    (`refs/heads/<base>`), then as any revision (`origin/main`, a tag, a commit id).
//! 2. Without one, the default remote's HEAD (`refs/remotes/<remote>/HEAD`, set by `git
//!    clone` or `git remote set-head <remote> --auto`) names it.
//! 3. Else the main worktree's branch, looked up as in 1.
//!
//! The default remote is `origin` when there is one, else the first remote `git remote`
//! lists. A base that resolves to no commit is `E_UNKNOWN_REF` naming what was tried.

use std::path::Path;

use serde::Serialize;

use super::git::Git;
use super::IntegrationError;

/// Where the base came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BaseSource {
    /// The caller named it.
    Given,
    /// The default remote's `HEAD`.
    RemoteHead,
    /// The branch checked out in the main worktree.
    MainWorktree,
}

/// The base branch found, as messages name it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Base {
    /// The ref as shown: `origin/master`, `master`, or the revision as given.
    pub name: String,
    /// Its commit's object id.
    pub commit: String,
    pub source: BaseSource,
}

/// The default remote: `origin` if configured, else the first remote; `None` without any.
fn default_remote(git: &Git) -> Result<Option<String>, IntegrationError> {
    let remotes = git.text("remote", &["remote"])?;
    let names: Vec<&str> = remotes
        .lines()
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .collect();
    Ok(names
        .iter()
        .find(|r| **r == "origin")
        .or(names.first())
        .map(|r| r.to_string()))
}

/// `name` as a remote-tracking branch of `remote`, a local branch, or any revision.
fn by_name(
    git: &Git,
    remote: Option<&str>,
    name: &str,
    source: BaseSource,
) -> Result<Result<Base, Vec<String>>, IntegrationError> {
    let mut tried = Vec::new();
    if let Some(r) = remote {
        tried.push((format!("refs/remotes/{r}/{name}"), format!("{r}/{name}")));
    }
    tried.push((format!("refs/heads/{name}"), name.to_string()));
    tried.push((name.to_string(), name.to_string()));
    for (rev, shown) in &tried {
        if let Some(commit) = git.commit(rev)? {
            return Ok(Ok(Base {
                name: shown.clone(),
                commit,
                source,
            }));
        }
    }
    Ok(Err(tried.into_iter().map(|(rev, _)| rev).collect()))
}

/// The main worktree's branch name (`git worktree list --porcelain -z`, first record),
/// `None` when it is detached.
fn main_worktree_branch(git: &Git) -> Result<Option<String>, IntegrationError> {
    let out = git.output("worktree list", &["worktree", "list", "--porcelain", "-z"])?;
    if !out.status.success() {
        return Err(git.failed("worktree list", &out));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text
        .split('\0')
        .take_while(|f| !f.is_empty())
        .find_map(|f| f.strip_prefix("branch refs/heads/"))
        .map(str::to_string))
}

/// The base to judge against in the repository at `repo_dir` (see the module docs).
/// Errors: `E_UNKNOWN_REF` (a given base, or the default found, resolves to no commit; no
/// default can be found), `E_GIT`, `E_GIT_REQUIRED`.
pub fn default_base(repo_dir: &Path, given: Option<&str>) -> Result<Base, IntegrationError> {
    let git = Git::at(repo_dir);
    let remote = default_remote(&git)?;
    if let Some(name) = given.map(str::trim).filter(|g| !g.is_empty()) {
        return by_name(&git, remote.as_deref(), name, BaseSource::Given)?.map_err(|tried| {
            IntegrationError::UnknownRef(format!(
                "the base {name:?} does not resolve to a commit in {} (tried {}): pass a \
                 branch, tag, remote ref or commit id that `git rev-parse` resolves",
                git.dir().display(),
                tried.join(", ")
            ))
        });
    }
    if let Some(r) = &remote {
        let head = format!("refs/remotes/{r}/HEAD");
        let target = git.output(
            "symbolic-ref",
            &["symbolic-ref", "--quiet", "--end-of-options", &head],
        )?;
        let target = String::from_utf8_lossy(&target.stdout).trim().to_string();
        if let Some(shown) = target.strip_prefix("refs/remotes/") {
            return match git.commit(&target)? {
                Some(commit) => Ok(Base {
                    name: shown.to_string(),
                    commit,
                    source: BaseSource::RemoteHead,
                }),
                None => Err(IntegrationError::UnknownRef(format!(
                    "the default branch {shown} ({head} in {}) does not resolve to a commit: \
                     run `git remote set-head {r} --auto` (or fetch), or pass a base",
                    git.dir().display()
                ))),
            };
        }
    }
    let Some(branch) = main_worktree_branch(&git)? else {
        return Err(IntegrationError::UnknownRef(format!(
            "no base branch can be found in {}: {} and the main worktree is not on a branch \
             (detached HEAD); pass a base (`--base`, `base`)",
            git.dir().display(),
            match &remote {
                Some(r) =>
                    format!("remote {r} has no HEAD (`git remote set-head {r} --auto` sets it)"),
                None => "there is no remote".to_string(),
            }
        )));
    };
    by_name(&git, remote.as_deref(), &branch, BaseSource::MainWorktree)?.map_err(|tried| {
        IntegrationError::UnknownRef(format!(
            "the main worktree's branch {branch:?}, the base when no remote has a HEAD, does \
             not resolve to a commit in {} (tried {}; an unborn branch has none yet): commit \
             on it, or pass a base",
            git.dir().display(),
            tried.join(", ")
        ))
    })
}
