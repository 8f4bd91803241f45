#!/usr/bin/env bash
# Installs the npm dependencies when they are missing or stale, then builds the native
# module. Shared by `npm test` and `npm run demo` so both work from a fresh clone.
set -euo pipefail
cd "$(dirname "$0")/.."
# Prerequisites for building from source (README, "Prerequisites"): say which one is
# missing instead of failing later inside the napi CLI (`cargo metadata failed` + a stack).
missing=()
need() { command -v "$1" >/dev/null 2>&1 || missing+=("$1 ($2)"); }
need node "Node.js 20 or later: https://nodejs.org"
need npm "comes with Node.js"
need cargo "Rust: https://rustup.rs, then open a new shell"
need rustc "Rust: https://rustup.rs"
need git "git: your package manager, e.g. apt-get install git"
if ! command -v cc >/dev/null 2>&1 && ! command -v gcc >/dev/null 2>&1 && ! command -v clang >/dev/null 2>&1; then
  missing+=("a C compiler (libgit2 and zlib are compiled from source: apt-get install build-essential, or xcode-select --install)")
fi
if [ "${OKSTRA_SKIP_PYTHON_CHECK:-}" != 1 ] && ! command -v python3 >/dev/null 2>&1; then
  missing+=("python3 (the tests and benchmarks run the Python helper and drive a pseudo-terminal)")
fi
if [ "${#missing[@]}" -gt 0 ]; then
  echo "okstra: cannot build from source; missing prerequisites:" >&2
  for m in "${missing[@]}"; do echo "  - $m" >&2; done
  exit 1
fi
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  # Not `npm ci`: npm 11 writes lock files without other platforms' optional packages
  # (e.g. @napi-rs/lzma-darwin-x64) and then its own `npm ci` refuses them as "out of sync".
  # `npm install --no-save` installs the locked versions and leaves the lock file alone.
  npm install --no-audit --no-fund --no-save
fi
npm run --silent build
