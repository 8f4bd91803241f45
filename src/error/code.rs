//! The error-code registry: every `E_…` code the core, the binding and the CLI report, each
//! declared once with its exit class and what it means. `docs/errors.md` is generated from
//! it ([`markdown`]; a test fails when the committed file is not current).

use serde::{Serialize, Serializer};

/// How the CLI exits on an error with a given code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitClass {
    /// Exit 1: the call failed (bad input, I/O, git, a bug).
    Error,
    /// Exit 2: the call conflicts with existing state (a key, branch or path taken, a merge
    /// that would conflict); retrying unchanged fails the same way.
    Conflict,
    /// Exit 130: SIGINT or SIGTERM arrived; what the call had made was undone.
    Interrupted,
}

impl ExitClass {
    /// The process exit code of this class.
    pub fn exit_code(self) -> i32 {
        match self {
            ExitClass::Error => 1,
            ExitClass::Conflict => 2,
            ExitClass::Interrupted => 130,
        }
    }
}

/// Declares [`Code`] from one table: variant, code string, exit class, meaning.
macro_rules! codes {
    ($($variant:ident = $text:literal, $class:ident, $meaning:literal;)+) => {
        /// A stable error code (`err.code` in JS, `code` in the CLI's JSON).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code {
            $(#[doc = $meaning] $variant,)+
        }

        impl Code {
            /// Every code, in the order of `docs/errors.md`.
            pub const ALL: &'static [Code] = &[$(Code::$variant),+];

            /// The code as callers see it, e.g. `E_INVALID_ARG`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $text,)+
                }
            }

            /// How the CLI exits on it.
            pub fn exit_class(self) -> ExitClass {
                match self {
                    $(Code::$variant => ExitClass::$class,)+
                }
            }

            /// What it means and what to do, in one line.
            pub fn meaning(self) -> &'static str {
                match self {
                    $(Code::$variant => $meaning,)+
                }
            }
        }
    };
}

codes! {
    InvalidArg = "E_INVALID_ARG", Error,
        "An argument cannot be used as given: an id segment that is blank, `.`/`..`, longer \
         than 128 characters or holds `/`, `#` or control characters; a path over 4096 bytes \
         or with NUL; a relative or non-UTF-8 `home`/`OKSTRA_HOME`; a lock bound \
         (`lockTimeoutMs`, `--lock-timeout-ms`, `OKSTRA_LOCK_TIMEOUT_MS`) that is not a whole \
         number of milliseconds up to one day; a directory that does not exist (a plan run \
         root, a project root); a bad number, status or commit id; a JS argument of the \
         wrong type; a bad command line (the CLI's JSON names the flags in `flags`). Nothing \
         changed: fix the argument the message names and retry.";
    NotFound = "E_NOT_FOUND", Error,
        "Something the call needs does not exist: no registry entry for the task key, no \
         implementation base pinned for the task, a file the wizard was pointed at. Create it \
         (e.g. reserve or provision the key) or check the name.";
    RegistryCorrupt = "E_REGISTRY_CORRUPT", Error,
        "`registry.json` is not valid (not JSON, wrong shape, a bad row); it was left \
         untouched. Run `okstra registry repair` to move it aside and keep the valid rows.";
    TaskKeyActive = "E_TASK_KEY_ACTIVE", Conflict,
        "The task key already has an active worktree entry: look it up to reuse it, or release \
         it before reserving anew.";
    BranchOwned = "E_BRANCH_OWNED", Conflict,
        "The branch belongs to another okstra task key (named in the message with its status): \
         pass `branch` / `--branch` to use another name, or release that task first.";
    BranchExists = "E_BRANCH_EXISTS", Conflict,
        "The branch provisioning would create exists and no okstra key owns it: pass `branch` \
         / `--branch` to provision on another name.";
    PathExists = "E_PATH_EXISTS", Conflict,
        "A worktree path (or the wizard's state file on `init`) exists but is not this key's: \
         move it aside or pass another key.";
    WorktreeStale = "E_WORKTREE_STALE", Error,
        "git still records the key's worktree although its directory is gone (or it is locked \
         by someone else): `git worktree unlock <path>` if locked, then `git worktree prune`, \
         and retry.";
    JournalRefused = "E_JOURNAL_REFUSED", Error,
        "A provisioning or assemble journal record names a directory outside the okstra \
         worktrees root (or an admin entry that is not a plain name): nothing it names was \
         touched. `okstra registry repair` moves the record aside (`.refused`); then retry.";
    UnknownRef = "E_UNKNOWN_REF", Error,
        "A base ref does not resolve to a commit (a provisioning base, a handoff `base`, the \
         default base found — the default remote's HEAD or the main worktree's branch —, a \
         branch given to the integration proof); the message names it and what was tried. Give \
         a branch, tag, remote ref or commit sha that `git rev-parse` resolves.";
    Git = "E_GIT", Error,
        "A git operation failed; the message names the operation and the repository and \
         carries git's (or libgit2's) reason, including a failing hook's output. Nothing was \
         left behind.";
    GitRequired = "E_GIT_REQUIRED", Error,
        "No git new enough on `PATH` for what was asked: a checkout that needs what libgit2 \
         cannot do (`working-tree-encoding`, a configured `filter=` driver such as LFS) needs \
         git 2.36 or newer; `handoff assemble` merges with `git merge-tree --write-tree` and \
         needs git 2.38 or newer; handoff eligibility (its base and integration proof) needs \
         git. Nothing changed. Install git and retry.";
    RepoUnsafe = "E_REPO_UNSAFE", Error,
        "git refuses the repository for \"dubious ownership\" (it belongs to another user and \
         no `safe.directory` covers it); okstra never works around git's refusal, and never \
         falls back to the checkout. Add the path to `safe.directory` (in the global or system \
         config, `git -c`, or `GIT_CONFIG_COUNT`/`KEY`/`VALUE`) or fix its owner, then retry.";
    RepoUnsupported = "E_REPO_UNSUPPORTED", Error,
        "git says the path is in a repository but okstra cannot work with it (a SHA-256 \
         object format or reftable ref storage libgit2 cannot open, or no usable git to ask); \
         nothing changed and the task was not pointed at the checkout. Create the worktree \
         with `git worktree add` and start the task there, or use a SHA-1 / files-backend \
         repository.";
    KeyMismatch = "E_KEY_MISMATCH", Error,
        "The options name two different registry entries: a `taskKey` (or a `stage`, as a \
         registry entry passed back as options carries; `--task-key` in the CLI) that differs \
         from the key the `projectId`/`taskGroup`/`taskId`/`stageNumber`/`groupId` form, or \
         a `taskKey` that is not a key. Pass the entry back unchanged (it addresses itself) \
         or fields that agree with it; nothing changed.";
    ProjectJsonInvalid = "E_PROJECT_JSON_INVALID", Error,
        "project.json exists but is not a JSON object: fix or delete it and retry.";
    ProjectIdMismatch = "E_PROJECT_ID_MISMATCH", Error,
        "project.json already registers another projectId: pass that id, or delete the file to \
         re-register the directory under a new one.";
    LockTimeout = "E_LOCK_TIMEOUT", Error,
        "A lock was held longer than the bound (default 30 s; `lockTimeoutMs` / \
         `--lock-timeout-ms` / `OKSTRA_LOCK_TIMEOUT_MS`); the message names the lock file. \
         Retry when the other process is done.";
    Io = "E_IO", Error,
        "A file operation failed; the message names the file and the OS reason (a file you may \
         not read is this, never \"corrupt\"). A full disk during a ledger append leaves the \
         ledger exactly as it was.";
    UnsafeFile = "E_UNSAFE_FILE", Error,
        "A file okstra reads or writes inside a repository or plan run root is not a plain \
         file reached without symlinks: a symlink (at the file or at any directory below the \
         root), a FIFO, socket, device or directory, or a path leading out of the root. \
         Nothing was opened through it and nothing changed; replace it with a regular file \
         (or remove it) and retry. See docs/security.md.";
    FileTooLarge = "E_FILE_TOO_LARGE", Error,
        "A file okstra reads from a repository, plan run root or wizard state is larger than \
         the bound for its purpose (the message names the file and the bound); nothing was \
         read past the bound and nothing changed. Shrink or replace the file.";
    Interrupted = "E_INTERRUPTED", Interrupted,
        "The CLI got SIGINT or SIGTERM; everything the call had made was undone, so running \
         the same command again starts cleanly.";
    PlanInvalid = "E_PLAN_INVALID", Error,
        "The approved plan cannot be read (not a regular file, over 8 MiB) or its Stage Map \
         has errors (listed): fix the plan and retry.";
    NotEligible = "E_NOT_ELIGIBLE", Error,
        "A selected stage cannot be handed off, or the selection misses a dependency; the \
         reasons are listed.";
    MergeConflict = "E_MERGE_CONFLICT", Conflict,
        "Assembling the stage group would conflict (paths listed per stage pair); no collector \
         was created. Resolve on the stage branches or hand the stages off separately.";
    CollectorChanged = "E_COLLECTOR_CHANGED", Conflict,
        "A re-run of `handoff assemble` found work of someone's own in the existing collector \
         (uncommitted or untracked changes, another branch checked out, or commits on its \
         branch that are not okstra's merges); nothing was changed. Commit it on a stage \
         branch, stash or discard it, or release the collector, then retry.";
    RemoveRefused = "E_REMOVE_REFUSED", Conflict,
        "`okstra worktree remove` (or `gc --apply`) would lose work or break something, so \
         nothing was changed; the message names every reason: `dirty` (tracked changes), \
         `untracked` (files git does not ignore), `stash` (stash entries made on its branch), \
         `unpushed` (commits neither integrated in the base nor on a remote-tracking branch), \
         `process-inside`, `not-okstra` (a worktree okstra did not make), `locked-by-other` \
         (another tool's git worktree lock); the error also lists them as data, `reasons: \
         [{ reason, detail }]` (a property of the JS error, a field of the CLI's JSON). Commit, \
         push or stash the work, or pass `--force` to record it as a snapshot first (the \
         last three are never forced).";
    ReportRejected = "E_REPORT_REJECTED", Error,
        "The final report's data.json does not prove an accepted single-stage verification \
         (every problem listed); nothing was written.";
    WizardAborted = "E_WIZARD_ABORTED", Error,
        "`renderArgs` after the user aborted the wizard: start again with `okstra wizard \
         init`.";
    WizardStateVersion = "E_WIZARD_STATE_VERSION", Error,
        "The saved wizard state is of another format version (the message says which): start \
         a new one with `okstra wizard init`.";
    WizardStateInvalid = "E_WIZARD_STATE_INVALID", Error,
        "The saved wizard state is not a wizard state: start a new one with `okstra wizard \
         init`.";
    Internal = "E_INTERNAL", Error,
        "A bug: a result could not be serialized or an internal step failed. Please report it \
         with the message.";
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Lets tests and callers compare with the spelled code: `assert_eq!(e.code(), "E_IO")`.
impl PartialEq<&str> for Code {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<str> for Code {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl Serialize for Code {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl std::str::FromStr for Code {
    type Err = String;

    /// The code spelled `s` (`E_INVALID_ARG`), or `s` back when no code is spelled so.
    fn from_str(s: &str) -> Result<Code, String> {
        Code::ALL
            .iter()
            .copied()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| s.to_string())
    }
}

/// `docs/errors.md`: the table of every code, generated from the registry.
pub fn markdown() -> String {
    let mut out = String::from(
        "<!-- Generated from src/error/code.rs and src/registry/doctor.rs by `UPDATE_DOCS=1 cargo test --release --target \
         x86_64-unknown-linux-gnu errors_doc`; do not edit by hand. -->\n\
         # Error codes\n\n\
         Every failure carries a stable `code` beside a message that says what happened and \
         what to do: `err.code` on the `Error` a JS export throws (or an `…Async` export \
         rejects with), `code` in the CLI's `{\"ok\": false, \"code\": \"E_…\", \"error\": \"…\"}` \
         on stdout (the same line, with the code in brackets, on stderr), and `code` of a \
         wizard answer it rejected (`{ ok: false, code, error }`). Branch on the code, never on \
         the message.\n\n\
         The CLI exits with 0 on success, 1 for an error, 2 for a conflict with existing \
         state, 130 when SIGINT or SIGTERM interrupted it (everything it had made is undone). \
         `okstra registry doctor` exits 1 when its report lists problems.\n\n\
         | Code | CLI exit | Meaning and what to do |\n\
         | --- | --- | --- |\n",
    );
    for code in Code::ALL {
        let class = match code.exit_class() {
            ExitClass::Error => "1 (error)",
            ExitClass::Conflict => "2 (conflict)",
            ExitClass::Interrupted => "130 (interrupted)",
        };
        out.push_str(&format!(
            "| `{}` | {class} | {} |\n",
            code.as_str(),
            code.meaning()
        ));
    }
    out.push_str(
        "\n## Doctor findings\n\n\
         `okstra registry doctor` (and `registryDoctor()`) reports `{\"ok\", \"problems\"}`; each \
         problem has a `code` from this table, the `taskKey` it concerns (`null` when none) and \
         a `detail` naming the directory, branch or file and the command that clears it. \
         Branch on the code, never on the detail.\n\n\
         | Code | Meaning and what clears it |\n\
         | --- | --- |\n",
    );
    for code in crate::registry::ProblemCode::ALL {
        out.push_str(&format!("| `{}` | {} |\n", code.as_str(), code.meaning()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{markdown, Code, ExitClass};
    use std::collections::HashSet;
    use std::path::Path;

    /// docs/errors.md is the registry's table as generated now; `UPDATE_DOCS=1` rewrites it.
    #[test]
    fn errors_doc_is_current() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/errors.md");
        let want = markdown();
        if std::env::var_os("UPDATE_DOCS").is_some() {
            std::fs::write(&path, &want).unwrap();
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "docs/errors.md is not generated from the current registry (src/error/code.rs); \
             run `UPDATE_DOCS=1 cargo test --release --target x86_64-unknown-linux-gnu \
             errors_doc` and commit it"
        );
        for code in Code::ALL {
            assert!(
                have.contains(&format!("| `{}` |", code.as_str())),
                "{code} is missing from docs/errors.md"
            );
        }
        for code in crate::registry::ProblemCode::ALL {
            assert!(
                have.contains(&format!("| `{}` |", code.as_str())),
                "doctor finding {code} is missing from docs/errors.md"
            );
        }
    }

    #[test]
    fn codes_are_unique_well_formed_and_round_trip() {
        let mut seen = HashSet::new();
        for &code in Code::ALL {
            let s = code.as_str();
            assert!(seen.insert(s), "{s} declared twice");
            assert!(
                s.starts_with("E_") && s[2..].bytes().all(|b| b.is_ascii_uppercase() || b == b'_'),
                "{s} is not E_ + upper-case words"
            );
            assert_eq!(s.parse::<Code>(), Ok(code));
            assert!(!code.meaning().contains('|') && !code.meaning().contains('\n'));
        }
        assert_eq!("E_NO_SUCH".parse::<Code>(), Err("E_NO_SUCH".to_string()));
    }

    #[test]
    fn exit_classes_are_the_cli_contract() {
        let conflicts: Vec<&str> = Code::ALL
            .iter()
            .filter(|c| c.exit_class() == ExitClass::Conflict)
            .map(|c| c.as_str())
            .collect();
        assert_eq!(
            conflicts,
            [
                "E_TASK_KEY_ACTIVE",
                "E_BRANCH_OWNED",
                "E_BRANCH_EXISTS",
                "E_PATH_EXISTS",
                "E_MERGE_CONFLICT",
                "E_COLLECTOR_CHANGED",
                "E_REMOVE_REFUSED"
            ]
        );
        assert_eq!(Code::Interrupted.exit_class().exit_code(), 130);
        assert_eq!(Code::Git.exit_class().exit_code(), 1);
    }

    /// The `.rs` files under `dir`, recursively.
    fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                rust_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    /// No `"E_…"` literal outside this registry in the crate's non-test code: every code is
    /// spelled once, here. Test modules (`#[cfg(test)] mod x;` files and inline
    /// `#[cfg(test)] mod tests { … }` at the end of a file) may use literals.
    #[test]
    fn no_code_literal_outside_the_registry() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        let mut test_files = HashSet::new();
        let mut texts = Vec::new();
        for path in &files {
            let text = std::fs::read_to_string(path).unwrap();
            let lines: Vec<&str> = text.lines().collect();
            let mut end = lines.len();
            for (i, pair) in lines.windows(2).enumerate() {
                if pair[0].trim() != "#[cfg(test)]" {
                    continue;
                }
                let decl = pair[1].trim().trim_start_matches("pub(crate) ");
                let Some(name) = decl.strip_prefix("mod ") else {
                    continue;
                };
                if let Some(file) = name.strip_suffix(';') {
                    test_files.insert(format!("{file}.rs"));
                } else if end == lines.len() {
                    end = i;
                }
            }
            texts.push((path.clone(), lines[..end].join("\n")));
        }
        let registry = src.join("error/code.rs");
        let mut found = Vec::new();
        for (path, text) in texts {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path == registry || test_files.contains(&name) {
                continue;
            }
            for (n, line) in text.lines().enumerate() {
                let code_part = line.split("//").next().unwrap_or("");
                if code_part.contains("\"E_") {
                    found.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
                }
            }
        }
        assert!(
            found.is_empty(),
            "E_ code literals outside src/error/code.rs (use `Code::…`):\n{}",
            found.join("\n")
        );
    }
}
