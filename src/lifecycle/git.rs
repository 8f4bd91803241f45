//! The git executable as the end-of-life commands run it: every call through
//! [`crate::worktree::git::cli::Git::command`] (the repository-selecting variables removed,
//! no prompt, stdin closed, its own process group), with `--` or `--end-of-options` before
//! anything that came from input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::LifecycleError;
use crate::error::{GitCause, GitError};
use crate::worktree::git::cli::{self, printed, Located};

/// A usable git executable.
pub(crate) struct Git {
    inner: cli::Git,
}

impl Git {
    /// The git on `PATH` (at least the version okstra needs), or `E_GIT_REQUIRED`.
    pub(crate) fn locate() -> Result<Git, LifecycleError> {
        match cli::locate() {
            Located::Usable(inner) => Ok(Git { inner }),
            other => Err(LifecycleError::GitRequired(format!(
                "removing, listing and restoring worktrees runs the git executable, and {}; \
                 install git 2.36 or newer on PATH and retry",
                other.why_not()
            ))),
        }
    }

    /// `git -C <dir>` with okstra's environment (see [`cli::Git::command`]).
    pub(crate) fn command(&self, dir: &Path) -> Command {
        self.inner.command(dir)
    }

    /// Runs `cmd` and returns its output whatever the exit status.
    pub(crate) fn run(
        &self,
        op: &'static str,
        dir: &Path,
        cmd: &mut Command,
    ) -> Result<Output, LifecycleError> {
        cmd.output().map_err(|error| {
            GitError::new(
                op,
                dir,
                GitCause::Spawn {
                    exe: self.inner.exe().to_path_buf(),
                    error,
                },
            )
            .into()
        })
    }

    /// `git -C <dir> args…`: its output whatever the exit status.
    pub(crate) fn output(
        &self,
        op: &'static str,
        dir: &Path,
        args: &[&str],
    ) -> Result<Output, LifecycleError> {
        self.run(op, dir, self.command(dir).args(args))
    }

    /// `git -C <dir> args…`: stdout (untrimmed bytes); a failing exit is `E_GIT`.
    pub(crate) fn bytes(
        &self,
        op: &'static str,
        dir: &Path,
        args: &[&str],
    ) -> Result<Vec<u8>, LifecycleError> {
        let out = self.output(op, dir, args)?;
        check(op, dir, &out)?;
        Ok(out.stdout)
    }

    /// `git -C <dir> args…`: trimmed stdout; a failing exit is `E_GIT`.
    pub(crate) fn text(
        &self,
        op: &'static str,
        dir: &Path,
        args: &[&str],
    ) -> Result<String, LifecycleError> {
        let out = self.bytes(op, dir, args)?;
        Ok(String::from_utf8_lossy(&out).trim().to_string())
    }

    /// The common git dir of the repository holding `dir` (absolute).
    pub(crate) fn common_dir(&self, dir: &Path) -> Result<PathBuf, LifecycleError> {
        let text = self.text(
            "rev-parse",
            dir,
            &["rev-parse", "--path-format=absolute", "--git-common-dir"],
        )?;
        Ok(PathBuf::from(text))
    }

    /// The commit a revision names, `None` when it names none.
    pub(crate) fn commit(&self, dir: &Path, rev: &str) -> Result<Option<String>, LifecycleError> {
        let out = self.output(
            "rev-parse",
            dir,
            &[
                "rev-parse",
                "--verify",
                "--quiet",
                "--end-of-options",
                &format!("{rev}^{{commit}}"),
            ],
        )?;
        let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
        Ok((out.status.success() && !text.is_empty()).then_some(text))
    }
}

/// `E_GIT` with git's output when `out` failed.
pub(crate) fn check(op: &'static str, dir: &Path, out: &Output) -> Result<(), LifecycleError> {
    if out.status.success() {
        return Ok(());
    }
    Err(GitError::new(
        op,
        dir,
        GitCause::Exit {
            status: out.status,
            output: printed(out),
        },
    )
    .into())
}
