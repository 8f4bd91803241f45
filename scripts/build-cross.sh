#!/usr/bin/env bash
# `npm run build:cross [platform…]`: builds the Node-API module and the native `okstra`
# executable for other platforms into their per-platform packages, npm/<platform>/
# (okstra-native.<platform>.node and okstra). With no argument: every platform in
# package.json's napi.targets except this machine's own (which `npm run build` makes).
#
# The same commands the release workflow runs (.github/workflows/release.yml calls this
# script with one platform per runner):
#   module:     napi build --platform --release --features napi --target <triple> [-x] -- --lib
#   executable: cargo [zigbuild] build --release --target <triple> --bin okstra
# `-x` (the napi CLI's cross-compile mode) and `cargo zigbuild` are used for a target this
# host cannot link natively (another OS, another libc, another CPU on Linux); on macOS both
# darwin targets build natively with Xcode's linker.
#
# Tools, each brought here by the script when missing, or it says which one it could not
# get and stops:
#   - Rust targets: `rustup target add <triple>`
#   - zig: the `ziglang` PyPI package in a venv under target/cross-tools/ (or pip --user)
#   - cargo-zigbuild: `cargo install --locked` into target/cross-tools/
# Nothing built here is committed (.gitignore: npm/*/okstra, *.node).
#
# darwin targets from Linux: zig brings macOS's libc headers and libSystem stubs, but
# libgit2 and chrono's time zone code link Apple's CoreFoundation and Security frameworks,
# which only an SDK has. Point SDKROOT at one: a MacOSX.sdk (System/Library/Frameworks,
# usr/lib, usr/include), or a trimmed SDK laid out as Frameworks/, lib/, include/ at its
# top (github.com/mitchellh/zig-build-macos-sdk), which the script arranges as a
# MacOSX.sdk under target/cross-tools/sdkroot. Never commit an SDK (Apple's licence).
#   SDKROOT=/path/to/sdk npm run build:cross -- darwin-arm64 darwin-x64
# MACOSX_DEPLOYMENT_TARGET is the oldest macOS the darwin artifacts run on: default 10.13
# for x64 (as napi-rs/package-template) and 11.0 for arm64, the first macOS on Apple
# silicon (Xcode's linker raises a lower value itself; zig's does not, so the script does).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
tools=$root/target/cross-tools
ZIGLANG_VERSION=0.17.1
ZIGBUILD_VERSION=0.24.1

die() {
  echo "build:cross: $*" >&2
  exit 1
}

# platform (npm folder name) -> Rust target triple, from package.json's napi.targets.
declare -A triple_of
while IFS=' ' read -r plat triple; do
  triple_of[$plat]=$triple
done < <(node -e '
  const t = require("./package.json").napi.targets
  const os = { linux: "linux", darwin: "darwin", apple: "darwin" }
  for (const triple of t) {
    const [arch, , sys, abi] = triple.split("-")
    const a = { x86_64: "x64", aarch64: "arm64" }[arch]
    const o = sys === "darwin" ? "darwin" : "linux"
    console.log(`${o}-${a}${o === "linux" ? "-" + abi : ""} ${triple}`)
  }')

host_os=$(uname -s)
host_triple=$(rustc -vV | sed -n 's/^host: //p')
if [ "$#" -gt 0 ]; then
  platforms=("$@")
else
  platforms=()
  for p in linux-arm64-gnu linux-x64-musl linux-arm64-musl darwin-arm64 darwin-x64; do
    [ "${triple_of[$p]}" = "$host_triple" ] || platforms+=("$p")
  done
fi
for p in "${platforms[@]}"; do
  [ -n "${triple_of[$p]:-}" ] || die "unknown platform '$p' (package.json napi.targets has: ${!triple_of[*]})"
done

# Whether a target needs the cross toolchain on this host.
needs_cross() {
  local triple=$1
  [ "$triple" = "$host_triple" ] && return 1
  case "$host_os:$triple" in
    Darwin:*-apple-darwin) return 1 ;;
  esac
  return 0
}

# darwin targets link Apple's CoreFoundation and Security frameworks (libgit2, chrono's
# time zone): zig ships no macOS SDK and no registry this script may use has one.
if [ "$host_os" != Darwin ] && [ -z "${SDKROOT:-}" ]; then
  apple=()
  for p in "${platforms[@]}"; do
    case "$p" in darwin-*) apple+=("$p") ;; esac
  done
  if [ "${#apple[@]}" -gt 0 ]; then
    die "${apple[*]}: cannot be built on this $host_os host without the macOS SDK (set SDKROOT to a MacOSX.sdk; the release workflow builds them on macOS runners). The Linux platforms alone: npm run build:cross -- linux-arm64-gnu linux-x64-musl linux-arm64-musl"
  fi
fi

# A trimmed SDK (Frameworks/ lib/ include/ at its top) arranged as a MacOSX.sdk.
if [ -n "${SDKROOT:-}" ] && [ ! -d "$SDKROOT/System/Library/Frameworks" ]; then
  [ -d "$SDKROOT/Frameworks/CoreFoundation.framework" ] \
    || die "SDKROOT=$SDKROOT has neither System/Library/Frameworks (a MacOSX.sdk) nor Frameworks/CoreFoundation.framework (a trimmed SDK)"
  shim=$tools/sdkroot
  mkdir -p "$shim/System/Library" "$shim/usr"
  ln -sfn "$(cd "$SDKROOT" && pwd)/Frameworks" "$shim/System/Library/Frameworks"
  ln -sfn "$(cd "$SDKROOT" && pwd)/lib" "$shim/usr/lib"
  ln -sfn "$(cd "$SDKROOT" && pwd)/include" "$shim/usr/include"
  export SDKROOT=$shim
fi
# The deployment target a darwin triple is built for: the one asked for, at least 11.0 on
# arm64.
requested_macos=${MACOSX_DEPLOYMENT_TARGET:-10.13}
deployment_target() {
  local want=$requested_macos
  case "$1" in
    aarch64-apple-darwin) [ "${want%%.*}" -ge 11 ] 2>/dev/null || want=11.0 ;;
  esac
  echo "$want"
}

any_cross=0
triples=()
for p in "${platforms[@]}"; do
  triples+=("${triple_of[$p]}")
  needs_cross "${triple_of[$p]}" && any_cross=1
done

# 1. Rust targets.
command -v rustup >/dev/null 2>&1 || die "rustup is needed to add the Rust targets (${triples[*]}): https://rustup.rs"
rustup target add "${triples[@]}" >&2 || die "rustup could not add the Rust targets: ${triples[*]}"

export PATH="$tools/bin:$PATH"
if [ "$any_cross" = 1 ]; then
  mkdir -p "$tools/bin"
  # 2. zig, from the ziglang PyPI package.
  if ! command -v zig >/dev/null 2>&1; then
    command -v python3 >/dev/null 2>&1 || die "python3 is needed to install zig (the ziglang PyPI package)"
    zig_bin=""
    if [ ! -x "$tools/venv/bin/python3" ]; then
      python3 -m venv "$tools/venv" >&2 2>/dev/null || rm -rf "$tools/venv"
    fi
    if [ -x "$tools/venv/bin/python3" ]; then
      "$tools/venv/bin/pip" install -q "ziglang==$ZIGLANG_VERSION" >&2 \
        || die "pip could not install ziglang==$ZIGLANG_VERSION into $tools/venv"
      zig_bin=$("$tools/venv/bin/python3" -c 'import os, ziglang; print(os.path.join(os.path.dirname(ziglang.__file__), "zig"))')
    else
      python3 -m pip install -q --user "ziglang==$ZIGLANG_VERSION" >&2 \
        || die "neither a venv nor 'pip install --user ziglang==$ZIGLANG_VERSION' worked"
      zig_bin=$(python3 -c 'import os, ziglang; print(os.path.join(os.path.dirname(ziglang.__file__), "zig"))')
    fi
    [ -x "$zig_bin" ] || die "the ziglang package has no zig executable at $zig_bin"
    ln -sf "$zig_bin" "$tools/bin/zig"
  fi
  zig version >/dev/null 2>&1 || die "zig does not run on this machine ($(command -v zig))"
  # 3. cargo-zigbuild (napi build -x would install it too, into ~/.cargo; here it stays local).
  if ! command -v cargo-zigbuild >/dev/null 2>&1; then
    cargo install --locked --root "$tools" "cargo-zigbuild@$ZIGBUILD_VERSION" >&2 \
      || die "cargo could not install cargo-zigbuild@$ZIGBUILD_VERSION"
  fi
fi

# 4. Build, in a target directory of its own so `npm run build` (this host's target) never
# waits for the cross builds' cargo lock.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target/cross-target}
for p in "${platforms[@]}"; do
  triple=${triple_of[$p]}
  out=$root/target/cross/$p
  mkdir -p "$out"
  cross=()
  cargo_build=(cargo build)
  if needs_cross "$triple"; then
    cross=(-x)
    cargo_build=(cargo zigbuild)
  fi
  case "$triple" in
    *-apple-darwin) export MACOSX_DEPLOYMENT_TARGET; MACOSX_DEPLOYMENT_TARGET=$(deployment_target "$triple") ;;
  esac
  echo "build:cross: $p ($triple${cross:+, cross-compiled with cargo-zigbuild})" >&2
  # --no-js and -o target/cross/<platform>: the committed index.js / index.d.ts stay the
  # ones `npm run build` generates (the typings do not depend on the target).
  npx napi build --platform --release --features napi --target "$triple" "${cross[@]}" \
    --no-js -o "$out" -- --lib >&2
  install -m 0644 "$out/okstra-native.$p.node" "npm/$p/okstra-native.$p.node"
  "${cargo_build[@]}" --release --target "$triple" --bin okstra >&2
  install -m 0755 "$CARGO_TARGET_DIR/$triple/release/okstra" "npm/$p/okstra"
done
for p in "${platforms[@]}"; do
  echo "npm/$p: okstra-native.$p.node okstra"
done
