//! The wizard's steps as one table, [`STEPS`]: each step is one [`Step`] record saying when
//! it is asked, what it offers, how its prompt is shaped, how its answer is validated, which
//! resolved values it writes and what an edit of it clears. The engine (`flow.rs`)
//! only walks this table; nothing else knows a step by name.
//!
//! # Adding a wizard step
//!
//! 1. Add its id to [`StepId`] (`step_id.rs`), at the position it is asked.
//! 2. Add its record to [`STEPS`], at the same position; start from [`BASE`] and set what
//!    differs (condition, options, prompt and accept hooks, written values, edit field).
//! 3. Add its texts to both catalogs, `prompts/wizard/ko.json` and `en.json`: `steps.<id>`
//!    with `label`, `help`, `echo`, a label for every fixed option and every label variant
//!    the record names, and any new error message under `errors`.
//!
//! The test `the_step_table_is_the_only_home` fails until the three agree. `docs/wizard.md`
//! describes each record field.

use super::catalog::fill;
use super::ctx::{raw_opt, Ctx, FV, IMPL, RH};
use super::project::{self, WorktreeDecision};
use super::state::WizardState;
use super::step_id::StepId;
use super::{Prompt, Rejection, WizardError};
use crate::error::Code;
use crate::ids;
use crate::task_type::TaskType;

/// Terminal prompt ids (not steps: nothing is asked).
pub const TERMINAL: [&str; 2] = ["done", "aborted"];

/// The id of the batched prompt of the [`Step::groupable`] steps.
pub const GROUP: &str = "customize_group";

/// The six task types (phases).
pub const TASK_TYPES: [&str; 6] = TaskType::NAMES;

/// Known worker names for `workers`.
pub const WORKERS: [&str; 4] = ["claude", "codex", "gemini", "report-writer"];

/// What a step offers.
#[derive(Debug, Clone, Copy)]
pub enum Options {
    /// Free text (a `text` prompt).
    Text,
    /// These fixed values (a `pick` prompt), each labelled by the catalog under
    /// `steps.<id>.options`; a prompt hook may add dynamic ones (tasks, branches, stages).
    Pick(&'static [&'static str]),
    /// The edit fields of [`STEPS`] (a `pick` prompt of `edit_target`).
    EditFields,
}

impl Options {
    /// The fixed option values (every one has a label in every catalog).
    pub fn values(self) -> Vec<&'static str> {
        match self {
            Options::Text => Vec::new(),
            Options::Pick(v) => v.to_vec(),
            Options::EditFields => edit_fields(),
        }
    }
}

/// What an edit of a step re-asks: the field offered by `edit_target` and the later steps
/// whose answers depend on it. A field asked by several steps (the task key: pick, group,
/// id) shares one `Edit`. `branch_confirm`, `confirm` and `edit_target` are always cleared.
#[derive(Debug, Clone, Copy)]
pub struct Edit {
    /// The `edit_target` option value (labelled under `steps.edit_target.options`).
    pub field: &'static str,
    /// The steps cleared with the field's own steps.
    pub clears: &'static [StepId],
}

/// An answer being accepted: accept hooks validate `value` and write to `draft`.
pub struct Answer<'a> {
    /// The state the answer is applied to (a copy: dropped when the answer is rejected).
    pub draft: &'a mut WizardState,
    /// The answer, trimmed.
    pub value: &'a str,
    /// What is recorded and echoed (e.g. the absolute path of a file answer).
    pub shown: String,
    /// Whether the answer is recorded (`false` for `edit`-like answers that only clear).
    pub record: bool,
}

impl Answer<'_> {
    fn set(&mut self, key: &str, value: &str) {
        self.draft.now.values.insert(key.into(), value.into());
    }
}

/// Why an answer was not applied: rejected (shown to the user, state unchanged), or the
/// project could not be read or written (an error of the call).
#[derive(Debug)]
pub enum Refusal {
    /// A rejected answer.
    Rejected(Rejection),
    /// A failure of the call.
    Failed(WizardError),
}

impl From<Rejection> for Refusal {
    fn from(r: Rejection) -> Self {
        Refusal::Rejected(r)
    }
}

impl From<WizardError> for Refusal {
    fn from(e: WizardError) -> Self {
        Refusal::Failed(e)
    }
}

/// Whether a step is part of this run, given the answers so far.
pub type When = fn(&Ctx<'_>) -> Result<bool, WizardError>;
/// Shapes a prompt built from the catalog texts and the fixed options.
pub type PromptHook = fn(&Ctx<'_>, &mut Prompt) -> Result<(), WizardError>;
/// Validates an answer and writes the values it resolves.
pub type AcceptHook = fn(&Ctx<'_>, &mut Answer<'_>) -> Result<(), Refusal>;
/// The rejection of a pick answer that is not one of the options (`value`, `allowed`).
pub type Unknown = fn(&Ctx<'_>, &str, &str) -> Rejection;

/// One step.
#[derive(Clone, Copy)]
pub struct Step {
    /// Its id.
    pub id: StepId,
    /// When it is asked (it is also skipped once answered).
    pub when: When,
    /// What it offers; free text unless it has options.
    pub options: Options,
    /// The label variants its prompt hook uses (`steps.<id>.<name>` in every catalog).
    pub variants: &'static [&'static str],
    /// Shapes the prompt (dynamic options, filled labels, label variants).
    pub prompt: Option<PromptHook>,
    /// The rejection of an answer that is not an option (pick steps).
    pub unknown: Unknown,
    /// Validates the answer and writes what it resolves (after the pick check).
    pub accept: Option<AcceptHook>,
    /// The keys of `WizardState::values` it writes (cleared with its answer).
    pub writes: &'static [&'static str],
    /// What `edit_target` offers for it and what an edit clears (`None`: not editable).
    pub edit: Option<Edit>,
    /// Independent of its neighbours: batched into [`GROUP`] when the wizard groups.
    pub groupable: bool,
}

/// The defaults every record starts from (`..BASE`): always asked, free text, no hooks,
/// writes nothing, not editable, not grouped.
pub const BASE: Step = Step {
    id: StepId::TaskType,
    when: |_| Ok(true),
    options: Options::Text,
    variants: &[],
    prompt: None,
    unknown: not_an_option,
    accept: None,
    writes: &[],
    edit: None,
    groupable: false,
};

const TASK_KEY: Edit = Edit {
    field: "task_key",
    clears: &[
        StepId::WorkCategory,
        StepId::BriefPick,
        StepId::BriefPath,
        StepId::BaseRefPick,
        StepId::BaseRefText,
        StepId::ApprovedPlanPick,
        StepId::ApprovedPlanText,
        StepId::ApprovePlanConfirm,
        StepId::StagePick,
    ],
};
const BRIEF: Edit = only("brief");
const BASE_REF: Edit = only("base_ref");
const APPROVED_PLAN: Edit = Edit {
    field: "approved_plan",
    clears: &[StepId::StagePick],
};
const PR_TEMPLATE: Edit = only("pr_template");
const MODELS: &[StepId] = &[StepId::ClaudeModel, StepId::CodexModel, StepId::GeminiModel];

/// An edit field that clears nothing else.
const fn only(field: &'static str) -> Edit {
    Edit { field, clears: &[] }
}

/// The model step of a worker (`claude`, `codex`, `gemini`): asked when the worker takes
/// part, labelled as the executor's when it is one, a model name or blank.
macro_rules! worker_model {
    ($id:ident, $worker:literal, $field:literal) => {
        Step {
            id: StepId::$id,
            when: |cx| Ok(cx.model_needed($worker)),
            variants: &["label_executor"],
            prompt: Some(executor_label),
            accept: Some(accept_model),
            edit: Some(only($field)),
            groupable: true,
            ..BASE
        }
    };
}

/// Every step, in the order they are asked.
pub static STEPS: &[Step] = &[
    Step {
        id: StepId::TaskType,
        options: Options::Pick(&TASK_TYPES),
        edit: Some(Edit {
            field: "task_type",
            clears: StepId::ALL,
        }),
        ..BASE
    },
    Step {
        id: StepId::TaskPick,
        when: |cx| Ok(cx.task_pick_needed()),
        options: Options::Pick(&["new"]),
        variants: &["help_skipped"],
        prompt: Some(|cx, p| {
            p.options = cx.proj.tasks().iter().map(|k| raw_opt(k, k)).collect();
            p.options.push(cx.opt(StepId::TaskPick, "new"));
            let skipped = cx.proj.skipped_tasks();
            if !skipped.is_empty() {
                let why = cx.variant(StepId::TaskPick, "help_skipped");
                let why = fill(&why, &[("paths", &skipped.join(", "))]);
                p.help = format!("{} {why}", p.help);
            }
            Ok(())
        }),
        accept: Some(|cx, a| {
            if a.value != "new" {
                let (g, t) = a.value.split_once('/').unwrap_or((a.value, ""));
                cx.proj.check_manifest(g, t)?;
                a.set("taskGroup", g);
                a.set("taskId", t);
            }
            Ok(())
        }),
        writes: &["taskGroup", "taskId"],
        edit: Some(TASK_KEY),
        ..BASE
    },
    Step {
        id: StepId::TaskGroup,
        when: |cx| Ok(cx.is_new_task()),
        accept: Some(|_, a| {
            check_segment(a.value)?;
            a.set("taskGroup", a.value);
            Ok(())
        }),
        writes: &["taskGroup"],
        edit: Some(TASK_KEY),
        ..BASE
    },
    Step {
        id: StepId::TaskId,
        when: |cx| Ok(cx.is_new_task()),
        accept: Some(accept_task_id),
        writes: &["taskId"],
        edit: Some(TASK_KEY),
        ..BASE
    },
    Step {
        id: StepId::WorkCategory,
        when: |cx| Ok(cx.is_new_task() || (cx.task().is_some() && cx.work_category().is_empty())),
        options: Options::Pick(&[
            "feature",
            "bugfix",
            "refactor",
            "improvement",
            "ops",
            "other",
        ]),
        edit: Some(only("work_category")),
        ..BASE
    },
    Step {
        id: StepId::BriefPick,
        when: |cx| Ok(cx.existing_brief().is_some()),
        options: Options::Pick(&["keep", "path"]),
        prompt: Some(|cx, p| {
            p.label = fill(
                &p.label,
                &[("path", &cx.existing_brief().unwrap_or_default())],
            );
            Ok(())
        }),
        accept: Some(|cx, a| {
            if a.value == "keep" {
                a.set("brief", &cx.existing_brief().unwrap_or_default());
            }
            Ok(())
        }),
        writes: &["brief"],
        edit: Some(BRIEF),
        ..BASE
    },
    Step {
        id: StepId::BriefPath,
        when: |cx| Ok(cx.existing_brief().is_none() || cx.st.is(StepId::BriefPick, "path")),
        accept: Some(|cx, a| accept_file(cx, a, "brief", false)),
        writes: &["brief"],
        edit: Some(BRIEF),
        ..BASE
    },
    Step {
        id: StepId::BaseRefPick,
        when: |cx| cx.base_ref_needed(),
        options: Options::Pick(&["text"]),
        prompt: Some(|cx, p| {
            p.options = cx.proj.branches().iter().map(|b| raw_opt(b, b)).collect();
            p.options.push(cx.opt(StepId::BaseRefPick, "text"));
            Ok(())
        }),
        accept: Some(|_, a| {
            if a.value != "text" {
                a.set("baseRef", a.value);
            }
            Ok(())
        }),
        writes: &["baseRef"],
        edit: Some(BASE_REF),
        ..BASE
    },
    Step {
        id: StepId::BaseRefText,
        when: |cx| Ok(cx.st.is(StepId::BaseRefPick, "text") && cx.base_ref_needed()?),
        accept: Some(|cx, a| {
            required(a.value)?;
            cx.proj.resolve_ref(a.value).map_err(|detail| {
                reject("bad_ref")
                    .var("value", a.value)
                    .var("detail", &detail)
            })?;
            a.set("baseRef", a.value);
            Ok(())
        }),
        writes: &["baseRef"],
        edit: Some(BASE_REF),
        ..BASE
    },
    Step {
        id: StepId::ApprovedPlanPick,
        when: |cx| Ok(cx.stage_scoped() && cx.latest_plan().is_some()),
        options: Options::Pick(&["latest", "path"]),
        prompt: Some(|cx, p| {
            p.label = fill(&p.label, &[("path", &cx.latest_plan().unwrap_or_default())]);
            Ok(())
        }),
        accept: Some(|cx, a| {
            if a.value == "latest" {
                let latest = cx.latest_plan().unwrap_or_default();
                project::check_plan(&latest)?;
                a.set("approvedPlan", &latest);
            }
            Ok(())
        }),
        writes: &["approvedPlan"],
        edit: Some(APPROVED_PLAN),
        ..BASE
    },
    Step {
        id: StepId::ApprovedPlanText,
        when: |cx| {
            Ok(cx.stage_scoped()
                && (cx.latest_plan().is_none() || cx.st.is(StepId::ApprovedPlanPick, "path")))
        },
        variants: &["help_skipped"],
        prompt: Some(|cx, p| {
            if let Some(dir) = cx.plan_reports_skipped() {
                let why = cx.variant(StepId::ApprovedPlanText, "help_skipped");
                p.help = format!("{} {}", p.help, fill(&why, &[("path", &dir)]));
            }
            Ok(())
        }),
        accept: Some(|cx, a| accept_file(cx, a, "approvedPlan", true)),
        writes: &["approvedPlan"],
        edit: Some(APPROVED_PLAN),
        ..BASE
    },
    Step {
        id: StepId::ApprovePlanConfirm,
        when: |cx| Ok(cx.stage_scoped()),
        options: Options::Pick(&["yes", "no"]),
        prompt: Some(|cx, p| {
            p.label = fill(&p.label, &[("path", cx.st.value("approvedPlan"))]);
            Ok(())
        }),
        accept: Some(|_, a| {
            if a.value == "no" {
                return Err(reject("declined").into());
            }
            let bound = a.draft.lock_timeout().map_err(WizardError::from)?;
            project::ensure_plan_approved(a.draft.value("approvedPlan"), bound)?
                .map_err(Refusal::Rejected)
        }),
        edit: Some(APPROVED_PLAN),
        ..BASE
    },
    Step {
        id: StepId::StagePick,
        when: |cx| Ok(cx.stage_scoped()),
        options: Options::Pick(&["auto"]),
        variants: &["label_final_verification", "stage_option"],
        prompt: Some(stage_prompt),
        unknown: |cx, value, allowed| {
            if value == "auto" && cx.tt() != IMPL {
                return reject("stage_auto_fv");
            }
            reject("stage_unknown")
                .var("value", value)
                .var("allowed", allowed)
        },
        edit: Some(only("stage")),
        ..BASE
    },
    Step {
        id: StepId::ExecutorPick,
        when: |cx| Ok(cx.tt() == IMPL),
        options: Options::Pick(&["claude", "codex", "gemini"]),
        edit: Some(Edit {
            field: "executor",
            clears: MODELS,
        }),
        ..BASE
    },
    Step {
        id: StepId::CriticPick,
        when: |cx| Ok(cx.tt() == IMPL),
        options: Options::Pick(&["off", "claude", "codex", "gemini"]),
        edit: Some(only("critic")),
        ..BASE
    },
    Step {
        id: StepId::CustomizePick,
        options: Options::Pick(&["defaults", "customize"]),
        edit: Some(Edit {
            field: "customize",
            clears: &[
                StepId::Workers,
                StepId::LeadModel,
                StepId::ClaudeModel,
                StepId::CodexModel,
                StepId::GeminiModel,
                StepId::ReportWriterModel,
                StepId::Directive,
                StepId::RelatedTasks,
                StepId::ClarificationResponse,
            ],
        }),
        ..BASE
    },
    Step {
        id: StepId::Workers,
        when: |cx| Ok(cx.customize() && cx.tt() != IMPL),
        accept: Some(|_, a| {
            let ws = csv(a.value);
            if let Some(bad) = ws.iter().find(|w| !WORKERS.contains(&w.as_str())) {
                return Err(reject("bad_workers").var("value", bad).into());
            }
            a.shown = ws.join(",");
            Ok(())
        }),
        edit: Some(Edit {
            field: "workers",
            clears: &[
                StepId::ClaudeModel,
                StepId::CodexModel,
                StepId::GeminiModel,
                StepId::ReportWriterModel,
            ],
        }),
        ..BASE
    },
    Step {
        id: StepId::LeadModel,
        when: |cx| Ok(cx.customize()),
        accept: Some(accept_model),
        edit: Some(only("lead_model")),
        groupable: true,
        ..BASE
    },
    worker_model!(ClaudeModel, "claude", "claude_model"),
    worker_model!(CodexModel, "codex", "codex_model"),
    worker_model!(GeminiModel, "gemini", "gemini_model"),
    Step {
        id: StepId::ReportWriterModel,
        when: |cx| Ok(cx.customize() && (cx.tt() == IMPL || cx.worker_selected("report-writer"))),
        accept: Some(accept_model),
        edit: Some(only("report_writer_model")),
        groupable: true,
        ..BASE
    },
    Step {
        id: StepId::Directive,
        when: |cx| Ok(cx.customize()),
        edit: Some(only("directive")),
        groupable: true,
        ..BASE
    },
    Step {
        id: StepId::RelatedTasks,
        when: |cx| Ok(cx.customize()),
        accept: Some(|_, a| {
            let items = csv(a.value);
            if let Some(bad) = items.iter().find(|i| i.contains(char::is_whitespace)) {
                return Err(reject("no_spaces").var("value", bad).into());
            }
            a.shown = items.join(",");
            Ok(())
        }),
        edit: Some(only("related_tasks")),
        groupable: true,
        ..BASE
    },
    Step {
        id: StepId::ClarificationResponse,
        when: |cx| Ok(cx.customize()),
        accept: Some(|cx, a| {
            if !a.value.is_empty() {
                let abs = existing_file(cx, a.value)?;
                a.set("clarification", &abs);
                a.shown = abs;
            }
            Ok(())
        }),
        writes: &["clarification"],
        edit: Some(only("clarification_response")),
        groupable: true,
        ..BASE
    },
    Step {
        id: StepId::PrTemplatePick,
        when: |cx| Ok(cx.tt() == RH),
        options: Options::Pick(&["repo", "none", "path"]),
        prompt: Some(|cx, p| {
            let id = StepId::PrTemplatePick;
            p.options.clear();
            if let Some(path) = cx.proj.repo_pr_template() {
                let mut o = cx.opt(id, "repo");
                o.label = fill(&o.label, &[("path", &path)]);
                p.options.push(o);
            }
            p.options.push(cx.opt(id, "none"));
            p.options.push(cx.opt(id, "path"));
            Ok(())
        }),
        accept: Some(|cx, a| {
            if a.value == "repo" {
                a.set(
                    "prTemplate",
                    &cx.proj.repo_pr_template().unwrap_or_default(),
                );
            }
            Ok(())
        }),
        writes: &["prTemplate"],
        edit: Some(PR_TEMPLATE),
        ..BASE
    },
    Step {
        id: StepId::PrTemplateText,
        when: |cx| Ok(cx.tt() == RH && cx.st.is(StepId::PrTemplatePick, "path")),
        accept: Some(|cx, a| accept_file(cx, a, "prTemplate", false)),
        writes: &["prTemplate"],
        edit: Some(PR_TEMPLATE),
        ..BASE
    },
    Step {
        id: StepId::BranchConfirm,
        when: |cx| Ok(cx.tt() != FV),
        options: Options::Pick(&["proceed", "edit", "abort"]),
        variants: &["label_reused", "label_in_worktree", "label_not_git"],
        prompt: Some(branch_prompt),
        accept: Some(|_, a| {
            match a.value {
                "edit" => {
                    clear(a.draft, StepId::BaseRefPick);
                    clear(a.draft, StepId::BaseRefText);
                    a.record = false;
                }
                "abort" => a.draft.now.aborted = true,
                _ => {}
            }
            Ok(())
        }),
        ..BASE
    },
    Step {
        id: StepId::Confirm,
        options: Options::Pick(&["proceed", "edit"]),
        prompt: Some(|cx, p| {
            p.help = super::render::confirmation_block(cx)?;
            Ok(())
        }),
        ..BASE
    },
    Step {
        id: StepId::EditTarget,
        when: |cx| Ok(cx.st.is(StepId::Confirm, "edit")),
        options: Options::EditFields,
        prompt: Some(|cx, p| {
            p.options = edit_fields()
                .into_iter()
                .filter(|f| own_steps(f).any(|s| cx.st.answer(s.id).is_some()))
                .map(|f| cx.opt(StepId::EditTarget, f))
                .collect();
            Ok(())
        }),
        accept: Some(|_, a| {
            for s in own_steps(a.value) {
                clear(a.draft, s.id);
                for c in s.edit.map_or(&[][..], |e| e.clears) {
                    clear(a.draft, *c);
                }
            }
            for s in [StepId::BranchConfirm, StepId::Confirm, StepId::EditTarget] {
                clear(a.draft, s);
            }
            a.record = false;
            Ok(())
        }),
        ..BASE
    },
];

/// The record of `id`.
pub fn step(id: StepId) -> &'static Step {
    // `STEPS` holds every id once (a test checks it), in `StepId::ALL`'s order.
    STEPS.iter().find(|s| s.id == id).unwrap_or(&STEPS[0])
}

/// The edit fields, in the order of their first step.
pub fn edit_fields() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for f in STEPS.iter().filter_map(|s| s.edit.map(|e| e.field)) {
        if !out.contains(&f) {
            out.push(f);
        }
    }
    out
}

/// The steps asking edit field `field`.
fn own_steps(field: &str) -> impl Iterator<Item = &'static Step> + '_ {
    STEPS
        .iter()
        .filter(move |s| s.edit.is_some_and(|e| e.field == field))
}

/// Forgets the answer to `id` and the values it wrote.
pub fn clear(st: &mut WizardState, id: StepId) {
    st.clear(id, step(id).writes);
}

/// A rejection with the usual code of a bad answer.
pub fn reject(key: &'static str) -> Rejection {
    Rejection::new(key, Code::InvalidArg)
}

fn not_an_option(_: &Ctx<'_>, value: &str, allowed: &str) -> Rejection {
    reject("not_an_option")
        .var("value", value)
        .var("allowed", allowed)
}

fn required(value: &str) -> Result<(), Rejection> {
    if value.is_empty() {
        return Err(reject("required"));
    }
    Ok(())
}

/// The core's one id check ([`ids::check_segment`]), with the catalog's message.
fn check_segment(value: &str) -> Result<(), Rejection> {
    ids::check_segment("name", value).map_err(|_| {
        reject("bad_segment")
            .var("value", &ids::excerpt(value))
            .var("max", &ids::MAX_SEGMENT_CHARS.to_string())
    })
}

fn accept_task_id(cx: &Ctx<'_>, a: &mut Answer<'_>) -> Result<(), Refusal> {
    check_segment(a.value)?;
    let group = a.draft.value("taskGroup").to_string();
    if cx.proj.task_root(&group, a.value).is_some() {
        let key = format!("{group}/{}", a.value);
        return Err(reject("task_exists").var("value", &key).into());
    }
    a.set("taskId", a.value);
    Ok(())
}

fn existing_file(cx: &Ctx<'_>, value: &str) -> Result<String, Rejection> {
    cx.proj
        .resolve_file(value)
        .ok_or_else(|| Rejection::new("file_missing", Code::NotFound).var("path", value))
}

/// A required path of an existing file, written as `key` (absolute); a plan is checked.
fn accept_file(cx: &Ctx<'_>, a: &mut Answer<'_>, key: &str, plan: bool) -> Result<(), Refusal> {
    required(a.value)?;
    let abs = existing_file(cx, a.value)?;
    if plan {
        project::check_plan(&abs)?;
    }
    a.set(key, &abs);
    a.shown = abs;
    Ok(())
}

fn accept_model(_: &Ctx<'_>, a: &mut Answer<'_>) -> Result<(), Refusal> {
    if a.value.contains(char::is_whitespace) {
        return Err(reject("no_spaces").var("value", a.value).into());
    }
    Ok(())
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

/// The implementation's executor model is labelled as such.
fn executor_label(cx: &Ctx<'_>, p: &mut Prompt) -> Result<(), WizardError> {
    if cx.tt() == IMPL {
        let id = StepId::parse(&p.step).unwrap_or(StepId::ClaudeModel);
        p.label = cx.variant(id, "label_executor");
    }
    Ok(())
}

/// `auto` (implementation) or the final-verification label, then the plan's stages.
fn stage_prompt(cx: &Ctx<'_>, p: &mut Prompt) -> Result<(), WizardError> {
    let id = StepId::StagePick;
    if cx.tt() != IMPL {
        p.options.clear();
        p.label = cx.variant(id, "label_final_verification");
    }
    let map = project::plan_stage_map(cx.st.value("approvedPlan"));
    if !map.errors.is_empty() {
        p.help = format!("{}\n{}", p.help, map.errors.join("\n"));
    }
    let template = cx.variant(id, "stage_option");
    for s in map.stages {
        let deps = if s.depends_on.is_empty() {
            cx.cat.word("no_deps").to_string()
        } else {
            let d: Vec<String> = s.depends_on.iter().map(u32::to_string).collect();
            d.join(",")
        };
        let number = s.number.to_string();
        let label = fill(
            &template,
            &[("number", &number), ("title", &s.title), ("deps", &deps)],
        );
        p.options.push(raw_opt(&number, &label));
    }
    Ok(())
}

/// The exact worktree, branch and base provisioning will make or reuse; `edit` only when
/// a new worktree's base ref was asked.
fn branch_prompt(cx: &Ctx<'_>, p: &mut Prompt) -> Result<(), WizardError> {
    let id = StepId::BranchConfirm;
    let decision = cx.decision()?;
    let root = cx.st.project_root.as_str();
    let (name, path, branch, base) = match &decision {
        Some(WorktreeDecision::New { path, branch, base }) => {
            ("label", path.as_str(), branch.as_str(), base.as_str())
        }
        Some(WorktreeDecision::Reused { path, branch, base }) => (
            "label_reused",
            path.as_str(),
            branch.as_str(),
            base.as_str(),
        ),
        Some(WorktreeDecision::InWorktree) => ("label_in_worktree", root, "", ""),
        Some(WorktreeDecision::NotGit) | None => ("label_not_git", root, "", ""),
    };
    p.label = fill(
        &cx.variant(id, name),
        &[("path", path), ("branch", branch), ("base", base)],
    );
    let editable =
        matches!(decision, Some(WorktreeDecision::New { .. })) && cx.base_ref_needed()?;
    p.options.retain(|o| o.value != "edit" || editable);
    Ok(())
}
