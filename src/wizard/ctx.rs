//! [`Ctx`]: what one `next`/`submit` call derives from the state plus the project — the task,
//! the effective work category, where the worktree comes from, which workers take part. The
//! step table ([`super::steps`]) and the rendering ([`super::render`]) both read it; it knows
//! neither of them.

use std::path::PathBuf;

use super::catalog::{catalog, Catalog};
use super::project::{Project, WorktreeDecision};
use super::state::WizardState;
use super::step_id::StepId;
use super::{PromptOption, WizardError};
use crate::task_type::TaskType;
use crate::worktree::ProvisionRequest;

/// The task type of an implementation run.
pub const IMPL: &str = TaskType::Implementation.as_str();
/// The task type of a final-verification run.
pub const FV: &str = TaskType::FinalVerification.as_str();
/// The task type of a release-handoff run.
pub const RH: &str = TaskType::ReleaseHandoff.as_str();

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

    /// The chosen task type, or empty.
    pub fn tt(&self) -> &str {
        self.st.task_type()
    }

    /// Whether the run works on one stage of an approved plan.
    pub fn stage_scoped(&self) -> bool {
        matches!(self.tt(), IMPL | FV)
    }

    /// Whether the user picks among existing tasks.
    pub fn task_pick_needed(&self) -> bool {
        // A task typed in while no task existed stays typed in even if tasks appear later.
        let typed_in = self.st.answer(StepId::TaskGroup).is_some()
            && self.st.answer(StepId::TaskPick).is_none();
        !self.proj.tasks().is_empty() && !typed_in
    }

    /// Whether the run creates a new task (not known until the task is picked).
    pub fn is_new_task(&self) -> bool {
        !self.task_pick_needed() || self.st.is(StepId::TaskPick, "new")
    }

    /// The task group and id, once both are known.
    pub fn task(&self) -> Option<(&str, &str)> {
        let (g, t) = (self.st.value("taskGroup"), self.st.value("taskId"));
        (!g.is_empty() && !t.is_empty()).then_some((g, t))
    }

    /// The effective work category: the answer, else the existing task's manifest.
    pub fn work_category(&self) -> String {
        if let Some(c) = self.st.answer(StepId::WorkCategory) {
            return c.to_string();
        }
        self.task()
            .and_then(|(g, t)| self.proj.existing_work_category(g, t))
            .unwrap_or_default()
    }

    /// The existing task's brief, when the run continues a task that has one.
    pub fn existing_brief(&self) -> Option<String> {
        if self.is_new_task() {
            return None;
        }
        let (g, t) = self.task()?;
        self.proj.existing_brief(g, t)
    }

    /// The implementation stage whose worktree the run uses, once a number is picked.
    fn stage_number(&self) -> Option<u32> {
        (self.tt() == IMPL)
            .then(|| self.st.text(StepId::StagePick).parse().ok())
            .flatten()
    }

    /// The run's provisioning request for `stage` from `base_ref` (`None`: the main
    /// worktree's HEAD), once the task is known. The one mapping from the wizard's answers
    /// to provisioning: the confirmation previews it, `Wizard::provision_request` returns it.
    pub fn provision_request(
        &self,
        stage: Option<u32>,
        base_ref: Option<&str>,
    ) -> Option<ProvisionRequest> {
        let (g, t) = self.task()?;
        Some(ProvisionRequest {
            task_type: self.tt().to_string(),
            project_root: PathBuf::from(&self.st.project_root),
            project_id: self.st.project_id.clone(),
            task_group: g.to_string(),
            task_id: t.to_string(),
            work_category: self.work_category(),
            base_ref: base_ref.map(str::to_string),
            stage,
            ..Default::default()
        })
    }

    fn decision_for(
        &self,
        stage: Option<u32>,
        base_ref: Option<&str>,
    ) -> Result<Option<WorktreeDecision>, WizardError> {
        match self.provision_request(stage, base_ref) {
            Some(req) => Ok(Some(self.proj.worktree_decision(&req)?)),
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

    /// The task's reports directory when a symlink on the way kept it from being listed.
    pub fn plan_reports_skipped(&self) -> Option<String> {
        let (g, t) = self.task()?;
        self.proj.plan_reports_skipped(g, t)
    }

    /// The task's latest implementation-planning report.
    pub fn latest_plan(&self) -> Option<String> {
        let (g, t) = self.task()?;
        self.proj.latest_plan(g, t)
    }

    /// Whether the user chose to customize the run.
    pub fn customize(&self) -> bool {
        self.st.is(StepId::CustomizePick, "customize")
    }

    /// Whether `worker` takes part given the `workers` answer (blank = every worker).
    pub fn worker_selected(&self, worker: &str) -> bool {
        let ws = self.st.text(StepId::Workers);
        ws.is_empty() || ws.split(',').any(|w| w == worker)
    }

    /// Whether the model of `provider` is asked: when customizing, for the implementation's
    /// executor, else for a selected worker.
    pub fn model_needed(&self, provider: &str) -> bool {
        self.customize()
            && if self.tt() == IMPL {
                self.st.is(StepId::ExecutorPick, provider)
            } else {
                self.worker_selected(provider)
            }
    }

    /// Option `value` of `step` with its catalog label (the value itself when it has none).
    pub fn opt(&self, step: StepId, value: &str) -> PromptOption {
        let label = self
            .cat
            .step(step.as_str())
            .and_then(|t| t.options.get(value))
            .cloned()
            .unwrap_or_else(|| value.to_string());
        raw_opt(value, &label)
    }

    /// The label variant `name` of `step` (its plain label when the catalog has none).
    pub fn variant(&self, step: StepId, name: &str) -> String {
        self.cat
            .step(step.as_str())
            .map_or(step.as_str(), |t| t.label_variant(name))
            .to_string()
    }
}

/// An option whose label is given (tasks, branches, stages: names, not catalog texts).
pub fn raw_opt(value: &str, label: &str) -> PromptOption {
    PromptOption {
        value: value.to_string(),
        label: label.to_string(),
    }
}
