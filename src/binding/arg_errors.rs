//! Node-API's own argument errors as `E_INVALID_ARG`: every export is wrapped once, when the
//! addon loads, by `arg_errors.js` (the script is plain JS so it can catch what napi throws
//! before any Rust code of the export runs).

use napi::bindgen_prelude::{Function, Object};
use napi::Env;
use napi_derive::napi;

const WRAPPER: &str = include_str!("arg_errors.js");

/// Wraps every exported function and class method so argument conversion errors carry
/// `code: 'E_INVALID_ARG'` and a message in JS terms.
#[napi(module_exports)]
pub fn wrap_argument_errors(exports: Object, env: Env) -> napi::Result<()> {
    let wrap: Function<Object, ()> = env.run_script(WRAPPER)?;
    wrap.call(exports)
}
