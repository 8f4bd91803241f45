//! Doctor, repair and prune with real repositories and real processes: two homes on one
//! repository, repair racing provisioning, a corrupt registry rebuilt from git, gone
//! worktrees' records cleared, temp debris and journal records naming other directories.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::tests::serial;
use super::*;
use crate::context::Context;
use crate::error::Coded;
use crate::ids::KeyParts;
use crate::registry::{EntryStatus, Registry};
use crate::testutil::git;

struct Repo {
    dir: tempfile::TempDir,
    repo: PathBuf,
}

fn repo() -> Repo {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("a.txt"), "one\n").unwrap();
    std::fs::write(repo.join(".gitignore"), ".okstra/\n").unwrap();
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "one"]);
    Repo { dir, repo }
}

impl Repo {
    fn home(&self, name: &str) -> Context {
        let h = self.dir.path().join(name);
        Context::resolve(Some(&h.to_string_lossy()), None).unwrap()
    }

    fn req(&self, task: &str) -> ProvisionRequest {
        ProvisionRequest {
            task_type: "implementation".into(),
            project_root: self.repo.clone(),
            project_id: "p".into(),
            task_group: "g".into(),
            task_id: task.into(),
            work_category: "feature".into(),
            ..ProvisionRequest::default()
        }
    }

    fn list(&self) -> String {
        git(&self.repo, &["worktree", "list", "--porcelain"])
    }

    fn branches(&self) -> String {
        git(
            &self.repo,
            &["branch", "--list", "--format=%(refname:short)"],
        )
    }
}

fn key(task: &str) -> KeyParts {
    KeyParts::new("p", "g", task, None, None).unwrap()
}

fn codes(ctx: &Context) -> Vec<String> {
    doctor(&Registry::open(ctx))
        .unwrap()
        .problems
        .iter()
        .map(|p| p.code.as_str().to_string())
        .collect()
}

/// The `locked …` line git shows for the worktree at `path`, if any.
fn lock_line(list: &str, path: &str) -> Option<String> {
    let canon = Path::new(path).canonicalize().ok()?;
    let mut lines = list.lines();
    while let Some(l) = lines.next() {
        if l.strip_prefix("worktree ").map(Path::new) == Some(canon.as_path()) {
            for m in lines.by_ref() {
                if m.is_empty() {
                    break;
                }
                if m.starts_with("locked") {
                    return Some(m.to_string());
                }
            }
        }
    }
    None
}

#[test]
fn two_homes_on_one_repository_never_touch_each_other() {
    let _g = serial();
    let r = repo();
    let (a, b) = (r.home("home-a"), r.home("home-b"));
    let a1 = provision(&a, &r.req("a1")).unwrap();
    // Released, its directory kept.
    provision(&a, &r.req("a2")).unwrap();
    release_worktree(&Registry::open(&a), &key("a2")).unwrap();
    // Released, its directory removed with git: only the branch is left.
    let a3 = provision(&a, &r.req("a3")).unwrap();
    release_worktree(&Registry::open(&a), &key("a3")).unwrap();
    git(&r.repo, &["worktree", "remove", "--force", &a3.path]);
    // Hand-deleted and released: git's record stays, locked.
    let a4 = provision(&a, &r.req("a4")).unwrap();
    std::fs::remove_dir_all(&a4.path).unwrap();
    release_worktree(&Registry::open(&a), &key("a4")).unwrap();
    let b1 = provision(&b, &r.req("b1")).unwrap();

    let before = (r.list(), r.branches());
    assert_eq!(codes(&b), Vec::<String>::new(), "B sees nothing of A's");
    let fixed = repair(&Registry::open(&b)).unwrap();
    assert!(fixed.cleared.is_empty(), "{fixed:?}");
    let pruned = prune(&Registry::open(&b), false, Some(&r.repo)).unwrap();
    assert!(pruned.unlocked.is_empty(), "{pruned:?}");
    assert_eq!((r.list(), r.branches()), before, "B changed nothing of A's");

    // A's own debris is A's to clear, and leaves B's alone.
    assert_eq!(codes(&a), vec!["worktree-prunable".to_string()]);
    let fixed = repair(&Registry::open(&a)).unwrap();
    assert_eq!(fixed.cleared.len(), 1, "{fixed:?}");
    assert!(doctor(&Registry::open(&a)).unwrap().ok);
    assert!(doctor(&Registry::open(&b)).unwrap().ok);
    assert!(lock_line(&r.list(), &b1.path).is_some());
    assert!(lock_line(&r.list(), &a1.path).is_some());
    assert!(
        r.branches().contains(&a3.branch),
        "a released branch is kept"
    );
}

/// Many rounds of repair beside provisioning in one process: a smoke test of the locking
/// (no deadlock, nothing lost). It does not force the interleaving that unlocked active
/// worktrees before repair took provisioning's locks; `__test__/repair.test.mjs` does, with
/// strace holding the repair while a provisioning runs (its SIGKILL loop and the held-repair
/// test fail on that code).
#[test]
fn repair_racing_provisioning_never_unlocks_an_active_worktree() {
    let _g = serial();
    let r = repo();
    let ctx = r.home("home");
    let stop = std::sync::atomic::AtomicBool::new(false);
    let rounds = std::thread::scope(|s| {
        let repairer = s.spawn(|| {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                repair(&Registry::open(&ctx)).unwrap();
                n += 1;
            }
            n
        });
        for i in 0..24 {
            let out = provision(&ctx, &r.req(&format!("k{i}"))).unwrap();
            assert_eq!(out.status, ProvisionStatus::Created);
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        repairer.join().unwrap()
    });
    assert!(rounds > 3, "repair ran {rounds} times");
    let list = r.list();
    for e in Registry::open(&ctx).list(None, None).unwrap() {
        assert!(e.is_active(), "{e:?}");
        assert!(
            lock_line(&list, &e.worktree_path).is_some(),
            "{e:?} lost its lock"
        );
    }
    assert!(doctor(&Registry::open(&ctx)).unwrap().ok);
}

#[test]
fn a_corrupt_registry_is_rebuilt_from_gits_records() {
    let _g = serial();
    let r = repo();
    let ctx = r.home("home");
    let reg = Registry::open(&ctx);
    let a = provision(&ctx, &r.req("a")).unwrap();
    let b = provision(&ctx, &r.req("b")).unwrap();
    git(
        Path::new(&b.path),
        &["commit", "-q", "--allow-empty", "-m", "work"],
    );
    let was = |k: &str| reg.lookup(&key(k)).unwrap().unwrap();
    let (ea, eb) = (was("a"), was("b"));
    // One stray comma, in the middle of a row.
    let text = std::fs::read_to_string(reg.file()).unwrap();
    let broken = text.replacen("\"branch\"", ",\"branch\"", 2);
    std::fs::write(reg.file(), broken).unwrap();
    assert_eq!(
        doctor(&reg).unwrap_err().code(),
        "E_REGISTRY_CORRUPT",
        "doctor refuses a corrupt registry"
    );
    let fixed = repair(&reg).unwrap();
    assert!(fixed.registry.moved_to.is_some(), "{fixed:?}");
    for (e, out) in [(&ea, &a), (&eb, &b)] {
        let now = reg.lookup(&key(&e.task_id)).unwrap().unwrap();
        assert_eq!(now.status, EntryStatus::Active);
        assert_eq!(
            (&now.worktree_path, &now.branch, &now.base_ref),
            (&e.worktree_path, &e.branch, &e.base_ref),
            "{fixed:?}"
        );
        assert!(lock_line(&r.list(), &out.path).is_some());
    }
    assert!(doctor(&reg).unwrap().ok, "{:?}", doctor(&reg).unwrap());
    assert_eq!(
        provision(&ctx, &r.req("b")).unwrap().status,
        ProvisionStatus::Reused
    );
}

#[test]
fn gone_worktrees_records_are_cleared_by_prune_and_repair() {
    let _g = serial();
    let r = repo();
    let ctx = r.home("home");
    let reg = Registry::open(&ctx);
    // A hand-deleted directory, then `release`: git's record stays (locked).
    let a = provision(&ctx, &r.req("a")).unwrap();
    std::fs::remove_dir_all(&a.path).unwrap();
    release_worktree(&reg, &key("a")).unwrap();
    // A killed `prune --apply`: the row released, git not yet told.
    let b = provision(&ctx, &r.req("b")).unwrap();
    std::fs::remove_dir_all(&b.path).unwrap();
    reg.prune(false).unwrap();
    assert_eq!(codes(&ctx), vec!["worktree-prunable", "worktree-prunable"]);
    let pruned = prune(&reg, false, None).unwrap();
    assert_eq!(pruned.unlocked.len(), 2, "{pruned:?}");
    assert!(doctor(&reg).unwrap().ok);
    assert!(!r.list().contains(&a.path) && !r.list().contains(&b.path));
    // The same through repair.
    let c = provision(&ctx, &r.req("c")).unwrap();
    std::fs::remove_dir_all(&c.path).unwrap();
    release_worktree(&reg, &key("c")).unwrap();
    assert_eq!(repair(&reg).unwrap().cleared.len(), 1);
    assert!(doctor(&reg).unwrap().ok);
}

/// A pid no process has (a child that has been waited for).
fn dead_pid() -> u32 {
    let mut c = std::process::Command::new("true").spawn().unwrap();
    let pid = c.id();
    c.wait().unwrap();
    pid
}

fn aged(path: &Path, secs: u64) {
    let f = std::fs::File::options().write(true).open(path).unwrap();
    f.set_modified(SystemTime::now() - Duration::from_secs(secs))
        .unwrap();
}

#[test]
fn temp_files_of_dead_writers_are_reported_and_removed() {
    let _g = serial();
    let r = repo();
    let ctx = r.home("home");
    let reg = Registry::open(&ctx);
    provision(&ctx, &r.req("a")).unwrap();
    let dead = dead_pid();
    let me = std::process::id();
    let root = reg.root().to_path_buf();
    let okstra = r.repo.join(".okstra").join("runs");
    std::fs::create_dir_all(&okstra).unwrap();
    let stale = [
        root.join(format!(".registry.json.tmp-{dead}-0-1f")),
        okstra.join(format!(".final-report-x.data.json.tmp-{dead}-3-2a")),
        r.repo
            .join(".okstra")
            .join(format!(".project.json.tmp-{me}-0-ff")),
    ];
    let kept = [
        // Dead writer, but young: a slow write of a writer in another pid namespace.
        root.join(format!(".registry.json.tmp-{dead}-1-1f")),
        // A live writer (this process), not yet 10 min old.
        root.join(format!(".registry.idx.tmp-{me}-0-1")),
        // Not a temp name of an atomic write.
        root.join("notes.tmp"),
    ];
    for p in stale.iter().chain(&kept) {
        std::fs::write(p, "partial").unwrap();
    }
    aged(&stale[0], 120);
    aged(&stale[1], 120);
    aged(&stale[2], 3600);
    aged(&kept[1], 120);
    aged(&kept[2], 3600);
    let rep = doctor(&reg).unwrap();
    let temps: Vec<&str> = rep
        .problems
        .iter()
        .filter(|p| p.code.as_str() == "temp-file-stale")
        .map(|p| p.detail.as_str())
        .collect();
    assert_eq!(temps.len(), 3, "{rep:?}");
    let fixed = repair(&reg).unwrap();
    assert_eq!(fixed.cleared.len(), 3, "{fixed:?}");
    assert!(stale.iter().all(|p| !p.exists()));
    assert!(kept.iter().all(|p| p.exists()));
    assert!(doctor(&reg).unwrap().ok);
}

#[test]
fn a_journal_record_naming_another_directory_is_refused_not_deleted() {
    let _g = serial();
    let r = repo();
    let ctx = r.home("home");
    let reg = Registry::open(&ctx);
    let victim = r.dir.path().join("precious");
    std::fs::create_dir_all(&victim).unwrap();
    std::fs::write(victim.join("keep.txt"), "mine").unwrap();
    let record = journal::file(&reg, journal::Op::Provision, "p/g/evil");
    let intent = journal::Intent {
        task_key: "p/g/evil".into(),
        git_dir: r.repo.join(".git"),
        path: victim.clone(),
        admin: "evil".into(),
        branch: "feat-evil".into(),
        base: git(&r.repo, &["rev-parse", "HEAD"]),
        branch_existed: false,
        created_parent: None,
        pid: dead_pid(),
        started_at: "then".into(),
    };
    journal::write(&record, &intent).unwrap();
    // Provisioning that key refuses, touching nothing.
    let e = provision(&ctx, &r.req("evil")).unwrap_err();
    assert_eq!(e.code(), "E_JOURNAL_REFUSED", "{e}");
    assert!(victim.join("keep.txt").exists() && record.exists());
    assert_eq!(codes(&ctx), vec!["journal-refused"]);
    let fixed = repair(&reg).unwrap();
    assert_eq!(fixed.cleared.len(), 1);
    assert!(
        victim.join("keep.txt").exists(),
        "nothing outside the root deleted"
    );
    assert!(!record.exists());
    assert!(doctor(&reg).unwrap().ok);
    // An admin name reaching out of `.git/worktrees/` is refused the same way.
    let inside = reg.root().join("p").join("g").join("x");
    let sneaky = journal::Intent {
        path: inside,
        admin: "../../..".into(),
        ..intent
    };
    journal::write(&record, &sneaky).unwrap();
    assert_eq!(codes(&ctx), vec!["journal-refused"]);
    repair(&reg).unwrap();
    assert!(r.repo.join(".git").join("HEAD").exists());
}
