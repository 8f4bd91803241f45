//! Real repositories in temp dirs, checked with the git CLI.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use super::*;
use crate::context::Context;
use crate::error::Coded;
use crate::ids::KeyParts;
use crate::registry::Registry;
use crate::testutil::git;

/// Env vars are process-global and every test here reads the sync ones: run them one at a
/// time.
static SERIAL: Mutex<()> = Mutex::new(());

pub(crate) fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

struct Fixture {
    _dir: tempfile::TempDir,
    repo: PathBuf,
    home: String,
}

/// A repository with one commit (a tracked `.claude/settings.json`), an untracked `.env` and
/// `.project-docs/`, a tag `v1` and a second commit on `main`.
fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(repo.join(".claude")).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["config", "user.email", "t@example.com"]);
    git(&repo, &["config", "user.name", "t"]);
    std::fs::write(repo.join("a.txt"), "one\n").unwrap();
    std::fs::write(repo.join(".claude/settings.json"), "{}\n").unwrap();
    // `.project-docs` without a trailing `/`: a `dir/` pattern does not match the symlink
    // provisioning puts there, and `git status` would list it.
    std::fs::write(repo.join(".gitignore"), ".env\n.project-docs\n.okstra/\n").unwrap();
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "one"]);
    git(&repo, &["tag", "v1"]);
    std::fs::write(repo.join("a.txt"), "two\n").unwrap();
    git(&repo, &["commit", "-q", "-am", "two"]);
    std::fs::write(repo.join(".env"), "SECRET=1\n").unwrap();
    std::fs::create_dir_all(repo.join(".project-docs")).unwrap();
    let home = dir.path().join("home").to_string_lossy().into_owned();
    Fixture {
        _dir: dir,
        repo,
        home,
    }
}

impl Fixture {
    fn req(&self, task: &str) -> ProvisionRequest {
        ProvisionRequest {
            task_type: "implementation".into(),
            project_root: self.repo.clone(),
            project_id: "Proj".into(),
            task_group: "grp".into(),
            task_id: task.into(),
            work_category: "feature".into(),
            ..ProvisionRequest::default()
        }
    }

    fn ctx(&self) -> Context {
        Context::resolve(Some(&self.home), None).unwrap()
    }

    fn reg(&self) -> Registry {
        Registry::open(&self.ctx())
    }

    fn worktree_list(&self) -> String {
        git(&self.repo, &["worktree", "list", "--porcelain"])
    }

    /// Everything a refusal must leave unchanged.
    fn snapshot(&self) -> (String, String, Option<Vec<u8>>, Vec<PathBuf>) {
        let reg = std::fs::read(self.reg().file()).ok();
        let root = PathBuf::from(&self.home).join("worktrees");
        let mut files: Vec<PathBuf> = walk(&root)
            .into_iter()
            .filter(|p| !p.starts_with(root.join(".locks")))
            .collect();
        files.sort();
        (
            self.worktree_list(),
            git(&self.repo, &["branch", "--list"]),
            reg,
            files,
        )
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            out.push(p.clone());
            if p.is_dir() && !p.is_symlink() {
                out.extend(walk(&p));
            }
        }
    }
    out
}

fn key(task: &str, stage: Option<u32>, group: Option<&str>) -> KeyParts {
    KeyParts::new("proj", "grp", task, stage, group).unwrap()
}

#[test]
fn created_then_reused_and_git_sees_a_clean_locked_worktree() {
    let _g = serial();
    let f = fixture();
    let r = provision(&f.ctx(), &f.req("Login")).unwrap();
    assert_eq!(r.status, ProvisionStatus::Created, "{r:?}");
    assert_eq!(r.branch, "feat-login");
    assert_eq!(r.base_ref, git(&f.repo, &["rev-parse", "HEAD"]).trim());
    assert!(r.path.ends_with("worktrees/proj/grp/login"), "{}", r.path);
    let list = f.worktree_list();
    assert!(list.contains(&format!("worktree {}", r.path)), "{list}");
    assert!(list.contains("locked okstra task proj/grp/login"), "{list}");
    let wt = Path::new(&r.path);
    assert_eq!(git(wt, &["status", "--porcelain"]), "");
    assert_eq!(
        git(wt, &["rev-parse", "--abbrev-ref", "HEAD"]).trim(),
        "feat-login"
    );
    // Shared state: untracked .env and .project-docs linked; tracked .claude kept.
    assert_eq!(r.linked, vec![".project-docs"]);
    assert_eq!(r.linked_files, vec![".env"]);
    assert!(wt.join(".env").is_symlink());
    assert!(!wt.join(".claude").is_symlink());
    assert!(
        r.note.contains("linked .project-docs; linked-files .env"),
        "{}",
        r.note
    );
    let e = f.reg().lookup(&key("login", None, None)).unwrap().unwrap();
    assert_eq!(e.worktree_path, r.path);
    assert_eq!(e.last_phase, "implementation");

    let mut again = f.req("Login");
    again.task_type = "final-verification".into();
    let r2 = provision(&f.ctx(), &again).unwrap();
    assert_eq!(r2.status, ProvisionStatus::Reused);
    assert_eq!(
        (r2.path.as_str(), r2.branch.as_str()),
        (r.path.as_str(), "feat-login")
    );
    let e = f.reg().lookup(&key("login", None, None)).unwrap().unwrap();
    assert_eq!(e.last_phase, "final-verification");
}

#[test]
fn skipped_outcomes() {
    let _g = serial();
    let f = fixture();
    let plain = tempfile::tempdir().unwrap();
    let mut req = f.req("t");
    req.project_root = plain.path().to_path_buf();
    let r = provision(&f.ctx(), &req).unwrap();
    assert_eq!(r.status, ProvisionStatus::SkippedNotGit);
    assert_eq!(Path::new(&r.path), plain.path());

    let created = provision(&f.ctx(), &f.req("a")).unwrap();
    let mut inside = f.req("b");
    inside.project_root = PathBuf::from(&created.path);
    let r = provision(&f.ctx(), &inside).unwrap();
    assert_eq!(r.status, ProvisionStatus::SkippedInWorktree);
    assert_eq!(r.path, created.path);
    assert!(f.reg().lookup(&key("b", None, None)).unwrap().is_none());
}

#[test]
fn stage_and_group_worktrees_of_two_tasks_side_by_side() {
    let _g = serial();
    let f = fixture();
    let mut paths = Vec::new();
    for task in ["one", "two"] {
        for (stage, group) in [(Some(1), None), (Some(2), None), (None, Some("g1"))] {
            let mut req = f.req(task);
            req.stage = stage;
            req.group_id = group.map(str::to_string);
            let r = provision(&f.ctx(), &req).unwrap();
            assert_eq!(r.status, ProvisionStatus::Created, "{r:?}");
            paths.push((r.path, r.branch));
        }
    }
    let list = f.worktree_list();
    for (p, b) in &paths {
        assert!(
            list.contains(&format!("worktree {p}\n")),
            "{p} missing in {list}"
        );
        assert!(list.contains(&format!("branch refs/heads/{b}\n")), "{b}");
    }
    assert!(paths
        .iter()
        .any(|(p, b)| p.ends_with("grp/one.stage-1") && b == "feat-one-s1"));
    assert!(paths
        .iter()
        .any(|(p, b)| p.ends_with("grp/two.group-g1") && b == "feat-two.group-g1"));
    // Admin names are unique per key even though basenames repeat.
    let admin = std::fs::read_dir(f.repo.join(".git/worktrees"))
        .unwrap()
        .count();
    assert_eq!(admin, 6);
    assert_eq!(
        f.reg()
            .list_active_stage_numbers(&key("one", None, None))
            .unwrap(),
        vec![1, 2]
    );
}

#[test]
fn base_refs_by_branch_tag_and_sha_and_unknown_ref_leaves_nothing() {
    let _g = serial();
    let f = fixture();
    let v1 = git(&f.repo, &["rev-parse", "v1^{commit}"])
        .trim()
        .to_string();
    git(&f.repo, &["branch", "old", &v1]);
    for (task, base) in [
        ("t1", "v1"),
        ("t2", "old"),
        ("t3", v1.as_str()),
        ("t4", &v1[..8]),
    ] {
        let mut req = f.req(task);
        req.base_ref = Some(base.to_string());
        let r = provision(&f.ctx(), &req).unwrap();
        assert_eq!(r.base_ref, v1, "{base}");
        assert_eq!(git(Path::new(&r.path), &["rev-parse", "HEAD"]).trim(), v1);
    }
    let before = f.snapshot();
    let mut req = f.req("t5");
    req.base_ref = Some("no-such-ref".into());
    let e = provision(&f.ctx(), &req).unwrap_err();
    assert_eq!(e.code(), "E_UNKNOWN_REF");
    assert!(e.to_string().contains("no-such-ref"), "{e}");
    assert_eq!(f.snapshot(), before);
}

#[test]
fn refusals_change_nothing() {
    let _g = serial();
    let f = fixture();
    let path = PathBuf::from(&f.home).join("worktrees/proj/grp/taken");
    std::fs::create_dir_all(&path).unwrap();
    let before = f.snapshot();
    let e = provision(&f.ctx(), &f.req("taken")).unwrap_err();
    assert_eq!(e.code(), "E_PATH_EXISTS");
    assert!(e.to_string().contains("no registry entry owns it"), "{e}");
    assert_eq!(f.snapshot(), before);

    git(&f.repo, &["branch", "feat-branchy"]);
    let before = f.snapshot();
    let e = provision(&f.ctx(), &f.req("branchy")).unwrap_err();
    assert_eq!(e.code(), "E_BRANCH_EXISTS");
    assert!(e.to_string().contains("not created by okstra"), "{e}");
    assert!(!e.to_string().contains("branch -D"), "{e}");
    assert_eq!(f.snapshot(), before);

    // Both names the key may get belong to other keys: refused naming the owner.
    for (task, branch) in [("z", "feat-owned"), ("w", "feat-grp-owned")] {
        let other = KeyParts::new("x", "y", task, None, None).unwrap();
        let r = crate::registry::Reservation {
            worktree_path: format!("/elsewhere/{task}"),
            branch: branch.into(),
            base_ref: String::new(),
            phase: String::new(),
            stages: None,
        };
        f.reg().reserve(&other, &r).unwrap();
    }
    let before = f.snapshot();
    let e = provision(&f.ctx(), &f.req("owned")).unwrap_err();
    assert_eq!(e.code(), "E_BRANCH_OWNED");
    assert!(e.to_string().contains("x/y/w (active)"), "{e}");
    assert_eq!(f.snapshot(), before);
    assert!(!f
        .repo
        .join(".git/worktrees")
        .read_dir()
        .is_ok_and(|mut d| d.next().is_some()));

    let mut both = f.req("t");
    both.stage = Some(1);
    both.group_id = Some("g".into());
    assert_eq!(
        provision(&f.ctx(), &both).unwrap_err().code(),
        "E_INVALID_ARG"
    );
}

#[test]
fn stage_from_inside_another_tasks_linked_worktree_uses_the_main_worktree() {
    let _g = serial();
    let f = fixture();
    let a = provision(&f.ctx(), &f.req("a")).unwrap();
    let mut req = f.req("b");
    req.project_root = PathBuf::from(&a.path);
    req.stage = Some(1);
    let r = provision(&f.ctx(), &req).unwrap();
    assert_eq!(r.status, ProvisionStatus::Created);
    assert_eq!(r.base_ref, git(&f.repo, &["rev-parse", "HEAD"]).trim());
    assert!(f
        .worktree_list()
        .contains(&format!("worktree {}\n", r.path)));
    let env = Path::new(&r.path).join(".env").canonicalize().unwrap();
    assert_eq!(env, f.repo.join(".env").canonicalize().unwrap());
    assert!(is_inside_linked_worktree(Path::new(&a.path)));
    assert!(!is_inside_linked_worktree(&f.repo));
    let main = main_worktree_path(Path::new(&a.path)).unwrap();
    assert_eq!(main.canonicalize().unwrap(), f.repo.canonicalize().unwrap());
    // A subdirectory of the main worktree provisions from the main worktree too.
    std::fs::create_dir_all(f.repo.join("sub/dir")).unwrap();
    let mut sub = f.req("c");
    sub.project_root = f.repo.join("sub/dir");
    let r = provision(&f.ctx(), &sub).unwrap();
    assert_eq!(r.linked_files, vec![".env"]);
}

#[test]
fn snapshots_are_read_only_and_unsafe_entries_are_noted() {
    let _g = serial();
    let f = fixture();
    std::fs::create_dir_all(f.repo.join(".okstra")).unwrap();
    std::fs::write(f.repo.join("data.db"), "rows").unwrap();
    std::fs::write(
        f.repo.join(".okstra/project.json"),
        r#"{"worktreeSnapshotFiles": ["data.db", "../evil", "/etc/passwd", "missing.db"],
            "worktreeSyncDirs": []}"#,
    )
    .unwrap();
    let r = provision(&f.ctx(), &f.req("snap")).unwrap();
    assert_eq!(r.snapshots, vec!["data.db"]);
    assert!(r.linked.is_empty());
    let meta = std::fs::metadata(Path::new(&r.path).join("data.db")).unwrap();
    assert!(!meta.file_type().is_symlink());
    assert_eq!(meta.permissions().mode() & 0o777, 0o444);
    assert!(r.note.contains("snapshot data.db"), "{}", r.note);
    assert!(
        r.note.contains(r#"skipped unsafe entry "../evil""#),
        "{}",
        r.note
    );
    assert!(
        r.note.contains(r#"skipped unsafe entry "/etc/passwd""#),
        "{}",
        r.note
    );
}

#[test]
fn the_env_wins_over_project_json_and_empty_disables() {
    crate::testutil::run_with_env!(
        the_env_wins_over_project_json_and_empty_disables,
        "OKSTRA_WORKTREE_SYNC_FILES" => " x.env : y.env ",
        "OKSTRA_WORKTREE_SYNC_DIRS" => "",
    );
    let f = fixture();
    std::fs::create_dir_all(f.repo.join(".okstra")).unwrap();
    std::fs::write(
        f.repo.join(".okstra/project.json"),
        r#"{"worktreeSyncFiles": ["a.env"], "worktreeSyncDirs": [".scratch"]}"#,
    )
    .unwrap();
    let e = resolve_sync_entries(&f.repo);
    assert_eq!(e.files, ["x.env", "y.env"]);
    assert!(e.dirs.is_empty());
}

#[test]
fn precedence_env_then_project_json_then_default() {
    let _g = serial();
    let f = fixture();
    let d = resolve_sync_entries(&f.repo);
    assert_eq!(
        d.dirs,
        [".project-docs", ".scratch", "graphify-out", ".claude"]
    );
    assert_eq!(d.files, [".env"]);
    assert!(d.snapshots.is_empty());
    // Legacy location is read when the current one is absent.
    std::fs::create_dir_all(f.repo.join(".project-docs/okstra")).unwrap();
    std::fs::write(
        f.repo.join(".project-docs/okstra/project.json"),
        r#"{"worktreeSyncFiles": ["legacy.env"]}"#,
    )
    .unwrap();
    assert_eq!(resolve_sync_entries(&f.repo).files, ["legacy.env"]);
    std::fs::create_dir_all(f.repo.join(".okstra")).unwrap();
    std::fs::write(
        f.repo.join(".okstra/project.json"),
        r#"{"worktreeSyncFiles": ["./a.env", "a.env/", "b.env"], "worktreeSyncDirs": []}"#,
    )
    .unwrap();
    let p = resolve_sync_entries(&f.repo);
    assert_eq!(p.files, ["a.env", "b.env"]);
    assert!(p.dirs.is_empty());
    assert_eq!(clean_gate_excludes(&f.repo), [".okstra", "a.env", "b.env"]);
    std::fs::write(f.repo.join(".okstra/project.json"), "{not json").unwrap();
    let bad = resolve_sync_entries(&f.repo);
    assert_eq!(bad.files, [".env"]);
    assert!(
        bad.notes[0].contains("not a valid project.json"),
        "{:?}",
        bad.notes
    );
}

#[test]
fn release_unlocks_and_git_can_remove_and_prune() {
    let _g = serial();
    let f = fixture();
    let r = provision(&f.ctx(), &f.req("rel")).unwrap();
    let k = key("rel", None, None);
    let e = release_worktree(&f.reg(), &k).unwrap().unwrap();
    assert_eq!(e.status, crate::registry::EntryStatus::Released);
    assert!(!f.worktree_list().contains("locked"));
    git(&f.repo, &["worktree", "remove", &r.path]);
    git(&f.repo, &["worktree", "prune"]);
    assert!(!f.worktree_list().contains(&r.path));
    // The key can be provisioned again once its branch is gone.
    git(&f.repo, &["branch", "-D", "feat-rel"]);
    assert_eq!(
        provision(&f.ctx(), &f.req("rel")).unwrap().status,
        ProvisionStatus::Created
    );
}

#[test]
fn a_refused_reactivation_takes_its_git_lock_off_again() {
    let _g = serial();
    let f = fixture();
    let r = provision(&f.ctx(), &f.req("re")).unwrap();
    let k = key("re", None, None);
    release_worktree(&f.reg(), &k).unwrap().unwrap();
    assert!(!f.worktree_list().contains("locked"));
    // Another key takes the released entry's branch: reserving it anew is refused.
    f.reg()
        .reserve(
            &key("other", None, None),
            &crate::registry::Reservation {
                worktree_path: "/elsewhere".into(),
                branch: r.branch.clone(),
                base_ref: String::new(),
                phase: "implementation".into(),
                stages: None,
            },
        )
        .unwrap();
    let e = provision(&f.ctx(), &f.req("re")).unwrap_err();
    assert_eq!(e.code(), "E_BRANCH_OWNED", "{e}");
    assert!(
        !f.worktree_list().contains("locked"),
        "{}",
        f.worktree_list()
    );
    assert_eq!(
        f.reg().lookup(&k).unwrap().unwrap().status,
        crate::registry::EntryStatus::Released
    );
}

#[test]
fn remove_provisioned_undoes_everything() {
    let _g = serial();
    let f = fixture();
    let mut req = f.req("col");
    req.group_id = Some("g1".into());
    let r = provision(&f.ctx(), &req).unwrap();
    let k = key("col", None, Some("g1"));
    let e = remove_provisioned(&f.ctx(), &f.repo, &k).unwrap().unwrap();
    assert_eq!(e.status, crate::registry::EntryStatus::Released);
    assert!(!Path::new(&r.path).exists());
    assert!(!f.worktree_list().contains(&r.path));
    assert_eq!(git(&f.repo, &["branch", "--list", "feat-col-g1"]), "");
    assert_eq!(
        provision(&f.ctx(), &req).unwrap().status,
        ProvisionStatus::Created
    );
}

#[test]
fn doctor_compares_registry_with_git() {
    let _g = serial();
    let f = fixture();
    let a = provision(&f.ctx(), &f.req("a")).unwrap();
    let b = provision(&f.ctx(), &f.req("b")).unwrap();
    assert!(doctor(&f.reg()).unwrap().ok);
    git(Path::new(&a.path), &["checkout", "-q", "-b", "elsewhere"]);
    // Released in the registry alone: git still holds okstra's lock on it.
    f.reg().release(&key("b", None, None)).unwrap();
    let rep = doctor(&f.reg()).unwrap();
    let codes: Vec<&str> = rep.problems.iter().map(|p| p.code.as_str()).collect();
    assert!(codes.contains(&"branch-switched"), "{rep:?}");
    assert!(codes.contains(&"worktree-locked-orphan"), "{rep:?}");
    assert!(!rep.ok);
    assert!(rep.problems.iter().any(|p| p.detail.contains(&b.path)));
}

#[test]
fn busy_git_ref_lock_is_waited_out() {
    let _g = serial();
    let f = fixture();
    let lock = f.repo.join(".git/refs/heads/feat-busy.lock");
    std::fs::write(&lock, "").unwrap();
    let remover = std::thread::spawn({
        let lock = lock.clone();
        move || {
            std::thread::sleep(std::time::Duration::from_millis(300));
            std::fs::remove_file(lock).unwrap();
        }
    });
    let r = provision(&f.ctx(), &f.req("busy")).unwrap();
    remover.join().unwrap();
    assert_eq!(r.status, ProvisionStatus::Created);
}

#[test]
fn upsert_project_json_keeps_foreign_fields_and_refuses_other_ids() {
    let _g = serial();
    let f = fixture();
    let v = upsert_project_json(&f.repo, "proj", Duration::from_secs(5)).unwrap();
    assert_eq!(v["projectId"], "proj");
    let path = f.repo.join(".okstra/project.json");
    let mut data: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let created = data["createdAt"].clone();
    data["worktreeSyncDirs"] = serde_json::json!([".x"]);
    std::fs::write(&path, serde_json::to_vec(&data).unwrap()).unwrap();
    let v = upsert_project_json(&f.repo, "proj", Duration::from_secs(5)).unwrap();
    assert_eq!(v["worktreeSyncDirs"], serde_json::json!([".x"]));
    assert_eq!(v["createdAt"], created);
    let before = std::fs::read(&path).unwrap();
    let e = upsert_project_json(&f.repo, "other", Duration::from_secs(5)).unwrap_err();
    assert_eq!(e.code(), "E_PROJECT_ID_MISMATCH");
    assert!(e.to_string().contains("--project-id proj"), "{e}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn attributes_still_apply_filters() {
    let _g = serial();
    let f = fixture();
    std::fs::write(f.repo.join(".gitattributes"), "*.txt text eol=crlf\n").unwrap();
    git(&f.repo, &["add", ".gitattributes"]);
    git(&f.repo, &["commit", "-q", "-m", "attrs"]);
    let r = provision(&f.ctx(), &f.req("crlf")).unwrap();
    let wt = Path::new(&r.path);
    assert_eq!(std::fs::read(wt.join("a.txt")).unwrap(), b"two\r\n");
    assert_eq!(git(wt, &["status", "--porcelain"]), "");
}

#[test]
fn remove_provisioned_never_deletes_a_directory_git_does_not_list() {
    let _g = serial();
    let f = fixture();
    let k = key("foreign", None, None);
    let r = crate::registry::Reservation {
        worktree_path: f.repo.to_string_lossy().into_owned(),
        branch: "feat-foreign".into(),
        base_ref: String::new(),
        phase: String::new(),
        stages: None,
    };
    f.reg().reserve(&k, &r).unwrap();
    let e = remove_provisioned(&f.ctx(), &f.repo, &k).unwrap().unwrap();
    assert_eq!(e.status, crate::registry::EntryStatus::Released);
    assert!(f.repo.join("a.txt").exists());
    assert!(
        remove_provisioned(&f.ctx(), &f.repo, &key("absent", None, None))
            .unwrap()
            .is_none()
    );
}

#[test]
fn gone_directories_show_as_prunable_and_block_reprovisioning_clearly() {
    let _g = serial();
    let f = fixture();
    let a = provision(&f.ctx(), &f.req("a")).unwrap();
    provision(&f.ctx(), &f.req("b")).unwrap();
    std::fs::remove_dir_all(&a.path).unwrap();
    let rep = doctor(&f.reg()).unwrap();
    let codes: Vec<&str> = rep.problems.iter().map(|p| p.code.as_str()).collect();
    assert!(codes.contains(&"worktree-missing"), "{rep:?}");
    assert!(codes.contains(&"worktree-prunable"), "{rep:?}");
    // Released but never pruned, branch deleted behind git's back: the next provision
    // prunes git's leftover record of the key (okstra's lock on it) and creates anew.
    release_worktree(&f.reg(), &key("a", None, None)).unwrap();
    git(&f.repo, &["update-ref", "-d", "refs/heads/feat-a"]);
    assert!(f.worktree_list().contains("locked okstra task proj/grp/a"));
    assert_eq!(
        provision(&f.ctx(), &f.req("a")).unwrap().status,
        ProvisionStatus::Created
    );
    assert!(doctor(&f.reg()).unwrap().ok);
    // A leftover someone else locked is theirs: refused, naming it, nothing changed.
    let b = f.reg().lookup(&key("b", None, None)).unwrap().unwrap();
    git(&f.repo, &["worktree", "unlock", &b.worktree_path]);
    git(
        &f.repo,
        &["worktree", "lock", "--reason", "mine", &b.worktree_path],
    );
    std::fs::remove_dir_all(&b.worktree_path).unwrap();
    release_worktree(&f.reg(), &key("b", None, None)).unwrap();
    git(&f.repo, &["update-ref", "-d", "refs/heads/feat-b"]);
    let before = f.snapshot();
    let e = provision(&f.ctx(), &f.req("b")).unwrap_err();
    assert_eq!(e.code(), "E_WORKTREE_STALE");
    assert!(e.to_string().contains("git worktree prune"), "{e}");
    assert_eq!(f.snapshot(), before);
}

#[test]
fn legacy_nested_rows_keep_their_path_and_new_stages_go_beside_the_task() {
    let _g = serial();
    let f = fixture();
    let task = provision(&f.ctx(), &f.req("nest")).unwrap();
    // A row the Python helper wrote: the stage nested inside the task worktree.
    let legacy = format!("{}/stage-1", task.path);
    f.reg()
        .reserve(
            &key("nest", Some(1), None),
            &crate::registry::Reservation {
                worktree_path: legacy.clone(),
                branch: "feat-nest-s1".into(),
                base_ref: task.base_ref.clone(),
                phase: "implementation".into(),
                stages: None,
            },
        )
        .unwrap();
    let mut req = f.req("nest");
    req.stage = Some(1);
    // The row names no worktree yet: `reused` means the worktree is there (issue #19), so
    // it is made at the row's own (nested) path.
    let r = provision(&f.ctx(), &req).unwrap();
    assert_eq!(
        (r.status, r.path.as_str()),
        (ProvisionStatus::Created, legacy.as_str())
    );
    assert_eq!(
        provision(&f.ctx(), &req).unwrap().status,
        ProvisionStatus::Reused
    );
    req.stage = Some(2);
    let r = provision(&f.ctx(), &req).unwrap();
    assert_eq!(r.status, ProvisionStatus::Created);
    assert_eq!(r.path, format!("{}.stage-2", task.path));
    // The task worktree does not see the new stage beside it; only the legacy nested one
    // (the Python layout, now made since its row named no worktree) shows.
    assert_eq!(
        git(
            Path::new(&task.path),
            &["status", "--porcelain", "--untracked-files=all"]
        ),
        "?? stage-1/"
    );
}

#[test]
fn a_tracked_symlink_on_the_way_lets_nothing_out() {
    crate::testutil::run_with_env!(
        a_tracked_symlink_on_the_way_lets_nothing_out,
        "OKSTRA_WORKTREE_SYNC_DIRS" => "a/b",
        "OKSTRA_WORKTREE_SNAPSHOT_FILES" => "a/s.db",
        "OKSTRA_WORKTREE_COPY_ENTRIES" => "a/c",
    );
    let f = fixture();
    let outside = f.repo.parent().unwrap().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    // The base commit tracks `a -> <outside>`; HEAD has a real `a/` with ignored state.
    std::os::unix::fs::symlink(&outside, f.repo.join("a")).unwrap();
    git(&f.repo, &["add", "a"]);
    git(&f.repo, &["commit", "-q", "-m", "link"]);
    let base = git(&f.repo, &["rev-parse", "HEAD"]);
    git(&f.repo, &["rm", "-q", "a"]);
    git(&f.repo, &["commit", "-q", "-m", "dir"]);
    for p in ["a/b/x", "a/s.db", "a/c/y"] {
        crate::testutil::write(&f.repo.join(p), "state");
    }
    std::fs::write(f.repo.join(".git/info/exclude"), "/a/\n").unwrap();
    let mut req = f.req("esc");
    req.base_ref = Some(base);
    let r = provision(&f.ctx(), &req).unwrap();
    assert_eq!(r.status, ProvisionStatus::Created);
    assert_eq!(
        std::fs::read_dir(&outside).unwrap().count(),
        0,
        "{}",
        r.note
    );
    assert!(r.linked.is_empty() && r.snapshots.is_empty() && r.copied.is_empty());
    assert!(r.cloned.is_empty());
    assert_eq!(
        r.note.matches("a in the worktree is a symlink").count(),
        3,
        "{}",
        r.note
    );
}

#[test]
fn a_source_leading_outside_the_main_worktree_is_skipped() {
    let _g = serial();
    let f = fixture();
    let outside = f.repo.parent().unwrap().join("elsewhere");
    std::fs::create_dir_all(&outside).unwrap();
    std::os::unix::fs::symlink(&outside, f.repo.join(".scratch")).unwrap();
    std::fs::write(f.repo.join(".git/info/exclude"), ".scratch\n").unwrap();
    let r = provision(&f.ctx(), &f.req("src-out")).unwrap();
    assert!(!r.linked.contains(&".scratch".to_string()), "{r:?}");
    assert!(
        r.note
            .contains("skipped .scratch: in the main worktree it is a symlink leading outside it"),
        "{}",
        r.note
    );
    assert!(Path::new(&r.path)
        .join(".scratch")
        .symlink_metadata()
        .is_err());
}

#[test]
fn copies_are_private_listed_and_ignored_by_git() {
    crate::testutil::run_with_env!(
        copies_are_private_listed_and_ignored_by_git,
        "OKSTRA_WORKTREE_COPY_ENTRIES" => "node_modules:conf/local.json",
        "OKSTRA_WORKTREE_SYNC_DIRS" => "node_modules:.project-docs",
    );
    let f = fixture();
    crate::testutil::write(
        &f.repo.join("node_modules/pkg/index.js"),
        "module.exports = 1\n",
    );
    crate::testutil::write(&f.repo.join("conf/local.json"), "{}");
    let r = provision(&f.ctx(), &f.req("cp")).unwrap();
    let mut all: Vec<String> = r.cloned.iter().chain(&r.copied).cloned().collect();
    all.sort();
    assert_eq!(all, ["conf/local.json", "node_modules"], "{}", r.note);
    assert_eq!(r.linked, [".project-docs"]);
    let wt = Path::new(&r.path);
    let copy = wt.join("node_modules/pkg/index.js");
    assert!(!wt
        .join("node_modules")
        .symlink_metadata()
        .unwrap()
        .file_type()
        .is_symlink());
    std::fs::write(&copy, "changed").unwrap();
    assert_eq!(
        std::fs::read_to_string(f.repo.join("node_modules/pkg/index.js")).unwrap(),
        "module.exports = 1\n"
    );
    assert_eq!(
        git(wt, &["status", "--porcelain", "--untracked-files=all"]),
        ""
    );
    let exclude = std::fs::read_to_string(f.repo.join(".git/info/exclude")).unwrap();
    assert!(
        exclude.contains("/node_modules\n") && exclude.contains("/conf/local.json\n"),
        "{exclude}"
    );
}

#[test]
fn a_gitignore_negation_takes_the_entry_out_again() {
    let _g = serial();
    let f = fixture();
    std::fs::write(
        f.repo.join(".gitignore"),
        ".env\n.okstra/\n!.project-docs\n",
    )
    .unwrap();
    git(&f.repo, &["commit", "-q", "-am", "negate"]);
    let r = provision(&f.ctx(), &f.req("neg")).unwrap();
    assert!(r.linked.is_empty(), "{r:?}");
    assert!(
        r.note.contains("took .project-docs out again"),
        "{}",
        r.note
    );
    let wt = Path::new(&r.path);
    assert!(wt.join(".project-docs").symlink_metadata().is_err());
    assert_eq!(
        git(wt, &["status", "--porcelain", "--untracked-files=all"]),
        ""
    );
}
