//! A hostile repository (docs/security.md), through the doors users take: the CLI's `run`
//! (which the JS `runCli` and the native executable are) and the core calls the exports
//! wrap. Each attack of issue #21 is one test; then every repository-controlled path ×
//! {symlink to outside, symlink to /dev/zero, FIFO, directory, 1 GiB sparse file}: each
//! cell must end within 5 s with a coded error or a note, and nothing outside may change.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::safe_open::tests::{plant, Hostile, HOSTILE};
use crate::testutil::{git, write};

/// A repository on `main` with one commit, an okstra home, and a directory `outside`
/// holding `secret` (what symlinks point at).
struct Scene {
    _dir: tempfile::TempDir,
    repo: PathBuf,
    home: PathBuf,
    outside: PathBuf,
}

impl Scene {
    fn new() -> Scene {
        let dir = tempfile::tempdir().unwrap();
        let base = std::fs::canonicalize(dir.path()).unwrap();
        let repo = base.join("repo");
        std::fs::create_dir_all(&repo).unwrap();
        git(&repo, &["init", "-q", "-b", "main"]);
        write(&repo.join("README"), "hi\n");
        write(&repo.join(".gitignore"), ".env*\ncache/\n");
        git(&repo, &["add", "-A"]);
        git(&repo, &["commit", "-q", "-m", "init"]);
        let outside = base.join("outside");
        write(&outside.join("secret"), "keep\n");
        Scene {
            _dir: dir,
            repo,
            home: base.join("home"),
            outside,
        }
    }

    fn secret(&self) -> PathBuf {
        self.outside.join("secret")
    }

    /// `outside` still holds exactly `secret` = "keep\n".
    fn assert_outside_untouched(&self, what: &str) {
        let names: Vec<_> = std::fs::read_dir(&self.outside)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["secret"], "{what}: something was created outside");
        assert_eq!(
            std::fs::read_to_string(self.secret()).unwrap(),
            "keep\n",
            "{what}: the file outside changed"
        );
    }

    fn cli(&self, args: &[&str]) -> (Value, crate::cli::CliOutcome) {
        let out = crate::cli::run(args.iter().map(|s| s.to_string()));
        (
            serde_json::from_str(&out.stdout).unwrap_or(Value::Null),
            out,
        )
    }

    fn provision(&self, extra: &[&str]) -> (Value, crate::cli::CliOutcome) {
        let root = self.repo.to_string_lossy().into_owned();
        let home = self.home.to_string_lossy().into_owned();
        let mut args = vec![
            "worktree",
            "provision",
            "--project-root",
            &root,
            "--home",
            &home,
            "--task-type",
            "implementation",
            "--work-category",
            "feature",
            "--project-id",
            "p",
            "--task-group",
            "g",
            "--task-id",
            "t",
        ];
        args.extend(extra);
        self.cli(&args)
    }

    fn branches(&self) -> String {
        git(
            &self.repo,
            &["for-each-ref", "--format=%(refname) %(objectname)"],
        )
    }
}

/// Runs `f` on its own thread and fails the test unless it ends within `bound`.
fn within<T: Send + 'static>(
    what: &str,
    bound: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(bound)
        .unwrap_or_else(|_| panic!("{what} did not end within {bound:?}"))
}

fn code(v: &Value) -> &str {
    v["code"].as_str().unwrap_or("")
}

#[test]
fn ledger_files_planted_as_symlinks_are_never_written_through() {
    for (name, args) in [
        ("consumers.idx", "ledger"),
        ("consumers.jsonl", "ledger"),
        ("consumers.lock", "ledger"),
        ("consumers.jsonl", "pr"),
    ] {
        let s = Scene::new();
        let run_root = s.repo.join(".okstra/runs/r1");
        std::fs::create_dir_all(&run_root).unwrap();
        let target = if name == "consumers.lock" {
            s.outside.join("created")
        } else {
            s.secret()
        };
        std::os::unix::fs::symlink(&target, run_root.join(name)).unwrap();
        let root = run_root.to_string_lossy().into_owned();
        let (v, out) = match args {
            "ledger" => s.cli(&[
                "ledger",
                "append",
                "--plan-run-root",
                &root,
                "--impl-task-key",
                "p:g:t",
                "--stage",
                "1",
                "--status",
                "started",
            ]),
            _ => s.cli(&[
                "handoff",
                "record-pr",
                "--plan-run-root",
                &root,
                "--impl-task-key",
                "p:g:t",
                "--stages",
                "1",
                "--branch",
                "feat/x",
                "--url",
                "https://x/1",
            ]),
        };
        assert_eq!(
            code(&v),
            "E_UNSAFE_FILE",
            "{name} via {args}: {}",
            out.stdout
        );
        assert_eq!(out.exit_code, 1);
        assert!(out.stdout.contains(name), "{}", out.stdout);
        s.assert_outside_untouched(name);
    }
}

#[test]
fn a_committed_okstra_symlink_keeps_project_json_and_wizard_state_inside() {
    let s = Scene::new();
    std::os::unix::fs::symlink("../outside", s.repo.join(".okstra")).unwrap();
    let root = s.repo.to_string_lossy().into_owned();
    let (v, out) = s.cli(&[
        "worktree",
        "project-json",
        "--project-root",
        &root,
        "--project-id",
        "p",
    ]);
    assert_eq!(code(&v), "E_UNSAFE_FILE", "{}", out.stdout);
    let e = crate::cli::interactive_wizard(
        ["wizard", "--project-root", &root]
            .map(String::from)
            .to_vec(),
    )
    .unwrap_err();
    assert_eq!(e.code, crate::error::Code::UnsafeFile, "{}", e.message);
    s.assert_outside_untouched(".okstra -> ../outside");
}

#[test]
fn a_branch_git_could_read_as_an_option_is_refused_before_anything_runs() {
    for bad in ["-m", "-M", "-c", "-f", "--force", "-D", "HEAD", "a..b"] {
        let s = Scene::new();
        let before = s.branches();
        let (v, out) = s.provision(&["--branch", bad]);
        assert_eq!(code(&v), "E_INVALID_ARG", "{bad}: {}", out.stdout);
        assert_eq!(s.branches(), before, "{bad}: the user's branches changed");
        assert!(!s.home.exists(), "{bad}: the registry was touched");
        // The registry refuses it too.
        let wt = s.repo.join("wt").to_string_lossy().into_owned();
        let home = s.home.to_string_lossy().into_owned();
        let (v, _) = s.cli(&[
            "registry",
            "reserve",
            "--project-id",
            "p",
            "--task-group",
            "g",
            "--task-id",
            "t",
            "--home",
            &home,
            "--worktree-path",
            &wt,
            "--branch",
            bad,
        ]);
        assert_eq!(code(&v), "E_INVALID_ARG", "reserve {bad}");
    }
}

#[test]
fn fifo_copy_and_snapshot_entries_are_skipped_with_a_note_and_never_opened() {
    let s = Scene::new();
    write(
        &s.repo.join(".okstra/project.json"),
        r#"{"worktreeCopyEntries": [".env"], "worktreeSnapshotFiles": [".env.snap"]}"#,
    );
    for name in [".env", ".env.snap"] {
        plant(&s.repo.join(name), Hostile::Fifo, &s.secret());
    }
    let (v, out) = within(
        "provisioning with FIFO entries",
        Duration::from_secs(20),
        move || {
            let r = s.provision(&[]);
            drop(s);
            r
        },
    );
    assert_eq!(v["status"], "created", "{}", out.stdout);
    let note = v["note"].as_str().unwrap_or("");
    assert!(note.contains("skipped .env: it is a FIFO"), "{note}");
    assert!(note.contains("skipped .env.snap: it is a FIFO"), "{note}");
}

/// A copy entry over the byte-copy bound (256 MiB) that the filesystem cannot clone is not
/// carried, and the note names the file, its size and the bound — inside a copied
/// directory too, where the whole entry is left out rather than carried with a hole. The
/// files are sparse (`set_len`), so this costs no disk.
#[test]
fn a_copy_entry_over_the_byte_copy_bound_is_left_out_with_a_note_naming_it() {
    use crate::worktree::sync::copy::MAX_BYTE_COPY;
    let s = Scene::new();
    write(
        &s.repo.join(".okstra/project.json"),
        r#"{"worktreeCopyEntries": [".env", "cache"]}"#,
    );
    let big = MAX_BYTE_COPY + (44 << 20);
    for rel in [".env", "cache/deep/big.bin"] {
        let path = s.repo.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::File::create(&path).unwrap().set_len(big).unwrap();
    }
    write(&s.repo.join("cache/small"), "small\n");
    // Where the filesystem clones files, a big entry is carried: nothing to check here.
    let probe = s.repo.join("probe");
    let clones = reflink_copy::reflink(s.repo.join(".env"), &probe).is_ok();
    let _ = std::fs::remove_file(&probe);
    if clones {
        eprintln!("skipped: {} clones files", s.repo.display());
        return;
    }
    let (v, out) = s.provision(&[]);
    assert_eq!(v["status"], "created", "{}", out.stdout);
    let note = v["note"].as_str().unwrap_or("");
    let wt = PathBuf::from(v["path"].as_str().unwrap());
    for (entry, file) in [(".env", ".env"), ("cache", "cache/deep/big.bin")] {
        let shown = s.repo.join(file);
        let said = format!(
            "could not copy {entry}: {} is {big} bytes (300 MiB), more than the {MAX_BYTE_COPY} \
             bytes (256 MiB)",
            shown.display()
        );
        assert!(note.contains(&said), "{said:?} not in {note}");
        assert!(!wt.join(entry).exists(), "{entry} was carried in part");
    }
}

#[test]
fn a_fifo_ledger_is_refused_at_once() {
    let s = Scene::new();
    let run_root = s.repo.join("run");
    plant(
        &run_root.join("consumers.jsonl"),
        Hostile::Fifo,
        &s.secret(),
    );
    let root = run_root.to_string_lossy().into_owned();
    let (v, _) = within("ledger read of a FIFO", Duration::from_secs(5), move || {
        s.cli(&["ledger", "read", "--plan-run-root", &root])
    });
    assert_eq!(code(&v), "E_UNSAFE_FILE");
}

/// `OKSTRA_HOME` that is not UTF-8 is refused, in a child process (the environment is the
/// process's).
#[test]
fn a_non_utf8_okstra_home_is_a_coded_error_never_home_okstra() {
    use std::os::unix::ffi::OsStrExt;
    const MARK: &str = "OKSTRA_TEST_NON_UTF8_HOME";
    if std::env::var_os(MARK).is_some() {
        let e = crate::context::Context::resolve(None, None).unwrap_err();
        assert_eq!(
            crate::error::Coded::code(&e),
            crate::error::Code::InvalidArg
        );
        assert!(e.to_string().contains("not valid UTF-8"), "{e}");
        let out = crate::cli::run(["registry", "list"]);
        assert_eq!(out.exit_code, 1, "{}", out.stdout);
        assert!(out.stdout.contains("E_INVALID_ARG"), "{}", out.stdout);
        return;
    }
    let fake_home = tempfile::tempdir().unwrap();
    let name = "security_tests::a_non_utf8_okstra_home_is_a_coded_error_never_home_okstra";
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(MARK, "1")
        .env("HOME", fake_home.path())
        .env(
            "OKSTRA_HOME",
            std::ffi::OsStr::from_bytes(b"/tmp/okstra-\xff-home"),
        )
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{stdout}"
    );
    assert!(
        !fake_home.path().join(".okstra").exists(),
        "fell back to $HOME/.okstra"
    );
}

/// Runs test `name` again in a child of this test binary with `var` set to the raw bytes
/// `value` (`marker` set, so the child runs the body) and `HOME` an empty directory; fails
/// unless the child passed.
fn in_child_with_raw_env(name: &str, marker: &str, var: &str, value: &[u8]) {
    use std::os::unix::ffi::OsStrExt;
    let fake_home = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(marker, "1")
        .env("HOME", fake_home.path())
        .env(var, std::ffi::OsStr::from_bytes(value))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{var}={:?}: {stdout}{}",
        String::from_utf8_lossy(value),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An `OKSTRA_LOCK_TIMEOUT_MS` okstra cannot use — not a number, negative, a fraction, over
/// the one-day bound, beyond any integer, not UTF-8 — is `E_INVALID_ARG` naming it from the
/// core and the CLI alike (the JS exports resolve it through the same `Context::resolve`),
/// never the 30 s default. Blank counts as unset.
#[test]
fn a_bad_lock_timeout_env_is_a_coded_error_never_the_default() {
    const MARK: &str = "OKSTRA_TEST_BAD_LOCK_ENV";
    if std::env::var_os(MARK).is_some() {
        let e =
            crate::context::Context::resolve(Some("/tmp/okstra-unused-home"), None).unwrap_err();
        assert_eq!(
            crate::error::Coded::code(&e),
            crate::error::Code::InvalidArg
        );
        assert!(e.to_string().contains("OKSTRA_LOCK_TIMEOUT_MS"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().to_string_lossy().into_owned();
        for args in [
            vec!["registry", "list", "--home", "/tmp/okstra-unused-home"],
            vec!["ledger", "read", "--plan-run-root", &run],
        ] {
            let out = crate::cli::run(args.iter().map(|a| a.to_string()));
            assert_eq!(out.exit_code, 1, "{args:?}: {}", out.stdout);
            assert!(
                out.stdout.contains("\"E_INVALID_ARG\"")
                    && out.stdout.contains("OKSTRA_LOCK_TIMEOUT_MS"),
                "{args:?}: {}",
                out.stdout
            );
        }
        return;
    }
    let name = "security_tests::a_bad_lock_timeout_env_is_a_coded_error_never_the_default";
    for bad in [
        &b"soon"[..],
        b"-5",
        b"1.5",
        b"86400001",
        b"99999999999999999999999",
        b"50\xff",
    ] {
        in_child_with_raw_env(name, MARK, "OKSTRA_LOCK_TIMEOUT_MS", bad);
    }
    // The explicit bound follows the same rule, with or without the env var.
    let out = crate::cli::run(
        [
            "registry",
            "list",
            "--home",
            "/tmp/okstra-unused-home",
            "--lock-timeout-ms",
            "86400001",
        ]
        .iter()
        .map(|a| a.to_string()),
    );
    assert_eq!(out.exit_code, 1, "{}", out.stdout);
    assert!(out.stdout.contains("E_INVALID_ARG"), "{}", out.stdout);
    assert_eq!(
        crate::fsio::lock_timeout(Some(86_400_000)).unwrap(),
        Duration::from_secs(86_400)
    );
}

/// An `OKSTRA_WORKTREE_*` list that is not UTF-8 carries nothing of its kind, with a note
/// naming the variable — never its bytes replaced (U+FFFD) nor project.json's list or the
/// default used instead.
#[test]
fn a_non_utf8_worktree_list_env_is_noted_and_carries_nothing() {
    const MARK: &str = "OKSTRA_TEST_BAD_SYNC_ENV";
    if std::env::var_os(MARK).is_some() {
        let s = Scene::new();
        write(
            &s.repo.join(".okstra/project.json"),
            r#"{"worktreeSyncDirs": ["cache"], "worktreeSnapshotFiles": [".env"]}"#,
        );
        let e = crate::worktree::resolve_sync_entries(&s.repo);
        let var = std::env::var("OKSTRA_TEST_BAD_SYNC_VAR").unwrap();
        let (list, field) = match var.as_str() {
            "OKSTRA_WORKTREE_SYNC_DIRS" => (&e.dirs, "worktreeSyncDirs"),
            "OKSTRA_WORKTREE_SYNC_FILES" => (&e.files, "worktreeSyncFiles"),
            "OKSTRA_WORKTREE_SNAPSHOT_FILES" => (&e.snapshots, "worktreeSnapshotFiles"),
            _ => (&e.copies, "worktreeCopyEntries"),
        };
        assert!(list.is_empty(), "{var}: {list:?}");
        let note = e.notes.join("\n");
        assert!(
            note.contains(&format!("{var} ")) && note.contains("not valid UTF-8"),
            "{note}"
        );
        assert!(note.contains(field), "{note}");
        return;
    }
    let name = "security_tests::a_non_utf8_worktree_list_env_is_noted_and_carries_nothing";
    for var in [
        "OKSTRA_WORKTREE_SYNC_DIRS",
        "OKSTRA_WORKTREE_SYNC_FILES",
        "OKSTRA_WORKTREE_SNAPSHOT_FILES",
        "OKSTRA_WORKTREE_COPY_ENTRIES",
    ] {
        // The variable under test is named in a second one (its own value is raw bytes).
        let fake_home = tempfile::tempdir().unwrap();
        use std::os::unix::ffi::OsStrExt;
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([name, "--exact", "--nocapture", "--test-threads=1"])
            .env(MARK, "1")
            .env("HOME", fake_home.path())
            .env("OKSTRA_TEST_BAD_SYNC_VAR", var)
            .env(var, std::ffi::OsStr::from_bytes(b"cache:\xff.env"))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "{var}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The `OKSTRA_*` variables that stand for a CLI flag (`OKSTRA_PROJECT_ID`,
/// `OKSTRA_TASK_GROUP`, `OKSTRA_TASK_ID`, …) are parsed as the flag is: a text value that is
/// not UTF-8 is `E_INVALID_ARG` naming the flag, never replaced.
#[test]
fn a_non_utf8_flag_env_is_a_coded_error() {
    const MARK: &str = "OKSTRA_TEST_BAD_FLAG_ENV";
    if std::env::var_os(MARK).is_some() {
        let out = crate::cli::run(
            [
                "registry",
                "lookup",
                "--task-group",
                "g",
                "--task-id",
                "t",
                "--home",
                "/tmp/okstra-unused-home",
            ]
            .iter()
            .map(|a| a.to_string()),
        );
        assert_eq!(out.exit_code, 1, "{}", out.stdout);
        assert!(
            out.stdout.contains("\"E_INVALID_ARG\"")
                && out.stdout.contains("OKSTRA_PROJECT_ID is not valid UTF-8"),
            "{}",
            out.stdout
        );
        return;
    }
    in_child_with_raw_env(
        "security_tests::a_non_utf8_flag_env_is_a_coded_error",
        MARK,
        "OKSTRA_PROJECT_ID",
        b"p\xff",
    );
}

/// One repository-controlled path of the threat model and the call that reads or writes it.
struct Target {
    name: &'static str,
    /// Where the hostile entry goes, relative to the repository.
    at: &'static str,
    /// Runs the call; returns its code (`""` when it succeeded) and its note (or output).
    call: fn(&Scene) -> (String, String),
    /// The kinds that are no attack at this path, so the call may use them silently (each
    /// one says why where it is set); every other cell needs a coded error or a note.
    fine: fn(Hostile) -> bool,
}

/// No kind is fine as is.
const NONE_FINE: fn(Hostile) -> bool = |_| false;

fn ledger_cli(s: &Scene, args: &[&str]) -> (String, String) {
    let root = s
        .repo
        .join(".okstra/runs/r1")
        .to_string_lossy()
        .into_owned();
    let mut all = vec!["ledger"];
    all.extend(args);
    all.extend(["--plan-run-root", &root]);
    let (v, out) = s.cli(&all);
    (code(&v).to_string(), out.stdout)
}

fn core<E: crate::error::Coded + std::fmt::Display>(
    r: Result<impl std::fmt::Debug, E>,
) -> (String, String) {
    match r {
        Ok(v) => (String::new(), format!("{v:?}")),
        Err(e) => (e.code().as_str().to_string(), e.to_string()),
    }
}

/// A wizard for the scene's repository, the project id left to its default.
fn wizard_in(s: &Scene) -> Result<crate::wizard::Wizard, crate::wizard::WizardError> {
    crate::wizard::Wizard::create(crate::wizard::CreateOptions {
        project_root: s.repo.to_string_lossy().into_owned(),
        lang: Some("en".into()),
        home: Some(s.home.to_string_lossy().into_owned()),
        ..Default::default()
    })
}

/// Whether `text` says why the entry planted as `kind` was refused or skipped: what it is,
/// or (over-bound) the bound.
fn names_why(kind: Hostile, text: &str) -> bool {
    match kind {
        Hostile::SymlinkOutside | Hostile::SymlinkDevZero => text.contains("symlink"),
        Hostile::Fifo => text.contains("FIFO"),
        Hostile::Directory => text.contains("directory"),
        // Over its bound (the message names it), or a file where a directory belongs.
        Hostile::Huge => {
            text.contains("larger than")
                || text.contains("more than")
                || text.contains("where a directory belongs")
        }
    }
}

const APPEND: [&str; 7] = [
    "append",
    "--impl-task-key",
    "p:g:t",
    "--stage",
    "1",
    "--status",
    "started",
];

const TARGETS: &[Target] = &[
    Target {
        name: "consumers.jsonl (read)",
        at: ".okstra/runs/r1/consumers.jsonl",
        fine: NONE_FINE,
        call: |s| ledger_cli(s, &["read"]),
    },
    Target {
        name: "consumers.jsonl (append)",
        at: ".okstra/runs/r1/consumers.jsonl",
        fine: NONE_FINE,
        call: |s| ledger_cli(s, &APPEND),
    },
    Target {
        name: "consumers.idx",
        at: ".okstra/runs/r1/consumers.idx",
        // A regular file of any size: a cache checked against the ledger and rebuilt (cut
        // to its own size) when it does not match; never read past its header then.
        fine: |k| matches!(k, Hostile::Huge),
        call: |s| ledger_cli(s, &APPEND),
    },
    Target {
        name: "consumers.lock",
        at: ".okstra/runs/r1/consumers.lock",
        // A regular file of any size: only locked, its content never read.
        fine: |k| matches!(k, Hostile::Huge),
        call: |s| ledger_cli(s, &APPEND),
    },
    Target {
        name: ".okstra (project.json write)",
        at: ".okstra",
        fine: NONE_FINE,
        call: |s| {
            let root = s.repo.to_string_lossy().into_owned();
            let (v, out) = s.cli(&[
                "worktree",
                "project-json",
                "--project-root",
                &root,
                "--project-id",
                "p",
            ]);
            (code(&v).to_string(), out.stdout)
        },
    },
    Target {
        name: "project.json (provisioning read)",
        at: ".okstra/project.json",
        fine: NONE_FINE,
        call: |s| {
            let (v, out) = s.provision(&[]);
            (
                code(&v).to_string(),
                v["note"].as_str().map_or(out.stdout, str::to_string),
            )
        },
    },
    Target {
        name: "report .data.json",
        at: "reports/final.data.json",
        fine: NONE_FINE,
        call: |s| {
            let run = s.repo.join("run").to_string_lossy().into_owned();
            std::fs::create_dir_all(&run).unwrap();
            let report = s
                .repo
                .join("reports/final.md")
                .to_string_lossy()
                .into_owned();
            let (v, out) = s.cli(&[
                "handoff",
                "record-verified",
                "--plan-run-root",
                &run,
                "--impl-task-key",
                "p:g:t",
                "--stage",
                "1",
                "--report-path",
                &report,
            ]);
            (code(&v).to_string(), out.stdout)
        },
    },
    Target {
        name: "plan .data.json (wizard)",
        at: "reports/final.data.json",
        fine: NONE_FINE,
        call: |s| match crate::wizard::project::check_plan(
            &s.repo.join("reports/final.md").to_string_lossy(),
        ) {
            Ok(()) => (String::new(), String::new()),
            Err(r) => (r.code().as_str().to_string(), format!("{r:?}")),
        },
    },
    Target {
        name: "task-manifest.json (the wizard's task pick)",
        at: ".okstra/tasks/g/t/task-manifest.json",
        fine: NONE_FINE,
        call: |s| {
            let mut w = match wizard_in(s) {
                Ok(w) => w,
                Err(e) => return core(Err::<(), _>(e)),
            };
            assert!(w.submit("implementation-planning").unwrap().ok);
            let out = w.submit("g/t").unwrap();
            (
                out.code.unwrap_or_default(),
                out.error
                    .unwrap_or_else(|| format!("accepted: {:?}", out.next)),
            )
        },
    },
    Target {
        name: "project.json (the wizard's default project id)",
        at: ".okstra/project.json",
        fine: NONE_FINE,
        call: |s| core(wizard_in(s).map(|w| w.state().project_id.clone())),
    },
    Target {
        name: "approved plan",
        at: "reports/plan.md",
        fine: NONE_FINE,
        call: |s| {
            let plan = s.repo.join("reports/plan.md");
            match crate::plan::read_plan(&plan) {
                Ok(_) => (String::new(), String::new()),
                // The wizard and handoff report this as E_PLAN_INVALID naming the plan.
                Err(reason) => (
                    "E_PLAN_INVALID".into(),
                    format!("{}: {reason}", plan.display()),
                ),
            }
        },
    },
    Target {
        name: "wizard state",
        at: ".okstra/wizard-state.json",
        fine: NONE_FINE,
        call: |s| {
            let state = s
                .repo
                .join(".okstra/wizard-state.json")
                .to_string_lossy()
                .into_owned();
            let (v, out) = s.cli(&["wizard", "next", "--state", &state]);
            (code(&v).to_string(), out.stdout)
        },
    },
    Target {
        name: ".worktreeinclude",
        at: ".worktreeinclude",
        fine: NONE_FINE,
        call: |s| {
            let (v, out) = s.provision(&[]);
            (
                code(&v).to_string(),
                v["note"].as_str().map_or(out.stdout, str::to_string),
            )
        },
    },
    Target {
        name: "copy entry",
        at: ".env",
        // A directory is a copy entry too (a dependency tree): copied whole.
        fine: |k| matches!(k, Hostile::Directory),
        call: |s| {
            write(
                &s.repo.join(".okstra/project.json"),
                r#"{"worktreeCopyEntries": [".env"]}"#,
            );
            let (v, out) = s.provision(&[]);
            (
                code(&v).to_string(),
                v["note"].as_str().map_or(out.stdout, str::to_string),
            )
        },
    },
    Target {
        name: "snapshot file",
        at: ".env.snap",
        fine: NONE_FINE,
        call: |s| {
            write(
                &s.repo.join(".okstra/project.json"),
                r#"{"worktreeSnapshotFiles": [".env.snap"]}"#,
            );
            let (v, out) = s.provision(&[]);
            (
                code(&v).to_string(),
                v["note"].as_str().map_or(out.stdout, str::to_string),
            )
        },
    },
];

/// Every repository-controlled path × every hostile kind: within 5 s, a coded error or a
/// note naming the entry; nothing outside created or changed.
#[test]
fn every_repository_path_times_every_hostile_kind() {
    let mut failures = Vec::new();
    let mut slowest = Duration::ZERO;
    for t in TARGETS {
        for kind in HOSTILE {
            let s = Scene::new();
            // `.okstra` as a whole: a directory there is the normal case, not a hostile one.
            if t.at == ".okstra" && matches!(kind, Hostile::Directory) {
                continue;
            }
            std::fs::create_dir_all(s.repo.join(".okstra/runs/r1")).ok();
            if t.at == ".okstra" {
                std::fs::remove_dir_all(s.repo.join(".okstra")).unwrap();
            }
            let target = s.repo.join(t.at);
            let outside_target = if matches!(kind, Hostile::SymlinkOutside) && t.at == ".okstra" {
                s.outside.clone()
            } else {
                s.secret()
            };
            plant(&target, kind, &outside_target);
            let call = t.call;
            let start = Instant::now();
            let s = std::sync::Arc::new(s);
            let s2 = s.clone();
            let what = format!("{} × {kind:?}", t.name);
            let (code, text) = within(&what, Duration::from_secs(5), move || call(&s2));
            slowest = slowest.max(start.elapsed());
            let leaf = Path::new(t.at)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            // The error or note names the entry and says why (what it is, or the bound):
            // never treated as absent without a word.
            let noted = text.contains(&leaf) && names_why(kind, &text);
            let ok = match code.as_str() {
                "E_UNSAFE_FILE"
                | "E_FILE_TOO_LARGE"
                | "E_PLAN_INVALID"
                | "E_PROJECT_JSON_INVALID"
                | "E_REPORT_REJECTED" => noted,
                // Succeeded: only when the entry was skipped (or carried) with a note, or the
                // kind is no attack at this path.
                "" => noted || (t.fine)(kind),
                _ => false,
            };
            if !ok {
                failures.push(format!("{} × {kind:?}: code {code:?}: {text}", t.name));
            }
            s.assert_outside_untouched(&format!("{} × {kind:?}", t.name));
        }
    }
    eprintln!("slowest cell: {slowest:?}");
    assert!(
        failures.is_empty(),
        "cells without a coded error or a note:\n{}",
        failures.join("\n")
    );
}
