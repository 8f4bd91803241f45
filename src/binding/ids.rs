//! Exports of the identifier helpers.

use napi_derive::napi;

use super::{context, js_err, stage_arg, Result};
use crate::ids;

/// The parts that name one registry entry. `stageNumber` (an implementation stage worktree,
/// `#stage-<N>`) and `groupId` (a stage-group collector, `#group-<ID>`) are mutually
/// exclusive. Segments are taken as given but may not be empty or hold `/`, `#` or NUL
/// (`E_INVALID_ARG`). What `taskKey` takes; the exports that open the registry take
/// `KeyParts`, these plus where the registry is.
#[napi(object, js_name = "TaskKeyParts")]
pub struct JsTaskKeyParts {
    pub project_id: String,
    pub task_group: String,
    pub task_id: String,
    pub stage_number: Option<f64>,
    pub group_id: Option<String>,
}

/// `TaskKeyParts` plus where that registry is: `home` (absolute) overrides `OKSTRA_HOME`
/// and `lockTimeoutMs` overrides `OKSTRA_LOCK_TIMEOUT_MS` (default 30000). The segments
/// name the entry provisioning registers (slugged: `taskId: 'Checkout 500'` is
/// `…/checkout-500`), or a row written under the raw text when only that one exists. A
/// registry entry passed back (`{...entry}`) addresses itself through its `taskKey` and
/// `stage`; fields naming another entry are `E_KEY_MISMATCH`.
// The key fields are repeated from `TaskKeyParts`: a napi object cannot extend another.
#[napi(object, js_name = "KeyParts")]
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JsKeyParts {
    pub project_id: String,
    pub task_group: String,
    pub task_id: String,
    pub stage_number: Option<f64>,
    pub group_id: Option<String>,
    /// A registry entry's own key (what an entry passed back carries): the entry it
    /// names exactly as written; the other fields must agree (else `E_KEY_MISMATCH`).
    pub task_key: Option<String>,
    /// A registry entry's stage (what an entry carries instead of `stageNumber`); `null`
    /// is no stage. Different from `stageNumber` or the `taskKey`'s: `E_KEY_MISMATCH`.
    // A JSON value: napi refuses `null` for an `Option<f64>` field of an input object, and
    // an entry's `stage` is `null` outside stage worktrees.
    #[napi(ts_type = "number | null")]
    pub stage: Option<serde_json::Value>,
    pub home: Option<String>,
    pub lock_timeout_ms: Option<f64>,
}

/// The validated core key of the five parts.
fn key_parts(
    project_id: &str,
    task_group: &str,
    task_id: &str,
    stage_number: Option<f64>,
    group_id: Option<&str>,
) -> Result<ids::KeyParts> {
    ids::KeyParts::new(
        project_id,
        task_group,
        task_id,
        stage_arg(stage_number)?,
        group_id,
    )
    .map_err(js_err)
}

impl JsKeyParts {
    /// What the options address: the validated parts, or an entry's exact key
    /// (`E_KEY_MISMATCH` when the fields name two entries).
    pub fn addressed(&self) -> Result<crate::key_ref::Addressed> {
        let parts = key_parts(
            &self.project_id,
            &self.task_group,
            &self.task_id,
            self.stage_number,
            self.group_id.as_deref(),
        )?;
        let stage = match &self.stage {
            None | Some(serde_json::Value::Null) => None,
            Some(v) => Some(
                v.as_f64()
                    .ok_or_else(|| super::invalid_arg(format!("stage {v} is not a number")))
                    .and_then(|n| ids::stage_number("stage", n).map_err(js_err))?,
            ),
        };
        crate::key_ref::addressed(parts, self.task_key.as_deref(), stage).map_err(js_err)
    }

    /// The validated core key (an entry's own when one is passed back).
    pub fn parts(&self) -> Result<ids::KeyParts> {
        Ok(self.addressed()?.parts().clone())
    }
}

/// Slugs one path/branch/key segment: lower-case, runs outside `[a-z0-9-]` become `-`,
/// edges trimmed, empty → `_`; input with non-ASCII letters or digits gets `-` plus 8 hex
/// digits of its FNV-1a hash so `버그` and `기능` stay apart. Idempotent: a slug is returned
/// unchanged (`safeSegment(safeSegment(x)) === safeSegment(x)`). Never throws.
#[napi]
pub fn safe_segment(value: String) -> String {
    ids::safe_segment(&value)
}

/// `<project>/<group>/<task>` plus `#stage-<N>` or `#group-<ID>`, every segment slugged:
/// the key provisioning registers and every door names (`taskId: 'Checkout 500'` →
/// `…/checkout-500`). Throws `E_INVALID_ARG` for an empty segment, one holding `/`, `#` or
/// NUL, or stage and group together.
#[napi]
pub fn task_key(p: JsTaskKeyParts) -> Result<String> {
    let parts = key_parts(
        &p.project_id,
        &p.task_group,
        &p.task_id,
        p.stage_number,
        p.group_id.as_deref(),
    )?;
    Ok(parts.slugged().key())
}

/// `<OKSTRA_HOME>/worktrees/<project>/<group>/<task>[/stage-<N>|/group-<ID>]`, every
/// segment slugged. Throws `E_INVALID_ARG` like `taskKey`, and for a relative `home`.
#[napi]
pub fn compute_worktree_path(p: JsKeyParts) -> Result<String> {
    let root = context(p.home.as_deref(), p.lock_timeout_ms)?.worktrees_root();
    Ok(ids::compute_worktree_path(&root, &p.parts()?)
        .to_string_lossy()
        .into_owned())
}

/// Options of `computeBranchName`.
#[napi(object)]
pub struct BranchNameOptions {
    /// bugfix→`fix`, feature→`feat`, refactor, ops, improvement→`improve`, else `task`.
    pub work_category: String,
    pub task_id: String,
    pub stage_number: Option<f64>,
    pub group_id: Option<String>,
}

/// `<prefix>-<task>[-s<N>|-<ID>]`, task and group id slugged. Throws `E_INVALID_ARG` for
/// stage and group together or a taskId/groupId a key would refuse (empty, blank, too long,
/// holding `/`, `#` or control characters).
#[napi]
pub fn compute_branch_name(o: BranchNameOptions) -> Result<String> {
    ids::compute_branch_name(
        &o.work_category,
        &o.task_id,
        stage_arg(o.stage_number)?,
        o.group_id.as_deref(),
    )
    .map_err(js_err)
}
