//! The native `okstra` executable: the same command line as `bin/okstra.cjs` (both run
//! [`okstra_native::cli::run`]), without starting Node. The package's install step puts it in
//! place of the JS shim where the platform binary exists.
//!
//! `okstra wizard` on a terminal is the interactive wizard, a JS prompt library: it is handed
//! to `node bin/okstra.cjs`, which makes that decision again and runs it.

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// Env var naming the Node binary for the interactive wizard (default `node` on `PATH`).
const NODE_ENV: &str = "OKSTRA_NODE";

fn main() -> ExitCode {
    okstra_native::timing::start();
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    if args.first().is_some_and(|a| a == "wizard")
        && std::io::stdin().is_terminal()
        && std::io::stdout().is_terminal()
    {
        return hand_to_node(&args);
    }
    // From here to the exit SIGINT / SIGTERM only set the flag commands poll (see
    // okstra_native::interrupt): a signal after the command finished is not a kill mid-write.
    let _signals = okstra_native::interrupt::SignalScope::install();
    // stdout is written as it is produced (`ledger read` streams its rows); a closed pipe
    // (`okstra … | head`) is not worth a panic, and the exit code still tells.
    let stdout = std::io::stdout();
    let mut w = std::io::BufWriter::with_capacity(64 * 1024, stdout.lock());
    let out = okstra_native::cli::run_to(args, &mut w);
    drop(w);
    okstra_native::timing::mark("print");
    let _ = std::io::stderr().lock().write_all(out.stderr.as_bytes());
    let _ = std::io::stderr()
        .lock()
        .write_all(okstra_native::timing::report().as_bytes());
    let _ = std::io::stdout().flush();
    // Exit with the handlers still installed: returning from `main` would drop the scope
    // first, and a signal in the instant between would kill a process whose command had
    // completed (exit by signal after the row was written, which a caller reads as "not done").
    let code = i32::from(u8::try_from(out.exit_code).unwrap_or(1));
    std::mem::forget(_signals);
    std::process::exit(code)
}

/// The JS CLI beside this executable (`bin/okstra` was `bin/okstra.cjs`'s shim), or in the
/// main package when this is the copy inside the per-platform package.
fn js_cli() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?.canonicalize().ok()?;
    let dir = exe.parent()?;
    [dir.join("okstra.cjs"), dir.join("../native/bin/okstra.cjs")]
        .into_iter()
        .find(|p| p.is_file())
}

/// Replaces this process with `node bin/okstra.cjs <args>` (same terminal, same signals).
fn hand_to_node(args: &[OsString]) -> ExitCode {
    use std::os::unix::process::CommandExt;
    let Some(cli) = js_cli() else {
        eprintln!(
            "okstra: the interactive wizard runs in Node, but bin/okstra.cjs was not found next \
             to this executable; run `npx okstra wizard` from the package [E_IO]"
        );
        return ExitCode::from(1);
    };
    let node = std::env::var_os(NODE_ENV).unwrap_or_else(|| "node".into());
    let err = std::process::Command::new(&node).arg(cli).args(args).exec();
    eprintln!(
        "okstra: cannot start {} for the interactive wizard ({err}); install Node or set {NODE_ENV} [E_IO]",
        node.to_string_lossy()
    );
    ExitCode::from(1)
}
