#!/usr/bin/env bash
# Install Debian packages when they are missing: those the build and tests
# need, or the ones named as arguments (scripts/ensure-deps.sh clang ...).
# Safe to run again: it installs nothing when everything is there.
set -euo pipefail

if [ $# -gt 0 ]; then
    packages=("$@")
else
    packages=(gcc g++ make cmake pkg-config libjansson-dev libsqlite3-dev libpq-dev zlib1g-dev libssl-dev valgrind)
fi

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
if [ $# -eq 0 ] && ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    missing+=(python3-venv)
fi

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

echo "ensure-deps: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null; then
        sudo="sudo"
    else
        echo "ensure-deps: need root (or sudo) to install: ${missing[*]}" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
