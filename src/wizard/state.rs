//! `WizardState`: the plain, versioned JSON saved between calls. It holds the raw answers by
//! step id and the values resolved when an answer was accepted (absolute paths, the task key
//! of a picked task); everything else is derived from these plus the project. Answers are
//! keyed by [`StepId::as_str`].

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::catalog::Lang;
use super::step_id::StepId;
use super::WizardError;
use crate::context::Context;
use crate::error::InvalidArg;

/// The state format written by this version. Version 1 is the first Rust format; the Python
/// wizard's state files carry no `version` and are refused with a clear error.
pub const STATE_VERSION: u32 = 1;

/// The wizard's whole state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WizardState {
    /// Format version ([`STATE_VERSION`]).
    pub version: u32,
    /// Absolute project root.
    pub project_root: String,
    /// The project id used in registry keys.
    pub project_id: String,
    /// Catalog language.
    pub lang: Lang,
    /// `OKSTRA_HOME` override for registry look-ups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home: Option<String>,
    /// Whether independent prompts are batched into `pick_group` prompts.
    #[serde(default)]
    pub groups: bool,
    /// How long this process's calls wait for a lock (plan approval, the registry). Not
    /// saved: each call gives its own (`lockTimeoutMs`, `--lock-timeout-ms`), else
    /// `OKSTRA_LOCK_TIMEOUT_MS`, else 30 s.
    #[serde(skip)]
    pub lock_timeout_ms: Option<u64>,
    /// The answers so far (saved as the top-level `answers`, `values` and `aborted`).
    #[serde(flatten)]
    pub now: Snapshot,
    /// The answers before each accepted answer, oldest first: what Back returns to. Saved
    /// with the state, so a resumed run can still go back.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<Snapshot>,
}

/// The answers at one point of the run: the current ones ([`WizardState::now`]) or an
/// entry of [`WizardState::history`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Raw answers by step id.
    #[serde(default)]
    pub answers: BTreeMap<String, String>,
    /// Values resolved from accepted answers (`brief`, `approvedPlan`, `taskGroup`, …).
    #[serde(default)]
    pub values: BTreeMap<String, String>,
    /// Terminal: the user aborted.
    #[serde(default)]
    pub aborted: bool,
}

/// How many answers Back can undo (a run has about thirty questions; edits add more).
pub const HISTORY_LIMIT: usize = 200;

impl WizardState {
    /// The context of a call: the state's `home` and lock bound, resolved once.
    pub fn context(&self) -> Result<Context, InvalidArg> {
        Context::resolve(self.home.as_deref(), self.lock_timeout_ms)
    }

    /// How long a call waits for a lock (`E_INVALID_ARG` for a bound okstra cannot use).
    pub fn lock_timeout(&self) -> Result<Duration, InvalidArg> {
        crate::fsio::lock_timeout(self.lock_timeout_ms)
    }

    /// Parses a saved state, refusing other versions with a clear error.
    pub fn from_json(text: &str) -> Result<WizardState, WizardError> {
        let raw: serde_json::Value =
            serde_json::from_str(text).map_err(|e| WizardError::StateInvalid(e.to_string()))?;
        match raw.get("version").and_then(serde_json::Value::as_u64) {
            None => Err(WizardError::StateVersion(
                "it has no `version` field (a state file of the Python wizard.py); start a \
                 new one with `okstra wizard init`"
                    .into(),
            )),
            Some(v) if v == u64::from(STATE_VERSION) => {
                serde_json::from_value(raw).map_err(|e| WizardError::StateInvalid(e.to_string()))
            }
            Some(v) if v > u64::from(STATE_VERSION) => Err(WizardError::StateVersion(format!(
                "it is version {v}, written by a newer okstra (this one reads version \
                 {STATE_VERSION}); upgrade @okstra/native"
            ))),
            Some(v) => Err(WizardError::StateVersion(format!(
                "version {v} is not a known state format; start a new one with `okstra wizard init`"
            ))),
        }
    }

    /// The state as pretty JSON with a trailing newline.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }

    /// Records `before` (the state this one was made from) as the point Back returns to.
    pub fn push_history(&mut self, before: &WizardState) {
        self.history.push(before.now.clone());
        if self.history.len() > HISTORY_LIMIT {
            let extra = self.history.len() - HISTORY_LIMIT;
            self.history.drain(..extra);
        }
    }

    /// The answer to `step` (a [`StepId`] or its string), if given.
    pub fn answer(&self, step: impl AsRef<str>) -> Option<&str> {
        self.now.answers.get(step.as_ref()).map(String::as_str)
    }

    /// The answer to `step`, or empty.
    pub fn text(&self, step: impl AsRef<str>) -> &str {
        self.answer(step).unwrap_or("")
    }

    /// Whether `step` was answered with `value`.
    pub fn is(&self, step: impl AsRef<str>, value: &str) -> bool {
        self.answer(step) == Some(value)
    }

    /// The resolved value `key`, or empty.
    pub fn value(&self, key: &str) -> &str {
        self.now.values.get(key).map_or("", String::as_str)
    }

    /// The chosen task type, or empty.
    pub fn task_type(&self) -> &str {
        self.text(StepId::TaskType)
    }

    /// Forgets the answer to `step` and the values it resolved (`writes`).
    pub fn clear(&mut self, step: StepId, writes: &[&str]) {
        self.now.answers.remove(step.as_str());
        for k in writes {
            self.now.values.remove(*k);
        }
    }
}
