//! `okstra handoff …` and `okstra git-reconcile`.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};

use super::args::{HomeArgs, LockArgs};
use super::ledger::PrArgs;
use super::{to_json, CmdResult};
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
    /// Base branch to judge against: the default remote's branch of that name, else the
    /// local branch, else any revision (default: the default remote's HEAD, else the main
    /// worktree's branch).
    #[arg(long)]
    base: Option<String>,
    #[command(flatten)]
    lock: LockArgs,
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

/// `okstra handoff assemble`: the stage group and the collector's task key.
#[derive(Debug, Args)]
pub struct AssembleArgs {
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
}

impl AssembleArgs {
    fn run(self) -> CmdResult {
        let context = self.ctx.lock.context(self.home.as_deref())?;
        let req = handoff::AssembleRequest {
            ctx: self.ctx.ctx(context.lock_timeout()),
            stages: self.stages,
            project_id: self.project_id,
            task_group: self.task_group,
            task_id: self.task_id,
            work_category: self.work_category,
            group_id: self.group_id,
        };
        to_json(handoff::assemble(&context, &req)?)
    }
}

#[derive(Debug, Subcommand)]
pub enum HandoffCmd {
    /// Print every stage's eligibility and reasons.
    Eligible(CtxArgs),
    /// Build the collector branch and worktree for the selected stages (exit 1 when not
    /// eligible, 2 on a merge conflict).
    Assemble(AssembleArgs),
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
        /// The stage head commit verified (default: the head of the stage's last done row).
        #[arg(long)]
        head_commit: Option<String>,
        #[command(flatten)]
        lock: LockArgs,
    },
    /// Record the PR a stage group was handed off in.
    RecordPr(PrArgs),
}

/// Runs one `okstra handoff` command.
pub fn run(cmd: HandoffCmd) -> CmdResult {
    match cmd {
        HandoffCmd::Eligible(ctx) => {
            let bound = ctx.lock.bound()?;
            to_json(handoff::eligible(&ctx.ctx(bound))?)
        }
        HandoffCmd::Assemble(a) => a.run(),
        HandoffCmd::RecordVerified {
            plan_run_root,
            impl_task_key,
            stage,
            report_path,
            head_commit,
            lock,
        } => to_json(handoff::record_verified(&handoff::RecordVerifiedRequest {
            plan_run_root,
            impl_task_key,
            stage,
            report_path,
            head_commit,
            lock_timeout: lock.bound()?,
        })?),
        HandoffCmd::RecordPr(pr) => {
            let lock_timeout = pr.root.lock.bound()?;
            to_json(handoff::record_pr(&handoff::RecordPrRequest {
                plan_run_root: PathBuf::from(pr.root.plan_run_root),
                impl_task_key: pr.impl_task_key,
                stages: pr.stages,
                branch: pr.branch,
                url: pr.url,
                lock_timeout,
                create: pr.root.create,
            })?)
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
    #[command(flatten)]
    home: HomeArgs,
}

/// Runs `okstra git-reconcile`.
pub fn reconcile(a: ReconcileArgs) -> CmdResult {
    let context = a.home.context()?;
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
