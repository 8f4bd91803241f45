//! The `Wizard` class: a stateful handle over the core wizard, as node-rs
//! jieba exposes its stateful core. Only conversions live here.

use std::sync::{Arc, Mutex, MutexGuard};

use napi::bindgen_prelude::AsyncTask;
use napi_derive::napi;
use serde_json::{Map, Value};

use super::worktree::ProvisionResult;
use super::{js_err, task, Result};
use crate::error::Code;
use crate::wizard::{self, CreateOptions};

/// One choice of a pick prompt.
#[napi(
    object,
    js_name = "PromptOption",
    object_from_js = false,
    use_nullable = true
)]
pub struct JsPromptOption {
    /// The stable machine value to submit.
    pub value: String,
    /// The text to show (from the catalog of the wizard's language).
    pub label: String,
}

/// How a prompt is answered: `pick` one option value, free `text`, a `pick_group` JSON
/// object of step → value; `done` and `aborted` are terminal.
#[napi(string_enum)]
pub enum PromptKind {
    #[napi(value = "pick")]
    Pick,
    #[napi(value = "text")]
    Text,
    #[napi(value = "pick_group")]
    PickGroup,
    #[napi(value = "done")]
    Done,
    #[napi(value = "aborted")]
    Aborted,
}

impl From<wizard::PromptKind> for PromptKind {
    fn from(k: wizard::PromptKind) -> Self {
        match k {
            wizard::PromptKind::Pick => PromptKind::Pick,
            wizard::PromptKind::Text => PromptKind::Text,
            wizard::PromptKind::PickGroup => PromptKind::PickGroup,
            wizard::PromptKind::Done => PromptKind::Done,
            wizard::PromptKind::Aborted => PromptKind::Aborted,
        }
    }
}

/// How a wizard run ended.
// Mirrors `wizard::Outcome`: the core carries no Node-API types.
#[napi(string_enum)]
pub enum WizardOutcome {
    /// Confirmed: `renderArgs()` holds the run.
    #[napi(value = "done")]
    Done,
    /// Aborted by the user.
    #[napi(value = "aborted")]
    Aborted,
}

/// What the wizard asks next. `step` is a step id (`task_type` … `edit_target`, `done`,
/// `aborted`) or `customize_group` for a batched `pick_group`.
#[napi(
    object,
    js_name = "Prompt",
    object_from_js = false,
    use_nullable = true
)]
pub struct JsPrompt {
    /// The step id; callers and tests key on it.
    pub step: String,
    /// `pick`: submit one option value; `text`: free text; `pick_group`: a JSON object of
    /// step → value for `prompts`; `done` / `aborted`: terminal.
    pub kind: PromptKind,
    /// The question, in the wizard's language.
    pub label: String,
    /// The choices of a pick (empty otherwise).
    pub options: Vec<JsPromptOption>,
    /// Longer help; for `confirm`, the confirmation block.
    pub help: String,
    /// The echo printed once answered; `{value}` stands for the answer.
    pub echo_template: String,
    /// The batched prompts of a `pick_group` (answer them with one JSON object step →
    /// value); `null` for every other kind.
    pub prompts: Option<Vec<JsPrompt>>,
    /// Whether `back()` has an earlier answer to return to (survives a resume).
    pub can_go_back: bool,
}

impl From<wizard::Prompt> for JsPrompt {
    fn from(p: wizard::Prompt) -> Self {
        JsPrompt {
            step: p.step,
            kind: p.kind.into(),
            label: p.label,
            options: p
                .options
                .into_iter()
                .map(|o| JsPromptOption {
                    value: o.value,
                    label: o.label,
                })
                .collect(),
            help: p.help,
            echo_template: p.echo_template,
            prompts: (!p.prompts.is_empty())
                .then(|| p.prompts.into_iter().map(Into::into).collect()),
            can_go_back: p.can_go_back,
        }
    }
}

/// The result of `Wizard.submit`: `ok: false` with `error` (and `code`: `E_INVALID_ARG` or
/// `E_NOT_FOUND`) when the answer was rejected; the state is then unchanged and `next` is
/// the same prompt again. Fields that do not apply are `null`.
// Mirrors `wizard::SubmitOutcome` field by field: the core carries no Node-API types.
#[napi(object, object_from_js = false, use_nullable = true)]
pub struct SubmitResult {
    /// Whether the answer was accepted.
    pub ok: bool,
    /// The echo line of an accepted answer.
    pub echo: Option<String>,
    /// Why the answer was rejected.
    pub error: Option<String>,
    /// The stable code of a rejection.
    pub code: Option<String>,
    /// The prompt to show now.
    pub next: JsPrompt,
}

/// Options of `Wizard.create`.
#[napi(object)]
pub struct WizardCreateOptions {
    /// The project's root directory (must exist).
    pub project_root: String,
    /// Default: `projectId` of `.okstra/project.json`, else the root's directory name.
    pub project_id: Option<String>,
    /// Catalog language, default `ko`.
    #[napi(ts_type = "'ko' | 'en'")]
    pub lang: Option<String>,
    /// `OKSTRA_HOME` override for the registry look-up (worktree reuse).
    pub home: Option<String>,
    /// Batch independent prompts (the customize answers) into `pick_group` prompts.
    pub groups: Option<bool>,
    /// How long this wizard's calls wait for a lock (plan approval, the registry); default
    /// `OKSTRA_LOCK_TIMEOUT_MS`, else 30000. Not saved with the state.
    pub lock_timeout_ms: Option<f64>,
}

/// The project a wizard started in `dir` is about: the top of the git worktree holding
/// `dir`; outside git the nearest ancestor with `.okstra/`; else `dir`. Throws
/// `E_INVALID_ARG` when `dir` is not an existing directory.
#[napi]
pub fn find_project_root(dir: String) -> Result<String> {
    let p = std::path::Path::new(&dir);
    crate::ids::check_dir("dir", p).map_err(js_err)?;
    let start = std::fs::canonicalize(p)
        .map_err(|e| super::invalid_arg(format!("dir {dir} cannot be resolved ({e})")))?;
    Ok(wizard::find_root(&start).to_string_lossy().into_owned())
}

/// The interactive `okstra wizard`'s options, parsed by the CLI's own parser.
// Mirrors `cli::Interactive` field by field: the core carries no Node-API types.
#[napi(object)]
pub struct WizardInteractiveOptions {
    /// The project root (the repository root found from `--project-root` or the current
    /// directory).
    pub project_root: String,
    /// The absolute state file (`--state`, default `<project>/.okstra/wizard-state.json`).
    pub state_file: String,
    /// `--project-id`.
    pub project_id: Option<String>,
    /// `--lang`.
    pub lang: Option<String>,
    /// `--home`.
    pub home: Option<String>,
    /// `--new`: start a new run even when the state file holds one.
    pub fresh: bool,
}

/// The options of the interactive wizard when `args` (an `okstra` command line without the
/// program name) is `wizard` with no subcommand and no `--help`; `null` for any other
/// command line or one that does not parse (`runCli` reports that). Throws `E_INVALID_ARG`
/// when the project directory does not exist.
#[napi]
pub fn wizard_interactive_options(args: Vec<String>) -> Result<Option<WizardInteractiveOptions>> {
    let o = crate::cli::interactive_wizard(args).map_err(|e| super::code_err(e.code, e.message))?;
    Ok(o.map(|o| WizardInteractiveOptions {
        project_root: o.project_root,
        state_file: o.state_file,
        project_id: o.project_id,
        lang: o.lang,
        home: o.home,
        fresh: o.fresh,
    }))
}

/// The interactive terminal's text `key` of the wizard catalog in `lang`, each `{name}`
/// replaced by `vars[name]` (the same filling as every prompt text). Throws `E_INVALID_ARG`
/// for an unknown language or key.
#[napi]
pub fn wizard_text(
    #[napi(ts_arg_type = "'ko' | 'en'")] lang: String,
    key: String,
    vars: Option<std::collections::HashMap<String, String>>,
) -> Result<String> {
    let l = wizard::Lang::parse(&lang).ok_or_else(|| {
        super::invalid_arg(format!("lang {lang:?} is not supported; use ko or en"))
    })?;
    let vars = vars.unwrap_or_default();
    let refs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    wizard::catalog::catalog(l)
        .terminal_text(&key, &refs)
        .ok_or_else(|| super::invalid_arg(format!("{key:?} is not a terminal text of the wizard")))
}

/// The resumable run set-up wizard. It never prints: ask `next()`, show the prompt, then
/// `submit()` the answer. Errors thrown: `E_INVALID_ARG`, `E_WIZARD_STATE_VERSION`,
/// `E_WIZARD_STATE_INVALID`, `E_WIZARD_ABORTED`, `E_IO`, `E_REGISTRY_CORRUPT`,
/// `E_LOCK_TIMEOUT`.
#[napi]
pub struct Wizard {
    /// Shared with the async methods' pool jobs; one call at a time changes the state.
    inner: Arc<Mutex<wizard::Wizard>>,
}

fn lock(inner: &Mutex<wizard::Wizard>) -> Result<MutexGuard<'_, wizard::Wizard>> {
    inner.lock().map_err(|_| {
        super::code_err(
            Code::Internal,
            "an earlier wizard call panicked; create or load the wizard again",
        )
    })
}

fn wrap(w: wizard::Wizard) -> Wizard {
    Wizard {
        inner: Arc::new(Mutex::new(w)),
    }
}

fn submit(inner: &Mutex<wizard::Wizard>, value: &str) -> Result<SubmitResult> {
    let out = lock(inner)?.submit(value).map_err(js_err)?;
    Ok(SubmitResult {
        ok: out.ok,
        echo: out.echo,
        error: out.error,
        code: out.code,
        next: out.next.into(),
    })
}

task!(
    /// The Promise of `Wizard#nextAsync`.
    NextTask => JsPrompt
);

task!(
    /// The Promise of `Wizard#submitAsync`.
    SubmitTask => SubmitResult
);

#[napi]
impl Wizard {
    /// A fresh wizard for a project. Throws `E_INVALID_ARG` for a missing root or an
    /// unknown language.
    #[napi(factory)]
    pub fn create(o: WizardCreateOptions) -> Result<Wizard> {
        let inner = wizard::Wizard::create(CreateOptions {
            project_root: o.project_root,
            project_id: o.project_id,
            lang: o.lang,
            home: o.home,
            groups: o.groups.unwrap_or(false),
            lock_timeout_ms: super::ms_arg(o.lock_timeout_ms)?,
        })
        .map_err(js_err)?;
        Ok(wrap(inner))
    }

    /// A wizard from `toJson()` output. Throws `E_WIZARD_STATE_VERSION` for a state of
    /// another format version (e.g. the Python wizard's), `E_WIZARD_STATE_INVALID` otherwise.
    #[napi(factory)]
    pub fn from_json(json: String) -> Result<Wizard> {
        wizard::Wizard::from_json(&json).map(wrap).map_err(js_err)
    }

    /// A wizard from a state file written by `save`.
    #[napi(factory)]
    pub fn load(state_file: String) -> Result<Wizard> {
        wizard::Wizard::load(std::path::Path::new(&state_file))
            .map(wrap)
            .map_err(js_err)
    }

    /// Writes the state file atomically.
    #[napi]
    pub fn save(&self, state_file: String) -> Result<()> {
        lock(&self.inner)?
            .save(std::path::Path::new(&state_file))
            .map_err(js_err)
    }

    /// The state as versioned JSON.
    #[napi]
    pub fn to_json(&self) -> Result<String> {
        Ok(lock(&self.inner)?.to_json())
    }

    /// The prompt to show now (the same one again for the same state).
    #[napi]
    pub fn next(&self) -> Result<JsPrompt> {
        lock(&self.inner)?.next().map(Into::into).map_err(js_err)
    }

    /// `next()` on the libuv pool (it reads git and the registry).
    #[napi]
    pub fn next_async(&self) -> AsyncTask<NextTask> {
        let inner = Arc::clone(&self.inner);
        NextTask::run(move || lock(&inner)?.next().map(Into::into).map_err(js_err))
    }

    /// Submits the answer to the current prompt (for a `pick_group`, a JSON object of step →
    /// value; missing steps mean blank).
    #[napi]
    pub fn submit(&self, value: String) -> Result<SubmitResult> {
        submit(&self.inner, &value)
    }

    /// `submit()` on the libuv pool; the wizard's state is updated when it resolves.
    #[napi]
    pub fn submit_async(&self, value: String) -> AsyncTask<SubmitTask> {
        let inner = Arc::clone(&self.inner);
        SubmitTask::run(move || submit(&inner, &value))
    }

    /// The `okstra render-bundle` arguments (kebab-case keys, every value a string). Throws
    /// `E_WIZARD_ABORTED` after an abort, `E_INVALID_ARG` before `done` or for a
    /// final-verification without an explicit stage.
    // An ordered map (the CLI flag order); napi would type it `Record<string, any>`.
    #[napi(ts_return_type = "Record<string, string>")]
    pub fn render_args(&self) -> Result<Map<String, Value>> {
        let args = lock(&self.inner)?.render_args().map_err(js_err)?;
        Ok(args
            .into_iter()
            .map(|(k, v)| (k.to_string(), Value::String(v)))
            .collect())
    }

    /// Returns to the question answered last, restoring the answers from before it (an
    /// edit or an abort is undone the same way). The history is saved with the state, so
    /// this works after a resume. `false` when there is nothing to go back to.
    #[napi]
    pub fn back(&self) -> Result<bool> {
        Ok(lock(&self.inner)?.back())
    }

    /// Switches the prompt language (`ko` or `en`) keeping every answer. Throws
    /// `E_INVALID_ARG` for another language.
    #[napi]
    pub fn set_lang(&self, #[napi(ts_arg_type = "'ko' | 'en'")] lang: String) -> Result<()> {
        lock(&self.inner)?.set_lang(&lang).map_err(js_err)
    }

    /// Provisions the worktree of a finished run — the one its confirmation showed — as
    /// `provisionTaskWorktree` would with `renderArgs()`' task, work category, base ref and
    /// implementation stage (and the wizard's `home`). Throws what `renderArgs()` and
    /// `provisionTaskWorktree` throw.
    #[napi]
    pub fn provision(&self) -> Result<ProvisionResult> {
        let (ctx, req) = lock(&self.inner)?.provision_request().map_err(js_err)?;
        let r = crate::worktree::provision(&ctx, &req).map_err(js_err)?;
        Ok(r.into())
    }

    /// `'done'` or `'aborted'` once the run is over (start a new run then), else `null`.
    #[napi]
    pub fn finished(&self) -> Result<Option<WizardOutcome>> {
        Ok(lock(&self.inner)?.finished().map(|f| match f {
            wizard::Outcome::Done => WizardOutcome::Done,
            wizard::Outcome::Aborted => WizardOutcome::Aborted,
        }))
    }

    /// The human summary of the effective values shown before the final confirm. Throws
    /// `E_INVALID_ARG` before the summary can be computed.
    #[napi]
    pub fn confirmation_block(&self) -> Result<String> {
        lock(&self.inner)?.confirmation_block().map_err(js_err)
    }
}
