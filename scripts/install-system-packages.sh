#!/usr/bin/env bash
# The Debian packages Clientela needs outside its virtualenv, installed when missing.
#
#   scripts/install-system-packages.sh run        # venv support, wkhtmltopdf, fonts: what serving needs
#   scripts/install-system-packages.sh run test   # plus what the test suite drives
#
# `make install` asks for "run", `make test` for "run test". Each package is probed the way
# Clientela uses it (a command on PATH, a file), so the check costs nothing when everything is
# there. Missing ones are installed with apt-get as root, with `sudo -n apt-get` when sudo
# needs no password, and otherwise the script stops and prints the one command to run.
set -euo pipefail
cd "$(dirname "$0")/.."  # python3-venv is needed only while there is no .venv here

# package → how to tell it is there
declare -A PROBE=(
  [python3-venv]="test -d .venv || python3 -c 'import ensurepip'"  # what `python3 -m venv` needs
  [wkhtmltopdf]="command -v wkhtmltopdf"
  [fonts-dejavu-core]="test -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
  [chromium]="command -v chromium"
  [poppler-utils]="command -v pdftotext"
  [dovecot-imapd]="test -x /usr/lib/dovecot/imap"
  [openssl]="command -v openssl"  # the IMAP test server's self-signed certificate
)
declare -A GROUP=(
  [run]="python3-venv wkhtmltopdf fonts-dejavu-core"
  # Browser tests (Chromium), PDF text checks (pdftotext), the e-invoicing tests' IMAP server.
  [test]="chromium poppler-utils dovecot-imapd openssl"
)

missing=()
for group in "${@:-run}"; do
  [ -n "${GROUP[$group]:-}" ] || { echo "unknown package group: $group (run, test)" >&2; exit 2; }
  for package in ${GROUP[$group]}; do
    eval "${PROBE[$package]}" >/dev/null 2>&1 || missing+=("$package")
  done
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  as_root=(sudo -n)
else
  echo "Missing Debian packages: ${missing[*]}. Install them with:" >&2
  echo "  sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi

echo "Installing Debian packages: ${missing[*]}"
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null

still_missing=()
for package in "${missing[@]}"; do
  eval "${PROBE[$package]}" >/dev/null 2>&1 || still_missing+=("$package")
done
if [ ${#still_missing[@]} -gt 0 ]; then
  echo "apt-get finished but these are still missing: ${still_missing[*]}" >&2
  exit 1
fi
