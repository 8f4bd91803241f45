//! Arguments okstra hands to git that come from input (a `--branch` flag, a `branch`
//! option, a ledger row): each is validated as what it claims to be before anything runs,
//! so none can reach git as an option (docs/security.md).
//!
//! - A branch name follows `git check-ref-format --branch`: a valid `refs/heads/<name>`
//!   (no `..`, `~^:?*[\`, `@{`, control characters, leading `.` or `/`, trailing `.lock`
//!   or `/`), not `HEAD`, not `@`, and never starting with `-` (`-m`, `--force` would be
//!   read as options by `git branch` / `git worktree add -b`).
//! - A revision is resolved to an object id (libgit2 `revparse`) before use; only the
//!   40-hex id reaches a git command.
//! - Paths and revisions on a git command line go after `--`.

use crate::error::InvalidArg;

/// Refuses `name` (the value of `what`, e.g. `--branch`) unless it is a branch name `git
/// check-ref-format --branch` accepts and does not start with `-`.
pub fn check_branch(what: &str, name: &str) -> Result<(), InvalidArg> {
    let why = if name.is_empty() {
        Some("it is empty")
    } else if name.starts_with('-') {
        Some("it starts with `-`, so git would read it as an option")
    } else if name == "HEAD" || name == "@" {
        Some("it names HEAD, not a branch")
    } else if !git2::Reference::is_valid_name(&format!("refs/heads/{name}")) {
        Some("it is not a valid git branch name (see `git check-ref-format --branch`)")
    } else {
        None
    };
    match why {
        None => Ok(()),
        Some(why) => Err(InvalidArg(format!(
            "{what} {name:?} cannot be used: {why}; nothing was changed. Pass a branch name \
             such as `feat/my-task`"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Agrees with `git check-ref-format --branch` on every sample, and refuses every name
    /// that starts with `-` (which git's check would too, as an unknown option). `@` is left
    /// out: git's check expands it to the current branch, okstra refuses it as HEAD.
    #[test]
    fn agrees_with_git_check_ref_format() {
        let samples = [
            "main",
            "feat/x",
            "fix-1",
            "a.b",
            "-m",
            "-M",
            "--force",
            "-c",
            "-f",
            "",
            "HEAD",
            "a..b",
            "a b",
            "a~1",
            "a^",
            "a:b",
            "a?",
            "a*",
            "a[",
            "a\\b",
            "a@{1}",
            ".a",
            "a/.b",
            "a.lock",
            "a/",
            "/a",
            "a//b",
            "é",
            "a\u{7f}",
            "feat/ü-1",
        ];
        for name in samples {
            let ours = check_branch("--branch", name).is_ok();
            let git = std::process::Command::new("git")
                .args(["check-ref-format", "--branch", name])
                .output()
                .unwrap()
                .status
                .success()
                && !name.starts_with('-');
            assert_eq!(ours, git, "{name:?}: ours {ours}, git {git}");
        }
    }

    #[test]
    fn a_leading_dash_is_named_in_the_message() {
        let e = check_branch("--branch", "-m").unwrap_err();
        assert!(e.to_string().contains("starts with `-`"), "{e}");
    }
}
