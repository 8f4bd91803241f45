//! The `runCli` export behind `bin/okstra.cjs`.

use napi_derive::napi;

use crate::{cli, fsio};

/// What one `okstra` command line printed and its exit code.
#[napi(object)]
pub struct CliResult {
    pub stdout: String,
    pub stderr: String,
    pub exit_code: i32,
}

/// Runs one `okstra` command line (arguments without the program name) in-process and
/// returns what it would print. Used by the `okstra` bin; never throws. The one thing written
/// directly to the process's stderr while it runs is the notice of a lock waited for longer
/// than 1 s ("okstra: Blocking waiting for file lock on …"), so a waiting CLI is not silent.
#[napi]
pub fn run_cli(args: Vec<String>) -> CliResult {
    let out = fsio::announcing_lock_waits(|| cli::run(args));
    CliResult {
        stdout: out.stdout,
        stderr: out.stderr,
        exit_code: out.exit_code,
    }
}
