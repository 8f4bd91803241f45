//! Exports of the `consumers.jsonl` ledger. Rows cross as they are stored:
//! snake_case keys and any extra fields.

use napi::bindgen_prelude::{
    AsyncTask, Function, JsObjectValue, JsValue, Object, ObjectRef, ToNapiValue, Unknown,
};
use napi::{sys, Env};
use napi_derive::napi;
use serde_json::{Map, Value};
use std::time::Duration;

use super::{
    as_thrown, from_js, invalid_arg, js_err, lock_bound, positional, stage_arg, task, Result,
};
use crate::ledger::Ledger;

/// A line of `consumers.jsonl` that was not read as a row.
#[napi(object, object_from_js = false, use_nullable = true)]
pub struct SkippedLine {
    /// 1-based line number.
    pub line: u32,
    /// Why it was skipped (e.g. a line torn by a crash mid-append).
    pub reason: String,
}

/// Every row in file order, exactly as stored, and the lines skipped.
#[napi(
    object,
    object_from_js = false,
    object_to_js = false,
    use_nullable = true
)]
pub struct LedgerReadResult {
    #[napi(ts_type = "Array<Record<string, unknown>>")]
    pub rows: JsonRows,
    pub skipped: Vec<SkippedLine>,
}

/// Rows as one JSON array text, turned into JS objects by V8's own `JSON.parse` (one call)
/// instead of one Node-API call per property.
pub enum JsonRows {
    /// Every line validated ([`Ledger::read_text`]); `skipped` lists the others.
    Checked(String),
    /// Every line shaped like one object ([`Ledger::read_unchecked`]): `JSON.parse` is the
    /// validation, and when it refuses the text the ledger under `root` is read again the
    /// checked way (on the JS thread; only a file with a malformed line pays for it).
    Unchecked { text: String, root: String },
}

/// `JSON.parse(text)`; a throw is cleared and returned as an error.
unsafe fn json_parse(env: &Env, text: String) -> napi::Result<Unknown<'_>> {
    let json: Object = env.get_global()?.get_named_property("JSON")?;
    let parse: Function<String, Unknown> = json.get_named_property("parse")?;
    parse.call(text).inspect_err(|_| {
        let mut thrown = std::ptr::null_mut();
        // SAFETY: `env` is the live env of this call; clearing leaves no pending exception.
        unsafe { sys::napi_get_and_clear_last_exception(env.raw(), &mut thrown) };
    })
}

impl ToNapiValue for LedgerReadResult {
    unsafe fn to_napi_value(raw: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        let env = Env::from_raw(raw);
        let (rows, skipped) = match val.rows {
            JsonRows::Checked(text) => (json_parse(&env, text)?, val.skipped),
            JsonRows::Unchecked { text, root } => match json_parse(&env, text) {
                Ok(rows) => (rows, val.skipped),
                Err(_) => {
                    let checked = read_checked(&root).map_err(|e| as_thrown(&env, e))?;
                    let JsonRows::Checked(text) = checked.rows else {
                        return Err(napi::Error::from_reason("a checked read is checked"));
                    };
                    (json_parse(&env, text)?, checked.skipped)
                }
            },
        };
        let mut out = Object::new(&env)?;
        out.set_named_property("rows", rows)?;
        out.set_named_property("skipped", skipped)?;
        Ok(out.raw())
    }
}

/// Whether the call wrote a row (`false`: an equal row was already there), and the
/// `impl_task_key` the row is recorded under: the key given, slugged as provisioning
/// registers it, unless the ledger's rows (the Python helper's) use the raw text.
#[napi(object, object_from_js = false, use_nullable = true)]
pub struct AppendResult {
    pub appended: bool,
    pub task_key: String,
}

impl From<crate::ledger::Appended> for AppendResult {
    fn from(a: crate::ledger::Appended) -> Self {
        AppendResult {
            appended: a.appended,
            task_key: a.task_key,
        }
    }
}

/// Options of `ledgerRead`. Reads take no lock (appends are whole-line writes), so there is
/// no lock bound to give.
#[napi(object)]
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LedgerReadOptions {
    /// Directory holding `consumers.jsonl`; must exist.
    pub plan_run_root: String,
}

/// A `started` or `done` event.
#[napi(object)]
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LedgerAppendOptions {
    /// Directory holding `consumers.jsonl`.
    pub plan_run_root: String,
    pub impl_task_key: String,
    pub stage: f64,
    #[napi(ts_type = "'started' | 'done'")]
    pub status: String,
    /// Re-record a `done` with a different `head_commit` (a reconciled row).
    pub force_reappend: Option<bool>,
    /// Extra columns, e.g. `head_commit`, `report_path`, `branch`, `worktree_path`, `run_id`.
    #[napi(ts_type = "Record<string, unknown>")]
    pub fields: Option<Value>,
    /// How long to wait for `consumers.lock` (default `OKSTRA_LOCK_TIMEOUT_MS`, else 30000).
    pub lock_timeout_ms: Option<f64>,
    /// Create a missing plan run root (default `false`: a missing root is `E_INVALID_ARG`, so
    /// a mistyped path makes no new ledger).
    pub create: Option<bool>,
}

/// A single-stage final-verification result.
#[napi(object)]
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LedgerAppendVerifiedOptions {
    /// Directory holding `consumers.jsonl`.
    pub plan_run_root: String,
    pub impl_task_key: String,
    pub stage: f64,
    pub verdict: String,
    pub report_path: String,
    /// The stage head commit that was verified (full id), recorded as `head_commit`.
    pub head_commit: Option<String>,
    /// How long to wait for `consumers.lock` (default `OKSTRA_LOCK_TIMEOUT_MS`, else 30000).
    pub lock_timeout_ms: Option<f64>,
    /// Create a missing plan run root (default `false`: a missing root is `E_INVALID_ARG`, so
    /// a mistyped path makes no new ledger).
    pub create: Option<bool>,
}

/// The PR a stage group was handed off in: the options of `ledgerAppendPr` and `handoffRecordPr`.
#[napi(object)]
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LedgerAppendPrOptions {
    /// Directory holding `consumers.jsonl`.
    pub plan_run_root: String,
    pub impl_task_key: String,
    pub stages: Vec<f64>,
    pub branch: String,
    pub url: String,
    /// How long to wait for `consumers.lock` (default `OKSTRA_LOCK_TIMEOUT_MS`, else 30000).
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
    Ok(Ledger::new(root, lock_bound(lock_timeout_ms)?).creating(create.unwrap_or(false)))
}

/// The options of a ledger export: its one options object, or the 0.1 positional form
/// `(planRunRoot, options)` (kept working, not in the typings).
fn ledger_options<T: serde::de::DeserializeOwned>(
    what: &str,
    o: Value,
    legacy: Option<Value>,
) -> Result<T> {
    from_js(what, positional(o, legacy, "planRunRoot"))
}

fn read(o: Value, legacy: Option<Value>) -> Result<LedgerReadResult> {
    let o: LedgerReadOptions = ledger_options("ledgerRead", o, legacy)?;
    crate::ids::check_path("planRunRoot", &o.plan_run_root).map_err(js_err)?;
    // Reads take no lock: the bound is never used.
    let ledger = Ledger::new(&o.plan_run_root, Duration::ZERO);
    match ledger.read_unchecked().map_err(js_err)? {
        Some(text) => Ok(LedgerReadResult {
            rows: JsonRows::Unchecked {
                text,
                root: o.plan_run_root,
            },
            skipped: Vec::new(),
        }),
        None => read_checked(&o.plan_run_root),
    }
}

/// The ledger under `root` read with every line validated.
fn read_checked(root: &str) -> Result<LedgerReadResult> {
    let r = Ledger::new(root, Duration::ZERO)
        .read_text()
        .map_err(js_err)?;
    Ok(LedgerReadResult {
        rows: JsonRows::Checked(r.rows_json),
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

/// Reads `<planRunRoot>/consumers.jsonl` (missing file = empty) without taking its lock. A
/// torn or invalid line is skipped and listed in `skipped`, never fatal. Throws
/// `E_INVALID_ARG` when `planRunRoot` does not exist, `E_IO`.
#[napi(ts_args_type = "o: LedgerReadOptions")]
pub fn ledger_read(o: Value, legacy: Option<Value>) -> Result<LedgerReadResult> {
    read(o, legacy)
}

task!(
    /// The Promise of `ledgerRead`.
    LedgerReadTask => LedgerReadResult
);

/// `ledgerRead` on the libuv pool.
#[napi(ts_args_type = "o: LedgerReadOptions")]
pub fn ledger_read_async(o: Value, legacy: Option<Value>) -> AsyncTask<LedgerReadTask> {
    LedgerReadTask::run(move || read(o, legacy))
}

fn append(o: Value, legacy: Option<Value>) -> Result<AppendResult> {
    let o: LedgerAppendOptions = ledger_options("ledgerAppend", o, legacy)?;
    let fields = match o.fields {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m,
        Some(_) => return Err(invalid_arg("fields must be an object")),
    };
    let ledger = open(&o.plan_run_root, o.lock_timeout_ms, o.create)?;
    let key = ledger.resolve_key(&o.impl_task_key).map_err(js_err)?;
    let appended = ledger
        .append(
            &key,
            stage(o.stage)?,
            &o.status,
            o.force_reappend.unwrap_or(false),
            fields,
        )
        .map_err(js_err)?;
    Ok(AppendResult {
        appended,
        task_key: key,
    })
}

/// Appends a `started`/`done` row under `consumers.lock` (one whole-line write + fsync),
/// unless `(implTaskKey, stage, status)` is already recorded; with `forceReappend`, unless
/// a row with the same `head_commit` is. Throws `E_INVALID_ARG` (other statuses, empty
/// key, `fields` setting `impl_task_key`/`stage`/`status`, a missing plan run root without
/// `create`), `E_LOCK_TIMEOUT`, `E_IO`.
#[napi(ts_args_type = "o: LedgerAppendOptions")]
pub fn ledger_append(o: Value, legacy: Option<Value>) -> Result<AppendResult> {
    append(o, legacy)
}

task!(
    /// The Promise of `ledgerAppend`, `ledgerAppendVerified` and `ledgerAppendPr`.
    AppendTask => AppendResult
);

/// `ledgerAppend` on the libuv pool.
#[napi(ts_args_type = "o: LedgerAppendOptions")]
pub fn ledger_append_async(o: Value, legacy: Option<Value>) -> AsyncTask<AppendTask> {
    AppendTask::run(move || append(o, legacy))
}

fn append_verified(o: Value, legacy: Option<Value>) -> Result<AppendResult> {
    let o: LedgerAppendVerifiedOptions = ledger_options("ledgerAppendVerified", o, legacy)?;
    let ledger = open(&o.plan_run_root, o.lock_timeout_ms, o.create)?;
    let key = ledger.resolve_key(&o.impl_task_key).map_err(js_err)?;
    let appended = ledger
        .append_verified_at(
            &key,
            stage(o.stage)?,
            &o.verdict,
            &o.report_path,
            o.head_commit.as_deref(),
        )
        .map_err(js_err)?;
    Ok(AppendResult {
        appended,
        task_key: key,
    })
}

/// Appends a `verified` row; the same `reportPath` for the stage again is a no-op.
/// Throws `E_INVALID_ARG`, `E_LOCK_TIMEOUT`, `E_IO`.
#[napi(ts_args_type = "o: LedgerAppendVerifiedOptions")]
pub fn ledger_append_verified(o: Value, legacy: Option<Value>) -> Result<AppendResult> {
    append_verified(o, legacy)
}

/// `ledgerAppendVerified` on the libuv pool.
#[napi(ts_args_type = "o: LedgerAppendVerifiedOptions")]
pub fn ledger_append_verified_async(o: Value, legacy: Option<Value>) -> AsyncTask<AppendTask> {
    AppendTask::run(move || append_verified(o, legacy))
}

fn append_pr(o: Value, legacy: Option<Value>) -> Result<AppendResult> {
    let o: LedgerAppendPrOptions = ledger_options("ledgerAppendPr", o, legacy)?;
    let stages = o
        .stages
        .into_iter()
        .map(stage)
        .collect::<Result<Vec<_>>>()?;
    let ledger = open(&o.plan_run_root, o.lock_timeout_ms, o.create)?;
    let key = ledger.resolve_key(&o.impl_task_key).map_err(js_err)?;
    let appended = ledger
        .append_pr(&key, &stages, &o.branch, &o.url)
        .map_err(js_err)?;
    Ok(AppendResult {
        appended,
        task_key: key,
    })
}

/// Appends a `pr` row (stages sorted); a `pr` row for the same branch makes it a no-op.
/// Throws `E_INVALID_ARG` (no stages, empty branch), `E_LOCK_TIMEOUT`, `E_IO`.
#[napi(ts_args_type = "o: LedgerAppendPrOptions")]
pub fn ledger_append_pr(o: Value, legacy: Option<Value>) -> Result<AppendResult> {
    append_pr(o, legacy)
}

/// `ledgerAppendPr` on the libuv pool.
#[napi(ts_args_type = "o: LedgerAppendPrOptions")]
pub fn ledger_append_pr_async(o: Value, legacy: Option<Value>) -> AsyncTask<AppendTask> {
    AppendTask::run(move || append_pr(o, legacy))
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
/// supersedes the original). Rows whose `stage` is not a whole number are ignored. Throws
/// `E_INVALID_ARG` when `rows` is not an array.
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
/// Throws `E_INVALID_ARG` when `rows` is not an array.
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

/// Stages listed by any `pr` row; ascending. Throws `E_INVALID_ARG` when `rows` is not an
/// array.
#[napi(
    ts_args_type = "rows: Array<Record<string, unknown>>",
    ts_return_type = "Array<number>"
)]
pub fn ledger_pr_covered_stages<'a>(env: &'a Env, rows: Unknown<'a>) -> napi::Result<Unknown<'a>> {
    call_reader(env, "prCoveredStages", rows)
}
