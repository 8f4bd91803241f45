//! The git executable as the integration proof runs it: `git -C <dir> …` with the
//! repository-selecting variables of okstra's own environment removed, no terminal prompt,
//! stdin closed, and every revision already an object id by the time it reaches a command.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use super::IntegrationError;
use crate::error::{GitCause, GitError};
use crate::worktree::LOCAL_ENV;

/// A repository the proof runs git in.
pub(crate) struct Git {
    dir: PathBuf,
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
        Git {
            dir: dir.to_path_buf(),
        }
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// `git -C <dir>` plus the `safe.directory` values of okstra's environment
    /// (`GIT_CONFIG_COUNT`/`KEY`/`VALUE`, `GIT_CONFIG_PARAMETERS`) as `-c`, as every okstra
    /// git child gets them: the variables themselves are removed ([`LOCAL_ENV`]), and a
    /// repository trusted through them must stay trusted for the proof.
    fn base(&self) -> Command {
        let mut cmd = Command::new("git");
        cmd.arg("-C").arg(&self.dir);
        for value in crate::worktree::env_safe_directories() {
            cmd.arg("-c").arg(format!("safe.directory={value}"));
        }
        cmd
    }

    /// Runs `git -C <dir> args…` and returns its output whatever the exit status.
    pub(crate) fn output(
        &self,
        op: &'static str,
        args: &[&str],
    ) -> Result<Output, IntegrationError> {
        let mut cmd = self.base();
        cmd.args(args);
        cmd.stdin(Stdio::null()).env("GIT_TERMINAL_PROMPT", "0");
        for var in LOCAL_ENV {
            cmd.env_remove(var);
        }
        cmd.envs(IDENTITY.iter().copied());
        cmd.output().map_err(|error| {
            if error.kind() == std::io::ErrorKind::NotFound {
                IntegrationError::GitRequired(format!(
                    "the integration proof runs the git executable ({op}) and there is no git \
                     on PATH"
                ))
            } else {
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
        })
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
        let spawn_err = |error: std::io::Error| -> IntegrationError {
            GitError::new(
                op,
                &self.dir,
                GitCause::Spawn {
                    exe: "git".into(),
                    error,
                },
            )
            .into()
        };
        let command = |args: &[&str]| {
            let mut cmd = self.base();
            cmd.args(args);
            cmd.env("GIT_TERMINAL_PROMPT", "0").stderr(Stdio::piped());
            for var in LOCAL_ENV {
                cmd.env_remove(var);
            }
            cmd
        };
        let mut reader = command(second)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(spawn_err)?;
        let writer = {
            // The command is dropped at the end of this block, so the only write end of the
            // pipe left is the writer's: the reader sees EOF when the writer exits.
            let Some(stdin) = reader.stdin.take() else {
                return Err(spawn_err(std::io::Error::other("no pipe to git")));
            };
            command(first)
                .stdin(Stdio::null())
                .stdout(Stdio::from(stdin))
                .spawn()
                .map_err(spawn_err)
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
