//! `okstra worktree …`

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::args::{KeyArgs, LockArgs};
use super::{to_json, CliError, CmdResult};
use crate::ids;
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

/// Runs one `okstra worktree` command.
pub fn run(cmd: WorktreeCmd) -> CmdResult {
    match cmd {
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
