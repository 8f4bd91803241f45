#!/usr/bin/env bash
# Installs the npm dependencies when they are missing or stale, then builds the native
# module. Shared by `npm test` and `npm run demo` so both work from a fresh clone.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  # Not `npm ci`: npm 11 writes lock files without other platforms' optional packages
  # (e.g. @napi-rs/lzma-darwin-x64) and then its own `npm ci` refuses them as "out of sync".
  # `npm install --no-save` installs the locked versions and leaves the lock file alone.
  npm install --no-audit --no-fund --no-save
fi
npm run --silent build
