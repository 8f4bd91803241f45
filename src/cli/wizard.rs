//! `okstra wizard init|next|submit|render-args|confirmation --state FILE` (SPEC §8): each
//! call loads the state file, does one step and saves it. A rejected answer or a refused
//! render prints `{"ok": false, "code", "error"}` and exits 0 (it is data, not a failure);
//! the state file is then left as it was.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::{json, Value};

use super::{to_json, CliError, CmdResult};
use crate::error::Coded;
use crate::wizard::{CreateOptions, Wizard, WizardError};

/// The state file.
#[derive(Debug, Args)]
pub struct StateArg {
    /// The wizard state file (JSON).
    #[arg(long, env = "OKSTRA_WIZARD_STATE")]
    state: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum WizardCmd {
    /// Start a new wizard: writes the state file and prints the first prompt.
    Init {
        #[command(flatten)]
        state: StateArg,
        /// The project's root directory.
        #[arg(long, env = "OKSTRA_PROJECT_ROOT")]
        project_root: String,
        /// Project id (default: .okstra/project.json's projectId, else the directory name).
        #[arg(long, env = "OKSTRA_PROJECT_ID")]
        project_id: Option<String>,
        /// Prompt language: ko (default) or en.
        #[arg(long)]
        lang: Option<String>,
        /// OKSTRA_HOME override.
        #[arg(long)]
        home: Option<String>,
        /// Batch independent prompts into pick_group prompts.
        #[arg(long)]
        groups: bool,
        /// Replace an existing state file (its answers are lost).
        #[arg(long)]
        force: bool,
    },
    /// Print the prompt to show now.
    Next(StateArg),
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

fn refused(e: &WizardError) -> Value {
    json!({ "ok": false, "code": e.code(), "error": e.to_string() })
}

/// Runs one `okstra wizard` subcommand.
pub fn run(cmd: Option<WizardCmd>) -> CmdResult {
    let Some(cmd) = cmd else {
        return Err(CliError {
            code: "E_INVALID_ARG".into(),
            message: "the interactive `okstra wizard` needs a terminal on stdin and stdout; \
                      script it with `okstra wizard init|next|submit|render-args|confirmation \
                      --state FILE`"
                .into(),
        });
    };
    match cmd {
        WizardCmd::Init {
            state,
            project_root,
            project_id,
            lang,
            home,
            groups,
            force,
        } => {
            if state.state.exists() && !force {
                return Err(CliError {
                    code: "E_PATH_EXISTS".into(),
                    message: format!(
                        "the state file {} already exists; resume it with `okstra wizard next \
                         --state {0}`, or pass --force to start over",
                        state.state.display()
                    ),
                });
            }
            let w = Wizard::create(CreateOptions {
                project_root,
                project_id,
                lang,
                home,
                groups,
            })?;
            w.save(&state.state)?;
            Ok(json!({ "ok": true, "state": state.state, "next": to_json(w.next()?)? }))
        }
        WizardCmd::Next(s) => {
            let w = Wizard::load(&s.state)?;
            Ok(json!({ "ok": true, "next": to_json(w.next()?)? }))
        }
        WizardCmd::Submit { state, value } => {
            let mut w = Wizard::load(&state.state)?;
            let out = w.submit(&value)?;
            if out.ok {
                w.save(&state.state)?;
            }
            to_json(out)
        }
        WizardCmd::RenderArgs(s) => {
            let w = Wizard::load(&s.state)?;
            match w.render_args() {
                Ok(args) => {
                    let map: serde_json::Map<String, Value> = args
                        .into_iter()
                        .map(|(k, v)| (k.to_string(), Value::String(v)))
                        .collect();
                    Ok(json!({ "ok": true, "args": map }))
                }
                Err(e @ (WizardError::Aborted | WizardError::InvalidArg(_))) => Ok(refused(&e)),
                Err(e) => Err(CliError::from(e)),
            }
        }
        WizardCmd::Confirmation(s) => {
            let w = Wizard::load(&s.state)?;
            Ok(json!({ "ok": true, "text": w.confirmation_block()? }))
        }
    }
}
