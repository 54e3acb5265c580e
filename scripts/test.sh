#!/usr/bin/env bash
# Quick start #2: set up everything and run every test (lint, types, unit, API, browser).
# Usage: scripts/test.sh [extra pytest args]   (TTT_SKIP_BROWSER=1 skips the browser tests)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${TTT_SKIP_BROWSER:-0}" = 1 ]; then
  scripts/setup.sh --dev
else
  scripts/setup.sh --dev --dashboard --browser
fi
export PATH="$PWD/.venv/bin:$PATH"
echo "==> ruff"
ruff check src tests benchmarks
ruff format --check src tests benchmarks
echo "==> mypy"
mypy
echo "==> pytest"
python -m pytest -m "not slow" -q "$@"
if [ -f dashboard/package.json ]; then
  echo "==> dashboard unit tests"
  (cd dashboard && npm run --silent lint && npm run --silent test)
  if [ "${TTT_SKIP_BROWSER:-0}" != 1 ] && [ -d dashboard/e2e ]; then
    echo "==> browser tests (real server, real artifacts, Debian chromium)"
    scripts/e2e.sh
  fi
fi
