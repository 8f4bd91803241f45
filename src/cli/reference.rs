//! `docs/cli.md`, generated from the clap definitions: every command's `--help` exactly as
//! `okstra … --help` prints it. The test fails while the committed file differs from what the
//! definitions give; `OKSTRA_BLESS=1 cargo test --release --target x86_64-unknown-linux-gnu
//! cli::reference` rewrites it.

use super::Cli;
use clap::CommandFactory;
use std::fmt::Write as _;

const HEADER: &str = "\
# The `okstra` command

<!-- Generated from the clap definitions by the test `cli::reference` (src/cli/reference.rs).
     Do not edit: change the doc comments in src/cli/ and run
     OKSTRA_BLESS=1 cargo test --release --target x86_64-unknown-linux-gnu cli::reference -->

Every command prints one JSON document on stdout. A refusal is
`{\"ok\": false, \"code\": \"E_…\", \"error\": \"…\"}` on stdout plus one human line on stderr, with
exit code 1, or 2 for a conflict with existing state, or 130 when interrupted
([errors.md](errors.md) lists every code and its exit code). A command line clap refuses is
`E_INVALID_ARG` whose JSON names the `flags` at fault, with clap's full text on stderr.
`okstra registry doctor` exits 1 when its report lists a problem. Call the command without
`npx` (see the [README](../README.md#the-okstra-command)); the JS API does the same through
`runCli(argv)`.

";

/// Every visible command path below the top, depth first in definition order.
fn paths(cmd: &clap::Command, prefix: &[String], out: &mut Vec<Vec<String>>) {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let mut path = prefix.to_vec();
        path.push(sub.get_name().to_string());
        out.push(path.clone());
        paths(sub, &path, out);
    }
}

/// The GitHub anchor of a heading made of lower-case words and hyphens.
fn anchor(title: &str) -> String {
    title.replace(' ', "-")
}

/// The whole `docs/cli.md`.
pub(crate) fn render() -> String {
    let mut all = vec![Vec::new()];
    paths(&Cli::command(), &[], &mut all);
    let mut md = HEADER.to_string();
    md.push_str("Commands:\n\n");
    for path in &all[1..] {
        let title = format!("okstra {}", path.join(" "));
        let indent = "  ".repeat(path.len() - 1);
        let _ = writeln!(md, "{indent}- [`{title}`](#{})", anchor(&title));
    }
    for path in &all {
        let title = if path.is_empty() {
            "okstra".to_string()
        } else {
            format!("okstra {}", path.join(" "))
        };
        let mut argv = path.clone();
        argv.push("--help".into());
        let out = super::run(argv);
        assert_eq!(out.exit_code, 0, "{title} --help: {}", out.stderr);
        let _ = write!(
            md,
            "\n## {title}\n\n```text\n{}\n```\n",
            out.stdout.trim_end()
        );
    }
    md
}

#[test]
fn docs_cli_md_is_what_the_clap_definitions_give() {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/cli.md");
    let want = render();
    if std::env::var_os("OKSTRA_BLESS").is_some() {
        std::fs::write(&file, &want).expect("docs/cli.md written");
        return;
    }
    let have = std::fs::read_to_string(&file).unwrap_or_default();
    assert!(
        have == want,
        "docs/cli.md is not what the clap definitions give; regenerate it with \
         OKSTRA_BLESS=1 cargo test --release --target x86_64-unknown-linux-gnu cli::reference"
    );
}
