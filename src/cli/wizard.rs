//! `okstra wizard init|next|submit|render-args|confirmation --state FILE`: each
//! call loads the state file, does one step and saves it. A rejected answer or a refused
//! render prints `{"ok": false, "code", "error"}` and exits 0 (it is data, not a failure);
//! the state file is then left as it was.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use serde_json::{json, Value};

use super::args::LockArgs;
use super::{to_json, CliError, CmdResult};
use crate::error::{Code, Coded};
use crate::wizard::{CreateOptions, Wizard, WizardError};

/// The state file.
#[derive(Debug, Args)]
pub struct StateArg {
    /// The wizard state file (JSON).
    #[arg(long, env = "OKSTRA_WIZARD_STATE")]
    state: PathBuf,
    #[command(flatten)]
    lock: LockArgs,
}

impl StateArg {
    /// The wizard saved in the state file, waiting for locks as this command says.
    fn load(&self) -> Result<Wizard, CliError> {
        // A bound okstra cannot use (the flag, or OKSTRA_LOCK_TIMEOUT_MS) fails every command.
        self.lock.bound()?;
        let mut w = Wizard::load(&self.state)?;
        w.set_lock_timeout(self.lock.lock_timeout_ms);
        Ok(w)
    }
}

/// What a new run is for: the flags `init` and the interactive wizard share.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Any directory of the project (default: the current one); the project is the
    /// repository root found from it.
    #[arg(long, env = "OKSTRA_PROJECT_ROOT")]
    project_root: Option<String>,
    /// Project id (default: .okstra/project.json's projectId, else the directory name).
    #[arg(long, env = "OKSTRA_PROJECT_ID")]
    project_id: Option<String>,
    /// Prompt language: ko (default) or en.
    #[arg(long)]
    lang: Option<String>,
    /// OKSTRA_HOME override.
    #[arg(long)]
    home: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum WizardCmd {
    /// Start a new wizard: writes the state file and prints the first prompt. A state file
    /// of a finished or aborted run is replaced (a new run starts); one in progress is kept
    /// unless --force.
    Init {
        #[command(flatten)]
        state: StateArg,
        #[command(flatten)]
        run: RunArgs,
        /// Batch independent prompts into pick_group prompts.
        #[arg(long)]
        groups: bool,
        /// Replace an existing state file (its answers are lost).
        #[arg(long)]
        force: bool,
    },
    /// Print the prompt to show now.
    Next {
        #[command(flatten)]
        state: StateArg,
        /// Switch the prompt language (ko or en) and save it, e.g. on resume.
        #[arg(long)]
        lang: Option<String>,
    },
    /// Go back to the question answered last (its answer and what followed are undone).
    Back(StateArg),
    /// Submit the answer to the current prompt.
    Submit {
        #[command(flatten)]
        state: StateArg,
        /// The answer (an option value, text, or for a pick_group a JSON object).
        #[arg(long, allow_hyphen_values = true)]
        value: String,
    },
    /// Print the `okstra render-bundle` arguments of a finished wizard.
    RenderArgs(StateArg),
    /// Print the confirmation summary.
    Confirmation(StateArg),
}

/// The flags of the interactive `okstra wizard` (no subcommand; it needs a terminal).
#[derive(Debug, Args)]
pub struct InteractiveArgs {
    /// The state file (default: <project>/.okstra/wizard-state.json); resumed when it holds
    /// a run in progress.
    #[arg(long, env = "OKSTRA_WIZARD_STATE")]
    state: Option<PathBuf>,
    #[command(flatten)]
    run: RunArgs,
    /// Start a new run even when the state file holds one.
    #[arg(long)]
    new: bool,
}

/// The interactive wizard's options, resolved: the project root found from the start
/// directory, the state file made absolute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interactive {
    /// The project root (the repository root found from `--project-root` or the current
    /// directory).
    pub project_root: String,
    /// The absolute state file.
    pub state_file: String,
    /// `--project-id`.
    pub project_id: Option<String>,
    /// `--lang`.
    pub lang: Option<String>,
    /// `--home`.
    pub home: Option<String>,
    /// `--new`: start over.
    pub fresh: bool,
}

fn absolute(p: &Path) -> Result<PathBuf, CliError> {
    std::path::absolute(p).map_err(|e| {
        CliError::new(
            Code::Io,
            format!(
                "cannot resolve {} against the current directory: {e}",
                p.display()
            ),
        )
    })
}

impl InteractiveArgs {
    /// Resolves the project root and the state file.
    pub fn resolve(self) -> Result<Interactive, CliError> {
        let start = absolute(Path::new(self.run.project_root.as_deref().unwrap_or(".")))?;
        crate::ids::check_dir("projectRoot", &start).map_err(CliError::from)?;
        let start = std::fs::canonicalize(&start).map_err(|e| {
            CliError::new(
                Code::InvalidArg,
                format!("projectRoot {} cannot be resolved ({e})", start.display()),
            )
        })?;
        let root = crate::wizard::find_root(&start);
        let state = match self.state {
            Some(s) => absolute(&s)?,
            None => {
                // The default lies in the repository: a committed `.okstra` symlink would
                // carry it outside (E_UNSAFE_FILE).
                crate::safe_open::dir_exists_in(&root, Path::new(".okstra"))
                    .map_err(CliError::from)?;
                root.join(".okstra/wizard-state.json")
            }
        };
        Ok(Interactive {
            project_root: root.to_string_lossy().into_owned(),
            state_file: state.to_string_lossy().into_owned(),
            project_id: self.run.project_id,
            lang: self.run.lang,
            home: self.run.home,
            fresh: self.new,
        })
    }
}

fn refused(e: &WizardError) -> Value {
    json!({ "ok": false, "code": e.code(), "error": e.to_string() })
}

/// `okstra wizard init`: a new state file (replacing a finished or aborted run's; one in
/// progress only with `force`) for the project of `project_root` (default: the current
/// directory).
fn init(
    state: &Path,
    project_root: Option<String>,
    mut o: CreateOptions,
    force: bool,
) -> CmdResult {
    let mut replaced = None;
    if state.exists() && !force {
        // A finished or aborted run never blocks a new one.
        replaced = Wizard::load(state).ok().and_then(|w| w.finished());
        if replaced.is_none() {
            return Err(CliError::new(
                Code::PathExists,
                format!(
                    "the state file {} holds a run in progress; resume it with `okstra \
                     wizard next --state {0}`, or pass --force to start over",
                    state.display()
                ),
            ));
        }
    }
    o.project_root = match project_root {
        Some(r) => r,
        None => std::env::current_dir()
            .map_err(|e| {
                CliError::new(Code::Io, format!("cannot read the current directory: {e}"))
            })?
            .to_string_lossy()
            .into_owned(),
    };
    let w = Wizard::create(o)?;
    w.save(state)?;
    let mut out = json!({ "ok": true, "state": state, "next": to_json(w.next()?)? });
    if let Some(r) = replaced {
        out["replaced"] = json!(r);
    }
    Ok(out)
}

/// Runs one `okstra wizard` subcommand.
pub fn run(cmd: Option<WizardCmd>) -> CmdResult {
    let Some(cmd) = cmd else {
        return Err(CliError::new(
            Code::InvalidArg,
            "the interactive `okstra wizard` needs a terminal on stdin and stdout; \
                      script it with `okstra wizard init|next|submit|render-args|confirmation \
                      --state FILE`",
        ));
    };
    match cmd {
        WizardCmd::Init {
            state,
            run,
            groups,
            force,
        } => init(
            &state.state,
            run.project_root,
            CreateOptions {
                project_id: run.project_id,
                lang: run.lang,
                home: run.home,
                groups,
                lock_timeout_ms: state.lock.lock_timeout_ms,
                ..Default::default()
            },
            force,
        ),
        WizardCmd::Next { state, lang } => {
            let mut w = state.load()?;
            if let Some(l) = lang {
                w.set_lang(&l)?;
                w.save(&state.state)?;
            }
            Ok(json!({ "ok": true, "next": to_json(w.next()?)? }))
        }
        WizardCmd::Back(s) => {
            let mut w = s.load()?;
            let moved = w.back();
            if moved {
                w.save(&s.state)?;
            }
            Ok(json!({ "ok": true, "back": moved, "next": to_json(w.next()?)? }))
        }
        WizardCmd::Submit { state, value } => {
            let mut w = state.load()?;
            let out = w.submit(&value)?;
            if out.ok {
                w.save(&state.state)?;
            }
            to_json(out)
        }
        WizardCmd::RenderArgs(s) => {
            let w = s.load()?;
            match w.render_args() {
                Ok(args) => {
                    let map: serde_json::Map<String, Value> = args
                        .into_iter()
                        .map(|(k, v)| (k.to_string(), Value::String(v)))
                        .collect();
                    Ok(json!({ "ok": true, "args": map }))
                }
                Err(e @ (WizardError::Aborted | WizardError::NotReady(_))) => Ok(refused(&e)),
                Err(e) => Err(CliError::from(e)),
            }
        }
        WizardCmd::Confirmation(s) => {
            let w = s.load()?;
            Ok(json!({ "ok": true, "text": w.confirmation_block()? }))
        }
    }
}
