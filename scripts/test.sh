#!/usr/bin/env bash
# The whole test run (README's test command, `npm test`): install, build, lint, API docs,
# Rust tests (docs/cli.md current included), Node tests (the other docs checked), the
# TypeScript consumer check, and the generated-typings check.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/test-deps.sh
bash scripts/ensure-built.sh
if ! git diff --quiet -- index.d.ts index.js 2>/dev/null; then
  echo "index.d.ts / index.js differ from the committed ones after the build; commit the regenerated files:" >&2
  git --no-pager diff --stat -- index.d.ts index.js >&2
  exit 1
fi
cargo fmt --check
cargo clippy --release --target x86_64-unknown-linux-gnu --all-targets -- -D warnings
cargo clippy --release --target x86_64-unknown-linux-gnu --lib --features napi -- -D warnings
# The API docs build without a warning (broken or private intra-doc links, bad markup).
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --target x86_64-unknown-linux-gnu
cargo test --release --target x86_64-unknown-linux-gnu
npx tsc -p __test__/types/tsconfig.json
node --test --test-concurrency=1 __test__/
