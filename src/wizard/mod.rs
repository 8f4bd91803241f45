//! The run set-up wizard: a resumable state machine that never prints anything
//! itself. Callers ask [`Wizard::next`] for the next [`Prompt`], show it however they like
//! (a terminal, an agent's multiple-choice tool), and [`Wizard::submit`] the answer.
//!
//! Layout, each module using only those listed after it: `flow` (the engine: next prompt,
//! applying an answer), `steps` (the step table: one record per step — see "Adding a wizard
//! step" there and in `docs/wizard.md`), `render` (`renderArgs` and the confirmation block),
//! `ctx` (what a call derives from the state plus the project), `project` (what is read from
//! the project), `state` (the versioned JSON), `step_id` (the step ids), `catalog` (prompt
//! texts, `prompts/wizard/*.json`).

pub mod catalog;
mod ctx;
mod flow;
pub(crate) mod project;
mod render;
pub mod state;
pub mod step_id;
pub mod steps;

use std::path::Path;

use serde::Serialize;

pub use catalog::Lang;
pub use project::{find_root, WorktreeDecision};
pub use state::{WizardState, STATE_VERSION};
pub use step_id::StepId;

use crate::error::{Code, Coded, InvalidArg};
use crate::fsio::{self, io_err, FsError};
use crate::registry::RegistryError;

/// Wizard failures (a rejected answer is not one: it is [`SubmitOutcome`] with `ok: false`).
#[derive(Debug, thiserror::Error)]
pub enum WizardError {
    /// A saved state of another format version.
    #[error("the wizard state cannot be loaded: {0}")]
    StateVersion(String),
    /// A saved state that is not the wizard's JSON.
    #[error(
        "the wizard state is not a valid wizard state ({0}); start a new one with `okstra \
         wizard init`"
    )]
    StateInvalid(String),
    /// `renderArgs` after the user aborted.
    #[error(
        "the wizard was aborted by the user — render-args is unavailable; start again with \
         `okstra wizard init`"
    )]
    Aborted,
    /// `renderArgs` before the wizard is done (or without what it needs): answer the
    /// remaining steps first.
    #[error("{0}")]
    NotReady(String),
    /// A bad argument.
    #[error(transparent)]
    InvalidArg(#[from] InvalidArg),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Fs(#[from] FsError),
    #[error(transparent)]
    Worktree(#[from] crate::worktree::WorktreeError),
}

impl Coded for WizardError {
    fn code(&self) -> Code {
        match self {
            WizardError::StateVersion(_) => Code::WizardStateVersion,
            WizardError::StateInvalid(_) => Code::WizardStateInvalid,
            WizardError::Aborted => Code::WizardAborted,
            WizardError::NotReady(_) => Code::InvalidArg,
            WizardError::InvalidArg(e) => e.code(),
            WizardError::Registry(e) => e.code(),
            WizardError::Fs(e) => e.code(),
            WizardError::Worktree(e) => e.code(),
        }
    }
}

/// A rejected answer: the catalog message key, a stable code and the message's variables.
#[derive(Debug, Clone)]
pub struct Rejection {
    key: &'static str,
    code: Code,
    vars: Vec<(&'static str, String)>,
}

impl Rejection {
    /// A rejection with catalog message `key` and stable `code`.
    pub fn new(key: &'static str, code: Code) -> Rejection {
        Rejection {
            key,
            code,
            vars: Vec::new(),
        }
    }

    /// The rejection's stable code.
    pub fn code(&self) -> Code {
        self.code
    }

    /// Adds a message variable.
    pub fn var(mut self, name: &'static str, value: &str) -> Rejection {
        self.vars.push((name, value.to_string()));
        self
    }

    fn message(&self, cat: &catalog::Catalog) -> String {
        let vars: Vec<(&str, &str)> = self.vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        cat.error(self.key, &vars)
    }
}

/// What kind of answer a prompt takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PromptKind {
    /// One of `options`.
    Pick,
    /// Free text (blank allowed where the label says so).
    Text,
    /// Several independent prompts (`prompts`), answered together as a JSON object.
    PickGroup,
    /// Finished: call `renderArgs`.
    Done,
    /// Aborted by the user: terminal.
    Aborted,
}

/// One choice of a pick prompt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PromptOption {
    /// The stable machine value to submit.
    pub value: String,
    /// The text to show.
    pub label: String,
}

/// What to ask next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Prompt {
    /// The step id (`task_type`, …, `done`, `aborted`, or `customize_group`).
    pub step: String,
    /// How it is answered.
    pub kind: PromptKind,
    /// The question.
    pub label: String,
    /// The choices (pick prompts).
    pub options: Vec<PromptOption>,
    /// Longer help.
    pub help: String,
    /// The echo printed once answered; `{value}` is the answer.
    pub echo_template: String,
    /// The batched prompts of a `pick_group`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub prompts: Vec<Prompt>,
    /// Whether [`Wizard::back`] has an earlier answer to return to (kept in the state, so
    /// it survives a resume).
    pub can_go_back: bool,
}

/// The result of [`Wizard::submit`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubmitOutcome {
    /// Whether the answer was accepted.
    pub ok: bool,
    /// The echo of an accepted answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub echo: Option<String>,
    /// Why the answer was rejected (in the catalog's language).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The stable code of a rejection (`E_INVALID_ARG`, `E_NOT_FOUND`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The prompt to show now (the same one again after a rejection).
    pub next: Prompt,
}

/// Options of [`Wizard::create`].
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    /// Any directory of the project (must exist): the project is the repository root
    /// found from it ([`find_root`]).
    pub project_root: String,
    /// The project id; default: `projectId` of the project's project.json, else the root's
    /// directory name. A project.json that cannot be used is then an error of `create`
    /// (`E_UNSAFE_FILE`, `E_FILE_TOO_LARGE`, `E_PROJECT_JSON_INVALID`).
    pub project_id: Option<String>,
    /// `ko` (default) or `en`.
    pub lang: Option<String>,
    /// `OKSTRA_HOME` override.
    pub home: Option<String>,
    /// Batch independent prompts into `pick_group` prompts.
    pub groups: bool,
    /// How long to wait for a lock (default `OKSTRA_LOCK_TIMEOUT_MS`, else 30 s).
    pub lock_timeout_ms: Option<u64>,
}

/// How a wizard run ended (serialized `done` / `aborted`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Confirmed: `render_args` holds the run.
    Done,
    /// Aborted by the user.
    Aborted,
}

/// The wizard: a state plus its operations (next, submit, back, render).
#[derive(Debug, Clone)]
pub struct Wizard {
    state: WizardState,
}

impl Wizard {
    /// A fresh wizard for the project at `o.project_root`.
    pub fn create(o: CreateOptions) -> Result<Wizard, WizardError> {
        let lang = match o.lang.as_deref().map(str::trim) {
            None | Some("") => Lang::Ko,
            Some(l) => Lang::parse(l)
                .ok_or_else(|| InvalidArg(format!("lang {l:?} is not supported; use ko or en")))?,
        };
        crate::ids::check_dir("projectRoot", Path::new(&o.project_root))?;
        let start = std::fs::canonicalize(&o.project_root).map_err(|e| {
            InvalidArg(format!(
                "projectRoot {} is not an existing directory ({e})",
                o.project_root
            ))
        })?;
        let root = find_root(&start);
        // A lock bound okstra cannot use (given, or OKSTRA_LOCK_TIMEOUT_MS) is refused now.
        crate::fsio::lock_timeout(o.lock_timeout_ms)?;
        let home = o.home.filter(|h| !h.trim().is_empty());
        if let Some(h) = &home {
            crate::ids::okstra_home(Some(h))?;
        }
        let project_id = match o.project_id.map(|s| s.trim().to_string()) {
            Some(id) if !id.is_empty() => id,
            _ => crate::worktree::project_id(&root)?.unwrap_or_else(|| {
                root.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "project".into())
            }),
        };
        Ok(Wizard {
            state: WizardState {
                version: STATE_VERSION,
                project_root: root.to_string_lossy().into_owned(),
                project_id,
                lang,
                home,
                groups: o.groups,
                lock_timeout_ms: o.lock_timeout_ms,
                now: Default::default(),
                history: Vec::new(),
            },
        })
    }

    /// A wizard from a saved state's JSON. Throws `E_WIZARD_STATE_VERSION` for another
    /// format version, `E_WIZARD_STATE_INVALID` for anything else that is not a state.
    pub fn from_json(text: &str) -> Result<Wizard, WizardError> {
        Ok(Wizard {
            state: WizardState::from_json(text)?,
        })
    }

    /// A wizard from a state file, read through [`crate::safe_open`]: a symlink at the file,
    /// a FIFO or device is `E_UNSAFE_FILE`, a file over 4 MiB `E_FILE_TOO_LARGE`.
    pub fn load(path: &Path) -> Result<Wizard, WizardError> {
        let bytes = crate::safe_open::read_file(path, crate::safe_open::WIZARD_STATE)?.ok_or_else(
            || io_err("read wizard state", path)(std::io::ErrorKind::NotFound.into()),
        )?;
        let text = String::from_utf8(bytes).map_err(|e| {
            io_err("read wizard state", path)(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                e.utf8_error(),
            ))
        })?;
        Wizard::from_json(&text)
    }

    /// Saves the state atomically (temp file, fsync, rename).
    pub fn save(&self, path: &Path) -> Result<(), WizardError> {
        Ok(fsio::atomic_write(path, self.state.to_json().as_bytes())?)
    }

    /// The state as JSON.
    pub fn to_json(&self) -> String {
        self.state.to_json()
    }

    /// Sets how long this wizard's calls wait for a lock (plan approval, the registry);
    /// `None`: `OKSTRA_LOCK_TIMEOUT_MS`, else 30 s. Not saved with the state.
    pub fn set_lock_timeout(&mut self, ms: Option<u64>) {
        self.state.lock_timeout_ms = ms;
    }

    /// The state.
    pub fn state(&self) -> &WizardState {
        &self.state
    }

    /// The prompt to show now.
    pub fn next(&self) -> Result<Prompt, WizardError> {
        flow::next(&self.state)
    }

    /// How the run ended once it is over (a finished state never blocks a new run:
    /// callers start a new one), else `None`.
    pub fn finished(&self) -> Option<Outcome> {
        if self.state.now.aborted {
            Some(Outcome::Aborted)
        } else if self.state.is(StepId::Confirm, "proceed") {
            Some(Outcome::Done)
        } else {
            None
        }
    }

    /// Returns to the question answered last, restoring the answers as they were before
    /// it (an edit and an abort are undone the same way). The history is part of the state,
    /// so Back works after a resume. Returns `false` when there is nothing to go back to.
    pub fn back(&mut self) -> bool {
        match self.state.history.pop() {
            Some(s) => {
                self.state.now = s;
                true
            }
            None => false,
        }
    }

    /// Switches the prompt language (`ko` or `en`), e.g. when a run is resumed with
    /// `--lang`. Answers are kept.
    pub fn set_lang(&mut self, lang: &str) -> Result<(), WizardError> {
        self.state.lang = Lang::parse(lang.trim())
            .ok_or_else(|| InvalidArg(format!("lang {lang:?} is not supported; use ko or en")))?;
        Ok(())
    }

    /// Submits the answer to the current prompt. A rejected answer returns `ok: false` and
    /// leaves the state exactly as it was.
    pub fn submit(&mut self, value: &str) -> Result<SubmitOutcome, WizardError> {
        let current = flow::next(&self.state)?;
        let cat = catalog::catalog(self.state.lang);
        if matches!(current.kind, PromptKind::Done | PromptKind::Aborted) {
            return Ok(SubmitOutcome {
                ok: true,
                echo: Some(String::new()),
                error: None,
                code: None,
                next: current,
            });
        }
        let mut draft = self.state.clone();
        match flow::apply(&self.state, &mut draft, &current, value)? {
            Ok(echo) => {
                draft.push_history(&self.state);
                self.state = draft;
                Ok(SubmitOutcome {
                    ok: true,
                    echo: Some(echo),
                    error: None,
                    code: None,
                    next: flow::next(&self.state)?,
                })
            }
            Err(r) => Ok(SubmitOutcome {
                ok: false,
                echo: None,
                error: Some(r.message(cat)),
                code: Some(r.code.to_string()),
                next: current,
            }),
        }
    }

    /// The `okstra render-bundle` arguments, in a fixed order. Throws `E_WIZARD_ABORTED`
    /// after an abort, `E_INVALID_ARG` before the wizard is done or when final-verification
    /// has no explicit stage.
    pub fn render_args(&self) -> Result<Vec<(&'static str, String)>, WizardError> {
        if self.state.now.aborted {
            return Err(WizardError::Aborted);
        }
        if self.finished().is_none() {
            let next = flow::next(&self.state)?;
            return Err(WizardError::NotReady(format!(
                "the wizard is not finished (next step: {}); answer it, then call render-args",
                next.step
            )));
        }
        render::render_args(&ctx::Ctx::new(&self.state))
    }

    /// The provisioning request of a finished run: the worktree its confirmation showed
    /// (`renderArgs`' task, work category, base ref and implementation stage). Throws what
    /// `render_args` throws; with the context of the wizard's `home`.
    pub fn provision_request(
        &self,
    ) -> Result<(crate::context::Context, crate::worktree::ProvisionRequest), WizardError> {
        let args = self.render_args()?;
        let arg = |name: &str| {
            args.iter()
                .find(|(k, _)| *k == name)
                .map_or("", |(_, v)| v.as_str())
        };
        let cx = ctx::Ctx::new(&self.state);
        let base = Some(arg("base-ref")).filter(|b| !b.is_empty());
        let stage = arg("stage").parse().ok();
        let req = cx.provision_request(stage, base).ok_or_else(|| {
            WizardError::InvalidArg(InvalidArg(
                "the wizard's run has no task to provision".into(),
            ))
        })?;
        Ok((self.state.context()?, req))
    }

    /// The human summary shown before the final confirm (effective values, `default (…)`
    /// where an answer was left blank).
    pub fn confirmation_block(&self) -> Result<String, WizardError> {
        render::confirmation_block(&ctx::Ctx::new(&self.state))
    }
}

#[cfg(test)]
mod tests;
