"""Sleep on an imported (HF) model, on the tiny random Llama: the approved memories go into
a new core adapter (merged at load, bound by sha256) or, with the adapter residual, into the
starting fast weights of the next sessions; the parent is untouched."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ttt.models import registry
from ttt.models.pretrained import import_model
from ttt.models.protocol import chat_prompt
from ttt.models.sources import ModelSource
from ttt.store import ArtifactStore
from ttt.text import chat
from ttt.text.sleep import SleepConfig, SleepError, run_sleep

TINY = {"steps": 3, "batch_size": 4, "fisher_windows": 2, "eval_windows": 2, "lr": 0.01}
TURNS = ("My neighbour Edda Quist keeps llamas in Varnholm.", "The sea was calm today.")


@pytest.fixture()
def store(tiny_hf_folder: Path, tmp_path: Path) -> ArtifactStore:
    s = ArtifactStore(tmp_path / "art")
    import_model(s, ModelSource("folder", str(tiny_hf_folder)), model_id="t", reference_windows=0)
    chat.create_session(s, "t", {"safety": "off"}, session_id="day1")
    for p in TURNS:
        chat.send_message(s, "day1", p, max_tokens=2)
    return s


def _logits(store: ArtifactStore, mid: str) -> torch.Tensor:
    lm = registry.load_model(store, mid)
    with torch.no_grad():
        return lm.model(input_ids=torch.tensor([chat_prompt(lm, "Where are the llamas?")])).logits


def test_a_sleep_merges_a_new_core_adapter(store: ArtifactStore) -> None:
    res = run_sleep(store, "t", SleepConfig(**TINY, candidate_id="cand"))
    m = res.manifest
    assert m["counts"]["approved"] == 2 and m["consolidation"]["into"] == "core_adapter"
    assert set(m["metrics"]) >= {"before", "after", "retention_change_pct", "baseline_replay"}
    meta = registry.read_meta(store, "cand")
    assert meta["status"] == "sleep_candidate" and [a["kind"] for a in meta["core_adapters"]] == [
        "sleep"
    ]
    assert meta["weights_sha256"] != registry.read_meta(store, "t")["weights_sha256"]
    assert not torch.allclose(_logits(store, "cand"), _logits(store, "t"))
    # A session of the candidate starts from zero fast weights on the new core.
    lm = registry.load_model(store, "cand")
    assert all(not t.any() for n, t in lm.initial_plastic().items() if n.endswith("lora_B"))


def test_the_adapter_residual_starts_the_next_days_fast_weights(store: ArtifactStore) -> None:
    res = run_sleep(store, "t", SleepConfig(**TINY, candidate_id="res", residual=True))
    assert res.manifest["consolidation"]["into"] == "fast_init"
    meta = registry.read_meta(store, "res")
    assert "core_adapters" not in meta or not meta["core_adapters"]
    assert meta["fast_init"]["file"] == "fast_init.safetensors"
    parent = registry.load_model(store, "t")
    child = registry.load_model(store, "res")
    init = child.initial_plastic()
    assert any(init[n].abs().sum() > 0 for n in init if n.endswith("lora_B"))
    # The core is the parent's: with the start undone, the logits are the parent's exactly.
    with torch.no_grad():
        for n, p in child.plastic().items():
            p.copy_(parent.initial_plastic()[n])
        ids = torch.tensor([chat_prompt(child, "hi")])
        assert torch.equal(child.model(input_ids=ids).logits, parent.model(input_ids=ids).logits)
    s = chat.create_session(store, "res", {"safety": "off"}, session_id="day2")
    assert s["model_id"] == "res"
    rec = chat.send_message(store, "day2", "Hello again.", max_tokens=2)
    assert rec["fast_weight_norm"] > 0  # measured from the residual start


def test_a_residual_needs_an_hf_model(tiny_lm_root: Path) -> None:
    with pytest.raises(SleepError, match="adapter residual"):
        run_sleep(ArtifactStore(tiny_lm_root), "tiny-lm", SleepConfig(residual=True))


def test_a_parent_without_source_sha256_still_sleeps(store: ArtifactStore) -> None:
    """A model imported before ``source_sha256`` was recorded (only ``weights_sha256``): its
    candidate records the source's hash and loads (it once failed the sha256 check)."""
    from ttt.store import write_json

    d = registry.model_dir(store, "t")
    meta = registry.read_meta(store, "t")
    meta.pop("source_sha256", None)
    write_json(d / "meta.json", meta)
    run_sleep(store, "t", SleepConfig(**TINY, candidate_id="old"))
    cmeta = registry.read_meta(store, "old")
    assert cmeta["source_sha256"] == meta["weights_sha256"] != cmeta["weights_sha256"]
    registry.load_model(store, "old")
