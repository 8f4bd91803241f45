//! Helpers shared by the unit tests: the git CLI (to set repositories up and to check that
//! git agrees with what the core did) and file writing.

use std::path::Path;
use std::process::Command;

/// Runs `git -C dir args…` with a fixed identity; panics with git's stderr on failure and
/// returns trimmed stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@t")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@t")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?} in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Writes `text` to `path`, creating its parent directories.
pub fn write(path: &Path, text: &str) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("parent directory");
    }
    std::fs::write(path, text).expect("file written");
}

/// The variable that marks the child process `env_in_child` starts.
const CHILD_MARK: &str = "OKSTRA_TEST_ENV_CHILD";

/// Gives one test its own environment variables without `std::env::set_var` (which every
/// test thread of the process would see). `test` is the test's path (`module_path!()` +
/// `"::"` + its name). In the test process it runs that one test again in a child process
/// of this test binary with `vars` added to the child's environment, waits for it and
/// returns `false` (panicking with the child's output when it failed): the caller returns.
/// In that child it returns `true`: the caller goes on and runs the test body there.
pub fn env_in_child(test: &str, vars: &[(&str, &str)]) -> bool {
    let name = test.split_once("::").map_or(test, |(_crate, rest)| rest);
    if std::env::var(CHILD_MARK).as_deref() == Ok(name) {
        return true;
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    let out = Command::new(exe)
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_MARK, name)
        .envs(vars.iter().copied())
        .output()
        .expect("the test binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{name} with {vars:?} in a child process:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    false
}

/// `run_with_env!(test_fn, "VAR" => "value", …)` at the top of a test: the rest of the test
/// runs only in a child process with those variables set ([`env_in_child`]); in the test
/// process the macro returns once that child passed.
macro_rules! run_with_env {
    ($test:ident, $($var:expr => $val:expr),+ $(,)?) => {
        if !$crate::testutil::env_in_child(
            concat!(module_path!(), "::", stringify!($test)),
            &[$(($var, $val)),+],
        ) {
            return;
        }
    };
}
pub(crate) use run_with_env;
