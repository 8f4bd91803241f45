//! `okstra worktree …`

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::args::{HomeArgs, KeyArgs, LockArgs};
use super::{to_json, CliError, CmdResult};
use crate::ids;
use crate::lifecycle::{self, GcOptions, RestoreRequest, StatusOptions};
use crate::worktree::{self, ProvisionRequest};

/// The arguments of `provision` and `preview`.
#[derive(Debug, Args)]
pub struct ProvisionArgs {
    #[command(flatten)]
    key: KeyArgs,
    #[arg(long, env = "OKSTRA_PROJECT_ROOT")]
    project_root: PathBuf,
    /// The phase asking (recorded as last_phase).
    #[arg(long, env = "OKSTRA_TASK_TYPE")]
    task_type: String,
    /// bugfix, feature, refactor, ops, improvement (branch prefix; else `task`).
    #[arg(long, default_value = "")]
    work_category: String,
    /// Branch, tag, remote ref or sha to branch from (default: main worktree's HEAD).
    #[arg(long)]
    base_ref: Option<String>,
    /// Use this branch name instead of the computed one (the way out of a clash).
    #[arg(long)]
    branch: Option<String>,
}

impl ProvisionArgs {
    fn request(self) -> Result<ProvisionRequest, CliError> {
        // `--task-key` names its own stage or group (E_KEY_MISMATCH when the flags differ).
        let key = self.key.parts()?;
        Ok(ProvisionRequest {
            task_type: self.task_type,
            project_root: self.project_root,
            project_id: key.project_id,
            task_group: key.task_group,
            task_id: key.task_id,
            work_category: self.work_category,
            base_ref: self.base_ref,
            branch: self.branch,
            stage: key.stage,
            group_id: key.group_id,
            stages: None,
        })
    }
}

#[derive(Debug, Subcommand)]
pub enum WorktreeCmd {
    /// Create or reuse the worktree of a task, stage or stage-group key.
    Provision(ProvisionArgs),
    /// Print what `provision` would do (path, branch, base, outcome); changes nothing.
    Preview(ProvisionArgs),
    /// Print the worktree path of a key.
    Path(KeyArgs),
    /// Print the branch name of a key.
    Branch {
        #[arg(long, default_value = "")]
        work_category: String,
        #[arg(long)]
        task_id: String,
        #[arg(long, conflicts_with = "group_id")]
        stage: Option<u32>,
        #[arg(long)]
        group_id: Option<String>,
    },
    /// Print the paths source clean gates should ignore.
    Excludes {
        #[arg(long, env = "OKSTRA_PROJECT_ROOT")]
        project_root: PathBuf,
    },
    /// Print the resolved sync dirs, sync files and snapshot files.
    SyncEntries {
        #[arg(long, env = "OKSTRA_PROJECT_ROOT")]
        project_root: PathBuf,
    },
    /// One row per worktree the home knows: dirty counts, ahead/behind the base, whether
    /// its work is integrated (and by which proof), processes inside, why `remove` would
    /// refuse. A table on a terminal; JSON with --json or when stdout is not a terminal.
    Status {
        /// Only this project (repeatable).
        #[arg(long)]
        project_id: Vec<String>,
        /// Also measure each worktree's disk use (walks every file).
        #[arg(long)]
        disk: bool,
        /// A plan run root whose consumers.jsonl gives stage rows their ledger state
        /// (started/done, verdict, PR; repeatable). Without it `ledger` is null: the
        /// registry does not record where a task's plan run lives.
        #[arg(long)]
        plan_run_root: Vec<String>,
        #[command(flatten)]
        home: HomeArgs,
    },
    /// Remove a key's worktree (directory, git's record, the branch when integrated) and
    /// release its row. Refused (exit 2, E_REMOVE_REFUSED naming every reason, also listed
    /// as `reasons: [{reason, detail}]` in the JSON error) while it holds work that would be
    /// lost or a process; --force first records the work under
    /// refs/okstra/snapshots/<key>/<n>.
    Remove {
        #[command(flatten)]
        key: KeyArgs,
        /// Record uncommitted and untracked work (and the branch tip) as a snapshot commit,
        /// then remove. Never overrides a process inside, another tool's lock or a
        /// worktree okstra did not make.
        #[arg(long)]
        force: bool,
    },
    /// Bring a removed worktree back on its branch with a snapshot's files in place, or
    /// list the key's snapshots (--list).
    Restore {
        #[command(flatten)]
        key: KeyArgs,
        /// Any directory of the repository (default: the repositories okstra remembers).
        #[arg(long)]
        project_root: Option<PathBuf>,
        /// The snapshot number (default: the newest taken on the branch's tip).
        #[arg(long)]
        snapshot: Option<u32>,
        /// Only list the key's snapshots.
        #[arg(long, conflicts_with = "snapshot")]
        list: bool,
    },
    /// List worktrees that may go, each with why (dry run); --apply removes exactly those
    /// `remove` without --force would. Reports the disk reclaimed.
    Gc {
        /// Remove the candidates (default: only list them).
        #[arg(long)]
        apply: bool,
        /// Candidates: worktrees whose work is integrated in the base.
        #[arg(long)]
        merged: bool,
        /// Candidates: released registry rows (with neither flag, both apply).
        #[arg(long)]
        released: bool,
        /// Only rows created at least this long ago: 30m, 12h, 7d, 2w.
        #[arg(long)]
        older_than: Option<String>,
        /// Keep the N newest candidates.
        #[arg(long)]
        keep: Option<usize>,
        /// Only this project (repeatable).
        #[arg(long)]
        project_id: Vec<String>,
        #[command(flatten)]
        home: HomeArgs,
    },
    /// Register the project id in the project's project.json and print it.
    ProjectJson {
        #[arg(long, env = "OKSTRA_PROJECT_ROOT")]
        project_root: PathBuf,
        #[arg(long, env = "OKSTRA_PROJECT_ID")]
        project_id: String,
        #[command(flatten)]
        lock: LockArgs,
    },
}

/// Runs one `okstra worktree` command; `table`: print `status` as a table (a terminal
/// without --json), returned as a JSON string the caller prints raw.
pub fn run(cmd: WorktreeCmd, table: bool) -> CmdResult {
    match cmd {
        WorktreeCmd::Status { .. }
        | WorktreeCmd::Remove { .. }
        | WorktreeCmd::Restore { .. }
        | WorktreeCmd::Gc { .. } => run_lifecycle(cmd, table),
        WorktreeCmd::Provision(a) => {
            let context = a.key.home.context()?;
            to_json(worktree::provision(&context, &a.request()?)?)
        }
        WorktreeCmd::Preview(a) => {
            let context = a.key.home.context()?;
            to_json(worktree::preview(&context, &a.request()?)?)
        }
        WorktreeCmd::Path(k) => {
            let parts = k.parts()?;
            let root = k.home.context()?.worktrees_root();
            to_json(ids::compute_worktree_path(&root, &parts))
        }
        WorktreeCmd::Branch {
            work_category,
            task_id,
            stage,
            group_id,
        } => to_json(ids::compute_branch_name(
            &work_category,
            &task_id,
            stage,
            group_id.as_deref(),
        )?),
        WorktreeCmd::Excludes { project_root } => {
            ids::check_dir("--project-root", &project_root)?;
            to_json(worktree::clean_gate_excludes(&project_root))
        }
        WorktreeCmd::SyncEntries { project_root } => {
            ids::check_dir("--project-root", &project_root)?;
            to_json(worktree::resolve_sync_entries(&project_root))
        }
        WorktreeCmd::ProjectJson {
            project_root,
            project_id,
            lock,
        } => to_json(worktree::upsert_project_json(
            &project_root,
            &project_id,
            lock.bound()?,
        )?),
    }
}

/// The end-of-life commands: `status`, `remove`, `restore`, `gc`.
fn run_lifecycle(cmd: WorktreeCmd, table: bool) -> CmdResult {
    match cmd {
        WorktreeCmd::Status {
            project_id,
            disk,
            plan_run_root,
            home,
        } => {
            let rows = lifecycle::status(
                &home.context()?,
                &StatusOptions {
                    project_ids: project_id,
                    disk,
                    plan_run_roots: plan_run_root,
                },
            )?;
            if table {
                let color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
                return Ok(serde_json::Value::String(lifecycle::table(&rows, color)));
            }
            to_json(rows)
        }
        WorktreeCmd::Remove { key, force } => {
            let (ctx, parts) = (key.home.context()?, key.parts()?);
            to_json(lifecycle::remove(&ctx, &parts, force)?)
        }
        WorktreeCmd::Restore {
            key,
            project_root,
            snapshot,
            list,
        } => {
            let (ctx, parts) = (key.home.context()?, key.parts()?);
            if list {
                return to_json(lifecycle::list_snapshots(
                    &ctx,
                    &parts,
                    project_root.as_deref(),
                )?);
            }
            to_json(lifecycle::restore(
                &ctx,
                &parts,
                &RestoreRequest {
                    project_root,
                    snapshot,
                },
            )?)
        }
        WorktreeCmd::Gc {
            apply,
            merged,
            released,
            older_than,
            keep,
            project_id,
            home,
        } => {
            let opts = GcOptions {
                apply,
                merged,
                released,
                older_than_secs: older_than
                    .as_deref()
                    .map(lifecycle::parse_duration)
                    .transpose()?,
                keep,
                project_ids: project_id,
            };
            to_json(lifecycle::gc(&home.context()?, &opts)?)
        }
        _ => unreachable_cmd(),
    }
}

/// A command `run_lifecycle` was not meant to get (never reached: `run` routes).
fn unreachable_cmd() -> CmdResult {
    Err(super::CliError::new(
        crate::error::Code::Internal,
        "a worktree command was routed to the wrong runner",
    ))
}
