//! The step ids. Each id's string is the key of its answer in the state file (`answers`) and
//! of its texts in the catalogs (`steps.<id>`), so the strings never change once shipped:
//! state files written by earlier versions keep loading. The order here is the order the
//! steps are asked in, and the order of the table in [`super::steps::STEPS`] (a test checks
//! both agree).

macro_rules! step_ids {
    ($($variant:ident = $name:literal,)*) => {
        /// A step of the wizard (see [`super::steps::STEPS`] for what each one does).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum StepId {
            $(
                #[doc = concat!("`", $name, "`")]
                $variant,
            )*
        }

        impl StepId {
            /// Every step id, in the order they are asked.
            pub const ALL: &'static [StepId] = &[$(StepId::$variant,)*];

            /// The id as written in state files and catalogs.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(StepId::$variant => $name,)*
                }
            }

            /// The id written as `s`, if it is one.
            pub fn parse(s: &str) -> Option<StepId> {
                match s {
                    $($name => Some(StepId::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

step_ids! {
    TaskType = "task_type",
    TaskPick = "task_pick",
    TaskGroup = "task_group",
    TaskId = "task_id",
    WorkCategory = "work_category",
    BriefPick = "brief_pick",
    BriefPath = "brief_path",
    BaseRefPick = "base_ref_pick",
    BaseRefText = "base_ref_text",
    ApprovedPlanPick = "approved_plan_pick",
    ApprovedPlanText = "approved_plan_text",
    ApprovePlanConfirm = "approve_plan_confirm",
    StagePick = "stage_pick",
    ExecutorPick = "executor_pick",
    CriticPick = "critic_pick",
    CustomizePick = "customize_pick",
    Workers = "workers",
    LeadModel = "lead_model",
    ClaudeModel = "claude_model",
    CodexModel = "codex_model",
    GeminiModel = "gemini_model",
    ReportWriterModel = "report_writer_model",
    Directive = "directive",
    RelatedTasks = "related_tasks",
    ClarificationResponse = "clarification_response",
    PrTemplatePick = "pr_template_pick",
    PrTemplateText = "pr_template_text",
    BranchConfirm = "branch_confirm",
    Confirm = "confirm",
    EditTarget = "edit_target",
}

impl AsRef<str> for StepId {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl std::fmt::Display for StepId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
