//! A failed git operation (`E_GIT`), from libgit2 or the git executable, for every module
//! that runs git (provisioning, release, handoff). The cause stays structured — libgit2's
//! class and code, or git's exit status and output — so callers can tell a missing object
//! from a lock held by another process without parsing the message.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;

use super::{Code, Coded};

/// A git operation `op` (`worktree add`, `find commit`, …) failed in `repo`.
#[derive(Debug, thiserror::Error)]
#[error("git {op} failed in {repo}: {cause}")]
pub struct GitError {
    /// What was being done, in git's words.
    pub op: &'static str,
    /// The repository (or worktree) it was done in.
    pub repo: PathBuf,
    /// Why it failed.
    pub cause: GitCause,
}

/// Why a git operation failed.
#[derive(Debug)]
pub enum GitCause {
    /// libgit2 refused: its error class and code, and its message.
    Lib {
        class: git2::ErrorClass,
        code: git2::ErrorCode,
        message: String,
    },
    /// The git executable ran and failed: its exit status and what it printed (stderr then
    /// stdout, trimmed; a failing hook's output is here).
    Exit { status: ExitStatus, output: String },
    /// The git executable could not be started.
    Spawn { exe: PathBuf, error: std::io::Error },
    /// git finished but left the repository in a state the operation cannot go on from.
    State(String),
}

impl fmt::Display for GitCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GitCause::Lib { message, .. } => f.write_str(message),
            GitCause::Exit { status, output } if output.is_empty() => {
                write!(f, "git exited with {status}")
            }
            GitCause::Exit { output, .. } => f.write_str(output),
            GitCause::Spawn { exe, error } => write!(f, "cannot run {}: {error}", exe.display()),
            GitCause::State(what) => f.write_str(what),
        }
    }
}

impl From<git2::Error> for GitCause {
    fn from(e: git2::Error) -> GitCause {
        GitCause::Lib {
            class: e.class(),
            code: e.code(),
            message: e.message().to_string(),
        }
    }
}

impl GitError {
    /// `op` in `repo` failed because of `cause`.
    pub fn new(op: &'static str, repo: impl Into<PathBuf>, cause: impl Into<GitCause>) -> Self {
        GitError {
            op,
            repo: repo.into(),
            cause: cause.into(),
        }
    }
}

impl Coded for GitError {
    fn code(&self) -> Code {
        Code::Git
    }
}

/// A `map_err` adapter: the libgit2 error of `op` in `repo` as a [`GitError`].
pub fn git_err<'a>(op: &'static str, repo: &'a Path) -> impl FnOnce(git2::Error) -> GitError + 'a {
    move |e| GitError::new(op, repo, e)
}

#[cfg(test)]
mod tests {
    use super::{git_err, GitCause, GitError};
    use std::os::unix::process::ExitStatusExt;
    use std::path::Path;
    use std::process::ExitStatus;

    #[test]
    fn messages_name_the_operation_the_repository_and_git_s_reason() {
        let repo = Path::new("/no/such/repo");
        let lib = git2::Repository::open(repo)
            .map(|_| ())
            .map_err(git_err("open", repo))
            .unwrap_err();
        let GitCause::Lib {
            code, ref message, ..
        } = lib.cause
        else {
            panic!("{lib:?}");
        };
        assert_eq!(code, git2::ErrorCode::NotFound);
        assert_eq!(
            lib.to_string(),
            format!("git open failed in /no/such/repo: {message}")
        );

        let exit = |output: &str| {
            GitError::new(
                "worktree add",
                "/r",
                GitCause::Exit {
                    status: ExitStatus::from_raw(128 << 8),
                    output: output.into(),
                },
            )
        };
        assert_eq!(
            exit("fatal: hook refused").to_string(),
            "git worktree add failed in /r: fatal: hook refused"
        );
        assert_eq!(
            exit("").to_string(),
            "git worktree add failed in /r: git exited with exit status: 128"
        );
    }
}
