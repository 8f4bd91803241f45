//! `renderArgs` (the `okstra render-bundle` argument map) and the confirmation block, both
//! from the state plus the project, following the Python wizard's rules: final-verification renders
//! an explicit stage and an empty base-ref; implementation renders `stage` as the number or
//! `auto` and always empty `workers`; a reused worktree renders base-ref empty.

use super::catalog::fill;
use super::ctx::{Ctx, FV, IMPL, RH};
use super::project::WorktreeDecision;
use super::step_id::StepId;
use super::WizardError;

/// Known defaults shown as `default (…)` (as the Python wizard shows them): lead and report
/// writer, and the
/// implementation verifiers.
fn known_default(id: StepId, implementation: bool) -> Option<&'static str> {
    match (id, implementation) {
        (StepId::LeadModel | StepId::ReportWriterModel, _) => Some("opus"),
        (StepId::ClaudeModel, true) => Some("sonnet"),
        (StepId::CodexModel, true) => Some("gpt-5.5"),
        (StepId::GeminiModel, true) => Some("auto"),
        _ => None,
    }
}

fn base_ref(cx: &Ctx<'_>) -> Result<String, WizardError> {
    if cx.tt() == FV {
        return Ok(String::new());
    }
    Ok(match cx.decision()? {
        Some(WorktreeDecision::New { .. }) if cx.base_ref_needed()? => {
            cx.st.value("baseRef").to_string()
        }
        _ => String::new(),
    })
}

/// The `stage` argument: the number or `auto` for an implementation, the explicit number
/// for a final-verification, else empty.
fn stage(cx: &Ctx<'_>) -> Result<String, WizardError> {
    let s = cx.st.text(StepId::StagePick);
    Ok(match cx.tt() {
        IMPL => if s.is_empty() { "auto" } else { s }.to_string(),
        FV if s.is_empty() || s == "auto" => {
            return Err(WizardError::NotReady(
                "final-verification requires an explicit stage number".into(),
            ))
        }
        FV => s.to_string(),
        _ => String::new(),
    })
}

/// The argument map of a finished run, in a fixed order (the caller checks it is done).
pub fn render_args(cx: &Ctx<'_>) -> Result<Vec<(&'static str, String)>, WizardError> {
    let st = cx.st;
    let tt = cx.tt();
    let text = |id: StepId| st.text(id).to_string();
    let only = |yes: bool, v: &str| if yes { v } else { "" }.to_string();
    let critic = st.text(StepId::CriticPick);
    let (group, task) = cx.task().unwrap_or(("", ""));
    Ok(vec![
        ("project-root", st.project_root.clone()),
        ("project-id", st.project_id.clone()),
        ("task-type", tt.to_string()),
        ("task-group", group.to_string()),
        ("task-id", task.to_string()),
        ("work-category", cx.work_category()),
        ("brief", st.value("brief").to_string()),
        ("base-ref", base_ref(cx)?),
        ("executor", text(StepId::ExecutorPick)),
        ("critic", only(critic != "off", critic)),
        (
            "approved-plan",
            only(cx.stage_scoped(), st.value("approvedPlan")),
        ),
        ("stage", stage(cx)?),
        ("workers", only(tt != IMPL, st.text(StepId::Workers))),
        ("lead-model", text(StepId::LeadModel)),
        ("claude-model", text(StepId::ClaudeModel)),
        ("codex-model", text(StepId::CodexModel)),
        ("gemini-model", text(StepId::GeminiModel)),
        ("report-writer-model", text(StepId::ReportWriterModel)),
        ("directive", text(StepId::Directive)),
        ("related-tasks", text(StepId::RelatedTasks)),
        (
            "clarification-response",
            st.value("clarification").to_string(),
        ),
        ("pr-template", only(tt == RH, st.value("prTemplate"))),
    ])
}

type Rows = Vec<(&'static str, String)>;

/// `v`, or the summary word `empty` when blank.
fn or(cx: &Ctx<'_>, v: &str, empty: &str) -> String {
    if v.is_empty() {
        cx.cat.word(empty).to_string()
    } else {
        v.to_string()
    }
}

/// The exact worktree, branch and base provisioning will make or reuse.
fn worktree_rows(cx: &Ctx<'_>, rows: &mut Rows) -> Result<(), WizardError> {
    let w = |k: &str| cx.cat.word(k).to_string();
    if cx.tt() == FV {
        rows.push(("base-ref", w("fv_base")));
        return Ok(());
    }
    let root = cx.st.project_root.clone();
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
        None => (w("none"), w("none"), or(cx, cx.st.value("baseRef"), "none")),
    };
    rows.push(("worktree", path));
    rows.push(("branch", branch));
    rows.push(("base-ref", base));
    Ok(())
}

/// The model of `id`: the answer, else `default` with the known default.
fn model(cx: &Ctx<'_>, id: StepId) -> String {
    let v = cx.st.text(id);
    if !v.is_empty() {
        return v.to_string();
    }
    let w = cx.cat.word("default");
    match known_default(id, cx.tt() == IMPL) {
        Some(d) => format!("{w} ({d})"),
        None => w.to_string(),
    }
}

/// Executor, critic and workers; then every model (an implementation's as executor or
/// verifier, otherwise skipped when its worker is not selected).
fn worker_rows(cx: &Ctx<'_>, rows: &mut Rows) {
    let st = cx.st;
    let w = |k: &str| cx.cat.word(k).to_string();
    let implementation = cx.tt() == IMPL;
    if implementation {
        rows.push(("executor", st.text(StepId::ExecutorPick).to_string()));
        let critic = st.text(StepId::CriticPick);
        let critic = if critic == "off" { "" } else { critic };
        rows.push(("critic", or(cx, critic, "off")));
        rows.push(("workers", w("impl_workers")));
    } else {
        rows.push((
            "workers",
            or(cx, st.text(StepId::Workers), "profile_default"),
        ));
    }
    rows.push(("lead-model", model(cx, StepId::LeadModel)));
    for (provider, id, name) in [
        ("claude", StepId::ClaudeModel, "claude-model"),
        ("codex", StepId::CodexModel, "codex-model"),
        ("gemini", StepId::GeminiModel, "gemini-model"),
    ] {
        let executor = st.is(StepId::ExecutorPick, provider);
        let line = if implementation {
            let role = w(if executor {
                "executor_model"
            } else {
                "verifier"
            });
            let v = if executor && st.text(id).is_empty() {
                w("default")
            } else {
                model(cx, id)
            };
            format!("{v} {role}")
        } else if cx.worker_selected(provider) {
            model(cx, id)
        } else {
            fill(cx.cat.word("skipped"), &[("worker", provider)])
        };
        rows.push((name, line));
    }
    rows.push(("report-writer-model", model(cx, StepId::ReportWriterModel)));
}

/// The human summary of the effective values.
pub fn confirmation_block(cx: &Ctx<'_>) -> Result<String, WizardError> {
    let st = cx.st;
    let tt = cx.tt();
    let mut rows: Rows = Vec::new();
    let (group, task) = cx.task().unwrap_or(("", ""));
    rows.push(("task-type", tt.to_string()));
    rows.push(("task-key", format!("{group}/{task}")));
    rows.push(("work-category", or(cx, &cx.work_category(), "none")));
    rows.push(("brief", or(cx, st.value("brief"), "none")));
    worktree_rows(cx, &mut rows)?;
    worker_rows(cx, &mut rows);
    rows.push(("directive", or(cx, st.text(StepId::Directive), "none")));
    rows.push((
        "related-tasks",
        or(cx, st.text(StepId::RelatedTasks), "none"),
    ));
    if cx.stage_scoped() {
        rows.push((
            "approved-plan",
            or(cx, st.value("approvedPlan"), "not_selected"),
        ));
        let stage = match st.text(StepId::StagePick) {
            "" if tt == IMPL => "auto",
            s => s,
        };
        rows.push(("stage", or(cx, stage, "not_selected")));
    }
    rows.push(("clarification", or(cx, st.value("clarification"), "none")));
    if tt == RH {
        rows.push(("pr-template", or(cx, st.value("prTemplate"), "none")));
    }
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let mut out = cx.cat.word("title").to_string();
    for (k, v) in rows {
        out.push_str(&format!("\n  {k:<width$} : {v}"));
    }
    Ok(out)
}
