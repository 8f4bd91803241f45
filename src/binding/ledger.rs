//! Exports of the `consumers.jsonl` ledger. Rows cross as they are stored:
//! snake_case keys and any extra fields.

use napi::bindgen_prelude::{
    AsyncTask, Function, JsObjectValue, JsValue, Object, ObjectRef, ToNapiValue, TypeName, Unknown,
    ValueType,
};
use napi::{sys, Env};
use napi_derive::napi;
use serde_json::{Map, Value};

use super::{invalid_arg, job, js_err, ms_arg, stage_arg, Job, Result};
use crate::ledger::Ledger;

/// A line of `consumers.jsonl` that was not read as a row.
#[napi(object)]
pub struct SkippedLine {
    /// 1-based line number.
    pub line: u32,
    /// Why it was skipped (e.g. a line torn by a crash mid-append).
    pub reason: String,
}

/// Every row in file order, exactly as stored, and the lines skipped.
#[napi(object, object_from_js = false)]
pub struct LedgerReadResult {
    #[napi(ts_type = "Array<Record<string, unknown>>")]
    pub rows: JsonRows,
    pub skipped: Vec<SkippedLine>,
}

/// Rows as one validated JSON array text, turned into JS objects by V8's own `JSON.parse`
/// (one call) instead of one Node-API call per property.
pub struct JsonRows(String);

impl TypeName for JsonRows {
    fn type_name() -> &'static str {
        "Array<Record<string, unknown>>"
    }

    fn value_type() -> ValueType {
        ValueType::Object
    }
}

impl ToNapiValue for JsonRows {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        let env = Env::from_raw(env);
        let json: Object = env.get_global()?.get_named_property("JSON")?;
        let parse: Function<String, Unknown> = json.get_named_property("parse")?;
        Ok(parse.call(val.0)?.raw())
    }
}

/// Whether the call wrote a row (`false`: an equal row was already there).
#[napi(object)]
pub struct AppendResult {
    pub appended: bool,
}

/// Options shared by the ledger reads.
#[napi(object)]
pub struct LedgerReadOptions {
    /// How long to wait for `consumers.lock` (default `OKSTRA_LOCK_TIMEOUT_MS`, else 30000).
    pub lock_timeout_ms: Option<f64>,
}

/// A `started` or `done` event.
#[napi(object)]
pub struct LedgerAppendOptions {
    pub impl_task_key: String,
    pub stage: f64,
    #[napi(ts_type = "'started' | 'done'")]
    pub status: String,
    /// Re-record a `done` with a different `head_commit` (a reconciled row).
    pub force_reappend: Option<bool>,
    /// Extra columns, e.g. `head_commit`, `report_path`, `branch`, `worktree_path`, `run_id`.
    #[napi(ts_type = "Record<string, unknown>")]
    pub fields: Option<Value>,
    pub lock_timeout_ms: Option<f64>,
    /// Create a missing plan run root (default `false`: a missing root is `E_INVALID_ARG`, so
    /// a mistyped path makes no new ledger).
    pub create: Option<bool>,
}

/// A single-stage final-verification result.
#[napi(object)]
pub struct LedgerAppendVerifiedOptions {
    pub impl_task_key: String,
    pub stage: f64,
    pub verdict: String,
    pub report_path: String,
    pub lock_timeout_ms: Option<f64>,
    /// Create a missing plan run root (default `false`: a missing root is `E_INVALID_ARG`, so
    /// a mistyped path makes no new ledger).
    pub create: Option<bool>,
}

/// The PR a stage group was handed off in.
#[napi(object)]
pub struct LedgerAppendPrOptions {
    pub impl_task_key: String,
    pub stages: Vec<f64>,
    pub branch: String,
    pub url: String,
    pub lock_timeout_ms: Option<f64>,
    /// Create a missing plan run root (default `false`: a missing root is `E_INVALID_ARG`, so
    /// a mistyped path makes no new ledger).
    pub create: Option<bool>,
}

fn stage(v: f64) -> Result<u32> {
    stage_arg(Some(v))?.ok_or_else(|| invalid_arg("a stage number is required"))
}

fn open(root: &str, lock_timeout_ms: Option<f64>, create: Option<bool>) -> Result<Ledger> {
    crate::ids::check_path("planRunRoot", root).map_err(js_err)?;
    Ok(Ledger::new(root, ms_arg(lock_timeout_ms)?).creating(create.unwrap_or(false)))
}

fn read(root: String, o: Option<LedgerReadOptions>) -> Result<LedgerReadResult> {
    let r = open(&root, o.and_then(|o| o.lock_timeout_ms), None)?
        .read_text()
        .map_err(js_err)?;
    Ok(LedgerReadResult {
        rows: JsonRows(r.rows_json),
        skipped: r
            .skipped
            .into_iter()
            .map(|s| SkippedLine {
                line: u32::try_from(s.line).unwrap_or(u32::MAX),
                reason: s.reason,
            })
            .collect(),
    })
}

/// Reads `<planRunRoot>/consumers.jsonl` (missing file = empty). A torn or invalid line is
/// skipped and listed in `skipped`, never fatal. Throws `E_INVALID_ARG` when `planRunRoot`
/// does not exist, `E_IO`.
#[napi]
pub fn ledger_read(
    plan_run_root: String,
    o: Option<LedgerReadOptions>,
) -> Result<LedgerReadResult> {
    read(plan_run_root, o)
}

/// `ledgerRead` on the libuv pool.
#[napi(ts_return_type = "Promise<LedgerReadResult>")]
pub fn ledger_read_async(
    plan_run_root: String,
    o: Option<LedgerReadOptions>,
) -> AsyncTask<Job<LedgerReadResult>> {
    job(move || read(plan_run_root, o))
}

fn append(root: String, o: LedgerAppendOptions) -> Result<AppendResult> {
    let fields = match o.fields {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m,
        Some(_) => return Err(invalid_arg("fields must be an object")),
    };
    let appended = open(&root, o.lock_timeout_ms, o.create)?
        .append(
            &o.impl_task_key,
            stage(o.stage)?,
            &o.status,
            o.force_reappend.unwrap_or(false),
            fields,
        )
        .map_err(js_err)?;
    Ok(AppendResult { appended })
}

/// Appends a `started`/`done` row under `consumers.lock` (one whole-line write + fsync),
/// unless `(implTaskKey, stage, status)` is already recorded; with `forceReappend`, unless
/// a row with the same `head_commit` is. Throws `E_INVALID_ARG` (other statuses, empty
/// key, `fields` setting `impl_task_key`/`stage`/`status`), `E_INVALID_ARG` (a missing
/// plan run root without `create`), `E_LOCK_TIMEOUT`, `E_IO`.
#[napi]
pub fn ledger_append(plan_run_root: String, o: LedgerAppendOptions) -> Result<AppendResult> {
    append(plan_run_root, o)
}

/// `ledgerAppend` on the libuv pool.
#[napi(ts_return_type = "Promise<AppendResult>")]
pub fn ledger_append_async(
    plan_run_root: String,
    o: LedgerAppendOptions,
) -> AsyncTask<Job<AppendResult>> {
    job(move || append(plan_run_root, o))
}

fn append_verified(root: String, o: LedgerAppendVerifiedOptions) -> Result<AppendResult> {
    let appended = open(&root, o.lock_timeout_ms, o.create)?
        .append_verified(
            &o.impl_task_key,
            stage(o.stage)?,
            &o.verdict,
            &o.report_path,
        )
        .map_err(js_err)?;
    Ok(AppendResult { appended })
}

/// Appends a `verified` row; the same `reportPath` for the stage again is a no-op.
/// Throws `E_INVALID_ARG`, `E_LOCK_TIMEOUT`, `E_IO`.
#[napi]
pub fn ledger_append_verified(
    plan_run_root: String,
    o: LedgerAppendVerifiedOptions,
) -> Result<AppendResult> {
    append_verified(plan_run_root, o)
}

/// `ledgerAppendVerified` on the libuv pool.
#[napi(ts_return_type = "Promise<AppendResult>")]
pub fn ledger_append_verified_async(
    plan_run_root: String,
    o: LedgerAppendVerifiedOptions,
) -> AsyncTask<Job<AppendResult>> {
    job(move || append_verified(plan_run_root, o))
}

fn append_pr(root: String, o: LedgerAppendPrOptions) -> Result<AppendResult> {
    let stages = o
        .stages
        .into_iter()
        .map(stage)
        .collect::<Result<Vec<_>>>()?;
    let appended = open(&root, o.lock_timeout_ms, o.create)?
        .append_pr(&o.impl_task_key, &stages, &o.branch, &o.url)
        .map_err(js_err)?;
    Ok(AppendResult { appended })
}

/// Appends a `pr` row (stages sorted); a `pr` row for the same branch makes it a no-op.
/// Throws `E_INVALID_ARG` (no stages, empty branch), `E_LOCK_TIMEOUT`, `E_IO`.
#[napi]
pub fn ledger_append_pr(plan_run_root: String, o: LedgerAppendPrOptions) -> Result<AppendResult> {
    append_pr(plan_run_root, o)
}

/// `ledgerAppendPr` on the libuv pool.
#[napi(ts_return_type = "Promise<AppendResult>")]
pub fn ledger_append_pr_async(
    plan_run_root: String,
    o: LedgerAppendPrOptions,
) -> AsyncTask<Job<AppendResult>> {
    job(move || append_pr(plan_run_root, o))
}

/// The JS readers (`readers.js`), compiled once per Node-API environment.
struct Readers(ObjectRef<false>);

fn readers<'a>(env: &'a Env) -> napi::Result<Object<'a>> {
    if let Some(r) = env.get_instance_data::<Readers>()? {
        return r.0.get_value(env);
    }
    let obj: Object = env.run_script(include_str!("readers.js"))?;
    env.set_instance_data(Readers(obj.create_ref::<false>()?), (), |_| {})?;
    Ok(obj)
}

fn call_reader<'a>(env: &'a Env, name: &str, rows: Unknown<'a>) -> napi::Result<Unknown<'a>> {
    let f: Function<Unknown, Unknown> = readers(env)?.get_named_property(name)?;
    f.call(rows)
}

/// Stage → its last `done` row, the very object passed in (last wins: a reconciled row
/// supersedes the original). Rows whose `stage` is not a whole number are ignored.
#[napi(
    ts_args_type = "rows: Array<Record<string, unknown>>",
    ts_return_type = "Record<number, Record<string, unknown>>"
)]
pub fn ledger_latest_done_by_stage<'a>(
    env: &'a Env,
    rows: Unknown<'a>,
) -> napi::Result<Unknown<'a>> {
    call_reader(env, "latestDoneByStage", rows)
}

/// Stages whose last `verified` verdict, trimmed and lower-cased, is `accepted`; ascending.
#[napi(
    ts_args_type = "rows: Array<Record<string, unknown>>",
    ts_return_type = "Array<number>"
)]
pub fn ledger_verified_accepted_stages<'a>(
    env: &'a Env,
    rows: Unknown<'a>,
) -> napi::Result<Unknown<'a>> {
    call_reader(env, "verifiedAcceptedStages", rows)
}

/// Stages listed by any `pr` row; ascending.
#[napi(
    ts_args_type = "rows: Array<Record<string, unknown>>",
    ts_return_type = "Array<number>"
)]
pub fn ledger_pr_covered_stages<'a>(env: &'a Env, rows: Unknown<'a>) -> napi::Result<Unknown<'a>> {
    call_reader(env, "prCoveredStages", rows)
}
