#!/usr/bin/env bash
# Builds the native `okstra` executable (the core without the Node-API binding) and puts it
# in the per-platform package beside where the `.node` file is published
# (npm/linux-x64-gnu/okstra), which is where the package's install step looks for it.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --target x86_64-unknown-linux-gnu --bin okstra
install -m 0755 target/x86_64-unknown-linux-gnu/release/okstra npm/linux-x64-gnu/okstra
# The module beside it, so npm/linux-x64-gnu/ is the complete package a release publishes
# (`npm publish` runs `napi prepublish`, which publishes npm/<platform>/ as it is).
install -m 0644 okstra-native.linux-x64-gnu.node npm/linux-x64-gnu/okstra-native.linux-x64-gnu.node
