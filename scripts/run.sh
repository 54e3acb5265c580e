#!/usr/bin/env bash
# Quick start #1: set up, fill the artifact folder with a real demo if it is empty, and serve
# the API + dashboard on http://127.0.0.1:13579.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --dashboard
export PATH="$PWD/.venv/bin:$PATH"
ROOT="${ARTIFACTS_ROOT:-$PWD/artifacts}"
ttt demo --artifacts-root "$ROOT" --if-empty
if ttt serve --help >/dev/null 2>&1; then
  exec ttt serve --artifacts-root "$ROOT" --host 127.0.0.1 --port "${PORT:-13579}"
fi
echo "Results are in $ROOT (see 'ttt nano session list --artifacts-root $ROOT')."
