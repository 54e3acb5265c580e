#!/usr/bin/env bash
# Browser tests: a real server over a real artifact folder made by the CLI, driven by
# playwright-core + Debian's /usr/bin/chromium. Expects setup (scripts/setup.sh --dev
# --dashboard --browser) to have run. Usage: scripts/e2e.sh [npm script, default e2e]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
SCRIPT="${1:-e2e}"
WORK="$(mktemp -d)"
ROOT="$WORK/artifacts"
PORT="${TTT_E2E_PORT:-13581}"
cleanup() {
  if [ -n "${SERVER_PID:-}" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
echo "==> e2e: building a demo artifact folder with the real CLI"
ttt demo --quick --artifacts-root "$ROOT" >/dev/null
# A jailbreak result for the Benchmarks page (the demo saves only a memory one): the real
# benchmark on the demo TinyLm with the identity threat (needs no answers from a base model),
# a few seconds.
ttt bench jailbreak --model demo-lm --base demo-lm --quick --threat identity --threads 1 \
  --save e2e-jailbreak --json --artifacts-root "$ROOT" >/dev/null
echo "==> e2e: starting ttt serve on 127.0.0.1:$PORT"
ttt serve --artifacts-root "$ROOT" --host 127.0.0.1 --port "$PORT" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do
  if python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$PORT/api/health', timeout=1)" 2>/dev/null; then break; fi
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then cat "$WORK/server.log"; echo "server died" >&2; exit 1; fi
  sleep 0.2
done
export TTT_BASE_URL="http://127.0.0.1:$PORT" TTT_ARTIFACTS_ROOT="$ROOT"
status=0
(cd dashboard && npm run --silent "$SCRIPT") || status=$?
if [ "$status" != 0 ]; then echo "---- server log ----"; tail -50 "$WORK/server.log"; fi
exit "$status"
