//! `renderArgs` (the `okstra render-bundle` argument map) and the confirmation block, both
//! from the state plus the project, following the Python wizard's rules: final-verification renders
//! an explicit stage and an empty base-ref; implementation renders `stage` as the number or
//! `auto` and always empty `workers`; a reused worktree renders base-ref empty.

use super::project::WorktreeDecision;
use super::state::WizardState;
use super::steps::Ctx;
use super::WizardError;

const IMPL: &str = "implementation";
const FV: &str = "final-verification";
const RH: &str = "release-handoff";

/// Known defaults shown as `default (…)` (as the Python wizard shows them): lead and report writer, and the
/// implementation verifiers.
fn known_default(field: &str, implementation: bool) -> Option<&'static str> {
    match (field, implementation) {
        ("lead_model" | "report_writer_model", _) => Some("opus"),
        ("claude_model", true) => Some("sonnet"),
        ("codex_model", true) => Some("gpt-5.5"),
        ("gemini_model", true) => Some("auto"),
        _ => None,
    }
}

fn base_ref(cx: &Ctx<'_>) -> Result<String, WizardError> {
    if cx.st.task_type() == FV {
        return Ok(String::new());
    }
    Ok(match cx.decision()? {
        Some(WorktreeDecision::New { .. }) if cx.base_ref_needed()? => {
            cx.st.value("baseRef").to_string()
        }
        _ => String::new(),
    })
}

/// The argument map, in a fixed order.
pub fn render_args(st: &WizardState) -> Result<Vec<(&'static str, String)>, WizardError> {
    if st.aborted {
        return Err(WizardError::Aborted);
    }
    if !st.is("confirm", "proceed") {
        let next = super::steps::next(st)?;
        return Err(WizardError::NotReady(format!(
            "the wizard is not finished (next step: {}); answer it, then call render-args",
            next.step
        )));
    }
    let cx = Ctx::new(st);
    let tt = st.task_type();
    let stage = match tt {
        IMPL => {
            let s = st.text("stage_pick");
            if s.is_empty() { "auto" } else { s }.to_string()
        }
        FV => {
            let s = st.text("stage_pick");
            if s.is_empty() || s == "auto" {
                return Err(WizardError::NotReady(
                    "final-verification requires an explicit stage number".into(),
                ));
            }
            s.to_string()
        }
        _ => String::new(),
    };
    let stage_scoped = matches!(tt, IMPL | FV);
    let critic = st.text("critic_pick");
    let (group, task) = cx.task().unwrap_or(("", ""));
    Ok(vec![
        ("project-root", st.project_root.clone()),
        ("project-id", st.project_id.clone()),
        ("task-type", tt.to_string()),
        ("task-group", group.to_string()),
        ("task-id", task.to_string()),
        ("work-category", cx.work_category()),
        ("brief", st.value("brief").to_string()),
        ("base-ref", base_ref(&cx)?),
        ("executor", st.text("executor_pick").to_string()),
        (
            "critic",
            if critic == "off" { "" } else { critic }.to_string(),
        ),
        (
            "approved-plan",
            if stage_scoped {
                st.value("approvedPlan")
            } else {
                ""
            }
            .to_string(),
        ),
        ("stage", stage),
        (
            "workers",
            if tt == IMPL { "" } else { st.text("workers") }.to_string(),
        ),
        ("lead-model", st.text("lead_model").to_string()),
        ("claude-model", st.text("claude_model").to_string()),
        ("codex-model", st.text("codex_model").to_string()),
        ("gemini-model", st.text("gemini_model").to_string()),
        (
            "report-writer-model",
            st.text("report_writer_model").to_string(),
        ),
        ("directive", st.text("directive").to_string()),
        ("related-tasks", st.text("related_tasks").to_string()),
        (
            "clarification-response",
            st.value("clarification").to_string(),
        ),
        (
            "pr-template",
            if tt == RH { st.value("prTemplate") } else { "" }.to_string(),
        ),
    ])
}

/// The human summary of the effective values.
pub fn confirmation_block(st: &WizardState) -> Result<String, WizardError> {
    let cx = Ctx::new(st);
    let w = |k: &str| cx.cat.word(k).to_string();
    let tt = st.task_type();
    let implementation = tt == IMPL;
    let mut rows: Vec<(&str, String)> = Vec::new();
    let or = |v: &str, empty: String| if v.is_empty() { empty } else { v.to_string() };
    let (group, task) = cx.task().unwrap_or(("", ""));
    rows.push(("task-type", tt.to_string()));
    rows.push(("task-key", format!("{group}/{task}")));
    rows.push(("work-category", or(&cx.work_category(), w("none"))));
    rows.push(("brief", or(st.value("brief"), w("none"))));
    // The exact worktree, branch and base provisioning will make or reuse.
    if tt == FV {
        rows.push(("base-ref", w("fv_base")));
    } else {
        let root = st.project_root.clone();
        let (path, branch, base) = match cx.decision()? {
            Some(WorktreeDecision::New { path, branch, base }) => (path, branch, base),
            Some(WorktreeDecision::Reused { path, branch, base }) => (
                format!("{path} {}", w("reused")),
                branch,
                format!("{base} {}", w("reused")),
            ),
            Some(WorktreeDecision::InWorktree) => (
                format!("{root} {}", w("in_worktree")),
                w("none"),
                w("in_worktree"),
            ),
            Some(WorktreeDecision::NotGit) => {
                (format!("{root} {}", w("not_git")), w("none"), w("not_git"))
            }
            None => (w("none"), w("none"), or(st.value("baseRef"), w("none"))),
        };
        rows.push(("worktree", path));
        rows.push(("branch", branch));
        rows.push(("base-ref", base));
    }
    if implementation {
        rows.push(("executor", st.text("executor_pick").to_string()));
        let critic = st.text("critic_pick");
        rows.push((
            "critic",
            if critic.is_empty() || critic == "off" {
                w("off")
            } else {
                critic.to_string()
            },
        ));
        rows.push(("workers", w("impl_workers")));
    } else {
        rows.push(("workers", or(st.text("workers"), w("profile_default"))));
    }
    let model = |field: &str| {
        let v = st.text(field);
        if !v.is_empty() {
            return v.to_string();
        }
        match known_default(field, implementation) {
            Some(d) => format!("{} ({d})", w("default")),
            None => w("default"),
        }
    };
    rows.push(("lead-model", model("lead_model")));
    for (provider, field, name) in [
        ("claude", "claude_model", "claude-model"),
        ("codex", "codex_model", "codex-model"),
        ("gemini", "gemini_model", "gemini-model"),
    ] {
        let line = if implementation {
            let role = if st.is("executor_pick", provider) {
                w("executor_model")
            } else {
                w("verifier")
            };
            let v = if st.is("executor_pick", provider) && st.text(field).is_empty() {
                w("default")
            } else {
                model(field)
            };
            format!("{v} {role}")
        } else if cx.worker_selected(provider) {
            model(field)
        } else {
            cx.cat.word("skipped").replace("{worker}", provider)
        };
        rows.push((name, line));
    }
    rows.push(("report-writer-model", model("report_writer_model")));
    rows.push(("directive", or(st.text("directive"), w("none"))));
    rows.push(("related-tasks", or(st.text("related_tasks"), w("none"))));
    if matches!(tt, IMPL | FV) {
        rows.push((
            "approved-plan",
            or(st.value("approvedPlan"), w("not_selected")),
        ));
        let stage = st.text("stage_pick");
        let stage = if !stage.is_empty() {
            stage.to_string()
        } else if implementation {
            "auto".to_string()
        } else {
            w("not_selected")
        };
        rows.push(("stage", stage));
    }
    rows.push(("clarification", or(st.value("clarification"), w("none"))));
    if tt == RH {
        rows.push(("pr-template", or(st.value("prTemplate"), w("none"))));
    }
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let mut out = w("title");
    for (k, v) in rows {
        out.push_str(&format!("\n  {k:<width$} : {v}"));
    }
    Ok(out)
}
