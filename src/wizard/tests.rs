//! Scripted walks of all six task types over real git repositories and task layouts in temp
//! directories, plus the wizard's rules (what each task type asks and renders).

use std::path::{Path, PathBuf};

use super::catalog::{catalog, Lang};
use super::steps::{GROUP, STEPS, TERMINAL};
use super::*;
use crate::error::Coded;
use crate::ids::KeyParts;
use crate::registry::{Registry, Reservation};
use crate::testutil::{git, write};

struct Fx {
    _dir: tempfile::TempDir,
    root: PathBuf,
    home: String,
}

const PLAN: &str = "# Plan\n\n## 5.5 Stage Map\n| Stage | Title | Depends on |\n|---|---|---|\n| 1 | Schema | (none) |\n| 2 | API | 1 |\n\n## 6. Next\n";

/// A git repo on `main` (plus branch `develop`) with task `pay/checkout` (brief, manifest,
/// two implementation-planning reports), and a PR template.
fn fixture() -> Fx {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("shop");
    std::fs::create_dir_all(&root).unwrap();
    git(&root, &["init", "-q", "-b", "main"]);
    git(&root, &["commit", "-q", "--allow-empty", "-m", "init"]);
    git(&root, &["branch", "develop"]);
    let task = root.join(".okstra/tasks/pay/checkout");
    write(&root.join("briefs/checkout.md"), "# brief\n");
    write(&root.join("briefs/other.md"), "# other\n");
    write(
        &task.join("task-manifest.json"),
        r#"{"taskBriefPath": "briefs/checkout.md", "workCategory": "bugfix"}"#,
    );
    let reports = task.join("runs/implementation-planning/reports");
    for n in ["001", "002"] {
        write(
            &reports.join(format!("final-report-implementation-planning-{n}.md")),
            PLAN,
        );
        write(
            &reports.join(format!(
                "final-report-implementation-planning-{n}.data.json"
            )),
            r#"{"meta": {"approvalStatus": "pending", "taskType": "implementation-planning"}, "extra": [1, 2]}"#,
        );
    }
    write(
        &root.join(".github/pull_request_template.md"),
        "## Summary\n",
    );
    write(&root.join("answers.md"), "answers\n");
    let home = dir.path().join("home").to_string_lossy().into_owned();
    Fx {
        _dir: dir,
        root: std::fs::canonicalize(&root).unwrap(),
        home,
    }
}

impl Fx {
    fn wizard(&self) -> Wizard {
        self.wizard_with(false, "ko")
    }

    fn wizard_with(&self, groups: bool, lang: &str) -> Wizard {
        Wizard::create(CreateOptions {
            project_root: self.root.to_string_lossy().into_owned(),
            project_id: Some("shop".into()),
            lang: Some(lang.into()),
            home: Some(self.home.clone()),
            groups,
            lock_timeout_ms: None,
        })
        .unwrap()
    }

    fn plan(&self, n: &str) -> String {
        self.root
            .join(format!(
                ".okstra/tasks/pay/checkout/runs/implementation-planning/reports/final-report-implementation-planning-{n}.md"
            ))
            .to_string_lossy()
            .into_owned()
    }
}

/// Answers each `(step, value)` in turn, asserting the step asked, that a saved and
/// reloaded state asks the same prompt (resume at every step), and that it is accepted.
fn walk(w: &mut Wizard, script: &[(&str, &str)]) {
    for (step, value) in script {
        let p = w.next().unwrap();
        assert_eq!(
            p.step,
            *step,
            "expected step {step}, state: {}",
            w.to_json()
        );
        let resumed = Wizard::from_json(&w.to_json()).unwrap();
        assert_eq!(
            resumed.next().unwrap(),
            p,
            "resume at {step} gives the same prompt"
        );
        let out = w.submit(value).unwrap();
        assert!(out.ok, "{step}={value} rejected: {:?}", out.error);
    }
}

/// Answers the task type `tt`, picks the fixture's existing task `pay/checkout` and keeps its
/// brief: how most runs start.
fn existing_task(w: &mut Wizard, tt: &str) {
    walk(
        w,
        &[
            ("task_type", tt),
            ("task_pick", "pay/checkout"),
            ("brief_pick", "keep"),
        ],
    );
}

/// Proceeds past the branch confirmation and the final confirmation: how most runs end.
fn proceed(w: &mut Wizard) {
    walk(w, &[("branch_confirm", "proceed"), ("confirm", "proceed")]);
}

fn args(w: &Wizard) -> std::collections::BTreeMap<String, String> {
    w.render_args()
        .unwrap()
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
}

/// Submits `value` and asserts it is rejected with `code` and the state is unchanged.
fn rejected(w: &mut Wizard, value: &str, code: &str) -> String {
    let before = w.to_json();
    let step = w.next().unwrap().step;
    let out = w.submit(value).unwrap();
    assert!(!out.ok, "{step}={value} should be rejected");
    assert_eq!(out.code.as_deref(), Some(code), "{:?}", out.error);
    assert_eq!(out.next.step, step);
    assert_eq!(
        w.to_json(),
        before,
        "rejected {step}={value} changed the state"
    );
    out.error.unwrap_or_default()
}

#[test]
fn requirements_discovery_new_task_to_done() {
    let fx = fixture();
    let mut w = fx.wizard();
    walk(
        &mut w,
        &[
            ("task_type", "requirements-discovery"),
            ("task_pick", "new"),
            ("task_group", "결제"),
            ("task_id", "refund"),
            ("work_category", "feature"),
            ("brief_path", "briefs/other.md"),
            ("base_ref_pick", "develop"),
            ("customize_pick", "defaults"),
        ],
    );
    proceed(&mut w);
    assert_eq!(w.next().unwrap().kind, PromptKind::Done);
    let a = args(&w);
    assert_eq!(a["task-type"], "requirements-discovery");
    assert_eq!(a["task-group"], "결제");
    assert_eq!(a["task-id"], "refund");
    assert_eq!(a["work-category"], "feature");
    assert_eq!(
        a["brief"],
        fx.root.join("briefs/other.md").to_string_lossy()
    );
    assert_eq!(a["base-ref"], "develop");
    assert_eq!(a["stage"], "");
    assert_eq!(a["approved-plan"], "");
    assert_eq!(a.len(), 22);
}

#[test]
fn error_analysis_existing_task_customized() {
    let fx = fixture();
    let mut w = fx.wizard();
    existing_task(&mut w, "error-analysis");
    walk(
        &mut w,
        &[
            ("base_ref_pick", "main"),
            ("customize_pick", "customize"),
            ("workers", "claude, report-writer, claude"),
            ("lead_model", "opus"),
            ("claude_model", ""),
            ("report_writer_model", "sonnet"),
            ("directive", "look at the logs first"),
            ("related_tasks", "pay/a , pay/b"),
            ("clarification_response", "answers.md"),
            ("branch_confirm", "proceed"),
        ],
    );
    let block = w.confirmation_block().unwrap();
    assert!(block.contains("기본값"), "{block}");
    assert!(block.contains("gemini"), "{block}");
    walk(&mut w, &[("confirm", "proceed")]);
    let a = args(&w);
    assert_eq!(a["work-category"], "bugfix", "from the manifest");
    assert_eq!(a["workers"], "claude,report-writer");
    assert_eq!(a["claude-model"], "");
    assert_eq!(a["codex-model"], "");
    assert_eq!(a["related-tasks"], "pay/a,pay/b");
    assert_eq!(
        a["clarification-response"],
        fx.root.join("answers.md").to_string_lossy()
    );
    assert_eq!(
        a["brief"],
        fx.root.join("briefs/checkout.md").to_string_lossy()
    );
}

#[test]
fn implementation_planning_with_typed_base_ref() {
    let fx = fixture();
    let mut w = fx.wizard_with(false, "en");
    walk(
        &mut w,
        &[
            ("task_type", "implementation-planning"),
            ("task_pick", "pay/checkout"),
            ("brief_pick", "path"),
            ("brief_path", "briefs/other.md"),
            ("base_ref_pick", "text"),
        ],
    );
    let msg = rejected(&mut w, "no-such-ref", "E_INVALID_ARG");
    assert!(msg.contains("no-such-ref"), "{msg}");
    walk(
        &mut w,
        &[("base_ref_text", "main~0"), ("customize_pick", "defaults")],
    );
    proceed(&mut w);
    assert_eq!(args(&w)["base-ref"], "main~0");
}

#[test]
fn implementation_rules() {
    let fx = fixture();
    let mut w = fx.wizard();
    existing_task(&mut w, "implementation");
    walk(
        &mut w,
        &[("base_ref_pick", "main"), ("approved_plan_pick", "latest")],
    );
    rejected(&mut w, "no", "E_INVALID_ARG");
    walk(&mut w, &[("approve_plan_confirm", "yes")]);
    let data: serde_json::Value = serde_json::from_slice(
        &std::fs::read(fx.plan("002").replace(".md", ".data.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(data["meta"]["approvalStatus"], "approved");
    assert_eq!(data["meta"]["taskType"], "implementation-planning");
    assert_eq!(data["extra"], serde_json::json!([1, 2]));
    let stage = w.next().unwrap();
    let values: Vec<&str> = stage.options.iter().map(|o| o.value.as_str()).collect();
    assert_eq!(values, ["auto", "1", "2"]);
    rejected(&mut w, "7", "E_INVALID_ARG");
    walk(
        &mut w,
        &[
            ("stage_pick", "auto"),
            ("executor_pick", "codex"),
            ("critic_pick", "off"),
            ("customize_pick", "customize"),
        ],
    );
    // Implementation: no workers, only the lead, executor and report-writer models.
    let p = w.next().unwrap();
    assert_eq!(p.step, "lead_model");
    walk(&mut w, &[("lead_model", "")]);
    let p = w.next().unwrap();
    assert_eq!(p.step, "codex_model");
    assert!(p.label.contains("실행자(codex)"), "{}", p.label);
    walk(
        &mut w,
        &[
            ("codex_model", "gpt-5.5-high"),
            ("report_writer_model", ""),
            ("directive", ""),
            ("related_tasks", ""),
            ("clarification_response", ""),
            ("branch_confirm", "proceed"),
        ],
    );
    let block = w.confirmation_block().unwrap();
    assert!(block.contains("기본값 (opus)"), "{block}");
    assert!(block.contains("기본값 (sonnet) ← verifier"), "{block}");
    assert!(block.contains("gpt-5.5-high ← executor"), "{block}");
    walk(&mut w, &[("confirm", "proceed")]);
    let a = args(&w);
    assert_eq!(a["stage"], "auto");
    assert_eq!(a["workers"], "");
    assert_eq!(a["executor"], "codex");
    assert_eq!(a["critic"], "");
    assert_eq!(a["approved-plan"], fx.plan("002"));
    assert!(!w.to_json().contains("\"workers\""));
}

#[test]
fn final_verification_rules() {
    let fx = fixture();
    let mut w = fx.wizard();
    walk(
        &mut w,
        &[
            ("task_type", "final-verification"),
            ("task_pick", "pay/checkout"),
            ("brief_pick", "keep"),
            // no base ref for final-verification
            ("approved_plan_pick", "path"),
            ("approved_plan_text", &fx.plan("001")),
            ("approve_plan_confirm", "yes"),
        ],
    );
    let stage = w.next().unwrap();
    assert!(stage.options.iter().all(|o| o.value != "auto"));
    let msg = rejected(&mut w, "auto", "E_INVALID_ARG");
    assert!(msg.contains("final-verification"), "{msg}");
    walk(
        &mut w,
        &[
            ("stage_pick", "2"),
            ("customize_pick", "defaults"),
            // no branch confirm for final-verification
            ("confirm", "proceed"),
        ],
    );
    let a = args(&w);
    assert_eq!(a["base-ref"], "");
    assert_eq!(a["stage"], "2");
    assert_eq!(a["approved-plan"], fx.plan("001"));

    // renderArgs refuses a final-verification state whose stage is auto (hand-edited).
    let mut st: serde_json::Value = serde_json::from_str(&w.to_json()).unwrap();
    st["answers"]["stage_pick"] = "auto".into();
    let e = Wizard::from_json(&st.to_string())
        .unwrap()
        .render_args()
        .unwrap_err();
    assert_eq!(e.code(), "E_INVALID_ARG");
}

#[test]
fn release_handoff_with_repo_template() {
    let fx = fixture();
    let mut w = fx.wizard();
    existing_task(&mut w, "release-handoff");
    walk(
        &mut w,
        &[
            ("base_ref_pick", "main"),
            ("customize_pick", "defaults"),
            ("pr_template_pick", "repo"),
        ],
    );
    proceed(&mut w);
    let a = args(&w);
    assert_eq!(
        a["pr-template"],
        fx.root
            .join(".github/pull_request_template.md")
            .to_string_lossy()
    );
}

#[test]
fn rejected_answers_leave_state_unchanged() {
    let fx = fixture();
    let mut w = fx.wizard();
    rejected(&mut w, "", "E_INVALID_ARG");
    rejected(&mut w, "deploy", "E_INVALID_ARG");
    walk(&mut w, &[("task_type", "error-analysis")]);
    rejected(&mut w, "pay/nope", "E_INVALID_ARG");
    walk(&mut w, &[("task_pick", "new")]);
    rejected(&mut w, "a/b", "E_INVALID_ARG");
    rejected(&mut w, "..", "E_INVALID_ARG");
    walk(&mut w, &[("task_group", "pay")]);
    let msg = rejected(&mut w, "checkout", "E_INVALID_ARG");
    assert!(msg.contains("pay/checkout"), "{msg}");
    walk(&mut w, &[("task_id", "new-one"), ("work_category", "ops")]);
    rejected(&mut w, "briefs/missing.md", "E_NOT_FOUND");
    walk(&mut w, &[("brief_path", "briefs/other.md")]);
    rejected(&mut w, "no-such-branch", "E_INVALID_ARG");
    walk(
        &mut w,
        &[("base_ref_pick", "main"), ("customize_pick", "customize")],
    );
    rejected(&mut w, "claude,copilot", "E_INVALID_ARG");
    walk(&mut w, &[("workers", "")]);
    rejected(&mut w, "two words", "E_INVALID_ARG");
    walk(
        &mut w,
        &[
            ("lead_model", ""),
            ("claude_model", ""),
            ("codex_model", ""),
            ("gemini_model", ""),
            ("report_writer_model", ""),
            ("directive", ""),
            ("related_tasks", ""),
        ],
    );
    rejected(&mut w, "nowhere.md", "E_NOT_FOUND");
    walk(&mut w, &[("clarification_response", "")]);
    rejected(&mut w, "maybe", "E_INVALID_ARG");
}

#[test]
fn abort_is_terminal() {
    let fx = fixture();
    let mut w = fx.wizard();
    existing_task(&mut w, "error-analysis");
    walk(
        &mut w,
        &[
            ("base_ref_pick", "main"),
            ("customize_pick", "defaults"),
            ("branch_confirm", "abort"),
        ],
    );
    let p = w.next().unwrap();
    assert_eq!((p.step.as_str(), p.kind), ("aborted", PromptKind::Aborted));
    let out = w.submit("proceed").unwrap();
    assert_eq!(out.next.step, "aborted");
    let e = w.render_args().unwrap_err();
    assert_eq!(e.code(), "E_WIZARD_ABORTED");
    let e = Wizard::from_json(&w.to_json())
        .unwrap()
        .render_args()
        .unwrap_err();
    assert_eq!(e.code(), "E_WIZARD_ABORTED");
}

#[test]
fn render_args_before_done_is_refused() {
    let fx = fixture();
    let w = fx.wizard();
    assert_eq!(w.render_args().unwrap_err().code(), "E_INVALID_ARG");
}

#[test]
fn edit_reasks_the_field_and_clears_dependents() {
    let fx = fixture();
    let mut w = fx.wizard();
    existing_task(&mut w, "implementation");
    walk(
        &mut w,
        &[
            ("base_ref_pick", "main"),
            ("approved_plan_pick", "latest"),
            ("approve_plan_confirm", "yes"),
            ("stage_pick", "1"),
            ("executor_pick", "claude"),
            ("critic_pick", "gemini"),
            ("customize_pick", "customize"),
            ("lead_model", "opus"),
            ("claude_model", "opus"),
            ("report_writer_model", ""),
            ("directive", "d"),
            ("related_tasks", ""),
            ("clarification_response", ""),
            ("branch_confirm", "proceed"),
            ("confirm", "edit"),
        ],
    );
    let p = w.next().unwrap();
    assert_eq!(p.step, "edit_target");
    let fields: Vec<&str> = p.options.iter().map(|o| o.value.as_str()).collect();
    assert!(
        fields.contains(&"executor") && !fields.contains(&"workers"),
        "{fields:?}"
    );
    // Editing the executor clears the executor-model answer that depended on it.
    walk(
        &mut w,
        &[("edit_target", "executor"), ("executor_pick", "gemini")],
    );
    let p = w.next().unwrap();
    assert_eq!(p.step, "gemini_model");
    assert_eq!(w.state().answer("claude_model"), None);
    assert_eq!(
        w.state().text("lead_model"),
        "opus",
        "independent answers stay"
    );
    assert_eq!(w.state().text("directive"), "d");
    walk(
        &mut w,
        &[
            ("gemini_model", "pro"),
            ("branch_confirm", "proceed"),
            ("confirm", "edit"),
        ],
    );
    // Editing the approved plan re-asks it and the stage that came from its Stage Map.
    walk(
        &mut w,
        &[
            ("edit_target", "approved_plan"),
            ("approved_plan_pick", "path"),
            ("approved_plan_text", &fx.plan("001")),
            ("approve_plan_confirm", "yes"),
            ("stage_pick", "2"),
        ],
    );
    proceed(&mut w);
    let a = args(&w);
    assert_eq!(
        (a["stage"].as_str(), a["executor"].as_str()),
        ("2", "gemini")
    );
    assert_eq!(a["gemini-model"], "pro");
    assert_eq!(a["claude-model"], "");
}

#[test]
fn branch_confirm_edit_reasks_base_ref() {
    let fx = fixture();
    let mut w = fx.wizard();
    existing_task(&mut w, "error-analysis");
    walk(
        &mut w,
        &[("base_ref_pick", "main"), ("customize_pick", "defaults")],
    );
    let p = w.next().unwrap();
    assert!(p.label.contains("fix-checkout"), "{}", p.label);
    let values: Vec<&str> = p.options.iter().map(|o| o.value.as_str()).collect();
    assert_eq!(values, ["proceed", "edit", "abort"]);
    walk(
        &mut w,
        &[("branch_confirm", "edit"), ("base_ref_pick", "develop")],
    );
    proceed(&mut w);
    assert_eq!(args(&w)["base-ref"], "develop");
}

#[test]
fn reused_worktree_skips_base_ref_and_renders_it_empty() {
    let fx = fixture();
    let reg = Registry::open(&crate::context::Context::resolve(Some(&fx.home), None).unwrap());
    let key = KeyParts::new("shop", "pay", "checkout", None, None).unwrap();
    reg.reserve(
        &key,
        &Reservation {
            worktree_path: "/w/shop/pay/checkout".into(),
            branch: "fix-checkout".into(),
            base_ref: "0".repeat(40),
            phase: "requirements-discovery".into(),
            stages: None,
        },
    )
    .unwrap();
    let mut w = fx.wizard();
    existing_task(&mut w, "error-analysis");
    walk(&mut w, &[("customize_pick", "defaults")]);
    let p = w.next().unwrap();
    assert_eq!(p.step, "branch_confirm");
    assert!(p.label.contains("/w/shop/pay/checkout"), "{}", p.label);
    assert!(
        p.options.iter().all(|o| o.value != "edit"),
        "no base-ref edit on reuse"
    );
    walk(
        &mut w,
        &[("branch_confirm", "proceed"), ("confirm", "proceed")],
    );
    assert_eq!(args(&w)["base-ref"], "");
    assert!(w.confirmation_block().unwrap().contains("재사용"));
}

#[test]
fn not_a_git_project() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("b.md"), "b");
    let mut w = Wizard::create(CreateOptions {
        project_root: dir.path().to_string_lossy().into_owned(),
        home: Some(dir.path().join("home").to_string_lossy().into_owned()),
        lang: Some("en".into()),
        ..Default::default()
    })
    .unwrap();
    walk(
        &mut w,
        &[
            ("task_type", "requirements-discovery"),
            ("task_group", "g"),
            ("task_id", "t"),
            ("work_category", "other"),
            ("brief_path", "b.md"),
            ("customize_pick", "defaults"),
        ],
    );
    let p = w.next().unwrap();
    assert!(p.label.contains("Not a git repository"), "{}", p.label);
    walk(
        &mut w,
        &[("branch_confirm", "proceed"), ("confirm", "proceed")],
    );
    assert_eq!(args(&w)["base-ref"], "");
}

#[test]
fn pick_group_batches_the_customize_answers() {
    let fx = fixture();
    let mut w = fx.wizard_with(true, "en");
    existing_task(&mut w, "requirements-discovery");
    walk(
        &mut w,
        &[
            ("base_ref_pick", "main"),
            ("customize_pick", "customize"),
            ("workers", "codex,report-writer"),
        ],
    );
    let p = w.next().unwrap();
    assert_eq!((p.step.as_str(), p.kind), (GROUP, PromptKind::PickGroup));
    let steps: Vec<&str> = p.prompts.iter().map(|q| q.step.as_str()).collect();
    assert_eq!(
        steps,
        [
            "lead_model",
            "codex_model",
            "report_writer_model",
            "directive",
            "related_tasks",
            "clarification_response"
        ]
    );
    rejected(&mut w, "not json", "E_INVALID_ARG");
    rejected(&mut w, r#"{"gemini_model": "x"}"#, "E_INVALID_ARG");
    let msg = rejected(&mut w, r#"{"codex_model": "gpt 5"}"#, "E_INVALID_ARG");
    assert!(msg.starts_with("codex_model:"), "{msg}");
    rejected(
        &mut w,
        r#"{"clarification_response": "nope.md"}"#,
        "E_NOT_FOUND",
    );
    let out = w
        .submit(r#"{"codex_model": "gpt-5.5", "directive": "be brief"}"#)
        .unwrap();
    assert!(out.ok, "{:?}", out.error);
    assert!(out.echo.unwrap().contains("codex-model: gpt-5.5"));
    walk(
        &mut w,
        &[("branch_confirm", "proceed"), ("confirm", "proceed")],
    );
    let a = args(&w);
    assert_eq!(
        (a["codex-model"].as_str(), a["directive"].as_str()),
        ("gpt-5.5", "be brief")
    );
    assert_eq!(a["lead-model"], "");
}

#[test]
fn state_versions() {
    let e = Wizard::from_json(r#"{"task_type": "implementation", "answered": []}"#).unwrap_err();
    assert_eq!(e.code(), "E_WIZARD_STATE_VERSION");
    assert!(e.to_string().contains("Python"), "{e}");
    let e = Wizard::from_json(r#"{"version": 99}"#).unwrap_err();
    assert_eq!(e.code(), "E_WIZARD_STATE_VERSION");
    assert!(e.to_string().contains("newer"), "{e}");
    let e = Wizard::from_json("[1,").unwrap_err();
    assert_eq!(e.code(), "E_WIZARD_STATE_INVALID");
    let e = Wizard::from_json(r#"{"version": 1}"#).unwrap_err();
    assert_eq!(e.code(), "E_WIZARD_STATE_INVALID");
}

#[test]
fn save_and_load_round_trip() {
    let fx = fixture();
    let mut w = fx.wizard();
    walk(
        &mut w,
        &[
            ("task_type", "implementation"),
            ("task_pick", "pay/checkout"),
        ],
    );
    let file = fx.root.join("state.json");
    w.save(&file).unwrap();
    let back = Wizard::load(&file).unwrap();
    assert_eq!(back.to_json(), w.to_json());
    assert_eq!(back.next().unwrap(), w.next().unwrap());
    let e = Wizard::load(&fx.root.join("missing.json")).unwrap_err();
    assert_eq!(e.code(), "E_IO");
}

#[test]
fn create_validates_its_options() {
    let e = Wizard::create(CreateOptions {
        project_root: "/definitely/not/here".into(),
        ..Default::default()
    })
    .unwrap_err();
    assert_eq!(e.code(), "E_INVALID_ARG");
    let fx = fixture();
    let e = Wizard::create(CreateOptions {
        project_root: fx.root.to_string_lossy().into_owned(),
        lang: Some("fr".into()),
        ..Default::default()
    })
    .unwrap_err();
    assert_eq!(e.code(), "E_INVALID_ARG");
}

/// Every rejection key the steps use.
const ERROR_KEYS: [&str; 17] = [
    "required",
    "not_an_option",
    "bad_segment",
    "task_exists",
    "file_missing",
    "bad_ref",
    "plan_data_missing",
    "plan_data_invalid",
    "plan_wrong_type",
    "declined",
    "stage_auto_fv",
    "stage_unknown",
    "bad_workers",
    "no_spaces",
    "bad_group_value",
    "unknown_group_step",
    "in_group",
];

/// Every terminal text `bin/wizard-interactive.mjs` uses.
const TERMINAL_KEYS: [&str; 21] = [
    "resumed",
    "saved",
    "back",
    "back_hint",
    "nothing_back",
    "provision_ask",
    "provision_yes",
    "provision_no",
    "provisioned_created",
    "provisioned_reused",
    "provisioned_skipped_in_worktree",
    "provisioned_skipped_not_git",
    "args",
    "aborted",
    "finished_done",
    "finished_aborted",
    "new_run_ask",
    "new_run_yes",
    "new_run_no_done",
    "new_run_no_aborted",
    "started_new",
];

#[test]
fn catalogs_are_complete_and_aligned() {
    let ko = catalog(Lang::Ko);
    let en = catalog(Lang::En);
    for cat in [ko, en] {
        let ids = STEPS.iter().map(|s| s.id.as_str());
        for step in ids.chain(TERMINAL).chain([GROUP]) {
            let t = cat
                .step(step)
                .unwrap_or_else(|| panic!("{}: no text for step {step}", cat.lang));
            assert!(
                !t.label.trim().is_empty(),
                "{}: empty label for {step}",
                cat.lang
            );
        }
        for k in TERMINAL_KEYS {
            assert!(
                cat.terminal.contains_key(k),
                "{}: no terminal text {k}",
                cat.lang
            );
        }
        for k in ERROR_KEYS {
            assert!(
                cat.errors.contains_key(k),
                "{}: no error text {k}",
                cat.lang
            );
        }
    }
    // Same keys everywhere: steps, variants, options, errors, summary words.
    let keys = |c: &catalog::Catalog| {
        let mut out: Vec<String> = Vec::new();
        for (s, t) in &c.steps {
            out.push(s.clone());
            out.extend(t.variants.keys().map(|v| format!("{s}.{v}")));
            out.extend(t.options.keys().map(|o| format!("{s}.options.{o}")));
        }
        out.extend(c.errors.keys().map(|k| format!("errors.{k}")));
        out.extend(c.summary.keys().map(|k| format!("summary.{k}")));
        out.extend(c.terminal.keys().map(|k| format!("terminal.{k}")));
        out
    };
    assert_eq!(keys(ko), keys(en));
    assert!(ko
        .steps
        .keys()
        .all(|k| StepId::parse(k).is_some() || TERMINAL.contains(&k.as_str()) || k == GROUP));
}

/// The step table is the only home of a step: every id has exactly one record, in the
/// order ids are asked; every catalog text a record names (its texts, fixed options, label
/// variants, edit field) exists in both catalogs; edit fields are asked by adjacent steps
/// that share one `Edit`; only edit fields are offered by `edit_target`.
#[test]
fn the_step_table_is_the_only_home() {
    use super::steps::{edit_fields, Options};
    let ids: Vec<StepId> = STEPS.iter().map(|s| s.id).collect();
    assert_eq!(ids, StepId::ALL, "one record per id, in StepId's order");
    for id in StepId::ALL {
        assert_eq!(StepId::parse(id.as_str()), Some(*id));
    }
    for cat in [catalog(Lang::Ko), catalog(Lang::En)] {
        for s in STEPS {
            let id = s.id.as_str();
            let t = cat
                .step(id)
                .unwrap_or_else(|| panic!("{}: no text for {id}", cat.lang));
            for v in s.options.values() {
                assert!(
                    t.options.get(v).is_some_and(|l| !l.trim().is_empty()),
                    "{}: no label for option {id}={v}",
                    cat.lang
                );
            }
            for v in s.variants {
                assert!(
                    t.variants.get(*v).and_then(|v| v.as_str()).is_some(),
                    "{}: no label variant {id}.{v}",
                    cat.lang
                );
            }
            // Every option the catalog labels is one the step offers.
            let offered = s.options.values();
            for o in t.options.keys() {
                assert!(
                    offered.contains(&o.as_str()),
                    "{}: {id}.options.{o} is offered by no record",
                    cat.lang
                );
            }
        }
    }
    // A field's steps are adjacent and clear the same steps.
    let fields = edit_fields();
    for f in &fields {
        let own: Vec<usize> = STEPS
            .iter()
            .enumerate()
            .filter(|(_, s)| s.edit.is_some_and(|e| e.field == *f))
            .map(|(i, _)| i)
            .collect();
        assert!(
            own.windows(2).all(|w| w[1] == w[0] + 1),
            "{f}: steps not adjacent"
        );
        let clears: Vec<&[StepId]> = own
            .iter()
            .filter_map(|i| STEPS[*i].edit.map(|e| e.clears))
            .collect();
        assert!(
            clears.windows(2).all(|w| w[0] == w[1]),
            "{f}: steps clear differently"
        );
    }
    assert!(matches!(
        STEPS
            .iter()
            .find(|s| s.id == StepId::EditTarget)
            .map(|s| s.options),
        Some(Options::EditFields)
    ));
}

/// A state file written before the step table (by main at the time) loads, resumes at the
/// same prompt, renders the same arguments and walks Back through the same steps.
#[test]
fn state_files_of_earlier_versions_keep_working() {
    // The project the state was recorded in (demo/wizard.mjs makeOkstraProject).
    let td = tempfile::tempdir().unwrap();
    let dir = std::fs::canonicalize(td.path()).unwrap();
    let root = dir.join("shop");
    std::fs::create_dir_all(&root).unwrap();
    git(&root, &["init", "-q", "-b", "main"]);
    write(&root.join("briefs/refund-api.md"), "# Refund API\n");
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "init"]);
    let task = root.join(".okstra/tasks/payments/refund-api");
    write(
        &task.join("task-manifest.json"),
        r#"{"taskBriefPath": "briefs/refund-api.md", "workCategory": "feature"}"#,
    );
    let reports = task.join("runs/implementation-planning/reports");
    write(
        &reports.join("final-report-implementation-planning-001.md"),
        PLAN,
    );
    write(
        &reports.join("final-report-implementation-planning-001.data.json"),
        r#"{"meta": {"taskType": "implementation-planning", "approvalStatus": "approved"}}"#,
    );
    let text = include_str!("../../__test__/fixtures/wizard-state-v1.json")
        .replace("@DIR@", &dir.to_string_lossy());
    let mut w = Wizard::from_json(&text).unwrap();
    let p = w.next().unwrap();
    assert_eq!((p.step.as_str(), p.kind), ("confirm", PromptKind::Pick));
    assert!(p.can_go_back);
    assert!(w.submit("proceed").unwrap().ok);
    let a = args(&w);
    let plan = reports.join("final-report-implementation-planning-001.md");
    for (k, v) in [
        ("task-type", "implementation"),
        ("task-group", "payments"),
        ("task-id", "refund-api"),
        ("work-category", "feature"),
        ("base-ref", "main"),
        ("executor", "codex"),
        ("critic", ""),
        ("stage", "1"),
        ("codex-model", "gpt-5.5-high"),
        ("directive", "Keep the public API backwards compatible."),
        ("approved-plan", &plan.to_string_lossy()),
    ] {
        assert_eq!(a[k], v, "{k}");
    }
    let mut back = Vec::new();
    while w.back() {
        back.push(w.next().unwrap().step);
    }
    assert_eq!(
        back,
        [
            "confirm",
            "branch_confirm",
            "directive",
            "edit_target",
            "confirm",
            "branch_confirm",
            "clarification_response",
            "related_tasks",
            "directive",
            "report_writer_model",
            "codex_model",
            "lead_model",
            "customize_pick",
            "critic_pick",
            "executor_pick",
            "stage_pick",
            "approve_plan_confirm",
            "approved_plan_pick",
            "base_ref_pick",
            "brief_pick",
            "task_pick",
            "task_type"
        ]
    );
}

#[test]
fn cli_round_trip() {
    let fx = fixture();
    let state = fx.root.join("w.json").to_string_lossy().into_owned();
    let run = |args: &[&str]| {
        let out = crate::cli::run(args.iter().map(|s| s.to_string()));
        let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap_or_default();
        (out.exit_code, v)
    };
    let root = fx.root.to_string_lossy().into_owned();
    let (code, v) = run(&[
        "wizard",
        "init",
        "--state",
        &state,
        "--project-root",
        &root,
        "--project-id",
        "shop",
        "--home",
        &fx.home,
    ]);
    assert_eq!((code, v["next"]["step"].as_str()), (0, Some("task_type")));
    let again = [
        "wizard",
        "init",
        "--state",
        &state,
        "--project-root",
        &root,
        "--home",
        &fx.home,
    ];
    let (code, v) = run(&again);
    assert_eq!((code, v["code"].as_str()), (2, Some("E_PATH_EXISTS")));
    let (code, v) = run(&["wizard", "submit", "--state", &state, "--value", "nope"]);
    assert_eq!((code, v["ok"].as_bool()), (0, Some(false)));
    for value in [
        "release-handoff",
        "pay/checkout",
        "keep",
        "main",
        "defaults",
        "none",
        "proceed",
    ] {
        let (code, v) = run(&["wizard", "submit", "--state", &state, "--value", value]);
        assert_eq!((code, v["ok"].as_bool()), (0, Some(true)), "{value}: {v}");
    }
    let (_, v) = run(&["wizard", "next", "--state", &state]);
    assert_eq!(v["next"]["step"], "confirm");
    let (code, v) = run(&["wizard", "render-args", "--state", &state]);
    assert_eq!((code, v["ok"].as_bool()), (0, Some(false)));
    let (_, v) = run(&["wizard", "confirmation", "--state", &state]);
    assert!(v["text"].as_str().unwrap_or("").contains("release-handoff"));
    run(&["wizard", "submit", "--state", &state, "--value", "proceed"]);
    let (code, v) = run(&["wizard", "render-args", "--state", &state]);
    assert_eq!(code, 0);
    assert_eq!(v["args"]["task-type"], "release-handoff");
    assert_eq!(v["args"]["pr-template"], "");
    let (code, v) = run(&["wizard", "next", "--state", "/nonexistent/w.json"]);
    assert_eq!((code, v["code"].as_str()), (1, Some("E_IO")));
    let (code, _) = run(&["wizard"]);
    assert_eq!(code, 1);
}

#[test]
fn plan_checks_and_stage_map_errors() {
    let fx = fixture();
    let other = fx
        .root
        .join("reports/final-report-final-verification-001.md");
    write(&other, PLAN);
    write(
        &fx.root
            .join("reports/final-report-final-verification-001.data.json"),
        r#"{"meta": {"taskType": "final-verification"}}"#,
    );
    let cyclic = fx.root.join("reports/cyclic.md");
    write(
        &cyclic,
        "## 5.5 Stage Map\n| Stage | Title | Depends on |\n|---|---|---|\n| 1 | A | 2 |\n| 2 | B | 1 |\n| 3 | C | (none) |\n",
    );
    write(&fx.root.join("reports/cyclic.data.json"), "{}");
    let mut w = fx.wizard_with(false, "en");
    existing_task(&mut w, "final-verification");
    walk(&mut w, &[("approved_plan_pick", "path")]);
    let msg = rejected(&mut w, &other.to_string_lossy(), "E_INVALID_ARG");
    assert!(
        msg.contains("not an implementation-planning report"),
        "{msg}"
    );
    rejected(&mut w, "briefs/checkout.md", "E_NOT_FOUND");
    walk(
        &mut w,
        &[
            ("approved_plan_text", &cyclic.to_string_lossy()),
            ("approve_plan_confirm", "yes"),
        ],
    );
    let p = w.next().unwrap();
    assert_eq!(p.step, "stage_pick");
    assert!(p.help.to_lowercase().contains("cycl"), "{}", p.help);
}

/// The interactive wizard's flags are parsed by the CLI's own parser: its project is the
/// repository root found from the start directory, its state file absolute; any other
/// command line is not the interactive wizard (and `run` reports a bad flag).
#[test]
fn interactive_flags_are_parsed_by_the_cli() {
    let fx = fixture();
    let sub = fx.root.join("src/deep");
    std::fs::create_dir_all(&sub).unwrap();
    let argv = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let sub_s = sub.to_string_lossy().into_owned();
    let o = crate::cli::interactive_wizard(argv(&[
        "wizard",
        "--project-root",
        &sub_s,
        "--lang",
        "en",
        "--home",
        &fx.home,
        "--new",
    ]))
    .unwrap()
    .unwrap();
    assert_eq!(o.project_root, fx.root.to_string_lossy());
    assert_eq!(
        o.state_file,
        fx.root.join(".okstra/wizard-state.json").to_string_lossy()
    );
    assert_eq!(
        (o.lang.as_deref(), o.home.as_deref(), o.fresh),
        (Some("en"), Some(fx.home.as_str()), true)
    );
    let o = crate::cli::interactive_wizard(argv(&["wizard", "--state", "rel/s.json"]))
        .unwrap()
        .unwrap();
    assert!(Path::new(&o.state_file).is_absolute() && o.state_file.ends_with("rel/s.json"));
    assert!(!o.fresh);
    for other in [
        &["wizard", "init", "--state", "x.json"][..],
        &["wizard", "--help"],
        &["wizard", "--bogus"],
        &["wizard", "--state", "x.json", "next"],
        &["registry", "list"],
    ] {
        assert_eq!(
            crate::cli::interactive_wizard(argv(other)).unwrap(),
            None,
            "{other:?}"
        );
    }
    let out = crate::cli::run(argv(&["wizard", "--bogus"]));
    assert_eq!(out.exit_code, 1);
    assert!(out.stdout.contains("--bogus"), "{}", out.stdout);
    // Without a terminal the flags parse and the JSON CLI says what to do instead.
    let out = crate::cli::run(argv(&["wizard", "--state", "x.json"]));
    assert!(out.stdout.contains("needs a terminal"), "{}", out.stdout);
    let missing = fx.root.join("no/such/dir").to_string_lossy().into_owned();
    let e =
        crate::cli::interactive_wizard(argv(&["wizard", "--project-root", &missing])).unwrap_err();
    assert_eq!(e.code, "E_INVALID_ARG");
}

/// `{name}` filling is one pass: a value holding a placeholder is not filled again, an
/// unknown placeholder and a lone brace stay, multibyte text around them is kept.
#[test]
fn fill_is_one_pass() {
    use super::catalog::fill;
    assert_eq!(fill("{a}-{b}", &[("a", "{b}"), ("b", "x")]), "{b}-x");
    assert_eq!(
        fill("경로 {path} {nope} { } {", &[("path", "p")]),
        "경로 p {nope} { } {"
    );
    assert_eq!(fill("{a}{a}", &[("a", "1")]), "11");
}

/// The provisioning request of a finished run is the worktree its confirmation showed.
#[test]
fn provision_request_is_what_was_confirmed() {
    let fx = fixture();
    let mut w = fx.wizard();
    assert_eq!(w.provision_request().unwrap_err().code(), "E_INVALID_ARG");
    existing_task(&mut w, "implementation");
    walk(
        &mut w,
        &[
            ("base_ref_pick", "develop"),
            ("approved_plan_pick", "latest"),
            ("approve_plan_confirm", "yes"),
            ("stage_pick", "2"),
            ("executor_pick", "codex"),
            ("critic_pick", "off"),
            ("customize_pick", "defaults"),
        ],
    );
    proceed(&mut w);
    let (context, req) = w.provision_request().unwrap();
    assert_eq!(
        (
            req.task_type.as_str(),
            req.task_group.as_str(),
            req.task_id.as_str(),
            req.work_category.as_str(),
            req.base_ref.as_deref(),
            req.stage,
            context.home(),
        ),
        (
            "implementation",
            "pay",
            "checkout",
            "bugfix",
            Some("develop"),
            Some(2),
            Path::new(&fx.home),
        )
    );
    let made = crate::worktree::provision(&context, &req).unwrap();
    let block = w.confirmation_block().unwrap();
    assert!(block.contains(&made.branch), "{block}\n{}", made.branch);
    assert!(block.contains(&made.path), "{block}\n{}", made.path);
}

#[test]
fn plan_data_is_the_reports_sibling_or_the_data_file_given() {
    let dir = tempfile::tempdir().unwrap();
    let md = dir
        .path()
        .join("final-report-implementation-planning-001.md");
    let data = dir
        .path()
        .join("final-report-implementation-planning-001.data.json");
    write(&md, PLAN);
    write(
        &data,
        r#"{"meta": {"taskType": "implementation-planning"}}"#,
    );
    for given in [&data, &md] {
        let given = given.to_string_lossy();
        assert!(project::check_plan(&given).is_ok(), "{given}");
        project::ensure_plan_approved(&given, std::time::Duration::from_secs(5))
            .unwrap()
            .unwrap();
    }
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&data).unwrap()).unwrap();
    assert_eq!(v["meta"]["approvalStatus"], "approved");
    // The data file given is the data file: no `….data.data.json` is looked for or made.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    // `taskType` at the top level wins over `meta`, as everywhere report data is read.
    write(
        &data,
        r#"{"taskType": "final-verification", "meta": {"taskType": "implementation-planning"}}"#,
    );
    let e = project::check_plan(&md.to_string_lossy()).unwrap_err();
    assert_eq!(e.code, "E_INVALID_ARG");
}

/// A symlinked task group or task (which could list a directory outside the repository) is
/// left out of the task pick, and the prompt says which and why instead of dropping it
/// without a word.
#[test]
fn symlinked_tasks_are_left_out_of_the_pick_and_named() {
    let f = fixture();
    let outside = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(outside.path().join("evil-task")).unwrap();
    std::fs::create_dir_all(outside.path().join("grp/t")).unwrap();
    let tasks = f.root.join(".okstra/tasks");
    std::os::unix::fs::symlink(outside.path().join("evil-task"), tasks.join("pay/linked")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("grp"), tasks.join("evil")).unwrap();
    let mut w = f.wizard_with(false, "en");
    assert!(w.submit("implementation-planning").unwrap().ok);
    let p = w.next().unwrap();
    assert_eq!(p.step, "task_pick");
    let values: Vec<&str> = p.options.iter().map(|o| o.value.as_str()).collect();
    assert_eq!(values, ["pay/checkout", "new"]);
    assert!(
        p.help.contains(".okstra/tasks/evil")
            && p.help.contains(".okstra/tasks/pay/linked")
            && p.help.contains("symlink"),
        "{}",
        p.help
    );
}

/// A task whose reports directory is a symlink offers no latest plan (it is never listed
/// through the link), and the plan-path prompt says which directory was not searched and
/// why.
#[test]
fn a_symlinked_reports_directory_is_named_at_the_plan_prompt() {
    let fx = fixture();
    let outside = tempfile::tempdir().unwrap();
    let reports = fx
        .root
        .join(".okstra/tasks/pay/checkout/runs/implementation-planning/reports");
    let moved = outside.path().join("reports");
    std::fs::rename(&reports, &moved).unwrap();
    std::os::unix::fs::symlink(&moved, &reports).unwrap();
    let mut w = fx.wizard_with(false, "en");
    walk(
        &mut w,
        &[
            ("task_type", "final-verification"),
            ("task_pick", "pay/checkout"),
            ("brief_pick", "keep"),
        ],
    );
    let p = w.next().unwrap();
    assert_eq!(p.step, "approved_plan_text", "no latest plan offered");
    assert!(
        p.help
            .contains(".okstra/tasks/pay/checkout/runs/implementation-planning/reports")
            && p.help.contains("symlink"),
        "{}",
        p.help
    );
}
