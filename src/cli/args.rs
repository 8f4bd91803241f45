//! Options shared by several commands: the lock bound, where OKSTRA_HOME is and the key of
//! one entry. Each command resolves them once into a [`Context`] (or, where no home is
//! involved, a lock bound) and passes that down.

use std::time::Duration;

use clap::Args;

use super::CliError;
use crate::context::Context;
use crate::ids::KeyParts;
use crate::key_ref::Addressed;
use crate::registry::Registry;

/// How long to wait for a lock.
#[derive(Debug, Args)]
pub struct LockArgs {
    /// How long to wait for a lock (default: $OKSTRA_LOCK_TIMEOUT_MS, else 30000).
    #[arg(long)]
    pub lock_timeout_ms: Option<u64>,
}

impl LockArgs {
    /// The lock bound, resolved once for the command.
    pub fn bound(&self) -> Result<Duration, CliError> {
        Ok(crate::fsio::lock_timeout(self.lock_timeout_ms)?)
    }

    /// The command's context: `home` (else `OKSTRA_HOME`, else `~/.okstra`) and this bound.
    pub fn context(&self, home: Option<&str>) -> Result<Context, CliError> {
        Ok(Context::resolve(home, self.lock_timeout_ms)?)
    }
}

/// Where the registry is.
#[derive(Debug, Args)]
pub struct HomeArgs {
    /// OKSTRA_HOME override (default: $OKSTRA_HOME, else ~/.okstra).
    #[arg(long)]
    pub home: Option<String>,
    #[command(flatten)]
    pub lock: LockArgs,
}

impl HomeArgs {
    /// The context these options name, resolved once for the command.
    pub fn context(&self) -> Result<Context, CliError> {
        self.lock.context(self.home.as_deref())
    }

    /// The registry these options name.
    pub fn open(&self) -> Result<Registry, CliError> {
        Ok(Registry::open(&self.context()?))
    }
}

/// The key of one entry.
#[derive(Debug, Args)]
pub struct KeyArgs {
    #[arg(long, env = "OKSTRA_PROJECT_ID")]
    pub project_id: String,
    #[arg(long, env = "OKSTRA_TASK_GROUP")]
    pub task_group: String,
    #[arg(long, env = "OKSTRA_TASK_ID")]
    pub task_id: String,
    /// Implementation stage number (`#stage-<N>`).
    #[arg(long, conflicts_with = "group_id")]
    pub stage: Option<u32>,
    /// Stage-group collector id (`#group-<ID>`).
    #[arg(long)]
    pub group_id: Option<String>,
    /// A registry entry's own key (`taskKey` of `registry lookup`): names that entry exactly
    /// as written; the other flags must agree (else E_KEY_MISMATCH).
    #[arg(long)]
    pub task_key: Option<String>,
    #[command(flatten)]
    pub home: HomeArgs,
}

impl KeyArgs {
    /// What the flags address: the validated parts, or an entry's exact key.
    fn addressed(&self) -> Result<Addressed, CliError> {
        let parts = KeyParts::new(
            &self.project_id,
            &self.task_group,
            &self.task_id,
            self.stage,
            self.group_id.as_deref(),
        )?;
        Ok(crate::key_ref::addressed(
            parts,
            self.task_key.as_deref(),
            None,
        )?)
    }

    /// The validated key (`--task-key`'s when given).
    pub fn parts(&self) -> Result<KeyParts, CliError> {
        Ok(self.addressed()?.parts().clone())
    }

    /// The registry and the key the flags name there: slugged, or a row's raw text when
    /// only that one exists (`Registry::resolve`), or `--task-key` as written.
    pub fn open(&self) -> Result<(Registry, KeyParts), CliError> {
        let reg = self.home.open()?;
        let key = reg.resolve_addressed(&self.addressed()?)?;
        Ok((reg, key))
    }
}
