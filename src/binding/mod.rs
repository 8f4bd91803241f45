//! The Node-API layer: converts JS objects to core types and core errors to JS `Error`s with
//! a stable `code`. No behaviour lives here.

mod arg_errors;
mod cli;
mod handoff;
mod ids;
mod ledger;
mod lifecycle;
mod plan;
mod registry;
mod wizard;
mod worktree;

use napi::bindgen_prelude::{FromNapiValue, JsObjectValue, Object, ToNapiValue, TypeName, Unknown};
use napi::{Env, JsError, Task};

use std::time::Duration;

use crate::context::Context;
use crate::error::{Code, Coded};

/// The error every export throws: `code` is the core's stable code, `message` its text.
pub type Result<T> = napi::Result<T, String>;

/// A JS error whose `err.code` is `code` (from the registry, `crate::error::code`).
pub fn code_err(code: Code, msg: impl Into<String>) -> napi::Error<String> {
    napi::Error::new(code.as_str().to_string(), msg.into())
}

/// Converts any core error to a JS error carrying its code.
pub fn js_err<E: Coded>(e: E) -> napi::Error<String> {
    code_err(e.code(), e.to_string())
}

/// A coded error that may carry data fields ([`Coded::data`]): thrown (or rejected with) as a
/// JS Error whose `code` and `message` are the error's, plus one property per field (e.g.
/// `reasons` of `E_REMOVE_REFUSED`). Every other error converts into it without data, so
/// async exports ([`Job`]) carry either kind to the JS thread.
#[derive(Debug)]
pub struct Thrown {
    code: String,
    message: String,
    data: Option<serde_json::Map<String, serde_json::Value>>,
}

impl Thrown {
    /// A core error with its code, message and data fields.
    pub fn coded<E: Coded>(e: E) -> Thrown {
        Thrown {
            code: e.code().as_str().to_string(),
            message: e.to_string(),
            data: e.data(),
        }
    }

    /// The napi error that throws this as a JS Error (an export with `env` returns it).
    pub fn throw(self, env: &Env) -> napi::Error {
        thrown_with(env, napi::Error::new(self.code, self.message), self.data)
    }
}

impl From<napi::Error<String>> for Thrown {
    fn from(e: napi::Error<String>) -> Self {
        Thrown {
            code: e.status,
            message: e.reason,
            data: None,
        }
    }
}

/// An `E_INVALID_ARG` error for a value a JS caller passed.
pub fn invalid_arg(msg: impl Into<String>) -> napi::Error<String> {
    code_err(Code::InvalidArg, msg)
}

/// Decodes an options object passed as JSON; a missing or mistyped field is
/// `E_INVALID_ARG` naming it.
pub fn from_js<T: serde::de::DeserializeOwned>(what: &str, v: serde_json::Value) -> Result<T> {
    serde_json::from_value(v).map_err(|e| {
        invalid_arg(format!(
            "invalid {what} options: {}",
            js_terms(&e.to_string())
        ))
    })
}

/// The one options object of an export, from either call form: `(options)`, or the 0.1
/// positional `(value, options?)` whose leading string becomes `options[field]`. Anything
/// else is returned as given, for the decoder to refuse with `E_INVALID_ARG`.
pub fn positional(
    o: serde_json::Value,
    rest: Option<serde_json::Value>,
    field: &str,
) -> serde_json::Value {
    use serde_json::Value;
    match (o, rest) {
        (Value::String(v), None | Some(Value::Null)) => serde_json::json!({ field: v }),
        (Value::String(v), Some(Value::Object(mut m))) => {
            m.insert(field.to_string(), Value::String(v));
            Value::Object(m)
        }
        (o, _) => o,
    }
}

/// A serde message in JS terms: `f64`/`u32` are numbers, `a sequence` an array, `a map`
/// an object; the `at line … column …` suffix (meaningless for a JS value) is dropped.
fn js_terms(message: &str) -> String {
    let mut m = message.to_string();
    if let Some(i) = m.find(" at line ") {
        m.truncate(i);
    }
    for (rust, js) in [
        ("expected f64", "expected a number"),
        ("expected u32", "expected a whole number"),
        ("expected u64", "expected a whole number"),
        ("expected a sequence", "expected an array"),
        ("expected a map", "expected an object"),
        ("struct ", "an object "),
        ("invalid type: map", "invalid type: object"),
        ("invalid type: sequence", "invalid type: array"),
        ("invalid type: floating point", "invalid type: number"),
        ("invalid type: integer", "invalid type: number"),
        ("invalid type: unit value", "invalid type: null"),
    ] {
        m = m.replace(rust, js);
    }
    m
}

/// A JS number that must be a whole stage number (the core's one number check).
pub fn stage_arg(n: Option<f64>) -> Result<Option<u32>> {
    n.map(|v| crate::ids::stage_number("stageNumber", v).map_err(js_err))
        .transpose()
}

/// A JS number of milliseconds for a lock bound (the core's one number check).
pub fn ms_arg(n: Option<f64>) -> Result<Option<u64>> {
    n.map(|v| {
        crate::ids::whole_number("lockTimeoutMs", v, crate::fsio::MAX_LOCK_TIMEOUT_MS)
            .map_err(js_err)
    })
    .transpose()
}

/// The context of one call, resolved once from an export's `home` and `lockTimeoutMs`
/// (else `OKSTRA_HOME` / `OKSTRA_LOCK_TIMEOUT_MS`) and handed down to the core.
pub fn context(home: Option<&str>, lock_timeout_ms: Option<f64>) -> Result<Context> {
    Context::resolve(home, ms_arg(lock_timeout_ms)?).map_err(js_err)
}

/// The lock bound alone, for the exports that touch no registry (the ledger).
pub fn lock_bound(lock_timeout_ms: Option<f64>) -> Result<Duration> {
    crate::fsio::lock_timeout(ms_arg(lock_timeout_ms)?).map_err(js_err)
}

type Work<T> = Box<dyn FnOnce() -> std::result::Result<T, Thrown> + Send>;

/// Runs one core operation on the libuv thread pool (git2 and file I/O block, so this is
/// `AsyncTask`, not Tokio) and settles the Promise with its value or its coded error. Each
/// async export names its own task type ([`task!`]) so the generated typings say what the
/// Promise resolves to.
pub struct Job<T> {
    work: Option<Work<T>>,
}

impl<T> Job<T> {
    /// Wraps `work`, run once on the pool.
    pub fn new(work: impl FnOnce() -> Result<T> + Send + 'static) -> Job<T> {
        Job::thrown(move || work().map_err(Thrown::from))
    }

    /// Wraps `work` whose errors may carry data fields ([`Thrown`]).
    pub fn thrown(
        work: impl FnOnce() -> std::result::Result<T, Thrown> + Send + 'static,
    ) -> Job<T> {
        Job {
            work: Some(Box::new(work)),
        }
    }
}

/// Declares the task type of one async export: a [`Job`] whose `JsValue` napi sees, so
/// `index.d.ts` gets `Promise<Result>` without a hand-written `ts_return_type`. napi also
/// registers the type as an empty class; `arg_errors.js` removes it from the exports.
macro_rules! task {
    ($(#[$doc:meta])* $name:ident => $($out:tt)+) => {
        $(#[$doc])*
        pub struct $name($crate::binding::Job<$($out)+>);

        impl $name {
            /// The Promise of `work` run on the libuv pool.
            // Each task uses `run` or `run_thrown`.
            #[allow(dead_code)]
            pub fn run(
                work: impl FnOnce() -> $crate::binding::Result<$($out)+> + Send + 'static,
            ) -> napi::bindgen_prelude::AsyncTask<$name> {
                napi::bindgen_prelude::AsyncTask::new($name($crate::binding::Job::new(work)))
            }

            /// The Promise of `work`, whose errors may carry data fields.
            #[allow(dead_code)]
            pub fn run_thrown(
                work: impl FnOnce() -> std::result::Result<$($out)+, $crate::binding::Thrown>
                    + Send
                    + 'static,
            ) -> napi::bindgen_prelude::AsyncTask<$name> {
                napi::bindgen_prelude::AsyncTask::new($name($crate::binding::Job::thrown(work)))
            }
        }

        #[napi_derive::napi]
        impl napi::Task for $name {
            type Output = std::result::Result<$($out)+, $crate::binding::Thrown>;
            type JsValue = $($out)+;

            fn compute(&mut self) -> napi::Result<Self::Output> {
                napi::Task::compute(&mut self.0)
            }

            fn resolve(&mut self, env: napi::Env, output: Self::Output) -> napi::Result<$($out)+> {
                napi::Task::resolve(&mut self.0, env, output)
            }
        }
    };
}
pub(crate) use task;

impl<T: ToNapiValue + TypeName + Send + 'static> Task for Job<T> {
    type Output = std::result::Result<T, Thrown>;
    type JsValue = T;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        let work = self
            .work
            .take()
            .ok_or_else(|| napi::Error::from_reason("a Job runs once"))?;
        Ok(work())
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<T> {
        output.map_err(|e| e.throw(&env))
    }
}

/// A coded error as a `napi::Error` that throws (or rejects with) a JS Error whose `code`
/// is the error's code: a `napi::Error<Status>` made the usual way would carry a Status as
/// its code. For code that must return `napi::Result` (a conversion, a task's resolve).
pub fn as_thrown(env: &Env, e: napi::Error<String>) -> napi::Error {
    thrown_with(env, e, None)
}

/// [`as_thrown`] with `data`'s fields set on the Error object (never `code` or `message`).
fn thrown_with(
    env: &Env,
    e: napi::Error<String>,
    data: Option<serde_json::Map<String, serde_json::Value>>,
) -> napi::Error {
    let made = || -> napi::Result<napi::Error> {
        // SAFETY: `env` is the live environment of the current call on the JS thread, and
        // the value is a fresh Error created in it.
        let raw = unsafe { JsError::from(e).into_value(env.raw()) };
        if let Some(data) = data {
            // SAFETY: as above; `raw` is that Error, an object.
            let mut obj = unsafe { Object::from_napi_value(env.raw(), raw)? };
            for (k, v) in data {
                if k != "code" && k != "message" {
                    obj.set_named_property(&k, v)?;
                }
            }
        }
        // SAFETY: as above.
        Ok(napi::Error::from(unsafe {
            Unknown::from_napi_value(env.raw(), raw)?
        }))
    };
    made().unwrap_or_else(|failed| failed)
}
