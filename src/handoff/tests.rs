use std::path::Path;

use serde_json::{json, Map, Value};

use super::*;
use crate::context::Context;
use crate::ids::KeyParts;
use crate::registry::{Registry, Reservation};
use crate::testutil::git;

fn commit_on(repo: &Path, branch: &str, from: &str, file: &str, text: &str) -> String {
    git(repo, &["checkout", "-q", "-b", branch, from]);
    std::fs::write(repo.join(file), text).unwrap();
    git(repo, &["add", "."]);
    git(repo, &["commit", "-qm", branch]);
    let head = git(repo, &["rev-parse", "HEAD"]);
    git(repo, &["checkout", "-q", "main"]);
    head
}

struct Fixture {
    _dirs: Vec<tempfile::TempDir>,
    repo: std::path::PathBuf,
    home: String,
    ctx: HandoffContext,
    base: String,
}

const T: std::time::Duration = std::time::Duration::from_secs(30);

impl Fixture {
    fn context(&self) -> Context {
        Context::resolve(Some(&self.home), None).unwrap()
    }
}

/// Stages 1 and 2 edit different files; stage 3 rewrites stage 1's file. All are done and
/// verified; stage 2 depends on stage 1.
fn fixture() -> Fixture {
    let (r, h, p) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let repo = r.path().to_path_buf();
    git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("a.txt"), "base\n").unwrap();
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-qm", "base"]);
    let base = git(&repo, &["rev-parse", "HEAD"]);
    let heads = [
        commit_on(&repo, "s1", "main", "a.txt", "one\n"),
        commit_on(&repo, "s2", "main", "b.txt", "two\n"),
        commit_on(&repo, "s3", "main", "a.txt", "three\n"),
    ];
    let plan = p.path().join("plan.md");
    std::fs::write(&plan, "## 5.5 Stage Map\n- Stage 1: A — depends-on: (none)\n- Stage 2: B — depends-on: 1\n- Stage 3: C — depends-on: (none)\n").unwrap();
    let ledger = Ledger::new(p.path(), T);
    for (i, h) in heads.iter().enumerate() {
        let n = i as u32 + 1;
        let mut f = Map::new();
        f.insert("head_commit".into(), Value::String(h.clone()));
        f.insert("branch".into(), Value::String(format!("s{n}")));
        ledger.append("p/g/t", n, "done", false, f).unwrap();
        ledger
            .append_verified("p/g/t", n, "accepted", &format!("r{n}.md"))
            .unwrap();
    }
    let home = h.path().to_string_lossy().into_owned();
    let reg = Registry::open(&Context::resolve(Some(&home), None).unwrap());
    let key = KeyParts::new("p", "g", "t", None, None).unwrap();
    reg.reserve(
        &key,
        &Reservation {
            worktree_path: repo.to_string_lossy().into(),
            branch: "feat-t".into(),
            base_ref: base.clone(),
            phase: String::new(),
            stages: None,
        },
    )
    .unwrap();
    reg.set_implementation_base(&key, &base).unwrap();
    let ctx = HandoffContext {
        plan_run_root: p.path().into(),
        approved_plan: plan,
        project_root: repo.clone(),
        base: None,
        lock_timeout: T,
    };
    Fixture {
        _dirs: vec![r, h, p],
        repo,
        home,
        ctx,
        base,
    }
}

fn request(f: &Fixture, stages: &[u32]) -> AssembleRequest {
    AssembleRequest {
        ctx: f.ctx.clone(),
        stages: stages.to_vec(),
        project_id: "p".into(),
        task_group: "g".into(),
        task_id: "t".into(),
        work_category: "feature".into(),
        group_id: None,
    }
}

#[test]
fn a_conflict_is_found_in_memory_and_creates_nothing() {
    let f = fixture();
    let e = assemble(&f.context(), &request(&f, &[3, 1])).unwrap_err();
    assert_eq!(e.code(), "E_MERGE_CONFLICT");
    match &e {
        HandoffError::MergeConflict { conflicts } => {
            assert_eq!(
                conflicts,
                &vec![StageConflict {
                    stage: 3,
                    with: vec![1],
                    paths: vec!["a.txt".into()]
                }]
            );
        }
        other => panic!("{other}"),
    }
    assert!(e.to_string().contains("stage 3 × stage 1 on a.txt"), "{e}");
    assert_eq!(git(&f.repo, &["branch", "--list", "feat-t.group-s1-3"]), "");
    assert_eq!(git(&f.repo, &["worktree", "list"]).lines().count(), 1);
}

#[test]
fn assemble_builds_merge_commits_in_dependency_order() {
    let f = fixture();
    let a = assemble(&f.context(), &request(&f, &[2, 1])).unwrap();
    assert_eq!(a.status, AssembleStatus::Created);
    let order: Vec<u32> = a.merges.iter().map(|m| m.stage).collect();
    assert_eq!(order, vec![1, 2]);
    let first = git(
        &f.repo,
        &[
            "rev-list",
            "--parents",
            "-n",
            "1",
            &a.merges[0].merge_commit,
        ],
    );
    assert_eq!(
        first.split(' ').collect::<Vec<_>>(),
        vec![
            a.merges[0].merge_commit.as_str(),
            f.base.as_str(),
            a.merges[0].commit.as_str()
        ]
    );
    assert_eq!(
        git(Path::new(&a.worktree_path), &["rev-parse", "HEAD"]),
        a.merges[1].merge_commit
    );
    assert_eq!(
        std::fs::read_to_string(Path::new(&a.worktree_path).join("b.txt")).unwrap(),
        "two\n"
    );
    let again = assemble(&f.context(), &request(&f, &[1, 2])).unwrap();
    assert_eq!(again.status, AssembleStatus::Reused);
    assert_eq!(again.merges, a.merges);
}

#[test]
fn eligibility_reports_closure_and_missing_verification() {
    let f = fixture();
    Ledger::new(&f.ctx.plan_run_root, T)
        .append_verified("p/g/t", 1, "rejected", "again.md")
        .unwrap();
    let stages = eligible(&f.ctx).unwrap().stages;
    assert!(!stages[0].eligible);
    assert_eq!(stages[1].reasons, vec!["Stage 2 depends on stage 1, which is not merged into main and cannot be handed off with it (stage 1 is not eligible).".to_string()]);
    let e = assemble(&f.context(), &request(&f, &[2])).unwrap_err();
    assert_eq!(e.code(), "E_NOT_ELIGIBLE");
}

#[test]
fn a_dependency_merged_into_the_base_satisfies_closure() {
    let f = fixture();
    git(&f.repo, &["merge", "-q", "--no-edit", "s1"]);
    let stages = eligible(&f.ctx).unwrap().stages;
    assert!(stages[1].eligible, "{:?}", stages[1].reasons);
    let a = assemble(&f.context(), &request(&f, &[2])).unwrap();
    assert_eq!(a.merges.len(), 1);
}

#[test]
fn record_verified_reads_top_level_or_meta_fields() {
    let f = fixture();
    let data = f.ctx.plan_run_root.join("fv.data.json");
    std::fs::write(&data, json!({"taskType": "final-verification", "meta": {"verificationScope": "single-stage"}, "verdictToken": " Accepted "}).to_string()).unwrap();
    let req = RecordVerifiedRequest {
        plan_run_root: f.ctx.plan_run_root.clone(),
        impl_task_key: "p/g/t".into(),
        stage: 3,
        report_path: f.ctx.plan_run_root.join("fv.md"),
        head_commit: None,
        lock_timeout: T,
    };
    assert!(record_verified(&req).unwrap().appended);
    assert!(!record_verified(&req).unwrap().appended);
    let wrong_stage = RecordVerifiedRequest {
        stage: 2,
        ..req.clone()
    };
    std::fs::write(&data, json!({"taskType": "final-verification", "verificationScope": "single-stage", "verdict": {"token": "accepted"}, "stage": 3}).to_string()).unwrap();
    let e = record_verified(&wrong_stage).unwrap_err();
    assert_eq!(e.code(), "E_REPORT_REJECTED");
    assert!(
        e.to_string()
            .contains("the report is for stage 3, not stage 2"),
        "{e}"
    );
}

#[test]
fn record_verified_reads_the_data_beside_the_report_or_the_data_file_given() {
    let f = fixture();
    let root = &f.ctx.plan_run_root;
    std::fs::write(
        root.join("fv-7.data.json"),
        json!({"taskType": "final-verification", "verificationScope": "single-stage", "verdictToken": "accepted"}).to_string(),
    )
    .unwrap();
    let req = |report: &str, stage: u32| RecordVerifiedRequest {
        plan_run_root: root.clone(),
        impl_task_key: "p/g/t".into(),
        stage,
        report_path: root.join(report),
        head_commit: None,
        lock_timeout: T,
    };
    assert!(record_verified(&req("fv-7.md", 1)).unwrap().appended);
    assert!(record_verified(&req("fv-7.data.json", 2)).unwrap().appended);
    assert!(record_verified(&req("fv-7", 3)).unwrap().appended);
    let e = record_verified(&req("fv-8.md", 1)).unwrap_err();
    assert_eq!(e.code(), "E_REPORT_REJECTED");
    assert!(e.to_string().contains("fv-8.data.json"), "{e}");
}
