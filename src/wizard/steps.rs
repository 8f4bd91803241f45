//! The wizard's steps in order, when each applies, what it offers and how its answer is
//! validated and applied. `next` is the first step that applies and is not answered yet.

use super::catalog::{catalog, fill, Catalog};
use super::project::{self, Project, WorktreeDecision};
use super::state::WizardState;
use super::{Prompt, PromptKind, PromptOption, Rejection, WizardError};
use crate::error::Code;
use crate::ids;

/// Every step id, in the order they are asked.
pub const STEPS: [&str; 30] = [
    "task_type",
    "task_pick",
    "task_group",
    "task_id",
    "work_category",
    "brief_pick",
    "brief_path",
    "base_ref_pick",
    "base_ref_text",
    "approved_plan_pick",
    "approved_plan_text",
    "approve_plan_confirm",
    "stage_pick",
    "executor_pick",
    "critic_pick",
    "customize_pick",
    "workers",
    "lead_model",
    "claude_model",
    "codex_model",
    "gemini_model",
    "report_writer_model",
    "directive",
    "related_tasks",
    "clarification_response",
    "pr_template_pick",
    "pr_template_text",
    "branch_confirm",
    "confirm",
    "edit_target",
];

/// Terminal step ids.
pub const TERMINAL: [&str; 2] = ["done", "aborted"];

/// The id of the batched prompt of the customize answers.
pub const GROUP: &str = "customize_group";

/// Steps that are independent of each other and can be batched into [`GROUP`].
const GROUPABLE: [&str; 8] = [
    "lead_model",
    "claude_model",
    "codex_model",
    "gemini_model",
    "report_writer_model",
    "directive",
    "related_tasks",
    "clarification_response",
];

/// The six task types (phases).
pub const TASK_TYPES: [&str; 6] = [
    "requirements-discovery",
    "error-analysis",
    "implementation-planning",
    "implementation",
    "final-verification",
    "release-handoff",
];

/// Known worker names for `workers`.
pub const WORKERS: [&str; 4] = ["claude", "codex", "gemini", "report-writer"];

const IMPL: &str = "implementation";
const FV: &str = "final-verification";
const RH: &str = "release-handoff";

/// Edit targets: the field, the steps that ask it, and the later steps whose answers depend
/// on it (cleared with it). `branch_confirm`, `confirm` and `edit_target` are always cleared.
const EDIT_FIELDS: [(&str, &[&str], &[&str]); 20] = [
    ("task_type", &["task_type"], &STEPS),
    (
        "task_key",
        &["task_pick", "task_group", "task_id"],
        &[
            "work_category",
            "brief_pick",
            "brief_path",
            "base_ref_pick",
            "base_ref_text",
            "approved_plan_pick",
            "approved_plan_text",
            "approve_plan_confirm",
            "stage_pick",
        ],
    ),
    ("work_category", &["work_category"], &[]),
    ("brief", &["brief_pick", "brief_path"], &[]),
    ("base_ref", &["base_ref_pick", "base_ref_text"], &[]),
    (
        "approved_plan",
        &[
            "approved_plan_pick",
            "approved_plan_text",
            "approve_plan_confirm",
        ],
        &["stage_pick"],
    ),
    ("stage", &["stage_pick"], &[]),
    (
        "executor",
        &["executor_pick"],
        &["claude_model", "codex_model", "gemini_model"],
    ),
    ("critic", &["critic_pick"], &[]),
    ("customize", &["customize_pick"], &GROUPABLE_AND_WORKERS),
    (
        "workers",
        &["workers"],
        &[
            "claude_model",
            "codex_model",
            "gemini_model",
            "report_writer_model",
        ],
    ),
    ("lead_model", &["lead_model"], &[]),
    ("claude_model", &["claude_model"], &[]),
    ("codex_model", &["codex_model"], &[]),
    ("gemini_model", &["gemini_model"], &[]),
    ("report_writer_model", &["report_writer_model"], &[]),
    ("directive", &["directive"], &[]),
    ("related_tasks", &["related_tasks"], &[]),
    ("clarification_response", &["clarification_response"], &[]),
    (
        "pr_template",
        &["pr_template_pick", "pr_template_text"],
        &[],
    ),
];

const GROUPABLE_AND_WORKERS: [&str; 9] = [
    "workers",
    "lead_model",
    "claude_model",
    "codex_model",
    "gemini_model",
    "report_writer_model",
    "directive",
    "related_tasks",
    "clarification_response",
];

/// The fixed option values of `step` (dynamic ones — tasks, branches, stages — excluded).
/// Every one of them has a label in every catalog.
pub fn fixed_options(step: &str) -> Vec<&'static str> {
    match step {
        "task_type" => TASK_TYPES.to_vec(),
        "task_pick" => vec!["new"],
        "work_category" => vec![
            "feature",
            "bugfix",
            "refactor",
            "improvement",
            "ops",
            "other",
        ],
        "brief_pick" => vec!["keep", "path"],
        "base_ref_pick" => vec!["text"],
        "approved_plan_pick" => vec!["latest", "path"],
        "approve_plan_confirm" => vec!["yes", "no"],
        "stage_pick" => vec!["auto"],
        "executor_pick" => vec!["claude", "codex", "gemini"],
        "critic_pick" => vec!["off", "claude", "codex", "gemini"],
        "customize_pick" => vec!["defaults", "customize"],
        "pr_template_pick" => vec!["repo", "none", "path"],
        "branch_confirm" => vec!["proceed", "edit", "abort"],
        "confirm" => vec!["proceed", "edit"],
        "edit_target" => EDIT_FIELDS.iter().map(|f| f.0).collect(),
        _ => Vec::new(),
    }
}

/// The value keys a step resolves into `WizardState::values` (cleared with the step).
fn owned_values(step: &str) -> &'static [&'static str] {
    match step {
        "task_pick" => &["taskGroup", "taskId"],
        "task_group" => &["taskGroup"],
        "task_id" => &["taskId"],
        "brief_pick" | "brief_path" => &["brief"],
        "base_ref_pick" | "base_ref_text" => &["baseRef"],
        "approved_plan_pick" | "approved_plan_text" => &["approvedPlan"],
        "clarification_response" => &["clarification"],
        "pr_template_pick" | "pr_template_text" => &["prTemplate"],
        _ => &[],
    }
}

fn clear(st: &mut WizardState, step: &str) {
    st.answers.remove(step);
    for k in owned_values(step) {
        st.values.remove(*k);
    }
}

/// One call's reasoning over a state and its project.
pub struct Ctx<'a> {
    /// The state being looked at.
    pub st: &'a WizardState,
    /// The project it reads from.
    pub proj: Project<'a>,
    /// The texts.
    pub cat: &'static Catalog,
}

impl<'a> Ctx<'a> {
    /// A context over `st`.
    pub fn new(st: &'a WizardState) -> Ctx<'a> {
        Ctx {
            st,
            proj: Project::new(st),
            cat: catalog(st.lang),
        }
    }

    fn tt(&self) -> &str {
        self.st.task_type()
    }

    fn stage_scoped(&self) -> bool {
        matches!(self.tt(), IMPL | FV)
    }

    fn task_pick_needed(&self) -> bool {
        // A task typed in while no task existed stays typed in even if tasks appear later.
        let typed_in =
            self.st.answer("task_group").is_some() && self.st.answer("task_pick").is_none();
        !self.proj.tasks().is_empty() && !typed_in
    }

    /// Whether the run creates a new task (not known until the task is picked).
    pub fn is_new_task(&self) -> bool {
        !self.task_pick_needed() || self.st.is("task_pick", "new")
    }

    /// The task group and id, once both are known.
    pub fn task(&self) -> Option<(&str, &str)> {
        let (g, t) = (self.st.value("taskGroup"), self.st.value("taskId"));
        (!g.is_empty() && !t.is_empty()).then_some((g, t))
    }

    /// The effective work category: the answer, else the existing task's manifest.
    pub fn work_category(&self) -> String {
        if let Some(c) = self.st.answer("work_category") {
            return c.to_string();
        }
        self.task()
            .and_then(|(g, t)| self.proj.existing_work_category(g, t))
            .unwrap_or_default()
    }

    fn existing_brief(&self) -> Option<String> {
        if self.is_new_task() {
            return None;
        }
        let (g, t) = self.task()?;
        self.proj.existing_brief(g, t)
    }

    /// The implementation stage whose worktree the run uses, once a number is picked.
    fn stage_number(&self) -> Option<u32> {
        (self.tt() == IMPL)
            .then(|| self.st.text("stage_pick").parse().ok())
            .flatten()
    }

    fn decision_for(
        &self,
        stage: Option<u32>,
        base_ref: Option<&str>,
    ) -> Result<Option<WorktreeDecision>, WizardError> {
        match self.task() {
            Some((g, t)) => Ok(Some(self.proj.worktree_decision(
                g,
                t,
                stage,
                &self.work_category(),
                base_ref,
            )?)),
            None => Ok(None),
        }
    }

    /// Where the run's worktree comes from (the stage worktree of an implementation stage
    /// once picked); `None` until the task is known.
    ///
    /// The base is the one `renderArgs` passes on: the answered base ref when the run asks
    /// for one, else none (provisioning then branches from the main worktree's HEAD).
    pub fn decision(&self) -> Result<Option<WorktreeDecision>, WizardError> {
        let base = self.st.value("baseRef");
        let base = (self.base_ref_needed()? && !base.is_empty()).then_some(base);
        self.decision_for(self.stage_number(), base)
    }

    /// Whether the run needs a base ref: outside final-verification, when the task's own
    /// worktree would be new (asked before the stage, so decided on the task key).
    pub fn base_ref_needed(&self) -> Result<bool, WizardError> {
        Ok(self.tt() != FV
            && matches!(
                self.decision_for(None, None)?,
                Some(WorktreeDecision::New { .. })
            ))
    }

    fn latest_plan(&self) -> Option<String> {
        let (g, t) = self.task()?;
        self.proj.latest_plan(g, t)
    }

    fn customize(&self) -> bool {
        self.st.is("customize_pick", "customize")
    }

    /// Whether `worker` takes part given the `workers` answer (blank = every worker).
    pub fn worker_selected(&self, worker: &str) -> bool {
        let ws = self.st.text("workers");
        ws.is_empty() || ws.split(',').any(|w| w == worker)
    }

    fn model_needed(&self, provider: &str) -> bool {
        self.customize()
            && if self.tt() == IMPL {
                self.st.is("executor_pick", provider)
            } else {
                self.worker_selected(provider)
            }
    }

    /// Whether `step` is part of this run.
    pub fn needed(&self, step: &str) -> Result<bool, WizardError> {
        let st = self.st;
        Ok(match step {
            "task_type" | "customize_pick" | "confirm" => true,
            "task_pick" => self.task_pick_needed(),
            "task_group" | "task_id" => self.is_new_task(),
            "work_category" => {
                self.is_new_task() || (self.task().is_some() && self.work_category().is_empty())
            }
            "brief_pick" => self.existing_brief().is_some(),
            "brief_path" => self.existing_brief().is_none() || st.is("brief_pick", "path"),
            "base_ref_pick" => self.base_ref_needed()?,
            "base_ref_text" => st.is("base_ref_pick", "text") && self.base_ref_needed()?,
            "approved_plan_pick" => self.stage_scoped() && self.latest_plan().is_some(),
            "approved_plan_text" => {
                self.stage_scoped()
                    && (self.latest_plan().is_none() || st.is("approved_plan_pick", "path"))
            }
            "approve_plan_confirm" | "stage_pick" => self.stage_scoped(),
            "executor_pick" | "critic_pick" => self.tt() == IMPL,
            "workers" => self.customize() && self.tt() != IMPL,
            "lead_model" | "directive" | "related_tasks" | "clarification_response" => {
                self.customize()
            }
            "claude_model" => self.model_needed("claude"),
            "codex_model" => self.model_needed("codex"),
            "gemini_model" => self.model_needed("gemini"),
            "report_writer_model" => {
                self.customize() && (self.tt() == IMPL || self.worker_selected("report-writer"))
            }
            "pr_template_pick" => self.tt() == RH,
            "pr_template_text" => self.tt() == RH && st.is("pr_template_pick", "path"),
            "branch_confirm" => self.tt() != FV,
            "edit_target" => st.is("confirm", "edit"),
            _ => false,
        })
    }

    fn opt(&self, step: &str, value: &str) -> PromptOption {
        let label = self
            .cat
            .step(step)
            .and_then(|t| t.options.get(value))
            .cloned()
            .unwrap_or_else(|| value.to_string());
        PromptOption {
            value: value.to_string(),
            label,
        }
    }

    fn raw_opt(value: &str, label: &str) -> PromptOption {
        PromptOption {
            value: value.to_string(),
            label: label.to_string(),
        }
    }

    /// The prompt of `step`.
    pub fn build(&self, step: &str) -> Result<Prompt, WizardError> {
        let text = self.cat.step(step);
        let mut label = text.map_or(step, |t| t.label.as_str()).to_string();
        let mut help = text.map_or("", |t| t.help.as_str()).to_string();
        let echo_template = text.map_or("", |t| t.echo.as_str()).to_string();
        let variant = |name: &str| text.map_or(step, |t| t.label_variant(name)).to_string();
        let mut options = Vec::new();
        let mut kind = PromptKind::Pick;
        match step {
            "task_pick" => {
                options.extend(self.proj.tasks().iter().map(|k| Self::raw_opt(k, k)));
                options.push(self.opt(step, "new"));
            }
            "brief_pick" => {
                label = fill(
                    &label,
                    &[("path", &self.existing_brief().unwrap_or_default())],
                );
                options = fixed_options(step)
                    .iter()
                    .map(|v| self.opt(step, v))
                    .collect();
            }
            "base_ref_pick" => {
                options.extend(self.proj.branches().iter().map(|b| Self::raw_opt(b, b)));
                options.push(self.opt(step, "text"));
            }
            "approved_plan_pick" => {
                label = fill(&label, &[("path", &self.latest_plan().unwrap_or_default())]);
                options = fixed_options(step)
                    .iter()
                    .map(|v| self.opt(step, v))
                    .collect();
            }
            "approve_plan_confirm" => {
                label = fill(&label, &[("path", self.st.value("approvedPlan"))]);
                options = fixed_options(step)
                    .iter()
                    .map(|v| self.opt(step, v))
                    .collect();
            }
            "stage_pick" => {
                if self.tt() == IMPL {
                    options.push(self.opt(step, "auto"));
                } else {
                    label = variant("label_final_verification");
                }
                let map = project::plan_stage_map(self.st.value("approvedPlan"));
                if !map.errors.is_empty() {
                    help = format!("{help}\n{}", map.errors.join("\n"));
                }
                for s in map.stages {
                    let deps = if s.depends_on.is_empty() {
                        self.cat.word("no_deps").to_string()
                    } else {
                        s.depends_on
                            .iter()
                            .map(u32::to_string)
                            .collect::<Vec<_>>()
                            .join(",")
                    };
                    options.push(Self::raw_opt(
                        &s.number.to_string(),
                        &fill(
                            &variant("stage_option"),
                            &[
                                ("number", &s.number.to_string()),
                                ("title", &s.title),
                                ("deps", &deps),
                            ],
                        ),
                    ));
                }
            }
            "claude_model" | "codex_model" | "gemini_model" => {
                kind = PromptKind::Text;
                if self.tt() == IMPL {
                    label = variant("label_executor");
                }
            }
            "pr_template_pick" => {
                if let Some(p) = self.proj.repo_pr_template() {
                    let mut o = self.opt(step, "repo");
                    o.label = fill(&o.label, &[("path", &p)]);
                    options.push(o);
                }
                options.push(self.opt(step, "none"));
                options.push(self.opt(step, "path"));
            }
            "branch_confirm" => {
                let decision = self.decision()?;
                let vars = |path: &str, branch: &str, base: &str| {
                    vec![
                        ("path".to_string(), path.to_string()),
                        ("branch".to_string(), branch.to_string()),
                        ("base".to_string(), base.to_string()),
                    ]
                };
                let root = &self.st.project_root;
                let (name, vars) = match &decision {
                    Some(WorktreeDecision::New { path, branch, base }) => {
                        ("label", vars(path, branch, base))
                    }
                    Some(WorktreeDecision::Reused { path, branch, base }) => {
                        ("label_reused", vars(path, branch, base))
                    }
                    Some(WorktreeDecision::InWorktree) => ("label_in_worktree", vars(root, "", "")),
                    Some(WorktreeDecision::NotGit) | None => ("label_not_git", vars(root, "", "")),
                };
                let refs: Vec<(&str, &str)> =
                    vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                label = fill(&variant(name), &refs);
                options.push(self.opt(step, "proceed"));
                if matches!(decision, Some(WorktreeDecision::New { .. }))
                    && self.base_ref_needed()?
                {
                    options.push(self.opt(step, "edit"));
                }
                options.push(self.opt(step, "abort"));
            }
            "confirm" => {
                options = fixed_options(step)
                    .iter()
                    .map(|v| self.opt(step, v))
                    .collect();
                return Ok(Prompt {
                    step: step.into(),
                    kind,
                    label,
                    options,
                    help: super::render::confirmation_block(self.st)?,
                    echo_template,
                    prompts: Vec::new(),
                    can_go_back: !self.st.history.is_empty(),
                });
            }
            "edit_target" => {
                for (field, own, _) in EDIT_FIELDS {
                    if own.iter().any(|s| self.st.answer(s).is_some()) {
                        options.push(self.opt(step, field));
                    }
                }
            }
            "done" | "aborted" => {
                kind = if step == "done" {
                    PromptKind::Done
                } else {
                    PromptKind::Aborted
                };
            }
            _ => {
                let fixed = fixed_options(step);
                if fixed.is_empty() {
                    kind = PromptKind::Text;
                } else {
                    options = fixed.iter().map(|v| self.opt(step, v)).collect();
                }
            }
        }
        Ok(Prompt {
            step: step.into(),
            kind,
            label,
            options,
            help,
            echo_template,
            prompts: Vec::new(),
            can_go_back: !self.st.history.is_empty(),
        })
    }
}

/// The prompt to show for `st`.
pub fn next(st: &WizardState) -> Result<Prompt, WizardError> {
    let cx = Ctx::new(st);
    if st.aborted {
        return cx.build("aborted");
    }
    if st.is("confirm", "proceed") {
        return cx.build("done");
    }
    for step in STEPS {
        if st.answer(step).is_some() || !cx.needed(step)? {
            continue;
        }
        if st.groups && GROUPABLE.contains(&step) {
            let mut members = Vec::new();
            for g in GROUPABLE {
                if st.answer(g).is_none() && cx.needed(g)? {
                    members.push(cx.build(g)?);
                }
            }
            if members.len() > 1 {
                let text = cx.cat.step(GROUP);
                return Ok(Prompt {
                    step: GROUP.into(),
                    kind: PromptKind::PickGroup,
                    label: text.map_or(GROUP, |t| t.label.as_str()).into(),
                    options: Vec::new(),
                    help: text.map_or("", |t| t.help.as_str()).into(),
                    echo_template: text.map_or("", |t| t.echo.as_str()).into(),
                    prompts: members,
                    can_go_back: !st.history.is_empty(),
                });
            }
        }
        return cx.build(step);
    }
    cx.build("done")
}

fn reject(key: &'static str) -> Rejection {
    Rejection::new(key, Code::InvalidArg)
}

/// The core's one id check ([`ids::check_segment`]), with the catalog's message.
fn check_segment(value: &str) -> Result<(), Rejection> {
    ids::check_segment("name", value).map_err(|_| {
        reject("bad_segment")
            .var("value", &ids::excerpt(value))
            .var("max", &ids::MAX_SEGMENT_CHARS.to_string())
    })
}

fn csv(value: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if !out.iter().any(|o| o == item) {
            out.push(item.to_string());
        }
    }
    out
}

/// Applies `value` as the answer to `prompt` onto `draft` (a copy of `st`). `Ok(Err(..))` is
/// a rejected answer; `Err(..)` a failure to read the project.
pub fn apply(
    st: &WizardState,
    draft: &mut WizardState,
    prompt: &Prompt,
    value: &str,
) -> Result<Result<String, Rejection>, WizardError> {
    if prompt.kind == PromptKind::PickGroup {
        return apply_group(draft, prompt, value);
    }
    let cx = Ctx::new(st);
    apply_one(&cx, draft, prompt, value)
}

fn apply_group(
    draft: &mut WizardState,
    prompt: &Prompt,
    value: &str,
) -> Result<Result<String, Rejection>, WizardError> {
    let allowed: Vec<&str> = prompt.prompts.iter().map(|p| p.step.as_str()).collect();
    let parsed: serde_json::Value = match serde_json::from_str(value) {
        Ok(v) => v,
        Err(e) => return Ok(Err(reject("bad_group_value").var("detail", &e.to_string()))),
    };
    let Some(obj) = parsed.as_object() else {
        return Ok(Err(reject("bad_group_value").var("detail", "not an object")));
    };
    if let Some(bad) = obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Ok(Err(reject("unknown_group_step")
            .var("value", bad)
            .var("allowed", &allowed.join(", "))));
    }
    let mut echoes = Vec::new();
    for p in &prompt.prompts {
        let v = match obj.get(&p.step) {
            None => "",
            Some(serde_json::Value::String(s)) => s.as_str(),
            Some(other) => {
                return Ok(Err(reject("bad_group_value")
                    .var("detail", &format!("{}: {other} is not a string", p.step))))
            }
        };
        // Each member is independent of the others: validate it against the state so far.
        let snapshot = draft.clone();
        let cx = Ctx::new(&snapshot);
        match apply_one(&cx, draft, p, v)? {
            Ok(echo) => echoes.push(echo),
            Err(r) => {
                let cat = cx.cat;
                let detail = r.message(cat);
                return Ok(Err(Rejection::new("in_group", r.code)
                    .var("step", &p.step)
                    .var("detail", &detail)));
            }
        }
    }
    Ok(Ok(echoes.join("\n")))
}

fn apply_one(
    cx: &Ctx<'_>,
    draft: &mut WizardState,
    prompt: &Prompt,
    raw: &str,
) -> Result<Result<String, Rejection>, WizardError> {
    let step = prompt.step.as_str();
    let value = raw.trim();
    let mut shown = value.to_string();
    let mut record = true;
    let outcome: Result<(), Rejection> = (|| {
        // Stage numbers first: "auto" for final-verification gets its own message.
        if step == "stage_pick" {
            if value.is_empty() {
                return Err(reject("required"));
            }
            if value == "auto" && cx.tt() != IMPL {
                return Err(reject("stage_auto_fv"));
            }
        }
        if prompt.kind == PromptKind::Pick {
            if value.is_empty() {
                return Err(reject("required"));
            }
            if !prompt.options.iter().any(|o| o.value == value) {
                let allowed: Vec<&str> = prompt.options.iter().map(|o| o.value.as_str()).collect();
                let key = if step == "stage_pick" {
                    "stage_unknown"
                } else {
                    "not_an_option"
                };
                return Err(reject(key)
                    .var("value", value)
                    .var("allowed", &allowed.join(", ")));
            }
        }
        match step {
            "task_pick" if value != "new" => {
                let (g, t) = value.split_once('/').unwrap_or((value, ""));
                draft.values.insert("taskGroup".into(), g.into());
                draft.values.insert("taskId".into(), t.into());
            }
            "task_group" => {
                check_segment(value)?;
                draft.values.insert("taskGroup".into(), value.into());
            }
            "task_id" => {
                check_segment(value)?;
                let group = draft.value("taskGroup").to_string();
                if cx.proj.task_root(&group, value).is_some() {
                    return Err(reject("task_exists").var("value", &format!("{group}/{value}")));
                }
                draft.values.insert("taskId".into(), value.into());
            }
            "brief_pick" if value == "keep" => {
                let brief = cx.existing_brief().unwrap_or_default();
                draft.values.insert("brief".into(), brief);
            }
            "brief_path" | "approved_plan_text" | "pr_template_text" => {
                if value.is_empty() {
                    return Err(reject("required"));
                }
                let abs = cx.proj.resolve_file(value).ok_or_else(|| {
                    Rejection::new("file_missing", Code::NotFound).var("path", value)
                })?;
                let key = match step {
                    "brief_path" => "brief",
                    "approved_plan_text" => {
                        project::check_plan(&abs)?;
                        "approvedPlan"
                    }
                    _ => "prTemplate",
                };
                shown = abs.clone();
                draft.values.insert(key.into(), abs);
            }
            "base_ref_pick" if value != "text" => {
                draft.values.insert("baseRef".into(), value.into());
            }
            "base_ref_text" => {
                if value.is_empty() {
                    return Err(reject("required"));
                }
                cx.proj.resolve_ref(value).map_err(|detail| {
                    reject("bad_ref").var("value", value).var("detail", &detail)
                })?;
                draft.values.insert("baseRef".into(), value.into());
            }
            "approved_plan_pick" if value == "latest" => {
                let latest = cx.latest_plan().unwrap_or_default();
                project::check_plan(&latest)?;
                draft.values.insert("approvedPlan".into(), latest);
            }
            "approve_plan_confirm" => {
                if value == "no" {
                    return Err(reject("declined"));
                }
                project::ensure_plan_approved(draft.value("approvedPlan"))?;
            }
            "workers" => {
                let ws = csv(value);
                if let Some(bad) = ws.iter().find(|w| !WORKERS.contains(&w.as_str())) {
                    return Err(reject("bad_workers").var("value", bad));
                }
                shown = ws.join(",");
            }
            "lead_model"
            | "claude_model"
            | "codex_model"
            | "gemini_model"
            | "report_writer_model"
                if value.contains(char::is_whitespace) =>
            {
                return Err(reject("no_spaces").var("value", value));
            }
            "related_tasks" => {
                let items = csv(value);
                if let Some(bad) = items.iter().find(|i| i.contains(char::is_whitespace)) {
                    return Err(reject("no_spaces").var("value", bad));
                }
                shown = items.join(",");
            }
            "clarification_response" if !value.is_empty() => {
                let abs = cx.proj.resolve_file(value).ok_or_else(|| {
                    Rejection::new("file_missing", Code::NotFound).var("path", value)
                })?;
                shown = abs.clone();
                draft.values.insert("clarification".into(), abs);
            }
            "pr_template_pick" if value == "repo" => {
                let p = cx.proj.repo_pr_template().unwrap_or_default();
                draft.values.insert("prTemplate".into(), p);
            }
            "branch_confirm" if value == "edit" => {
                clear(draft, "base_ref_pick");
                clear(draft, "base_ref_text");
                record = false;
            }
            "branch_confirm" if value == "abort" => draft.aborted = true,
            "edit_target" => {
                if let Some((_, own, deps)) = EDIT_FIELDS.iter().find(|f| f.0 == value) {
                    for s in own.iter().chain(deps.iter()) {
                        clear(draft, s);
                    }
                }
                for s in ["branch_confirm", "confirm", "edit_target"] {
                    clear(draft, s);
                }
                record = false;
            }
            _ => {}
        }
        Ok(())
    })();
    if let Err(r) = outcome {
        return Ok(Err(r));
    }
    if record {
        draft.answers.insert(step.to_string(), shown.clone());
    }
    let display = if shown.is_empty() {
        cx.cat.word("default").to_string()
    } else {
        shown
    };
    Ok(Ok(fill(&prompt.echo_template, &[("value", &display)])))
}
