//! The `okstra` command line, as a pure function from arguments to what to print
//! and the exit code, so it is tested without spawning anything. `bin/okstra.cjs` feeds it
//! `process.argv` through the `runCli` export.
//!
//! Every command prints its result as JSON on stdout: the same object the export returns.
//! Errors print `{"ok": false, "code": "E_…", "error": "…"}` on stdout (plus the error's
//! data fields, e.g. `reasons`, see [`Coded::data`]) and one human line on stderr. Exit codes: 0 ok, 1 error, 2 conflict with existing state, 130 interrupted (each
//! code's [`crate::error::ExitClass`]).

mod args;
mod handoff;
mod ledger;
mod registry;
mod wizard;
mod worktree;

use clap::{Parser, Subcommand};
use serde::Serialize;
use serde_json::{json, Value};

use crate::error::{Code, Coded};

/// What one CLI invocation prints and returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliOutcome {
    pub stdout: String,
    pub stderr: String,
    pub exit_code: i32,
}

/// A failed command: its stable code, message and data fields ([`Coded::data`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError {
    pub code: Code,
    pub message: String,
    pub data: Option<serde_json::Map<String, Value>>,
}

impl CliError {
    /// An error with no data fields.
    pub fn new(code: Code, message: impl Into<String>) -> CliError {
        CliError {
            code,
            message: message.into(),
            data: None,
        }
    }
}

impl<E: Coded> From<E> for CliError {
    fn from(e: E) -> Self {
        CliError {
            code: e.code(),
            message: e.to_string(),
            data: e.data(),
        }
    }
}

/// A command's result: the JSON to print on success.
pub type CmdResult = Result<Value, CliError>;

/// What a command prints on success: a JSON value, or a ledger's rows printed straight from
/// the file's bytes (the same text as printing the decoded rows, written in chunks).
pub enum Printed {
    Json(Value),
    Ledger(crate::ledger::Printable),
}

/// A run decided: what to print, or the ledger rows to stream.
enum Outcome {
    Done(CliOutcome),
    Stream(crate::ledger::Printable),
}

/// What a run whose stdout was written by [`run_to`] leaves to print and return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    pub stderr: String,
    pub exit_code: i32,
}

/// Serializes a command's result.
pub fn to_json<T: Serialize>(v: T) -> CmdResult {
    serde_json::to_value(v)
        .map_err(|e| CliError::new(Code::Internal, format!("cannot serialize the result: {e}")))
}

#[derive(Debug, Parser)]
#[command(
    name = "okstra",
    version,
    about = "okstra native core: worktree registry, provisioning, ledger, handoff and wizard",
    long_about = None,
    after_help = "Every command accepts --json: print the result as JSON, which is what every \
                  command prints unless its output goes to a terminal and it has a table \
                  (`okstra worktree status`).",
)]
struct Cli {
    /// Print the result as JSON (every command accepts it; hidden from each command's help,
    /// see the top-level help).
    #[arg(long, global = true, hide = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The machine-global worktree registry.
    #[command(subcommand)]
    Registry(registry::RegistryCmd),
    /// The per-plan-run ledger consumers.jsonl.
    #[command(subcommand)]
    Ledger(ledger::LedgerCmd),
    /// Stage-group handoff: eligibility, collector assembly, verified and PR records.
    #[command(subcommand)]
    Handoff(handoff::HandoffCmd),
    /// Re-record done rows whose head_commit went stale (dry run unless --apply).
    GitReconcile(handoff::ReconcileArgs),
    /// Worktree provisioning and its helpers.
    #[command(subcommand)]
    Worktree(worktree::WorktreeCmd),
    /// The run set-up wizard (scripted; `okstra wizard` alone on a terminal is interactive).
    #[command(args_conflicts_with_subcommands = true)]
    Wizard {
        #[command(subcommand)]
        cmd: Option<wizard::WizardCmd>,
        #[command(flatten)]
        interactive: wizard::InteractiveArgs,
    },
}

fn failure(e: &CliError) -> CliOutcome {
    let mut out = failure_with(e.code, &e.message, &[]);
    if let Some(data) = &e.data {
        // The data fields after `ok`, `code` and `error`, which they never replace.
        let mut body = json!({ "ok": false, "code": e.code, "error": e.message });
        for (k, v) in data {
            if let Some(m) = body.as_object_mut().filter(|m| !m.contains_key(k)) {
                m.insert(k.clone(), v.clone());
            }
        }
        out.stdout = format!("{body}\n");
    }
    out
}

/// A failure; `flags` (the command-line flags at fault) are listed in the JSON as `flags`.
/// The exit code is the code's [`crate::error::ExitClass`].
fn failure_with(code: Code, message: &str, flags: &[String]) -> CliOutcome {
    let mut body = json!({ "ok": false, "code": code, "error": message });
    if !flags.is_empty() {
        body["flags"] = json!(flags);
    }
    CliOutcome {
        stdout: format!("{body}\n"),
        stderr: format!("okstra: {message} [{code}]\n"),
        exit_code: code.exit_class().exit_code(),
    }
}

/// One line saying what is wrong with the command line, naming the flags at fault (clap
/// names them only in its multi-line rendering), and those flags.
fn describe_parse_error(e: &clap::Error) -> (String, Vec<String>) {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let strings = |kind: ContextKind| -> Vec<String> {
        match e.get(kind) {
            Some(ContextValue::String(s)) => vec![s.clone()],
            Some(ContextValue::Strings(v)) => v.clone(),
            _ => Vec::new(),
        }
    };
    // `--task-id <TASK_ID>` → `--task-id`.
    let flag = |s: &str| s.split_whitespace().next().unwrap_or(s).to_string();
    let args: Vec<String> = strings(ContextKind::InvalidArg)
        .iter()
        .map(|a| flag(a))
        .collect();
    let msg = match e.kind() {
        ErrorKind::MissingRequiredArgument => format!(
            "missing required argument{} {}",
            if args.len() == 1 { "" } else { "s" },
            args.join(", ")
        ),
        ErrorKind::InvalidValue | ErrorKind::ValueValidation => {
            let value = strings(ContextKind::InvalidValue).join(" ");
            let reason = std::error::Error::source(e)
                .map(|s| format!(": {s}"))
                .unwrap_or_default();
            format!("invalid value {value:?} for {}{reason}", args.join(", "))
        }
        ErrorKind::UnknownArgument => format!("unknown argument {}", args.join(", ")),
        // A flag's `OKSTRA_*` default that is not UTF-8 lands here too: name it.
        ErrorKind::InvalidUtf8 => {
            let vars: Vec<String> = std::env::vars_os()
                .filter(|(k, v)| {
                    k.to_str().is_some_and(|k| k.starts_with("OKSTRA_")) && v.to_str().is_none()
                })
                .map(|(k, _)| k.to_string_lossy().into_owned())
                .collect();
            if vars.is_empty() {
                "an argument is not valid UTF-8; give it as UTF-8 text".to_string()
            } else {
                format!(
                    "{} {} not valid UTF-8: okstra cannot use {} and does not replace {}; set \
                     {} to UTF-8 text or unset {}",
                    vars.join(", "),
                    if vars.len() == 1 { "is" } else { "are" },
                    if vars.len() == 1 { "it" } else { "them" },
                    if vars.len() == 1 { "it" } else { "them" },
                    if vars.len() == 1 { "it" } else { "them" },
                    if vars.len() == 1 { "it" } else { "them" },
                )
            }
        }
        ErrorKind::ArgumentConflict => {
            let mut all = args.clone();
            all.extend(strings(ContextKind::PriorArg).iter().map(|a| flag(a)));
            format!("arguments {} cannot be used together", all.join(" and "))
        }
        _ => {
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or("invalid arguments");
            first.trim_start_matches("error: ").to_string()
        }
    };
    let mut flags = args;
    if e.kind() == ErrorKind::ArgumentConflict {
        flags.extend(strings(ContextKind::PriorArg).iter().map(|a| flag(a)));
    }
    (msg, flags)
}

/// Whether `args` (without the program name) parse as a command line; runs nothing.
#[cfg(test)]
pub(crate) fn parses(args: &[String]) -> bool {
    Cli::try_parse_from(std::iter::once("okstra").chain(args.iter().map(String::as_str))).is_ok()
}

/// The options of the interactive `okstra wizard` when `args` (without the program name)
/// is that command line — `wizard` with no subcommand and no `--help` — parsed by the same
/// parser as every other command; `None` for any other command line, or one that does not
/// parse (`run` then reports it). Fails when the project directory does not exist.
pub fn interactive_wizard(args: Vec<String>) -> Result<Option<wizard::Interactive>, CliError> {
    let argv = std::iter::once("okstra".to_string()).chain(args);
    match Cli::try_parse_from(argv) {
        Ok(Cli {
            json: _,
            command:
                Command::Wizard {
                    cmd: None,
                    interactive,
                },
        }) => interactive.resolve().map(Some),
        _ => Ok(None),
    }
}

/// Runs one command line (`args` without the program name).
pub fn run<I, S>(args: I) -> CliOutcome
where
    I: IntoIterator<Item = S>,
    S: Into<std::ffi::OsString> + Clone,
{
    match decide(args) {
        Outcome::Done(out) => out,
        Outcome::Stream(rows) => {
            let mut text = Vec::new();
            // Writing to a Vec cannot fail.
            let _ = rows.write_to(&mut text);
            text.push(b'\n');
            CliOutcome {
                stdout: String::from_utf8(text)
                    .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
                stderr: String::new(),
                exit_code: 0,
            }
        }
    }
}

/// [`run`] writing stdout to `out` as it is produced (the native executable: `ledger read`
/// streams its rows instead of building the whole text first). A write error (a closed
/// pipe: `okstra … | head`) stops the output; the exit code is the command's.
pub fn run_to<I, S>(args: I, out: &mut dyn std::io::Write) -> Finished
where
    I: IntoIterator<Item = S>,
    S: Into<std::ffi::OsString> + Clone,
{
    match decide(args) {
        Outcome::Done(o) => {
            let _ = out
                .write_all(o.stdout.as_bytes())
                .and_then(|()| out.flush());
            Finished {
                stderr: o.stderr,
                exit_code: o.exit_code,
            }
        }
        Outcome::Stream(rows) => {
            let _ = rows
                .write_to(out)
                .and_then(|()| out.write_all(b"\n"))
                .and_then(|()| out.flush());
            Finished {
                stderr: String::new(),
                exit_code: 0,
            }
        }
    }
}

fn decide<I, S>(args: I) -> Outcome
where
    I: IntoIterator<Item = S>,
    S: Into<std::ffi::OsString> + Clone,
{
    Outcome::Done(match parse_and_run(args) {
        Ok(out) => out,
        Err(rows) => return Outcome::Stream(rows),
    })
}

/// The command's outcome, or (as `Err`) the ledger rows it prints by streaming.
fn parse_and_run<I, S>(args: I) -> Result<CliOutcome, crate::ledger::Printable>
where
    I: IntoIterator<Item = S>,
    S: Into<std::ffi::OsString> + Clone,
{
    let argv =
        std::iter::once(std::ffi::OsString::from("okstra")).chain(args.into_iter().map(Into::into));
    let cli = match Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            let text = e.render().to_string();
            return Ok(match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => CliOutcome {
                    stdout: text,
                    stderr: String::new(),
                    exit_code: 0,
                },
                ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => CliOutcome {
                    stdout: String::new(),
                    stderr: text,
                    exit_code: 1,
                },
                _ => {
                    let (msg, flags) = describe_parse_error(&e);
                    let mut out = failure_with(
                        Code::InvalidArg,
                        &format!("{msg}; see `okstra … --help`"),
                        &flags,
                    );
                    out.stderr = text;
                    out
                }
            });
        }
    };
    // A report that finds problems (`registry doctor`) prints it and exits 1.
    let is_report = matches!(
        cli.command,
        Command::Registry(registry::RegistryCmd::Doctor { .. })
    );
    // `worktree status` on a terminal without --json prints its table as is.
    let table = !cli.json
        && matches!(
            cli.command,
            Command::Worktree(worktree::WorktreeCmd::Status { .. })
        )
        && std::io::IsTerminal::is_terminal(&std::io::stdout());
    let _signals = crate::interrupt::SignalScope::install();
    let result = match cli.command {
        Command::Registry(cmd) => registry::run(cmd),
        Command::Ledger(cmd) => match ledger::run(cmd) {
            Ok(Printed::Json(v)) => Ok(v),
            Ok(Printed::Ledger(rows)) => return Err(rows),
            Err(e) => Err(e),
        },
        Command::Handoff(cmd) => handoff::run(cmd),
        Command::GitReconcile(a) => handoff::reconcile(a),
        Command::Worktree(cmd) => worktree::run(cmd, table),
        Command::Wizard { cmd, .. } => wizard::run(cmd),
    };
    Ok(match result {
        Ok(Value::String(text)) if table => CliOutcome {
            stdout: text,
            stderr: String::new(),
            exit_code: 0,
        },
        Ok(v) => {
            let failed = is_report && v.get("ok") == Some(&Value::Bool(false));
            CliOutcome {
                stderr: if failed {
                    "okstra: doctor found problems (listed on stdout)\n".into()
                } else {
                    String::new()
                },
                stdout: format!("{}\n", serde_json::to_string_pretty(&v).unwrap_or_default()),
                exit_code: i32::from(failed),
            }
        }
        Err(e) => failure(&e),
    })
}

#[cfg(test)]
mod reference;
#[cfg(test)]
mod tests;
