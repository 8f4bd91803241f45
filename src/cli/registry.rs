//! `okstra registry …`

use clap::Subcommand;
use serde_json::Value;

use super::args::{HomeArgs, KeyArgs};
use super::{to_json, CmdResult};
use crate::registry::{EntryStatus, RegistryError, Reservation};

#[derive(Debug, Subcommand)]
pub enum RegistryCmd {
    /// Print the entry for a key (or null).
    Lookup(KeyArgs),
    /// Register an active entry for a key.
    Reserve {
        #[command(flatten)]
        key: KeyArgs,
        #[arg(long)]
        worktree_path: String,
        #[arg(long)]
        branch: String,
        #[arg(long)]
        base_ref: String,
        #[arg(long, default_value = "")]
        phase: String,
        /// Stages a collector covers, comma-separated.
        #[arg(long, value_delimiter = ',')]
        stages: Option<Vec<u32>>,
    },
    /// Mark an entry released and remove okstra's git worktree lock (the directory stays).
    Release(KeyArgs),
    /// Record the latest phase of an entry (no-op when absent).
    TouchPhase {
        #[command(flatten)]
        key: KeyArgs,
        #[arg(long)]
        phase: String,
    },
    /// Pin the implementation base once (later calls print the recorded one).
    SetImplementationBase {
        #[command(flatten)]
        key: KeyArgs,
        #[arg(long)]
        commit: String,
    },
    /// Re-pin the implementation base deliberately.
    ResetImplementationBase {
        #[command(flatten)]
        key: KeyArgs,
        #[arg(long)]
        commit: String,
    },
    /// Print the implementation base (or null).
    GetImplementationBase(KeyArgs),
    /// Print the stage numbers with an active stage worktree.
    ActiveStages(KeyArgs),
    /// List entries.
    List {
        #[arg(long)]
        project_id: Option<String>,
        /// active or released.
        #[arg(long)]
        status: Option<String>,
        #[command(flatten)]
        home: HomeArgs,
    },
    /// Release entries whose worktree directory is gone (dry run unless --apply); --apply
    /// also removes okstra's git lock and git's record of every gone worktree of this home.
    Prune {
        #[arg(long)]
        apply: bool,
        /// A directory of the project's repository, to find worktrees no other entry leads to.
        #[arg(long, env = "OKSTRA_PROJECT_ROOT")]
        project_root: Option<std::path::PathBuf>,
        #[command(flatten)]
        home: HomeArgs,
    },
    /// Report inconsistencies with the disk and `git worktree list`, and this home's debris
    /// (unfinished provisioning, lost rows, orphan or missing locks, gone worktrees' records,
    /// orphan branches, stale git locks and temp files); changes nothing. Exits 1 when it
    /// reports a problem.
    Doctor {
        #[command(flatten)]
        home: HomeArgs,
    },
    /// Move a corrupt registry aside and keep the valid rows, register again live worktrees
    /// git keeps locked for this home, then clear the debris doctor reports, each under the
    /// locks provisioning takes.
    Repair {
        #[command(flatten)]
        home: HomeArgs,
    },
}

/// Runs one `okstra registry` command.
pub fn run(cmd: RegistryCmd) -> CmdResult {
    match cmd {
        RegistryCmd::Lookup(k) => {
            let (reg, key) = k.open()?;
            to_json(reg.lookup_once(&key)?)
        }
        RegistryCmd::Reserve {
            key,
            worktree_path,
            branch,
            base_ref,
            phase,
            stages,
        } => {
            let (reg, key) = key.open()?;
            let r = Reservation {
                worktree_path,
                branch,
                base_ref,
                phase,
                stages,
            };
            to_json(reg.reserve(&key, &r)?)
        }
        RegistryCmd::Release(k) => {
            let (reg, key) = k.open()?;
            to_json(crate::worktree::release_worktree(&reg, &key)?)
        }
        RegistryCmd::TouchPhase { key, phase } => {
            let (reg, key) = key.open()?;
            reg.touch_phase(&key, &phase)?;
            Ok(Value::Null)
        }
        RegistryCmd::SetImplementationBase { key, commit } => {
            let (reg, key) = key.open()?;
            to_json(reg.set_implementation_base(&key, &commit)?)
        }
        RegistryCmd::ResetImplementationBase { key, commit } => {
            let (reg, key) = key.open()?;
            to_json(reg.reset_implementation_base(&key, &commit)?)
        }
        RegistryCmd::GetImplementationBase(k) => {
            let (reg, key) = k.open()?;
            to_json(reg.get_implementation_base(&key)?)
        }
        RegistryCmd::ActiveStages(k) => {
            let (reg, key) = k.open()?;
            to_json(reg.list_active_stage_numbers(&key)?)
        }
        RegistryCmd::List {
            project_id,
            status,
            home,
        } => to_json(
            home.open()?.list(
                project_id.as_deref(),
                status
                    .as_deref()
                    .map(EntryStatus::parse)
                    .transpose()
                    .map_err(RegistryError::from)?,
            )?,
        ),
        RegistryCmd::Prune {
            apply,
            project_root,
            home,
        } => to_json(crate::worktree::prune(
            &home.open()?,
            !apply,
            project_root.as_deref(),
        )?),
        RegistryCmd::Doctor { home } => to_json(crate::worktree::doctor(&home.open()?)?),
        RegistryCmd::Repair { home } => to_json(crate::worktree::repair(&home.open()?)?),
    }
}
