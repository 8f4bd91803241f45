#!/usr/bin/env bash
# Installs the npm dependencies when they are missing or stale, then builds the native
# module. Shared by `npm test` and `npm run demo` so both work from a fresh clone.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npx napi build --platform --release
