//! Eligibility against the repository's real default branch, with every integration proof,
//! and verification tied to the commit it verified. Real repositories, the git CLI.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::*;
use crate::context::Context;
use crate::integration::{BaseSource, PatchMatch};
use crate::reconcile::{reconcile, ReconcileRequest};
use crate::testutil::git;

const T: Duration = Duration::from_secs(30);
const KEY: &str = "p/g/t";

/// A repository on `default` with `a` (lines 1..=20); stage 1 (branch `s1`, two commits on
/// lines 5 and 15) and stage 2 (branch `s2`, file `b`) done and verified with rows as the
/// Python helper writes them (no `head_commit` on `verified`); stage 2 depends on stage 1.
struct Plan {
    _dirs: Vec<tempfile::TempDir>,
    repo: PathBuf,
    ctx: HandoffContext,
    home: String,
}

fn edit_line(r: &Path, from: &str, to: &str) -> String {
    let text: String = std::fs::read_to_string(r.join("a"))
        .unwrap()
        .lines()
        .map(|l| format!("{}\n", if l == from { to } else { l }))
        .collect();
    std::fs::write(r.join("a"), text).unwrap();
    git(r, &["commit", "-qam", &format!("{from} -> {to}")]);
    git(r, &["rev-parse", "HEAD"])
}

fn put(r: &Path, name: &str, text: &str) -> String {
    std::fs::write(r.join(name), text).unwrap();
    git(r, &["add", "--", name]);
    git(r, &["commit", "-qm", &format!("put {name}")]);
    git(r, &["rev-parse", "HEAD"])
}

fn plan(default: &str) -> Plan {
    let (r, p, h) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let repo = r.path().join("repo");
    std::fs::create_dir(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", default]);
    let lines: String = (1..=20).map(|n| format!("{n}\n")).collect();
    std::fs::write(repo.join("a"), lines).unwrap();
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-qm", "base"]);
    git(&repo, &["checkout", "-qb", "s1"]);
    edit_line(&repo, "5", "five");
    let h1 = edit_line(&repo, "15", "fifteen");
    git(&repo, &["checkout", "-qb", "s2", default]);
    let h2 = put(&repo, "b", "two\n");
    git(&repo, &["checkout", "-q", default]);
    let approved = p.path().join("plan.md");
    std::fs::write(
        &approved,
        "## 5.5 Stage Map\n- Stage 1: A — depends-on: (none)\n- Stage 2: B — depends-on: 1\n",
    )
    .unwrap();
    let ledger = Ledger::new(p.path(), T);
    for (n, h) in [(1, h1), (2, h2)] {
        let mut f = Map::new();
        f.insert("head_commit".into(), Value::String(h));
        f.insert("branch".into(), Value::String(format!("s{n}")));
        ledger.append(KEY, n, "done", false, f).unwrap();
        ledger
            .append_verified(KEY, n, "accepted", &format!("r{n}.md"))
            .unwrap();
    }
    let ctx = HandoffContext {
        plan_run_root: p.path().into(),
        approved_plan: approved,
        project_root: repo.clone(),
        base: None,
        lock_timeout: T,
    };
    Plan {
        home: h.path().to_string_lossy().into_owned(),
        _dirs: vec![r, p, h],
        repo,
        ctx,
    }
}

fn stage2(p: &Plan) -> StageEligibility {
    eligible(&p.ctx).unwrap().stages.remove(1)
}

fn merged_by(s: &StageEligibility) -> Vec<(u32, Proof)> {
    s.merged_dependencies
        .iter()
        .map(|d| (d.stage, d.proof.clone()))
        .collect()
}

#[test]
fn a_squash_merged_dependency_makes_the_dependent_eligible_with_the_proof_named() {
    let p = plan("main");
    let before = stage2(&p);
    assert!(
        before.eligible,
        "stage 1 is eligible, so stage 2 may go with it"
    );
    assert!(before.merged_dependencies.is_empty());
    put(&p.repo, "c", "main moved on\n");
    git(&p.repo, &["merge", "-q", "--squash", "s1"]);
    git(&p.repo, &["commit", "-qm", "Stage 1 (#12)"]);
    let e = eligible(&p.ctx).unwrap();
    assert_eq!(e.base.name, "main");
    assert_eq!(e.stages[0].integrated, Some(Proof::MergeAddsNothing));
    assert_eq!(merged_by(&e.stages[1]), vec![(1, Proof::MergeAddsNothing)]);
    assert!(e.stages[1].eligible, "{:?}", e.stages[1].reasons);
    // The closure rule of assemble: stage 2 alone is fine now.
    let loaded = p.ctx.load().unwrap();
    let alone = loaded.eligibility(Some(&BTreeSet::from([2])));
    assert!(alone[1].eligible, "{:?}", alone[1].reasons);

    // The base then edits the squashed lines again: merging s1 now conflicts, and the patch
    // id of its combined diff still finds the squash commit.
    edit_line(&p.repo, "five", "FIVE");
    assert_eq!(
        merged_by(&stage2(&p)),
        vec![(
            1,
            Proof::PatchId {
                matched: PatchMatch::CombinedDiff
            }
        )]
    );
}

#[test]
fn rebase_merged_and_cherry_picked_dependencies_count_as_merged() {
    let p = plan("main");
    put(&p.repo, "c", "main moved on\n");
    git(&p.repo, &["checkout", "-qb", "rebased", "s1"]);
    git(&p.repo, &["rebase", "-q", "main"]);
    git(&p.repo, &["checkout", "-q", "main"]);
    git(&p.repo, &["merge", "-q", "--ff-only", "rebased"]);
    assert_eq!(merged_by(&stage2(&p)), vec![(1, Proof::MergeAddsNothing)]);
    edit_line(&p.repo, "fifteen", "FIFTEEN");
    assert_eq!(
        merged_by(&stage2(&p)),
        vec![(
            1,
            Proof::PatchId {
                matched: PatchMatch::EveryCommit
            }
        )]
    );

    let p = plan("main");
    put(&p.repo, "c", "main moved on\n");
    git(&p.repo, &["cherry-pick", "s1~1", "s1"]);
    let s = stage2(&p);
    assert!(s.eligible, "{:?}", s.reasons);
    assert_eq!(merged_by(&s), vec![(1, Proof::MergeAddsNothing)]);
}

#[test]
fn a_dependency_with_one_commit_not_in_the_base_is_not_merged() {
    let p = plan("main");
    git(&p.repo, &["merge", "-q", "--squash", "s1"]);
    git(&p.repo, &["commit", "-qm", "Stage 1 (#12)"]);
    git(&p.repo, &["checkout", "-q", "s1"]);
    edit_line(&p.repo, "18", "eighteen");
    git(&p.repo, &["checkout", "-q", "main"]);
    let ctx = Context::resolve(Some(&p.home), None).unwrap();
    let req = ReconcileRequest {
        plan_run_root: p.ctx.plan_run_root.clone(),
        project_root: p.repo.clone(),
        apply: true,
        ..Default::default()
    };
    assert_eq!(reconcile(&ctx, &req).unwrap().changes.len(), 1);
    let e = eligible(&p.ctx).unwrap();
    assert_eq!(e.stages[0].integrated, None);
    assert!(e.stages[1].merged_dependencies.is_empty());
    assert!(!e.stages[1].eligible);
    assert!(
        e.stages[1]
            .reasons
            .iter()
            .any(|r| r.contains("depends on stage 1, which is not merged into main")),
        "{:?}",
        e.stages[1].reasons
    );
}

#[test]
fn the_base_is_the_repository_s_default_branch_and_messages_name_it() {
    // Default branch `master`, no remote: judged against master, never origin/main.
    let p = plan("master");
    let e = eligible(&p.ctx).unwrap();
    assert_eq!(
        (e.base.name.as_str(), e.base.source),
        ("master", BaseSource::MainWorktree)
    );
    Ledger::new(&p.ctx.plan_run_root, T)
        .append_verified(KEY, 1, "rejected", "again.md")
        .unwrap();
    let reasons = stage2(&p).reasons;
    assert_eq!(reasons, vec!["Stage 2 depends on stage 1, which is not merged into master and cannot be handed off with it (stage 1 is not eligible).".to_string()]);
    git(&p.repo, &["merge", "-q", "--no-ff", "--no-edit", "s1"]);
    assert_eq!(merged_by(&stage2(&p)), vec![(1, Proof::Ancestor)]);

    // `--base main` where there is no main: a coded error naming it, from the CLI too.
    let ctx = HandoffContext {
        base: Some("main".into()),
        ..p.ctx.clone()
    };
    let e = eligible(&ctx).unwrap_err();
    assert_eq!(e.code(), "E_UNKNOWN_REF");
    assert!(e.to_string().contains("the base \"main\""), "{e}");
    let out = crate::cli::run([
        "handoff",
        "eligible",
        "--plan-run-root",
        p.ctx.plan_run_root.to_str().unwrap(),
        "--approved-plan",
        p.ctx.approved_plan.to_str().unwrap(),
        "--project-root",
        p.repo.to_str().unwrap(),
        "--base",
        "main",
    ]);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        (out.exit_code, &v["code"]),
        (1, &Value::from("E_UNKNOWN_REF"))
    );
    assert!(v["error"].as_str().unwrap().contains("\"main\""), "{v}");

    // A clone judges against origin/HEAD (origin/master), and says so.
    let clone = p.repo.with_file_name("clone");
    git(
        p.repo.parent().unwrap(),
        &["clone", "-q", "--no-local", "repo", "clone"],
    );
    let ctx = HandoffContext {
        project_root: clone,
        ..p.ctx.clone()
    };
    let e = eligible(&ctx).unwrap();
    assert_eq!(
        (e.base.name.as_str(), e.base.source),
        ("origin/master", BaseSource::RemoteHead)
    );
    assert!(e.stages[1].reasons.is_empty());
    assert_eq!(merged_by(&e.stages[1]), vec![(1, Proof::Ancestor)]);
}

fn record(p: &Plan, report: &str, head: Option<String>) {
    let data = p.ctx.plan_run_root.join(format!("{report}.data.json"));
    std::fs::write(
        &data,
        r#"{"taskType": "final-verification", "verificationScope": "single-stage", "verdictToken": "accepted"}"#,
    )
    .unwrap();
    assert!(
        record_verified(&RecordVerifiedRequest {
            plan_run_root: p.ctx.plan_run_root.clone(),
            impl_task_key: KEY.into(),
            stage: 1,
            report_path: p.ctx.plan_run_root.join(format!("{report}.md")),
            head_commit: head,
            lock_timeout: T,
        })
        .unwrap()
        .appended
    );
}

fn reconcile_now(p: &Plan) {
    let ctx = Context::resolve(Some(&p.home), None).unwrap();
    reconcile(
        &ctx,
        &ReconcileRequest {
            plan_run_root: p.ctx.plan_run_root.clone(),
            project_root: p.repo.clone(),
            apply: true,
            ..Default::default()
        },
    )
    .unwrap();
}

#[test]
fn a_verification_holds_only_while_the_stage_is_the_same_change() {
    let p = plan("main");
    let h1 = git(&p.repo, &["rev-parse", "s1"]);
    record(&p, "fv-1", None);
    let rows = Ledger::new(&p.ctx.plan_run_root, T).read().unwrap().rows;
    let last = rows.last().unwrap();
    assert_eq!(last["head_commit"], Value::String(h1.clone()), "{last}");

    // A rebase onto a newer main that keeps the change: still verified.
    put(&p.repo, "c", "main moved on\n");
    git(&p.repo, &["checkout", "-q", "s1"]);
    git(&p.repo, &["rebase", "-q", "main"]);
    git(&p.repo, &["checkout", "-q", "main"]);
    reconcile_now(&p);
    let s1 = eligible(&p.ctx).unwrap().stages.remove(0);
    assert!(s1.eligible, "{:?}", s1.reasons);

    // An amend that changes the content: verify again, and stage 2 cannot go with it.
    git(&p.repo, &["checkout", "-q", "s1"]);
    edit_line(&p.repo, "fifteen", "FIFTEEN");
    git(&p.repo, &["checkout", "-q", "main"]);
    reconcile_now(&p);
    let e = eligible(&p.ctx).unwrap();
    assert!(!e.stages[0].eligible);
    assert!(
        e.stages[0].reasons[0].starts_with("Stage 1 changed since it was verified: verified at"),
        "{:?}",
        e.stages[0].reasons
    );
    assert!(e.stages[0].reasons[0].contains("verify it again"));
    assert!(!e.stages[1].eligible);

    // Verifying the new head makes it eligible again.
    record(&p, "fv-2", None);
    assert!(eligible(&p.ctx).unwrap().stages[0].eligible);
}

#[test]
fn a_python_verified_row_without_a_head_verified_the_done_row_before_it() {
    // plan() wrote the rows as the Python helper does: `verified` without `head_commit`.
    let p = plan("main");
    assert!(eligible(&p.ctx).unwrap().stages[0].eligible);
    git(&p.repo, &["checkout", "-q", "s1"]);
    edit_line(&p.repo, "18", "eighteen");
    git(&p.repo, &["checkout", "-q", "main"]);
    reconcile_now(&p);
    let s1 = eligible(&p.ctx).unwrap().stages.remove(0);
    assert!(!s1.eligible);
    assert!(
        s1.reasons[0].contains("changed since it was verified"),
        "{:?}",
        s1.reasons
    );

    // A verified commit gone from the repository cannot be compared: verify again.
    let p = plan("main");
    let gone = "0123456789abcdef0123456789abcdef01234567".to_string();
    record(&p, "fv-3", Some(gone));
    let s1 = eligible(&p.ctx).unwrap().stages.remove(0);
    assert!(
        s1.reasons[0].contains("no longer in the repository"),
        "{:?}",
        s1.reasons
    );
    // A head that is not a commit id is refused, nothing written.
    let n = Ledger::new(&p.ctx.plan_run_root, T)
        .read()
        .unwrap()
        .rows
        .len();
    let data = p.ctx.plan_run_root.join("fv-4.data.json");
    std::fs::copy(p.ctx.plan_run_root.join("fv-3.data.json"), &data).unwrap();
    let e = record_verified(&RecordVerifiedRequest {
        plan_run_root: p.ctx.plan_run_root.clone(),
        impl_task_key: KEY.into(),
        stage: 1,
        report_path: p.ctx.plan_run_root.join("fv-4.md"),
        head_commit: Some("HEAD".into()),
        lock_timeout: T,
    })
    .unwrap_err();
    assert_eq!(e.code(), "E_INVALID_ARG");
    assert_eq!(
        Ledger::new(&p.ctx.plan_run_root, T)
            .read()
            .unwrap()
            .rows
            .len(),
        n
    );
}
