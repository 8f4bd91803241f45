//! `okstra handoff …` and `okstra git-reconcile`.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::json;

use super::ledger::PrArgs;
use super::{to_json, CmdResult};
use crate::context::Context;
use crate::fsio;
use crate::handoff::{self, HandoffContext};
use crate::reconcile::{self, ReconcileRequest};

/// The plan run, approved plan, repository and base branch.
#[derive(Debug, Args)]
pub struct CtxArgs {
    #[arg(long, env = "OKSTRA_PLAN_RUN_ROOT")]
    plan_run_root: PathBuf,
    /// The approved implementation-planning report (markdown).
    #[arg(long)]
    approved_plan: PathBuf,
    #[arg(long, env = "OKSTRA_PROJECT_ROOT")]
    project_root: PathBuf,
    /// Release base branch, compared as origin/<base> (default main).
    #[arg(long)]
    base: Option<String>,
    #[arg(long)]
    lock_timeout_ms: Option<u64>,
}

impl CtxArgs {
    /// The handoff context, with the lock bound the command resolved once.
    fn ctx(self, lock_timeout: Duration) -> HandoffContext {
        HandoffContext {
            plan_run_root: self.plan_run_root,
            approved_plan: self.approved_plan,
            project_root: self.project_root,
            base: self.base,
            lock_timeout,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum HandoffCmd {
    /// Print every stage's eligibility and reasons.
    Eligible(CtxArgs),
    /// Build the collector branch and worktree for the selected stages (exit 1 when not
    /// eligible, 2 on a merge conflict).
    Assemble {
        #[command(flatten)]
        ctx: CtxArgs,
        /// Comma-separated stage numbers.
        #[arg(long, value_delimiter = ',', required = true)]
        stages: Vec<u32>,
        #[arg(long, env = "OKSTRA_PROJECT_ID")]
        project_id: String,
        #[arg(long, env = "OKSTRA_TASK_GROUP")]
        task_group: String,
        #[arg(long, env = "OKSTRA_TASK_ID")]
        task_id: String,
        #[arg(long, default_value = "")]
        work_category: String,
        #[arg(long)]
        group_id: Option<String>,
        #[arg(long)]
        home: Option<String>,
    },
    /// Record a single-stage final verification after checking its report data.
    RecordVerified {
        #[arg(long, env = "OKSTRA_PLAN_RUN_ROOT")]
        plan_run_root: PathBuf,
        #[arg(long)]
        impl_task_key: String,
        #[arg(long)]
        stage: u32,
        /// The final report (.md) or its .data.json.
        #[arg(long)]
        report_path: PathBuf,
        #[arg(long)]
        lock_timeout_ms: Option<u64>,
    },
    /// Record the PR a stage group was handed off in.
    RecordPr(PrArgs),
}

/// Runs one `okstra handoff` command.
pub fn run(cmd: HandoffCmd) -> CmdResult {
    match cmd {
        HandoffCmd::Eligible(ctx) => {
            let bound = fsio::lock_timeout(ctx.lock_timeout_ms);
            to_json(json!({ "stages": handoff::eligible(&ctx.ctx(bound))? }))
        }
        HandoffCmd::Assemble {
            ctx,
            stages,
            project_id,
            task_group,
            task_id,
            work_category,
            group_id,
            home,
        } => {
            let context = Context::resolve(home.as_deref(), ctx.lock_timeout_ms)?;
            to_json(handoff::assemble(
                &context,
                &handoff::AssembleRequest {
                    ctx: ctx.ctx(context.lock_timeout()),
                    stages,
                    project_id,
                    task_group,
                    task_id,
                    work_category,
                    group_id,
                },
            )?)
        }
        HandoffCmd::RecordVerified {
            plan_run_root,
            impl_task_key,
            stage,
            report_path,
            lock_timeout_ms,
        } => {
            let appended = handoff::record_verified(&handoff::RecordVerifiedRequest {
                plan_run_root,
                impl_task_key,
                stage,
                report_path,
                lock_timeout: fsio::lock_timeout(lock_timeout_ms),
            })?;
            Ok(json!({ "appended": appended }))
        }
        HandoffCmd::RecordPr(pr) => {
            let lock_timeout = pr.root.lock_bound();
            let appended = handoff::record_pr(&handoff::RecordPrRequest {
                plan_run_root: PathBuf::from(pr.root.plan_run_root),
                impl_task_key: pr.impl_task_key,
                stages: pr.stages,
                branch: pr.branch,
                url: pr.url,
                lock_timeout,
                create: pr.root.create,
            })?;
            Ok(json!({ "appended": appended }))
        }
    }
}

/// `okstra git-reconcile`.
#[derive(Debug, Args)]
pub struct ReconcileArgs {
    #[arg(long, env = "OKSTRA_PLAN_RUN_ROOT")]
    plan_run_root: PathBuf,
    #[arg(long, env = "OKSTRA_PROJECT_ROOT")]
    project_root: PathBuf,
    #[arg(long, env = "OKSTRA_PROJECT_ID")]
    project_id: Option<String>,
    #[arg(long, env = "OKSTRA_TASK_GROUP")]
    task_group: Option<String>,
    #[arg(long, env = "OKSTRA_TASK_ID")]
    task_id: Option<String>,
    /// Write the reconciled rows (default: dry run).
    #[arg(long)]
    apply: bool,
    /// Re-pin the task's implementation base to this commit (with --apply).
    #[arg(long)]
    reset_anchor: Option<String>,
    #[arg(long)]
    home: Option<String>,
    #[arg(long)]
    lock_timeout_ms: Option<u64>,
}

/// Runs `okstra git-reconcile`.
pub fn reconcile(a: ReconcileArgs) -> CmdResult {
    let context = Context::resolve(a.home.as_deref(), a.lock_timeout_ms)?;
    to_json(reconcile::reconcile(
        &context,
        &ReconcileRequest {
            plan_run_root: a.plan_run_root,
            project_root: a.project_root,
            project_id: a.project_id,
            task_group: a.task_group,
            task_id: a.task_id,
            apply: a.apply,
            reset_anchor: a.reset_anchor,
        },
    )?)
}
