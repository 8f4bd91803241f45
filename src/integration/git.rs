//! The git executable as the integration proof runs it: [`cli::Git::command`]
//! (`git -C <dir>` with the repository-selecting variables of okstra's own environment
//! removed, the `safe.directory` values of `GIT_CONFIG_*` passed on, no terminal prompt,
//! stdin closed, its own process group), and every revision already an object id by the
//! time it reaches a command.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use super::IntegrationError;
use crate::error::{GitCause, GitError};
use crate::worktree::git::cli;

/// A repository the proof runs git in.
pub(crate) struct Git {
    dir: PathBuf,
    /// The git on `PATH`, or why there is none the proof can use.
    exe: Result<cli::Git, String>,
}

/// A fixed identity and date for the one object the proof writes (the combined-diff commit
/// of the patch-id rule), so the same question writes the same object every time.
const IDENTITY: &[(&str, &str)] = &[
    ("GIT_AUTHOR_NAME", "okstra"),
    ("GIT_AUTHOR_EMAIL", "okstra@localhost"),
    ("GIT_AUTHOR_DATE", "1700000000 +0000"),
    ("GIT_COMMITTER_NAME", "okstra"),
    ("GIT_COMMITTER_EMAIL", "okstra@localhost"),
    ("GIT_COMMITTER_DATE", "1700000000 +0000"),
];

impl Git {
    pub(crate) fn at(dir: &Path) -> Git {
        let exe = match cli::locate() {
            cli::Located::Usable(git) => Ok(git),
            other => Err(other.why_not()),
        };
        Git {
            dir: dir.to_path_buf(),
            exe,
        }
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// `git -C <dir> args…` as every okstra git child is started ([`cli::Git::command`]);
    /// `E_GIT_REQUIRED` when there is no usable git.
    fn command(&self, op: &'static str, args: &[&str]) -> Result<Command, IntegrationError> {
        let git = self.exe.as_ref().map_err(|why| {
            IntegrationError::GitRequired(format!(
                "the integration proof runs the git executable ({op}): {why}"
            ))
        })?;
        let mut cmd = git.command(&self.dir);
        cmd.args(args);
        Ok(cmd)
    }

    /// The error of a git child that could not be started (or waited for).
    fn spawn_err(&self, op: &'static str, error: std::io::Error) -> IntegrationError {
        if error.kind() == std::io::ErrorKind::NotFound {
            return IntegrationError::GitRequired(format!(
                "the integration proof runs the git executable ({op}) and it is gone: {error}"
            ));
        }
        GitError::new(
            op,
            &self.dir,
            GitCause::Spawn {
                exe: "git".into(),
                error,
            },
        )
        .into()
    }

    /// Runs `git -C <dir> args…` and returns its output whatever the exit status.
    pub(crate) fn output(
        &self,
        op: &'static str,
        args: &[&str],
    ) -> Result<Output, IntegrationError> {
        self.command(op, args)?
            .envs(IDENTITY.iter().copied())
            .output()
            .map_err(|e| self.spawn_err(op, e))
    }

    /// Runs git and returns trimmed stdout; a failing exit is `E_GIT` with git's output.
    pub(crate) fn text(&self, op: &'static str, args: &[&str]) -> Result<String, IntegrationError> {
        let out = self.output(op, args)?;
        if !out.status.success() {
            return Err(self.failed(op, &out));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// The `E_GIT` error of a git run that exited with an unexpected status.
    pub(crate) fn failed(&self, op: &'static str, out: &Output) -> IntegrationError {
        let mut output = String::from_utf8_lossy(&out.stderr).trim().to_string();
        if output.is_empty() {
            output = String::from_utf8_lossy(&out.stdout).trim().to_string();
        }
        GitError::new(
            op,
            &self.dir,
            GitCause::Exit {
                status: out.status,
                output,
            },
        )
        .into()
    }

    /// `rev` resolved to a commit's object id (`git rev-parse --verify --quiet
    /// --end-of-options <rev>^{commit}`), `None` when it names no commit. A `rev` starting
    /// with `-` is a revision, never an option.
    pub(crate) fn commit(&self, rev: &str) -> Result<Option<String>, IntegrationError> {
        if rev.trim().is_empty() || rev.contains('\0') {
            return Ok(None);
        }
        let spec = format!("{rev}^{{commit}}");
        let out = self.output(
            "rev-parse",
            &[
                "rev-parse",
                "--verify",
                "--quiet",
                "--end-of-options",
                &spec,
            ],
        )?;
        let oid = String::from_utf8_lossy(&out.stdout).trim().to_string();
        Ok((out.status.success() && is_oid(&oid)).then_some(oid))
    }
}

/// Whether `s` is a full hexadecimal object id (SHA-1 or SHA-256).
pub(crate) fn is_oid(s: &str) -> bool {
    matches!(s.len(), 40 | 64) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

impl Git {
    /// `git <first> | git <second>` without holding the data in memory; returns the second's
    /// stdout. Either exiting with failure is `E_GIT` named `op`.
    pub(crate) fn pipe(
        &self,
        op: &'static str,
        first: &[&str],
        second: &[&str],
    ) -> Result<Vec<u8>, IntegrationError> {
        let spawn_err = |error: std::io::Error| self.spawn_err(op, error);
        let (mut first, mut second) = (self.command(op, first)?, self.command(op, second)?);
        let mut reader = second
            .stderr(Stdio::piped())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(spawn_err)?;
        let writer = {
            // `first` holds the pipe's write end once given it: it is dropped right after the
            // spawn, so the only write end left is the writer's and the reader sees EOF
            // when the writer exits.
            let Some(stdin) = reader.stdin.take() else {
                return Err(spawn_err(std::io::Error::other("no pipe to git")));
            };
            let spawned = first
                .stderr(Stdio::piped())
                .stdin(Stdio::null())
                .stdout(Stdio::from(stdin))
                .spawn()
                .map_err(spawn_err);
            drop(first);
            spawned
        };
        let writer = match writer {
            Ok(w) => w.wait_with_output(),
            Err(e) => {
                let _ = reader.kill();
                let _ = reader.wait();
                return Err(e);
            }
        };
        let read = reader.wait_with_output().map_err(spawn_err)?;
        let wrote = writer.map_err(spawn_err)?;
        if !wrote.status.success() {
            return Err(self.failed(op, &wrote));
        }
        if !read.status.success() {
            return Err(self.failed(op, &read));
        }
        Ok(read.stdout)
    }
}
