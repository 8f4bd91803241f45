//! Worktree creation through the git CLI: `git worktree add` run in the main worktree, so
//! the checkout is git's own (hooks, `filter=` drivers such as LFS, `working-tree-encoding`,
//! sparse checkout, parallel checkout).

use std::collections::HashMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;

use git2::{Oid, Repository};

use super::{admin_name_at, retry_while, workdir_of_main};
use crate::error::{GitCause, GitError};
use crate::worktree::WorktreeError;

/// The oldest git used: 2.36 is the first `git worktree add` that copies the main
/// worktree's sparse-checkout patterns and per-worktree config into the new worktree
/// (`--lock --reason` needs 2.31, `checkout.workers` 2.32). An older git is not used.
pub const MIN_VERSION: (u32, u32, u32) = (2, 36, 0);

/// Parallel checkout workers passed as `-c checkout.workers=<N>` when the worktree goes to
/// a disk and the repository's configuration does not set `checkout.workers` itself. 0 =
/// one per CPU; git still checks out sequentially below `checkout.thresholdForParallelism`
/// (100) files. On tmpfs git's default (one worker) is kept: there writes never wait for a
/// device and the workers only add contention. docs/benchmarks.md has the measurements behind
/// both.
const CHECKOUT_WORKERS: &str = "0";

use crate::platform::on_ram_fs;

/// Repository-selecting variables git itself clears before running git in another
/// repository (`git rev-parse --local-env-vars`): set in okstra's environment (a hook, a
/// `git -c` wrapper) they would point the child at the wrong repository or configuration.
pub(crate) const LOCAL_ENV: &[&str] = &[
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_CONFIG",
    "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT",
    "GIT_OBJECT_DIRECTORY",
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_IMPLICIT_WORK_TREE",
    "GIT_GRAFT_FILE",
    "GIT_INDEX_FILE",
    "GIT_NO_REPLACE_OBJECTS",
    "GIT_REPLACE_REF_BASE",
    "GIT_PREFIX",
    "GIT_SHALLOW_FILE",
    "GIT_COMMON_DIR",
];

/// The git on `PATH`, usable or not.
pub enum Located {
    Usable(Git),
    /// Older than [`MIN_VERSION`], or `git --version` did not answer.
    Unusable {
        exe: PathBuf,
        version: String,
    },
    Absent,
}

impl Located {
    /// Why libgit2 is used instead, for notes and errors.
    pub fn why_not(&self) -> String {
        let (a, b, c) = MIN_VERSION;
        match self {
            Located::Usable(_) => String::new(),
            Located::Unusable { exe, version } => format!(
                "{} is {version}, older than the {a}.{b}.{c} okstra needs",
                exe.display()
            ),
            Located::Absent => "no git on PATH".to_string(),
        }
    }
}

/// A git executable of at least [`MIN_VERSION`].
pub struct Git {
    exe: PathBuf,
}

/// The first executable `git` on `PATH` and whether it is new enough. `git --version` runs
/// once per executable (cached by path, inode and mtime).
pub fn locate() -> Located {
    let Some(exe) = on_path("git") else {
        return Located::Absent;
    };
    let version = cached_version(&exe);
    match version.as_deref().and_then(parse_version) {
        Some(v) if v >= MIN_VERSION => Located::Usable(Git { exe }),
        _ => Located::Unusable {
            exe,
            version: version.unwrap_or_else(|| "not runnable".into()),
        },
    }
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(name))
        .find(|p| {
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

type VersionKey = (PathBuf, u64, i64, i64);

static VERSIONS: Mutex<Option<HashMap<VersionKey, Option<String>>>> = Mutex::new(None);

/// Where [`cached_version`] keeps its answers between processes (see [`remember_versions_in`]).
static VERSION_FILE_DIR: Mutex<Option<PathBuf>> = Mutex::new(None);

/// The name of the file, inside the directory given to [`remember_versions_in`], that keeps
/// `git --version`'s answer between processes: one line, the executable's path, inode, size,
/// mtime and ctime (nanoseconds) and the version, tab-separated. A cache: a missing, stale
/// or unreadable file only costs one `git --version`.
pub const VERSION_FILE: &str = ".git-version";

/// Keeps `git --version`'s answer in `dir` (the okstra worktrees root) from now on in this
/// process, so a process that provisions once (`okstra worktree provision`) does not spawn
/// git to learn what an earlier one already did.
pub fn remember_versions_in(dir: &Path) {
    *VERSION_FILE_DIR.lock().unwrap_or_else(|e| e.into_inner()) = Some(dir.to_path_buf());
}

/// `git --version`'s answer (`git version 2.47.3` → `2.47.3`), `None` when it fails. Asked
/// once per executable (path, inode, size, mtime, ctime) and process, or once per executable
/// for every process when [`remember_versions_in`] named a directory.
fn cached_version(exe: &Path) -> Option<String> {
    let meta = exe.metadata().ok()?;
    let key = (
        exe.to_path_buf(),
        meta.ino(),
        meta.mtime(),
        meta.mtime_nsec(),
    );
    // Any replacement or edit of the executable changes its ctime (and mostly its inode).
    let stamp = format!(
        "{}\t{}\t{}\t{}.{}\t{}.{}",
        exe.display(),
        meta.ino(),
        meta.size(),
        meta.mtime(),
        meta.mtime_nsec(),
        meta.ctime(),
        meta.ctime_nsec()
    );
    let mut cache = VERSIONS.lock().unwrap_or_else(|e| e.into_inner());
    cache
        .get_or_insert_with(HashMap::new)
        .entry(key)
        .or_insert_with(|| {
            let file = VERSION_FILE_DIR
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .as_ref()
                .map(|d| d.join(VERSION_FILE));
            if let Some(v) = file.as_deref().and_then(|f| remembered(f, &stamp)) {
                return Some(v);
            }
            let out = Command::new(exe)
                .arg("--version")
                .stdin(Stdio::null())
                .output()
                .ok()
                .filter(|o| o.status.success())?;
            let text = String::from_utf8_lossy(&out.stdout);
            let version = text.trim().trim_start_matches("git version ").to_string();
            if let Some(f) = file.filter(|_| !version.contains(['\n', '\t'])) {
                // Best effort: without the file the next process asks git again.
                let _ = crate::fsio::atomic_write(&f, format!("{stamp}\t{version}\n").as_bytes());
            }
            Some(version)
        })
        .clone()
}

/// The version recorded in `file` for the executable `stamp` describes, if that is the one.
fn remembered(file: &Path, stamp: &str) -> Option<String> {
    const BOUND: crate::safe_open::Bound = crate::safe_open::Bound {
        bytes: 64 * 1024,
        purpose: "the remembered git version",
    };
    let bytes = crate::safe_open::read_file(file, BOUND).ok()??;
    let text = String::from_utf8(bytes).ok()?;
    let line = text.strip_suffix('\n')?;
    let (recorded, version) = line.rsplit_once('\t')?;
    (recorded == stamp && !version.is_empty()).then(|| version.to_string())
}

/// The admin entry name the git CLI will give a worktree added at `path` now: its
/// directory name, or that name with the first free counter (`t1`, `t11`, `t12`, …) when
/// `.git/worktrees/<name>` is taken (git's `add_worktree`). `None` when the name is not
/// one git keeps as is (git sanitizes names that are not plain refname components).
pub fn predicted_admin(main: &Repository, path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    let plain = !name.is_empty()
        && !name.starts_with('.')
        && !name.contains("..")
        && !name.ends_with(".lock")
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if !plain {
        return None;
    }
    let dir = main.path().join("worktrees");
    std::iter::once(name.to_string())
        .chain((1..100).map(|n| format!("{name}{n}")))
        .find(|n| dir.join(n).symlink_metadata().is_err())
}

/// `2.47.3`, `2.39.2.windows.1`, `2.50.1 (Apple Git-155)` → numbers; `None` if it does not
/// start with `<major>.<minor>`.
fn parse_version(v: &str) -> Option<(u32, u32, u32)> {
    let mut parts = v.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    let patch = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    Some((major, minor, patch))
}

/// git could not take one of its lock files (`index.lock`, a ref's `.lock`) because another
/// process holds it: worth another try.
pub fn busy(cause: &GitCause) -> bool {
    matches!(cause, GitCause::Exit { output, .. }
        if output.contains(".lock': File exists") || output.contains("cannot lock ref"))
}

impl Git {
    /// The version `git --version` reported (cached), `(0, 0, 0)` when it no longer answers.
    pub fn version(&self) -> (u32, u32, u32) {
        cached_version(&self.exe)
            .as_deref()
            .and_then(parse_version)
            .unwrap_or((0, 0, 0))
    }

    /// The executable.
    pub fn exe(&self) -> &Path {
        &self.exe
    }

    /// `git -C <dir>` with the environment every okstra git child gets: the
    /// repository-selecting variables ([`LOCAL_ENV`]) removed, no terminal prompt, stdin
    /// closed, its own process group (a Ctrl-C at the terminal reaches only okstra, so git
    /// finishes what it started instead of stopping half-way), and the `safe.directory`
    /// values those variables carried (`GIT_CONFIG_COUNT`/`KEY`/`VALUE`,
    /// `GIT_CONFIG_PARAMETERS`) passed on as `-c`: they are how CI and containers trust a
    /// repository owned by another user, and git honours `safe.directory` from the command
    /// line as from the global or system config.
    pub fn command(&self, dir: &Path) -> Command {
        let mut cmd = Command::new(&self.exe);
        cmd.arg("-C").arg(dir);
        for value in env_safe_directories() {
            cmd.arg("-c").arg(format!("safe.directory={value}"));
        }
        cmd.stdin(Stdio::null()).env("GIT_TERMINAL_PROMPT", "0");
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        for var in LOCAL_ENV {
            cmd.env_remove(var);
        }
        cmd
    }

    /// What git says of the directory: `git rev-parse --path-format=absolute --git-dir
    /// --show-object-format` run there.
    pub fn rev_parse(&self, dir: &Path) -> Result<RevParse, WorktreeError> {
        let out = self
            .command(dir)
            .args([
                "rev-parse",
                "--path-format=absolute",
                "--git-dir",
                "--show-object-format",
            ])
            .output()
            .map_err(|error| {
                GitError::new(
                    "rev-parse",
                    dir,
                    GitCause::Spawn {
                        exe: self.exe.clone(),
                        error,
                    },
                )
            })?;
        if !out.status.success() {
            let said = printed(&out);
            if said.contains("not a git repository") {
                return Ok(RevParse::NotGit);
            }
            if said.contains("dubious ownership") {
                return Ok(RevParse::Dubious(said));
            }
            return Err(GitError::new(
                "rev-parse",
                dir,
                GitCause::Exit {
                    status: out.status,
                    output: said,
                },
            )
            .into());
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let mut lines = text.lines();
        let mut next = || lines.next().map(str::to_string).unwrap_or_default();
        let (git_dir, format) = (next(), next());
        if git_dir.is_empty() {
            return Err(GitError::new(
                "rev-parse",
                dir,
                GitCause::State(format!("unexpected answer {text:?}")),
            )
            .into());
        }
        Ok(RevParse::Repo {
            git_dir: PathBuf::from(git_dir),
            object_format: format,
        })
    }

    /// `git -C <main worktree> worktree add --quiet --no-track --lock --reason <reason>
    /// -b <branch> -- <path> <base>`, retried (after `cleanup`) while one of git's lock files
    /// is busy. `--no-track`: no `branch.<name>.*` config is written, so nothing here takes
    /// `config.lock`. Returns the admin entry name git chose. On failure `cleanup` has run.
    pub fn worktree_add(
        &self,
        main: &Repository,
        path: &Path,
        branch: &str,
        base: Oid,
        reason: &str,
        cleanup: impl Fn(),
    ) -> Result<String, WorktreeError> {
        self.worktree_add_at(main, path, branch, Some(base), reason, cleanup)
    }

    /// `worktree_add`, or with `base` `None` the existing `branch` checked out
    /// (`git worktree add --lock --reason … -- <path> <branch>`): the re-entry of a released
    /// key whose directory is gone.
    pub fn worktree_add_at(
        &self,
        main: &Repository,
        path: &Path,
        branch: &str,
        base: Option<Oid>,
        reason: &str,
        cleanup: impl Fn(),
    ) -> Result<String, WorktreeError> {
        let root = workdir_of_main(main);
        let parallel = !main
            .config()
            .is_ok_and(|c| c.get_entry("checkout.workers").is_ok())
            && !path.parent().is_some_and(on_ram_fs);
        let base = base.map(|b| b.to_string());
        let attempt = || {
            let mut cmd = self.command(&root);
            if parallel {
                cmd.args(["-c", &format!("checkout.workers={CHECKOUT_WORKERS}")]);
            }
            cmd.args(["worktree", "add", "--quiet", "--lock", "--reason"])
                .arg(reason);
            match &base {
                Some(base) => cmd
                    .args(["--no-track", "-b", branch, "--"])
                    .arg(path)
                    .arg(base),
                None => cmd.arg("--").arg(path).arg(branch),
            };
            // Its own process group: a Ctrl-C at the terminal reaches only okstra, which
            // lets git finish and then undoes (see crate::interrupt) instead of leaving a
            // checkout half-way.
            std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
            let result = match cmd.output() {
                Ok(out) if out.status.success() => Ok(()),
                Ok(out) => Err(GitCause::Exit {
                    status: out.status,
                    output: printed(&out),
                }),
                Err(error) => Err(GitCause::Spawn {
                    exe: self.exe.clone(),
                    error,
                }),
            };
            if result.is_err() {
                cleanup();
            }
            result
        };
        retry_while(attempt, busy).map_err(|c| GitError::new("worktree add", &root, c))?;
        admin_of(path)
            .or_else(|| admin_name_at(main, path))
            .ok_or_else(|| {
                cleanup();
                GitError::new(
                    "worktree add",
                    root,
                    GitCause::State(format!(
                        "git made no worktree record for {}",
                        path.display()
                    )),
                )
                .into()
            })
    }
}

/// git's answer about a directory ([`Git::rev_parse`]).
#[derive(Debug)]
pub enum RevParse {
    /// git says the directory is not in a repository.
    NotGit,
    /// git refuses the repository for dubious ownership; what it printed.
    Dubious(String),
    /// A repository git accepts.
    Repo {
        /// This worktree's git dir (`.git`, `.git/worktrees/<name>`, or the bare directory).
        git_dir: PathBuf,
        /// `sha1` or `sha256`.
        object_format: String,
    },
}

/// The `safe.directory` values set through the environment's command-line configuration:
/// `GIT_CONFIG_COUNT` with `GIT_CONFIG_KEY_<n>` / `GIT_CONFIG_VALUE_<n>`, and
/// `GIT_CONFIG_PARAMETERS` (what `git -c` hands its children), in git's order.
pub fn env_safe_directories() -> Vec<String> {
    let mut out = Vec::new();
    if let Some(params) = std::env::var_os("GIT_CONFIG_PARAMETERS") {
        for (key, value) in parse_config_parameters(&params.to_string_lossy()) {
            if key.eq_ignore_ascii_case("safe.directory") {
                out.push(value);
            }
        }
    }
    let count: usize = std::env::var("GIT_CONFIG_COUNT")
        .ok()
        .and_then(|c| c.trim().parse().ok())
        .unwrap_or(0);
    for i in 0..count.min(10_000) {
        let key = std::env::var(format!("GIT_CONFIG_KEY_{i}")).unwrap_or_default();
        if key.eq_ignore_ascii_case("safe.directory") {
            out.push(std::env::var(format!("GIT_CONFIG_VALUE_{i}")).unwrap_or_default());
        }
    }
    out
}

/// `GIT_CONFIG_PARAMETERS` as git writes it: shell-single-quoted entries separated by
/// spaces, each `'key'='value'` (git ≥ 2.31) or `'key=value'` (older).
fn parse_config_parameters(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            return out;
        }
        let (mut entry, mut split) = (String::new(), None);
        while let Some(&c) = chars.peek() {
            match c {
                '\'' => {
                    chars.next();
                    for q in chars.by_ref() {
                        if q == '\'' {
                            break;
                        }
                        entry.push(q);
                    }
                }
                '\\' => {
                    chars.next();
                    if let Some(q) = chars.next() {
                        entry.push(q);
                    }
                }
                '=' if split.is_none() => {
                    chars.next();
                    split = Some(entry.len());
                    entry.push('=');
                }
                c if c.is_whitespace() => break,
                c => {
                    chars.next();
                    entry.push(c);
                }
            }
        }
        let at = split.or_else(|| entry.find('='));
        out.push(match at {
            Some(i) => (entry[..i].to_string(), entry[i + 1..].to_string()),
            None => (entry, String::new()),
        });
    }
}

/// stderr then stdout (a failing hook may print to either), trimmed; empty when git printed
/// nothing (the message then gives the exit status).
pub fn printed(out: &Output) -> String {
    let mut text = String::from_utf8_lossy(&out.stderr).trim().to_string();
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !stdout.trim().is_empty() {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(stdout.trim());
    }
    text
}

/// The admin entry named in the new worktree's `.git` file (`gitdir: …/worktrees/<name>`).
fn admin_of(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path.join(".git")).ok()?;
    let gitdir = Path::new(text.strip_prefix("gitdir:")?.trim());
    Some(gitdir.file_name()?.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::{on_ram_fs, parse_config_parameters, parse_version};

    #[test]
    fn config_parameters_parse_in_both_formats() {
        let pairs = |t: &str| parse_config_parameters(t);
        assert_eq!(
            pairs("'safe.directory'='*' 'core.x'='a b'"),
            vec![
                ("safe.directory".into(), "*".into()),
                ("core.x".into(), "a b".into())
            ]
        );
        assert_eq!(
            pairs("'safe.directory=/srv/it'\\''s'"),
            vec![("safe.directory".into(), "/srv/it's".into())]
        );
        assert_eq!(pairs("  "), Vec::<(String, String)>::new());
    }
    use std::path::Path;

    #[test]
    fn ram_file_systems_are_told_from_others() {
        let mounts = std::fs::read_to_string("/proc/mounts").unwrap();
        let shm_is_tmpfs = mounts
            .lines()
            .any(|l| l.starts_with("tmpfs /dev/shm tmpfs "));
        assert_eq!(on_ram_fs(Path::new("/dev/shm")), shm_is_tmpfs);
        assert!(!on_ram_fs(Path::new("/proc")));
        assert!(!on_ram_fs(Path::new("/no/such/dir")));
    }

    #[test]
    fn versions_parse() {
        assert_eq!(parse_version("2.47.3"), Some((2, 47, 3)));
        assert_eq!(parse_version("2.39.2.windows.1"), Some((2, 39, 2)));
        assert_eq!(parse_version("2.50.1 (Apple Git-155)"), Some((2, 50, 1)));
        assert_eq!(parse_version("2.36"), Some((2, 36, 0)));
        assert_eq!(parse_version("weird"), None);
    }
}

#[cfg(test)]
mod predicted_admin_tests {
    use super::predicted_admin;
    use crate::testutil::git;
    use crate::worktree::git::admin_name_at;

    /// The prediction is what the git CLI then names the admin entry: a plain name, a name
    /// already taken once and twice (git counts up), a name with dots.
    #[test]
    fn the_predicted_admin_name_is_the_one_git_gives() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        std::fs::create_dir(&repo).unwrap();
        git(&repo, &["init", "-q", "-b", "main"]);
        git(
            &repo,
            &[
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "commit",
                "-q",
                "--allow-empty",
                "-m",
                "init",
            ],
        );
        let main = git2::Repository::open(&repo).unwrap();
        let cases = ["t1", "x/t1", "y/t1", "stage-2", "a.b_c-d", "z/t1"];
        for (i, rel) in cases.iter().enumerate() {
            let path = dir.path().join("wt").join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            let predicted = predicted_admin(&main, &path);
            let p = path.to_string_lossy().into_owned();
            git(
                &repo,
                &["worktree", "add", "-q", "-b", &format!("b{i}"), "--", &p],
            );
            let actual = admin_name_at(&main, &path);
            assert!(predicted.is_some(), "{rel}: no prediction");
            assert_eq!(predicted, actual, "{rel}");
        }
        // A name git would sanitize is not predicted.
        for odd in [".hidden", "a..b", "x.lock", "sp ace"] {
            assert_eq!(predicted_admin(&main, &dir.path().join(odd)), None, "{odd}");
        }
    }
}
