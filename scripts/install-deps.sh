#!/usr/bin/env bash
# The Debian/Ubuntu packages hdrive-migrate needs beyond Python itself, in one place for
# .ci/run and the Makefile. Installs only what is missing, and only as root; anyone else is
# shown the exact apt-get line to run.
#
#   scripts/install-deps.sh build   # what `make demo` needs: a venv that compiles quickxorhash
#   scripts/install-deps.sh test    # also what the tests and benchmarks need (the default)
set -euo pipefail
purpose=${1:-test}
python=${PYTHON:-python3}

missing=()
need() { # need PACKAGE CHECK...: PACKAGE is missing when the CHECK command fails
    local package=$1
    shift
    "$@" >/dev/null 2>&1 || missing+=("$package")
}
has() { command -v "$1" || [[ -x /usr/sbin/$1 ]]; }

need make has make
need python3-venv "$python" -c 'import ensurepip, venv'
# quickxorhash ships as source only: it compiles against the Python headers.
need gcc has gcc
need python3-dev "$python" -c \
    'import os, sysconfig; assert os.path.exists(sysconfig.get_paths()["include"] + "/Python.h")'
case $purpose in
build) ;;
test)
    # The SMB tests start a real Samba server on loopback (smbd, pdbedit); bench/scan.py
    # compares the scanner with smbclient.
    need samba has smbd
    need samba has pdbedit
    need smbclient has smbclient
    # The service-desk page is tested end to end in headless Chromium.
    need chromium has chromium
    need chromium-driver has chromedriver
    ;;
*)
    echo "scripts/install-deps.sh: unknown purpose '$purpose'; use build or test" >&2
    exit 2
    ;;
esac
((${#missing[@]})) || exit 0

# samba is named once even when both smbd and pdbedit are missing.
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
command=(apt-get install -y "${missing[@]}")
if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
    echo "Missing packages: ${missing[*]}. Install them, then run this again:" >&2
    echo "    sudo apt-get update && sudo ${command[*]}" >&2
    exit 1
fi
echo "Installing missing packages: ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
