//! `okstra ledger …`

use clap::{Args, Subcommand};
use serde_json::{Map, Value};

use super::args::LockArgs;
use super::{to_json, CliError, Printed};
use crate::error::Code;
use crate::ledger::{Appended, Ledger};

/// Which ledger.
#[derive(Debug, Args)]
pub struct RootArgs {
    /// The plan run root holding consumers.jsonl.
    #[arg(long, env = "OKSTRA_PLAN_RUN_ROOT")]
    pub plan_run_root: String,
    #[command(flatten)]
    pub lock: LockArgs,
    /// Appends: create a missing plan run root (without it a missing root is refused, so a
    /// mistyped path makes no new ledger).
    #[arg(long)]
    pub create: bool,
}

impl RootArgs {
    fn open(&self) -> Result<Ledger, CliError> {
        crate::ids::check_path("--plan-run-root", &self.plan_run_root)?;
        Ok(Ledger::new(&self.plan_run_root, self.lock.bound()?).creating(self.create))
    }
}

/// The ledger and the stage of one implementation task a row is about.
#[derive(Debug, Args)]
pub struct StageArgs {
    #[command(flatten)]
    pub root: RootArgs,
    #[arg(long)]
    pub impl_task_key: String,
    #[arg(long)]
    pub stage: u32,
}

/// A stage group's pull request: what `ledger append-pr` and `handoff record-pr` record.
#[derive(Debug, Args)]
pub struct PrArgs {
    #[command(flatten)]
    pub root: RootArgs,
    #[arg(long)]
    pub impl_task_key: String,
    /// Comma-separated stage numbers.
    #[arg(long, value_delimiter = ',', required = true)]
    pub stages: Vec<u32>,
    #[arg(long)]
    pub branch: String,
    #[arg(long)]
    pub url: String,
}

#[derive(Debug, Subcommand)]
pub enum LedgerCmd {
    /// Print every row and the skipped (torn or invalid) lines.
    Read(RootArgs),
    /// Record a started/done event (idempotent per key, stage and status).
    Append {
        #[command(flatten)]
        at: StageArgs,
        /// started or done.
        #[arg(long)]
        status: String,
        /// Re-record a done row with a different head_commit.
        #[arg(long)]
        force_reappend: bool,
        /// Extra columns as a JSON object, e.g. '{"head_commit": "…"}'.
        #[arg(long)]
        fields: Option<String>,
    },
    /// Record a single-stage final-verification verdict.
    AppendVerified {
        #[command(flatten)]
        at: StageArgs,
        #[arg(long)]
        verdict: String,
        #[arg(long)]
        report_path: String,
        /// The stage head commit that was verified (full id), recorded as head_commit.
        #[arg(long)]
        head_commit: Option<String>,
    },
    /// Record the PR a stage group was handed off in.
    AppendPr(PrArgs),
}

fn parse_fields(text: Option<&str>) -> Result<Map<String, Value>, CliError> {
    match text.map(serde_json::from_str::<Value>) {
        None => Ok(Map::new()),
        Some(Ok(Value::Object(m))) => Ok(m),
        Some(_) => Err(CliError::new(
            Code::InvalidArg,
            "--fields must be a JSON object, e.g. '{\"head_commit\": \"abc\"}'",
        )),
    }
}

/// Runs one `okstra ledger` command. `read` prints the rows from the file's bytes
/// ([`crate::ledger::Printable`]), the same text as printing its decoded result.
pub fn run(cmd: LedgerCmd) -> Result<Printed, CliError> {
    run_json(match cmd {
        LedgerCmd::Read(root) => return Ok(Printed::Ledger(root.open()?.read_printable()?)),
        other => other,
    })
    .map(Printed::Json)
}

fn run_json(cmd: LedgerCmd) -> super::CmdResult {
    match cmd {
        LedgerCmd::Read(root) => to_json(root.open()?.read()?),
        LedgerCmd::Append {
            at,
            status,
            force_reappend,
            fields,
        } => {
            let fields = parse_fields(fields.as_deref())?;
            let ledger = at.root.open()?;
            let key = ledger.resolve_key(&at.impl_task_key)?;
            let appended = ledger.append(&key, at.stage, &status, force_reappend, fields)?;
            to_json(Appended {
                appended,
                task_key: key,
            })
        }
        LedgerCmd::AppendVerified {
            at,
            verdict,
            report_path,
            head_commit,
        } => {
            let ledger = at.root.open()?;
            let key = ledger.resolve_key(&at.impl_task_key)?;
            let appended = ledger.append_verified_at(
                &key,
                at.stage,
                &verdict,
                &report_path,
                head_commit.as_deref(),
            )?;
            to_json(Appended {
                appended,
                task_key: key,
            })
        }
        LedgerCmd::AppendPr(pr) => {
            let ledger = pr.root.open()?;
            let key = ledger.resolve_key(&pr.impl_task_key)?;
            let appended = ledger.append_pr(&key, &pr.stages, &pr.branch, &pr.url)?;
            to_json(Appended {
                appended,
                task_key: key,
            })
        }
    }
}
