//! The end-of-life commands over real repositories: a bare `origin`, a clone whose
//! worktrees okstra provisions, real processes, checked with the git CLI.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::*;
use crate::context::Context;
use crate::error::Coded;
use crate::ids::KeyParts;
use crate::registry::{EntryStatus, Registry, Reservation};
use crate::testutil::{git, write};
use crate::worktree::{self, ProvisionRequest};

struct Fx {
    _dir: tempfile::TempDir,
    root: PathBuf,
    repo: PathBuf,
    home: String,
}

fn fixture() -> Fx {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let origin = root.join("origin.git");
    git(&root, &["init", "-q", "--bare", "-b", "main", "origin.git"]);
    let seed = root.join("seed");
    git(&root, &["init", "-q", "-b", "main", "seed"]);
    write(&seed.join("a.txt"), "one\n");
    write(&seed.join("b.txt"), "bee\n");
    write(&seed.join(".gitignore"), "node_modules/\n");
    git(&seed, &["add", "-A"]);
    git(&seed, &["commit", "-q", "-m", "one"]);
    git(&seed, &["push", "-q", origin.to_str().unwrap(), "main"]);
    git(&root, &["clone", "-q", origin.to_str().unwrap(), "repo"]);
    let repo = root.join("repo");
    git(&repo, &["config", "user.email", "t@t"]);
    git(&repo, &["config", "user.name", "t"]);
    let home = root.join("home").to_string_lossy().into_owned();
    Fx {
        _dir: dir,
        root,
        repo,
        home,
    }
}

impl Fx {
    fn ctx(&self) -> Context {
        Context::resolve(Some(&self.home), None).unwrap()
    }

    fn key(&self, task: &str) -> KeyParts {
        KeyParts::new("proj", "grp", task, None, None).unwrap()
    }

    /// Provisions `task`; returns its worktree path and branch.
    fn provision(&self, task: &str) -> (PathBuf, String) {
        let p = worktree::provision(
            &self.ctx(),
            &ProvisionRequest {
                task_type: "implementation".into(),
                project_root: self.repo.clone(),
                project_id: "proj".into(),
                task_group: "grp".into(),
                task_id: task.into(),
                work_category: "feature".into(),
                ..ProvisionRequest::default()
            },
        )
        .unwrap();
        (PathBuf::from(p.path), p.branch)
    }

    fn row(&self, task: &str) -> Option<crate::registry::WorktreeEntry> {
        Registry::open(&self.ctx()).lookup(&self.key(task)).unwrap()
    }

    fn listed(&self, path: &Path) -> bool {
        git(&self.repo, &["worktree", "list", "--porcelain"])
            .lines()
            .any(|l| l == format!("worktree {}", path.display()))
    }

    fn branch_exists(&self, branch: &str) -> bool {
        !git(&self.repo, &["branch", "--list", branch]).is_empty()
    }

    fn push_main(&self) {
        git(&self.repo, &["push", "-q", "origin", "main"]);
    }
}

fn commit(dir: &Path, file: &str, text: &str, msg: &str) -> String {
    write(&dir.join(file), text);
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", msg]);
    git(dir, &["rev-parse", "HEAD"])
}

/// The expectation of one case.
#[derive(Debug)]
enum Want {
    /// Removed; the branch deleted or kept.
    Removed { branch_deleted: bool },
    /// Removed although the directory was already gone.
    Gone,
    /// Refused with exactly these reasons (also with `--force`, when `forced` is false).
    Refused(&'static [&'static str], bool),
}

/// One case: its task name, expectation, worktree and branch.
type Case = (&'static str, Want, PathBuf, String);

/// Every case of the table, set up on its own key; the `sleep` inside `busy` is returned.
// A table: one short setup per case, read top to bottom.
#[allow(clippy::too_many_lines)]
fn cases(fx: &Fx) -> (Vec<Case>, Vec<std::process::Child>) {
    let mut sleepers = Vec::new();
    let mut cases: Vec<Case> = Vec::new();
    let mut add = |fx: &Fx, name: &'static str, want: Want, setup: &dyn Fn(&Fx, &Path, &str)| {
        let (path, branch) = fx.provision(name);
        setup(fx, &path, &branch);
        cases.push((name, want, path, branch));
    };
    add(
        fx,
        "merged",
        Want::Removed {
            branch_deleted: true,
        },
        &|fx, p, b| {
            commit(p, "m.txt", "merged\n", "work");
            git(&fx.repo, &["merge", "-q", "--no-ff", "-m", "merge", b]);
            fx.push_main();
        },
    );
    add(
        fx,
        "squashed",
        Want::Removed {
            branch_deleted: true,
        },
        &|fx, p, b| {
            commit(p, "s1.txt", "s1\n", "s1");
            commit(p, "s2.txt", "s2\n", "s2");
            commit(&fx.repo, "other.txt", "main moved\n", "main moved");
            git(&fx.repo, &["merge", "-q", "--squash", b]);
            git(&fx.repo, &["commit", "-q", "-m", "squash"]);
            fx.push_main();
        },
    );
    add(
        fx,
        "rebased",
        Want::Removed {
            branch_deleted: true,
        },
        &|fx, p, b| {
            commit(p, "r1.txt", "r1\n", "r1");
            commit(p, "a.txt", "one\nrebased\n", "r2");
            commit(&fx.repo, "b.txt", "bee\nmain edit\n", "main edit");
            // A rebase merge: the branch's commits replayed on the advanced base.
            git(&fx.repo, &["cherry-pick", &format!("main..{b}")]);
            fx.push_main();
        },
    );
    add(
        fx,
        "picked",
        Want::Removed {
            branch_deleted: true,
        },
        &|fx, p, _| {
            let c = commit(p, "a.txt", "one\npicked\n", "pick me");
            commit(&fx.repo, "b.txt", "bee\nmain again\n", "main again");
            git(&fx.repo, &["cherry-pick", &c]);
            // The base then edits the same lines: only patch ids still prove it.
            commit(&fx.repo, "a.txt", "one\npicked and edited\n", "edit");
            fx.push_main();
        },
    );
    add(
        fx,
        "pushed",
        Want::Removed {
            branch_deleted: false,
        },
        &|fx, p, b| {
            commit(p, "p.txt", "pushed\n", "pushed work");
            git(&fx.repo, &["push", "-q", "origin", b]);
        },
    );
    add(fx, "dirty", Want::Refused(&["dirty"], true), &|_, p, _| {
        write(&p.join("a.txt"), "edited\n");
    });
    add(
        fx,
        "untracked",
        Want::Refused(&["untracked"], true),
        &|_, p, _| {
            write(&p.join("new.txt"), "new\n");
            // Ignored files are not work: they never block.
            write(&p.join("node_modules/x/index.js"), "x\n");
        },
    );
    add(
        fx,
        "stashed",
        Want::Refused(&["stash"], true),
        &|_, p, _| {
            write(&p.join("a.txt"), "stash me\n");
            git(p, &["stash", "-q"]);
        },
    );
    add(
        fx,
        "unpushed",
        Want::Refused(&["unpushed"], true),
        &|_, p, _| {
            commit(p, "u.txt", "unpushed\n", "local only");
        },
    );
    add(
        fx,
        "busy",
        Want::Refused(&["process-inside"], false),
        &|_, _, _| {},
    );
    add(
        fx,
        "locked",
        Want::Refused(&["locked-by-other"], false),
        &|fx, p, _| {
            git(&fx.repo, &["worktree", "unlock", p.to_str().unwrap()]);
            git(
                &fx.repo,
                &[
                    "worktree",
                    "lock",
                    "--reason",
                    "other tool",
                    p.to_str().unwrap(),
                ],
            );
        },
    );
    add(
        fx,
        "released",
        Want::Removed {
            branch_deleted: true,
        },
        &|fx, _, _| {
            worktree::release_worktree(&Registry::open(&fx.ctx()), &fx.key("released")).unwrap();
        },
    );
    add(fx, "byhand", Want::Gone, &|_, p, _| {
        std::fs::remove_dir_all(p).unwrap();
    });
    // A worktree okstra did not make, registered by hand.
    let foreign = fx.root.join("foreign");
    git(
        &fx.repo,
        &[
            "worktree",
            "add",
            "-q",
            "-b",
            "mine",
            foreign.to_str().unwrap(),
        ],
    );
    Registry::open(&fx.ctx())
        .reserve(
            &fx.key("foreign"),
            &Reservation {
                worktree_path: foreign.display().to_string(),
                branch: "mine".into(),
                base_ref: String::new(),
                phase: String::new(),
                stages: None,
            },
        )
        .unwrap();
    cases.push((
        "foreign",
        Want::Refused(&["not-okstra"], false),
        foreign.clone(),
        "mine".into(),
    ));
    let busy = &cases.iter().find(|c| c.0 == "busy").unwrap().2;
    sleepers.push(
        Command::new("sleep")
            .arg("60")
            .current_dir(busy)
            .stdin(Stdio::null())
            .spawn()
            .unwrap(),
    );
    std::thread::sleep(std::time::Duration::from_millis(200));
    (cases, sleepers)
}

/// status and the gc dry run judge every case as remove will.
fn check_judgement(fx: &Fx, cases: &[Case]) {
    let rows = status(&fx.ctx(), &StatusOptions::default()).unwrap();
    let report = gc(&fx.ctx(), &GcOptions::default()).unwrap();
    for (name, want, _, _) in cases {
        let row = rows
            .iter()
            .find(|r| r.task_key == format!("proj/grp/{name}"))
            .unwrap();
        let reasons: Vec<&str> = row.blockers.iter().map(|b| b.reason.as_str()).collect();
        match want {
            Want::Refused(r, _) => assert_eq!(reasons, *r, "{name}: {row:?}"),
            _ => assert!(reasons.is_empty(), "{name}: {row:?}"),
        }
        let cand = report
            .candidates
            .iter()
            .find(|c| c.task_key == row.task_key);
        match (want, name) {
            (
                Want::Removed {
                    branch_deleted: true,
                },
                _,
            )
            | (Want::Gone, _) => {
                assert_eq!(
                    cand.map(|c| c.action.as_str()),
                    Some("remove"),
                    "gc {name}: {cand:?}"
                );
            }
            (Want::Removed { .. }, _) => assert!(cand.is_none(), "gc {name}: {cand:?}"),
            (Want::Refused(..), _) => {
                assert!(
                    cand.is_none_or(|c| c.action == "keep"),
                    "gc {name}: {cand:?}"
                )
            }
        }
    }
    assert!(!report.applied);
}

/// Removes every case without and then with force; checks git, the registry and the
/// directory agree with the expectation.
fn check_removal(fx: &Fx, cases: &[Case]) {
    for (name, want, path, branch) in cases {
        let before = fx.row(name);
        let r = remove(&fx.ctx(), &fx.key(name), false);
        match want {
            Want::Removed { branch_deleted } => {
                let r = r.unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!(r.branch_deleted, *branch_deleted, "{name}: {r:?}");
                assert_eq!(fx.branch_exists(branch), !branch_deleted, "{name}");
                assert!(!path.exists(), "{name}: directory left");
                assert!(!fx.listed(path), "{name}: git still lists it");
                assert_eq!(fx.row(name).unwrap().status, EntryStatus::Released);
            }
            Want::Gone => {
                let r = r.unwrap_or_else(|e| panic!("{name}: {e}"));
                assert!(r.already_gone);
                assert!(!fx.listed(path), "{name}: git still lists it");
                assert_eq!(fx.row(name).unwrap().status, EntryStatus::Released);
            }
            Want::Refused(reasons, forced) => {
                let e = r.expect_err(name);
                assert_eq!(e.code(), "E_REMOVE_REFUSED");
                for reason in reasons.iter() {
                    assert!(e.to_string().contains(reason), "{name}: {e}");
                }
                // The same reasons as data, in the kinds `status` names its blockers.
                let data = serde_json::Value::Object(e.data().expect("refusal data"));
                let kinds: Vec<&str> = data["reasons"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r["reason"].as_str().unwrap())
                    .collect();
                assert_eq!(kinds, *reasons, "{name}: {data}");
                assert!(
                    data["reasons"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .all(|r| r["detail"].as_str().is_some_and(|d| !d.is_empty())),
                    "{name}: {data}"
                );
                assert!(
                    path.exists() && fx.listed(path),
                    "{name}: changed on refusal"
                );
                assert_eq!(fx.row(name), before, "{name}: row changed on refusal");
                let f = remove(&fx.ctx(), &fx.key(name), true);
                if *forced {
                    let f = f.unwrap_or_else(|e| panic!("{name} --force: {e}"));
                    assert!(f.snapshot.is_some(), "{name}: no snapshot");
                    assert!(!path.exists() && !fx.listed(path), "{name} --force");
                    // The branch goes only when integrated (here: no commits of its own).
                    assert_eq!(f.branch_deleted, *name != "unpushed", "{name}: {f:?}");
                    assert_eq!(fx.branch_exists(branch), !f.branch_deleted, "{name}");
                } else {
                    assert_eq!(f.expect_err(name).code(), "E_REMOVE_REFUSED");
                    assert!(path.exists() && fx.listed(path), "{name}: forced anyway");
                }
            }
        }
    }
}

/// Sets up each case on its own key, judges it with `status` and `gc` (dry run), then
/// removes it (see `Want`).
#[test]
fn remove_and_gc_table() {
    let fx = fixture();
    let (cases, sleepers) = cases(&fx);
    check_judgement(&fx, &cases);
    check_removal(&fx, &cases);
    for mut s in sleepers {
        let _ = s.kill();
        let _ = s.wait();
    }
    // Nothing left in the journal; the trash empties.
    let reg = Registry::open(&fx.ctx());
    assert!(remove::records(&reg).is_empty());
    trash::finish(&reg, true);
    assert!(trash::items(&reg).is_empty());
}

/// Every file under `dir` (but `.git`): relative path → (mode, bytes or link target).
fn tree(dir: &Path) -> std::collections::BTreeMap<PathBuf, (u32, Vec<u8>)> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let rel = p.strip_prefix(dir).unwrap().to_path_buf();
            if rel == Path::new(".git") {
                continue;
            }
            let m = std::fs::symlink_metadata(&p).unwrap();
            if m.file_type().is_symlink() {
                let t = std::fs::read_link(&p).unwrap();
                out.insert(rel, (0o120000, t.into_os_string().into_encoded_bytes()));
            } else if m.is_dir() {
                stack.push(p);
            } else {
                out.insert(
                    rel,
                    (m.permissions().mode() & 0o111, std::fs::read(&p).unwrap()),
                );
            }
        }
    }
    out
}

/// A forced removal followed by restore gives back every file byte for byte: tracked
/// edits, a deleted file, untracked files, an exec bit and symlinks.
#[test]
fn forced_remove_then_restore_is_byte_identical() {
    let fx = fixture();
    let (path, branch) = fx.provision("round");
    commit(&path, "c.txt", "committed\n", "local commit");
    write(&path.join("a.txt"), "tracked edit\n");
    std::fs::remove_file(path.join("b.txt")).unwrap();
    write(&path.join("new/deep/u.txt"), "untracked\n");
    write(&path.join("run.sh"), "#!/bin/sh\necho hi\n");
    std::fs::set_permissions(path.join("run.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink("a.txt", path.join("link")).unwrap();
    std::os::unix::fs::symlink("../outside/target", path.join("dangling")).unwrap();
    std::fs::write(path.join("bin.dat"), [0u8, 159, 146, 150, 255, 10]).unwrap();
    let before = tree(&path);
    let e = remove(&fx.ctx(), &fx.key("round"), false).unwrap_err();
    let text = e.to_string();
    assert!(text.contains("dirty") && text.contains("untracked") && text.contains("unpushed"));
    let r = remove(&fx.ctx(), &fx.key("round"), true).unwrap();
    let snap = r.snapshot.clone().unwrap();
    assert_eq!(snap.ref_name, "refs/okstra/snapshots/proj/grp/round/1");
    assert!(!path.exists() && !fx.listed(&path));
    assert!(fx.branch_exists(&branch), "the unintegrated branch is kept");
    let listed = list_snapshots(&fx.ctx(), &fx.key("round"), None).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].commit, snap.commit);
    assert_eq!(listed[0].branch, branch);
    let back = restore(&fx.ctx(), &fx.key("round"), &RestoreRequest::default()).unwrap();
    assert_eq!(back.snapshot.as_ref().map(|s| s.number), Some(1));
    assert_eq!(PathBuf::from(&back.path), path);
    assert_eq!(tree(&path), before, "restored files differ");
    assert_eq!(git(&path, &["branch", "--show-current"]), branch);
    assert_eq!(fx.row("round").unwrap().status, EntryStatus::Active);
    // Restoring again while it stands is refused.
    let again = restore(&fx.ctx(), &fx.key("round"), &RestoreRequest::default()).unwrap_err();
    assert_eq!(again.code(), "E_PATH_EXISTS");
}

/// A process killed after the rename into the trash left its record: the next call
/// finishes the removal (git's record, the branch, the row) and empties the trash.
#[test]
fn a_record_left_after_the_rename_is_finished_by_the_next_call() {
    let fx = fixture();
    let (path, branch) = fx.provision("crash");
    let reg = Registry::open(&fx.ctx());
    let key = fx.key("crash");
    // Judge it as remove does, write the record and rename, then "die".
    let git_ = git::Git::locate().unwrap();
    let facts = inspect::inspect(
        &git_,
        &path,
        reg.root(),
        &branch,
        &|c, d| inspect::repo_facts(&git_, c, d),
        false,
    )
    .unwrap();
    let record = remove::record_file(&reg, &key.key());
    let plan = remove::Removal {
        task_key: key.key(),
        path: path.clone(),
        trash: trash::slot(&reg, &key.key()),
        admin: facts.admin_dir.clone(),
        common_dir: facts.common_dir.clone(),
        branch: branch.clone(),
        delete_branch_at: facts.head.clone(),
        pid: 999_999,
        started_at: String::new(),
    };
    crate::worktree::journal::write(&record, &plan).unwrap();
    assert!(trash::move_in(&path, &plan.trash).unwrap());
    assert!(fx.listed(&path), "git still lists it before recovery");
    let found = crate::worktree::doctor(&reg).unwrap();
    assert!(
        found
            .problems
            .iter()
            .any(|p| p.code.as_str() == "remove-unfinished"),
        "{found:?}"
    );
    let fixed = crate::worktree::repair(&reg).unwrap();
    assert_eq!(fixed.cleared.len(), 1, "{fixed:?}");
    let after = crate::worktree::doctor(&reg).unwrap();
    assert!(after.ok, "git, the registry and doctor agree: {after:?}");
    assert!(!fx.listed(&path));
    assert!(!fx.branch_exists(&branch));
    assert_eq!(fx.row("crash").unwrap().status, EntryStatus::Released);
    assert!(!record.exists());
    // A record whose directory is still in place (killed before the rename) is dropped.
    let (path2, branch2) = fx.provision("early");
    let rec2 = remove::record_file(&reg, &fx.key("early").key());
    crate::worktree::journal::write(
        &rec2,
        &remove::Removal {
            task_key: fx.key("early").key(),
            path: path2.clone(),
            branch: branch2,
            ..plan
        },
    )
    .unwrap();
    assert_eq!(recover_all(&fx.ctx()).unwrap(), 1);
    assert!(path2.exists() && fx.listed(&path2) && !rec2.exists());
    assert_eq!(fx.row("early").unwrap().status, EntryStatus::Active);
}

#[test]
fn gc_parses_durations_and_refuses_garbage() {
    assert_eq!(parse_duration("30m").unwrap(), 1800);
    assert_eq!(parse_duration("7d").unwrap(), 604_800);
    for bad in ["", "7", "d", "7y", "-1d", "99999999999999999999w"] {
        assert_eq!(
            parse_duration(bad).unwrap_err().code(),
            "E_INVALID_ARG",
            "{bad}"
        );
    }
}

/// The terminal table: one line per row plus the header, colour only when asked.
#[test]
fn status_table_colours_only_when_asked() {
    let fx = fixture();
    let (path, _) = fx.provision("tbl");
    write(&path.join("x.txt"), "x\n");
    let rows = status(&fx.ctx(), &StatusOptions::default()).unwrap();
    let plain = table(&rows, false);
    assert_eq!(plain.lines().count(), 2, "{plain}");
    assert!(!plain.contains('\x1b'));
    assert!(
        plain.contains("proj/grp/tbl") && plain.contains("untracked"),
        "{plain}"
    );
    let coloured = table(&rows, true);
    assert!(coloured.contains("\x1b[33m"), "{coloured:?}");
}

impl Fx {
    /// Provisions stage `n` of `task`; returns its worktree path.
    fn provision_stage(&self, task: &str, n: u32) -> PathBuf {
        let p = worktree::provision(
            &self.ctx(),
            &ProvisionRequest {
                task_type: "implementation".into(),
                project_root: self.repo.clone(),
                project_id: "proj".into(),
                task_group: "grp".into(),
                task_id: task.into(),
                work_category: "feature".into(),
                stage: Some(n),
                ..ProvisionRequest::default()
            },
        )
        .unwrap();
        PathBuf::from(p.path)
    }

    fn status_with(&self, roots: &[&Path]) -> Result<Vec<StatusRow>, LifecycleError> {
        status(
            &self.ctx(),
            &StatusOptions {
                plan_run_roots: roots
                    .iter()
                    .map(|r| r.to_string_lossy().into_owned())
                    .collect(),
                ..StatusOptions::default()
            },
        )
    }
}

/// Through the ledger's own appends: stage 1 of `proj/grp/staged` started, done at
/// `head`, rejected then accepted, in a PR with stage 2; stage 2 started; stage 1 of the
/// task under the raw text `proj/grp/Raw Task` (as the Python helper keeps it) started.
fn append_stage_rows(run: &Path, head: &str) {
    let ledger = crate::ledger::Ledger::new(run, std::time::Duration::from_secs(5)).creating(true);
    let none = serde_json::Map::new;
    let mut f = none();
    f.insert("head_commit".into(), head.into());
    let key = "proj/grp/staged";
    ledger.append(key, 1, "started", false, none()).unwrap();
    ledger.append(key, 1, "done", false, f).unwrap();
    for (verdict, report) in [("rejected", "r1.md"), ("accepted", "r2.md")] {
        ledger
            .append_verified_at(key, 1, verdict, report, Some(head))
            .unwrap();
    }
    let url = "https://git.example/pr/7";
    ledger.append_pr(key, &[1, 2], "feat-s1-2", url).unwrap();
    ledger.append(key, 2, "started", false, none()).unwrap();
    ledger
        .append("proj/grp/Raw Task", 1, "started", false, none())
        .unwrap();
}

/// Stage rows carry what a plan run's ledger records (appended through the ledger's own
/// API), matched by task key and stage, a slugged registry key finding rows appended under
/// raw text; task rows, unmentioned stages and a call without a plan run root get `null`.
#[test]
fn status_shows_the_ledger_state_of_stage_rows() {
    let fx = fixture();
    fx.provision("staged");
    let s1 = fx.provision_stage("staged", 1);
    fx.provision_stage("staged", 2);
    fx.provision_stage("staged", 3);
    fx.provision_stage("Raw Task", 1);
    let head = commit(&s1, "s1.txt", "one\n", "stage 1");
    let run = fx.root.join("run");
    append_stage_rows(&run, &head);
    let by_key = |rows: &[StatusRow]| -> std::collections::BTreeMap<String, Option<StageLedger>> {
        rows.iter()
            .map(|r| (r.task_key.clone(), r.ledger.clone()))
            .collect()
    };
    let without = fx.status_with(&[]).unwrap();
    assert_eq!(without.len(), 5);
    assert!(without.iter().all(|r| r.ledger.is_none()));
    assert!(!table(&without, false).contains("LEDGER"));

    let rows = fx.status_with(&[&run]).unwrap();
    let got = by_key(&rows);
    let l = |state: Option<&str>, verified: Option<&str>, pr: Option<&str>| {
        Some(StageLedger {
            state: state.map(Into::into),
            verified: verified.map(Into::into),
            pr: pr.map(Into::into),
        })
    };
    assert_eq!(
        got["proj/grp/staged#stage-1"],
        l(
            Some("done"),
            Some("accepted"),
            Some("https://git.example/pr/7")
        )
    );
    assert_eq!(
        got["proj/grp/staged#stage-2"],
        l(Some("started"), None, Some("https://git.example/pr/7"))
    );
    assert_eq!(got["proj/grp/staged#stage-3"], None);
    assert_eq!(
        got["proj/grp/staged"], None,
        "a task row has no ledger state"
    );
    assert_eq!(
        got["proj/grp/raw-task#stage-1"],
        l(Some("started"), None, None)
    );
    let text = table(&rows, false);
    assert!(text.lines().next().unwrap().ends_with("LEDGER"), "{text}");
    assert!(text.contains("done verified:accepted pr"), "{text}");
    let json = serde_json::to_value(&rows).unwrap();
    assert_eq!(
        json[rows
            .iter()
            .position(|r| r.task_key.ends_with("stage-1") && r.task_key.contains("staged"))
            .unwrap()]["ledger"],
        serde_json::json!({"state": "done", "verified": "accepted", "pr": "https://git.example/pr/7"})
    );
}

/// A plan run root the ledger reader refuses fails `status` with the reader's code, before
/// any git runs: missing (`E_INVALID_ARG`), a symlinked or FIFO `consumers.jsonl`
/// (`E_UNSAFE_FILE`). An empty root is an empty ledger.
#[test]
fn status_refuses_an_unusable_plan_run_root() {
    let fx = fixture();
    fx.provision_stage("t", 1);
    let missing = fx.root.join("no-such-run");
    assert_eq!(
        fx.status_with(&[&missing]).unwrap_err().code(),
        "E_INVALID_ARG"
    );
    let empty = fx.root.join("empty-run");
    std::fs::create_dir(&empty).unwrap();
    assert!(fx.status_with(&[&empty]).unwrap()[0].ledger.is_none());

    let linked = fx.root.join("linked-run");
    std::fs::create_dir(&linked).unwrap();
    write(
        &fx.root.join("elsewhere.jsonl"),
        "{\"impl_task_key\": \"proj/grp/t\", \"stage\": 1, \"status\": \"done\"}\n",
    );
    std::os::unix::fs::symlink(
        fx.root.join("elsewhere.jsonl"),
        linked.join("consumers.jsonl"),
    )
    .unwrap();
    assert_eq!(
        fx.status_with(&[&empty, &linked]).unwrap_err().code(),
        "E_UNSAFE_FILE"
    );

    let fifo = fx.root.join("fifo-run");
    std::fs::create_dir(&fifo).unwrap();
    let made = Command::new("mkfifo")
        .arg(fifo.join("consumers.jsonl"))
        .status()
        .unwrap();
    assert!(made.success());
    assert_eq!(
        fx.status_with(&[&fifo]).unwrap_err().code(),
        "E_UNSAFE_FILE"
    );
}
