#!/usr/bin/env bash
# `npm run test:cross`: checks what `npm run build:cross` made (not part of `npm test`, which
# stays independent of the cross toolchains' downloads):
#   - every artifact in npm/<platform>/ has its platform's format (`file`);
#   - the linux-x64-musl executable passes the CLI parity test (same output as the JS CLI)
#     on this machine;
#   - the arm64 executables run under qemu-aarch64 (Debian's qemu-user; the glibc one with
#     Debian's arm64 libc from libc6-arm64-cross), or natively on an arm64 Linux host (the
#     release workflow's arm64 runners): --version and a worktree-registry round trip
#     (reserve, lookup, release, lookup);
#   - the Node-API module of every platform this host can load (its own OS, CPU and libc:
#     the macOS runners load the darwin modules, an arm64 runner the linux-arm64-gnu one)
#     loads in Node and answers a call.
# A platform not built yet is reported and fails the run: build it first.
set -euo pipefail
cd "$(dirname "$0")/.."
platforms=("$@")
[ "${#platforms[@]}" -gt 0 ] || platforms=(linux-arm64-gnu linux-x64-musl linux-arm64-musl darwin-arm64 darwin-x64)
version=$(node -p 'require("./package.json").version')
fail=0
bad() {
  echo "test:cross: FAIL $*" >&2
  fail=1
}

# This host as a platform name (linux-x64-gnu, linux-arm64-gnu, darwin-arm64, …).
host_platform=$(node -e '
  const { platform, arch } = process;
  const gnu = platform === "linux" && process.report.getReport().header.glibcVersionRuntime;
  console.log(platform + "-" + arch + (platform === "linux" ? (gnu ? "-gnu" : "-musl") : ""));')
host_arm64_linux=0
[ "$(uname -s):$(uname -m)" = Linux:aarch64 ] && host_arm64_linux=1

need=()
command -v file >/dev/null 2>&1 || need+=(file)
needs_qemu=0
for p in "${platforms[@]}"; do
  case "$p" in linux-arm64-*) [ "$host_arm64_linux" = 1 ] || needs_qemu=1 ;; esac
done
if [ "$needs_qemu" = 1 ]; then
  command -v qemu-aarch64 >/dev/null 2>&1 || need+=(qemu-user)
  [ -e /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 ] || need+=(libc6-arm64-cross)
fi
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
  else
    echo "test:cross needs these Debian packages: ${need[*]} (apt-get install them as root)" >&2
    exit 1
  fi
fi

expect_format() {
  case "$1" in
    linux-x64-gnu | linux-x64-musl) echo 'ELF 64-bit LSB .*x86-64' ;;
    linux-arm64-*) echo 'ELF 64-bit LSB .*ARM aarch64' ;;
    darwin-x64) echo 'Mach-O 64-bit .*x86_64' ;;
    darwin-arm64) echo 'Mach-O 64-bit .*arm64' ;;
  esac
}

# One round trip through the worktree registry with an executable run by "$@".
round_trip() {
  local home key out
  home=$(mktemp -d)
  key=(--project-id p --task-group g --task-id t)
  "$@" registry reserve "${key[@]}" --worktree-path /w/t --branch feat-t --base-ref "$(printf 'c%.0s' {1..40})" --home "$home" >/dev/null &&
    out=$("$@" registry lookup "${key[@]}" --home "$home") &&
    grep -q '"worktreePath": "/w/t"' <<<"$out" &&
    "$@" registry release "${key[@]}" --home "$home" >/dev/null &&
    out=$("$@" registry lookup "${key[@]}" --home "$home") &&
    grep -q '"status": "released"' <<<"$out"
  local rc=$?
  rm -rf "$home"
  return $rc
}

# Loads a platform's Node-API module in this Node and makes one call.
load_module() {
  node -e '
    const m = require(process.argv[1])
    const b = m.computeBranchName({ workCategory: "feature", taskId: "t", stageNumber: 2 })
    if (typeof b !== "string" || !b.includes("t")) throw new Error("computeBranchName said " + b)
    console.log(b)' "$PWD/$1"
}

for p in "${platforms[@]}"; do
  dir=npm/$p
  for f in "okstra-native.$p.node" okstra; do
    if [ ! -f "$dir/$f" ]; then
      bad "$dir/$f is missing (npm run build:cross -- $p)"
      continue
    fi
    desc=$(file -b "$dir/$f")
    echo "$dir/$f: $desc"
    grep -Eq "$(expect_format "$p")" <<<"$desc" || bad "$dir/$f is not $(expect_format "$p")"
  done
  exe=$dir/okstra
  [ -f "$exe" ] || continue
  case "$p" in
    linux-x64-musl)
      # On a musl host (Alpine) the JS side runs on the musl module too.
      override=()
      [ "$host_platform" = "$p" ] && override=(NAPI_RS_NATIVE_LIBRARY_PATH="$PWD/$dir/okstra-native.$p.node")
      env "${override[@]}" OKSTRA_NATIVE_CLI=$PWD/$exe node --test --test-name-pattern 'prints what the JS shim prints' \
        __test__/native-cli.test.mjs >&2 || bad "$exe: the CLI parity test"
      ;;
    linux-arm64-*)
      run=(qemu-aarch64)
      [ "$p" = linux-arm64-gnu ] && run+=(-L /usr/aarch64-linux-gnu)
      # An arm64 host runs it natively (a musl executable is static).
      [ "$host_arm64_linux" = 1 ] && run=(env)
      got=$("${run[@]}" "$exe" --version) || true
      [ "$got" = "okstra $version" ] || bad "$exe --version under qemu-aarch64 said '$got'"
      round_trip "${run[@]}" "$PWD/$exe" || bad "$exe: registry round trip under qemu-aarch64"
      echo "$exe under ${run[0]}: $got, registry round trip ok"
      ;;
    darwin-*)
      # On a Mac (the release workflow's macOS runners) the executable runs natively.
      if [ "$(uname -s)" = Darwin ]; then
        got=$("$exe" --version) || true
        [ "$got" = "okstra $version" ] || bad "$exe --version said '$got'"
        round_trip "$PWD/$exe" || bad "$exe: registry round trip"
      fi
      ;;
  esac
  if [ "$p" = "$host_platform" ] && [ -f "$dir/okstra-native.$p.node" ]; then
    got=$(load_module "$dir/okstra-native.$p.node") || bad "$dir/okstra-native.$p.node does not load in $(node --version)"
    echo "$dir/okstra-native.$p.node loads in node $(node --version): computeBranchName -> $got"
  fi
done
[ "$fail" = 0 ] && echo "test:cross: ${platforms[*]}: ok"
exit "$fail"
