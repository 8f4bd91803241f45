//! The collector is a worktree like the others, and re-running assemble is safe: the
//! collector is compared file by file with `git worktree add` + `git merge` of the same
//! heads (LFS, UTF-16 `working-tree-encoding`, a post-checkout hook, a sparse cone), and a
//! re-run never touches a collector holding someone's work, rebuilds after a rebase, and
//! leaves no journal record behind.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::*;
use crate::context::Context;
use crate::ids::KeyParts;
use crate::registry::{Registry, Reservation};
use crate::testutil::{git, write};
use crate::worktree::fidelity_tests::{assert_same_tree, hostile_fixture, new_repo};
use crate::worktree::tests::serial;

const T: std::time::Duration = std::time::Duration::from_secs(30);

/// A plan run over `repo`: stages 1..=n with the given heads, all done and verified, none
/// depending on another; the task's implementation base pinned at `base`.
struct Run {
    dir: PathBuf,
    home: String,
    ctx: HandoffContext,
}

impl Run {
    fn new(dir: &Path, repo: &Path, base: &str, heads: &[String]) -> Run {
        let runs = dir.join("run");
        std::fs::create_dir_all(&runs).unwrap();
        let plan = runs.join("plan.md");
        let mut text = String::from("## 5.5 Stage Map\n");
        for n in 1..=heads.len() {
            text.push_str(&format!("- Stage {n}: S{n} — depends-on: (none)\n"));
        }
        std::fs::write(&plan, text).unwrap();
        let home = dir.join("home").to_string_lossy().into_owned();
        let reg = Registry::open(&Context::resolve(Some(&home), None).unwrap());
        let key = KeyParts::new("p", "g", "t", None, None).unwrap();
        reg.reserve(
            &key,
            &Reservation {
                worktree_path: repo.to_string_lossy().into(),
                branch: "feat-t".into(),
                base_ref: base.into(),
                phase: String::new(),
                stages: None,
            },
        )
        .unwrap();
        reg.set_implementation_base(&key, base).unwrap();
        let run = Run {
            dir: dir.to_path_buf(),
            home,
            ctx: HandoffContext {
                plan_run_root: runs,
                approved_plan: plan,
                project_root: repo.to_path_buf(),
                base: None,
                lock_timeout: T,
            },
        };
        for (i, h) in heads.iter().enumerate() {
            run.record(i as u32 + 1, h);
        }
        run
    }

    /// Records `head` as stage `n`'s done head (re-appended, as reconcile does after a
    /// rebase), verified.
    fn record(&self, n: u32, head: &str) {
        let ledger = self.ctx.ledger();
        let mut f = Map::new();
        f.insert("head_commit".into(), Value::String(head.into()));
        f.insert("branch".into(), Value::String(format!("s{n}")));
        assert!(ledger.append("p/g/t", n, "done", true, f).unwrap());
        // One report per verified head (the same report path again is a no-op), tied to
        // the head it verified.
        let report = format!("r{n}-{}.md", &head[..12]);
        ledger
            .append_verified_at("p/g/t", n, "accepted", &report, Some(head))
            .unwrap();
    }

    fn context(&self) -> Context {
        Context::resolve(Some(&self.home), None).unwrap()
    }

    fn assemble(&self, stages: &[u32]) -> Result<Assembled, HandoffError> {
        assemble(
            &self.context(),
            &AssembleRequest {
                ctx: self.ctx.clone(),
                stages: stages.to_vec(),
                project_id: "p".into(),
                task_group: "g".into(),
                task_id: "t".into(),
                work_category: "feature".into(),
                group_id: None,
            },
        )
    }

    fn journal_records(&self) -> Vec<String> {
        match std::fs::read_dir(Path::new(&self.home).join("worktrees/pending")) {
            Ok(d) => d
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect(),
            Err(_) => Vec::new(),
        }
    }
}

/// A commit on a new branch `name` off `from`, made by `change` in the main worktree.
fn stage(repo: &Path, name: &str, from: &str, change: impl FnOnce(&Path)) -> String {
    git(repo, &["checkout", "-q", "-b", name, from]);
    change(repo);
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "-q", "-m", name]);
    let head = git(repo, &["rev-parse", "HEAD"]);
    git(repo, &["checkout", "-q", "main"]);
    head
}

/// `git worktree add` at `base` and `git merge` of each head: the reference collector.
fn reference(repo: &Path, dir: &Path, base: &str, heads: &[String]) {
    let d = dir.to_string_lossy();
    git(
        repo,
        &["worktree", "add", "-q", "-b", "reference", &d, base],
    );
    for h in heads {
        git(dir, &["merge", "-q", "--no-edit", h]);
    }
}

fn utf16(text: &str) -> Vec<u8> {
    let mut out = vec![0xFF, 0xFE];
    out.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    out
}

#[test]
fn the_collector_equals_git_worktree_add_plus_git_merge_with_lfs_encoding_and_hook() {
    let _g = serial();
    let tmp = tempfile::tempdir().unwrap();
    let (repo, _, _) = hostile_fixture(tmp.path());
    let base = git(&repo, &["rev-parse", "HEAD"]);
    let lfs: Vec<u8> = (0..100_000u32).map(|i| (i * 13 % 253) as u8).collect();
    let heads = vec![
        stage(&repo, "s1", "main", |r| {
            std::fs::write(r.join("settings.ini"), utf16("[main]\r\nname=eins\r\n")).unwrap();
            std::fs::write(r.join("more.bin"), &lfs).unwrap();
        }),
        stage(&repo, "s2", "main", |r| {
            std::fs::write(r.join("other.ini"), utf16("[x]\r\ny=zwei ✓\r\n")).unwrap();
            write(&r.join("docs/two.md"), "two\n");
        }),
    ];
    let run = Run::new(tmp.path(), &repo, &base, &heads);
    let a = run.assemble(&[1, 2]).unwrap();
    assert_eq!(a.status, AssembleStatus::Created);
    let made = Path::new(&a.worktree_path);
    let reference_dir = tmp.path().join("reference");
    reference(&repo, &reference_dir, &base, &heads);
    assert_same_tree(made, &reference_dir);
    // The LFS object is the object, not pointer text; the UTF-16 file is UTF-16.
    assert_eq!(std::fs::read(made.join("more.bin")).unwrap(), lfs);
    assert_eq!(
        std::fs::read(made.join("settings.ini")).unwrap(),
        utf16("[main]\r\nname=eins\r\n")
    );
    assert!(made.join(".post-checkout-marker").exists());
    assert_eq!(git(made, &["status", "--porcelain"]), "");
    // Same trees as git's merges.
    assert_eq!(
        git(made, &["rev-parse", "HEAD^{tree}"]),
        git(&reference_dir, &["rev-parse", "HEAD^{tree}"])
    );
    assert!(
        run.journal_records().is_empty(),
        "{:?}",
        run.journal_records()
    );
}

#[test]
fn the_collector_keeps_the_sparse_cone_like_git() {
    let _g = serial();
    let tmp = tempfile::tempdir().unwrap();
    let repo = new_repo(tmp.path());
    for d in ["keep", "skip"] {
        for i in 0..20 {
            write(
                &repo.join(d).join(format!("f{i}.txt")),
                &format!("{d} {i}\n"),
            );
        }
    }
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "tree"]);
    git(&repo, &["sparse-checkout", "set", "--cone", "keep"]);
    let base = git(&repo, &["rev-parse", "HEAD"]);
    let heads = vec![
        stage(&repo, "s1", "main", |r| {
            write(&r.join("keep/new.txt"), "new\n")
        }),
        // A change outside the cone (the main worktree is sparse: widened for it).
        {
            git(&repo, &["checkout", "-q", "-b", "s2", "main"]);
            git(&repo, &["sparse-checkout", "disable"]);
            write(&repo.join("skip/f0.txt"), "changed\n");
            git(&repo, &["commit", "-q", "-am", "s2"]);
            let h = git(&repo, &["rev-parse", "HEAD"]);
            git(&repo, &["checkout", "-q", "main"]);
            git(&repo, &["sparse-checkout", "set", "--cone", "keep"]);
            h
        },
    ];
    let run = Run::new(tmp.path(), &repo, &base, &heads);
    let a = run.assemble(&[1, 2]).unwrap();
    let made = Path::new(&a.worktree_path);
    let reference_dir = tmp.path().join("reference");
    reference(&repo, &reference_dir, &base, &heads);
    assert_same_tree(made, &reference_dir);
    assert!(made.join("keep/new.txt").exists());
    assert!(!made.join("skip").exists());
    assert_eq!(git(made, &["status", "--porcelain"]), "");
}

#[test]
// One collector's story, step after step, each depending on the state the last one left.
#[allow(clippy::too_many_lines)]
fn a_rerun_never_touches_work_in_the_collector_and_leaves_no_record() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = new_repo(tmp.path());
    write(&repo.join("a.txt"), "base\n");
    write(&repo.join("keep.txt"), "keep\n");
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "base"]);
    let base = git(&repo, &["rev-parse", "HEAD"]);
    let heads = vec![
        stage(&repo, "s1", "main", |r| write(&r.join("one.txt"), "1\n")),
        stage(&repo, "s2", "main", |r| write(&r.join("two.txt"), "2\n")),
    ];
    let run = Run::new(tmp.path(), &repo, &base, &heads);
    let first = run.assemble(&[1, 2]).unwrap();
    let wt = PathBuf::from(&first.worktree_path);

    // Stage 1 is rebased (new head): the re-run would have to move the collector.
    git(&repo, &["branch", "-f", "s1b", "s1"]);
    let rebased = stage(&repo, "s1c", "main", |r| {
        write(&r.join("one.txt"), "1 again\n")
    });
    run.record(1, &rebased);

    // Uncommitted edit, untracked file: refused, nothing changed, no record left.
    write(&wt.join("keep.txt"), "my edit\n");
    write(&wt.join("notes.md"), "mine\n");
    let tip = git(&wt, &["rev-parse", "HEAD"]);
    for _ in 0..2 {
        let e = run.assemble(&[1, 2]).unwrap_err();
        assert_eq!(e.code(), "E_COLLECTOR_CHANGED", "{e}");
        assert!(e.to_string().contains("keep.txt"), "{e}");
        assert!(
            run.journal_records().is_empty(),
            "{:?}",
            run.journal_records()
        );
        assert_eq!(git(&wt, &["rev-parse", "HEAD"]), tip);
    }
    // registry repair and doctor do not touch it either.
    let reg = Registry::open(&run.context());
    crate::worktree::repair(&reg).unwrap();
    assert_eq!(
        std::fs::read_to_string(wt.join("keep.txt")).unwrap(),
        "my edit\n"
    );
    assert_eq!(
        std::fs::read_to_string(wt.join("notes.md")).unwrap(),
        "mine\n"
    );

    // Only the untracked file left: still refused.
    git(&wt, &["checkout", "--", "keep.txt"]);
    let e = run.assemble(&[1, 2]).unwrap_err();
    assert_eq!(e.code(), "E_COLLECTOR_CHANGED");
    assert!(e.to_string().contains("notes.md"), "{e}");
    std::fs::remove_file(wt.join("notes.md")).unwrap();

    // A commit of someone's own on the collector branch: refused, not rewritten.
    write(&wt.join("fix.txt"), "fix\n");
    git(&wt, &["add", "fix.txt"]);
    git(&wt, &["commit", "-q", "-m", "a fix made in the collector"]);
    let mine = git(&wt, &["rev-parse", "HEAD"]);
    let e = run.assemble(&[1, 2]).unwrap_err();
    assert_eq!(e.code(), "E_COLLECTOR_CHANGED");
    assert!(e.to_string().contains(&mine), "{e}");
    assert_eq!(git(&wt, &["rev-parse", "HEAD"]), mine);
    git(&wt, &["reset", "-q", "--hard", "HEAD~1"]);

    // Clean: rebuilt from the base with the current heads; the old stage-1 commit is gone
    // from the branch, and the result says what was replaced.
    let again = run.assemble(&[1, 2]).unwrap();
    assert_eq!(again.status, AssembleStatus::Reused);
    let rebuilt = again.rebuilt.clone().expect("rebuilt");
    assert_eq!(rebuilt.previous_tip, tip);
    assert_eq!(
        rebuilt.replaced.iter().map(|m| m.stage).collect::<Vec<_>>(),
        vec![1, 2]
    );
    assert_eq!(rebuilt.replaced[0].commit, heads[0]);
    let history = git(&wt, &["rev-list", "HEAD"]);
    assert!(
        !history.contains(&heads[0]),
        "old stage-1 head still on the branch"
    );
    assert!(history.contains(&rebased));
    assert_eq!(
        std::fs::read_to_string(wt.join("one.txt")).unwrap(),
        "1 again\n"
    );
    assert_eq!(git(&wt, &["status", "--porcelain"]), "");

    // Nothing changed since: the same merges, nothing rebuilt.
    let same = run.assemble(&[1, 2]).unwrap();
    assert_eq!(same.merges, again.merges);
    assert!(same.rebuilt.is_none());
    // Stage 2 only changes: stage 1's merge is kept.
    let two = stage(&repo, "s2c", "main", |r| {
        write(&r.join("two.txt"), "2 again\n")
    });
    run.record(2, &two);
    let third = run.assemble(&[1, 2]).unwrap();
    assert_eq!(third.merges[0], again.merges[0]);
    let r = third.rebuilt.expect("rebuilt");
    assert_eq!(r.replaced.len(), 1);
    assert_eq!(r.replaced[0].stage, 2);
    assert!(run.journal_records().is_empty());
    let _ = &run.dir;
}

#[test]
fn a_custom_merge_driver_and_a_directory_rename_get_gits_verdict_in_assemble() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = new_repo(tmp.path());
    write(&repo.join("d/a.txt"), "a\n");
    write(&repo.join("v.txt"), "1\n");
    write(&repo.join(".gitattributes"), "v.txt merge=keepours\n");
    git(&repo, &["config", "merge.keepours.driver", "true"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "base"]);
    let base = git(&repo, &["rev-parse", "HEAD"]);
    let heads = vec![
        stage(&repo, "s1", "main", |r| write(&r.join("v.txt"), "one\n")),
        stage(&repo, "s2", "main", |r| write(&r.join("v.txt"), "two\n")),
        stage(&repo, "s3", "main", |r| {
            git(r, &["mv", "d", "e"]);
        }),
        stage(&repo, "s4", "main", |r| {
            write(&r.join("d/new.txt"), "new\n")
        }),
    ];
    let run = Run::new(tmp.path(), &repo, &base, &heads);
    // The driver keeps ours: git merges 1 and 2 cleanly.
    let a = run.assemble(&[1, 2]).unwrap();
    assert_eq!(
        std::fs::read_to_string(Path::new(&a.worktree_path).join("v.txt")).unwrap(),
        "one\n"
    );
    // Directory rename + a new file in the old directory: git conflicts, so does okstra.
    let e = run.assemble(&[3, 4]).unwrap_err();
    assert_eq!(e.code(), "E_MERGE_CONFLICT", "{e}");
    assert_eq!(git(&repo, &["worktree", "list"]).lines().count(), 2);
}
