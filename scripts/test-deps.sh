#!/usr/bin/env bash
# Installs the Debian packages the tests drive, when one is missing: strace (forced
# interleavings), git-lfs (LFS checkout fidelity), xfsprogs (a reflink filesystem on a loop
# device), e2fsprogs (filefrag), util-linux (setpriv, losetup), tmux. CI starts from a clean
# machine as root; a developer without root gets a message naming the packages.
# Add a package here (command:package) when a new test needs one.
set -euo pipefail
need=()
for pair in strace:strace git-lfs:git-lfs mkfs.xfs:xfsprogs filefrag:e2fsprogs \
  setpriv:util-linux losetup:mount tmux:tmux; do
  cmd=${pair%%:*}
  pkg=${pair#*:}
  PATH="$PATH:/usr/sbin:/sbin" command -v "$cmd" >/dev/null 2>&1 || need+=("$pkg")
done
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "The tests need these Debian packages: ${need[*]} (apt-get install them as root)." >&2
  exit 1
fi
echo "Installing test dependencies: ${need[*]}" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
