"""The gate's fine-tuned semantic stage on the real MiniLM, at tiny settings: peft's adapted
layers equal the merged ones, training is deterministic, the deployed int8 path scores what
training scored, the file round-trips, and malformed adapters are refused by name."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ttt.safety import gate_train, gatedata
from ttt.safety.gate_lora import (
    LORA_TARGETS,
    LoraSettings,
    _float_layers,
    merge_adapters,
    run_layers,
)
from ttt.safety.gate_semantic import SemanticStage


@pytest.fixture(scope="module")
def tiny() -> tuple[list[dict[str, Any]], gate_train.Units, gate_train.GateTrainConfig]:
    rows = gatedata.load_training_rows()[::80]
    cfg = gate_train.GateTrainConfig(folds=2, semantic="lora", lora=LoraSettings(epochs=1))
    return rows, gate_train.build_units(rows, cfg, None), cfg


@pytest.fixture(scope="module")
def trained(tiny: Any) -> tuple[Any, SemanticStage, dict[str, Any]]:
    rows, units, cfg = tiny
    return gate_train.train(rows, units, cfg)


def test_peft_adapted_layers_equal_the_merged_layers():
    """What training runs (peft's LoRA wrappers) and what the gate runs (B A merged into the
    weights) are the same function, here with random adapters and a padded batch."""
    import torch
    from peft import LoraConfig, inject_adapter_in_model

    torch.manual_seed(0)
    cfg = LoraConfig(r=4, lora_alpha=8, target_modules=["query", "key", "value", "dense"])
    adapted: Any = inject_adapter_in_model(cfg, torch.nn.ModuleList(_float_layers(4)))
    modules = {}
    for name, mod in adapted.named_modules():
        if hasattr(mod, "lora_A") and "default" in mod.lora_A:
            torch.nn.init.normal_(mod.lora_B["default"].weight, std=0.05)
            a = mod.lora_A["default"].weight.detach().numpy().astype(np.float64)
            b = mod.lora_B["default"].weight.detach().numpy().astype(np.float64)
            i, path = name.split(".", 1)
            modules[f"{int(i) + 4}.{path}"] = (a, b)  # MiniLM's layer index
    assert len(modules) == 2 * len(LORA_TARGETS)
    merged = torch.nn.ModuleList(_float_layers(4))
    merge_adapters(merged, modules, 8 / 4, first=4)
    h = torch.randn(2, 7, 384)
    mask = torch.ones(2, 7)
    mask[1, 5:] = 0.0
    with torch.no_grad():
        a_out, m_out = run_layers(adapted.eval(), h, mask), run_layers(merged.eval(), h, mask)
        plain = run_layers(torch.nn.ModuleList(_float_layers(4)).eval(), h, mask)
    torch.testing.assert_close(a_out, m_out, atol=2e-4, rtol=1e-4)
    assert (a_out - plain).abs().max() > 1e-2  # the adapters do change the layers


def test_lora_training_is_deterministic_and_deployed_path_scores_what_training_scored(
    tiny: Any, trained: Any, tmp_path: Path
):
    rows, units, cfg = tiny
    scorer, stage, meta = trained
    assert stage.lora is not None and stage.act == "identity"
    assert meta["train_config"]["semantic"] == "lora"
    # The learned stages add no benign block beyond the budget the rules leave them.
    assert meta["oof_fpr"] <= max(cfg.target_fpr, meta["oof_rules_fpr"]) + 1e-9
    again = gate_train.train(rows, units, cfg)
    assert again[1].to_dict() == stage.to_dict() and again[0].to_dict() == scorer.to_dict()

    stage.save(tmp_path / "s.json")
    back = SemanticStage.load(tmp_path / "s.json")
    assert back.to_dict() == stage.to_dict()
    idx = np.arange(min(12, len(units.texts)))
    _, z = gate_train.Fitted(scorer, gate_train.head_of(back)).unit_logits(units, idx)
    # The gate's path: a MiniLM with the adapters merged, int8, one window at a time.
    emb = np.stack([back.embedder.embed_one(units.texts[i]) for i in idx])
    np.testing.assert_allclose(back.head_logit(emb), z, atol=5e-3)
    from ttt.safety.embedder import get_embedder

    frozen = get_embedder(quantized=True).embed_one(units.texts[0])
    assert np.abs(frozen - emb[0]).max() > 1e-6  # the merged model is not the frozen one


def test_malformed_adapters_are_refused_by_name(trained: Any):
    d = trained[1].to_dict()
    name = sorted(d["lora"]["modules"])[0]

    def with_module(**kw: Any) -> dict[str, Any]:
        e = json.loads(json.dumps(d))
        e["lora"]["modules"][name].update(kw)
        return e

    nan_a = [[float("nan"), *row[1:]] for row in d["lora"]["modules"][name]["A"]]
    with pytest.raises(ValueError, match="not finite"):
        SemanticStage.from_dict(with_module(A=nan_a))
    with pytest.raises(ValueError, match=re.escape(f"lora.modules.{name}")):
        SemanticStage.from_dict(with_module(B=[[0.0, 1.0]]))
    bad = json.loads(json.dumps(d))
    bad["lora"]["modules"]["9.attention.self.query"] = bad["lora"]["modules"].pop(name)
    with pytest.raises(ValueError, match=re.escape("9.attention.self.query")):
        SemanticStage.from_dict(bad)
    with pytest.raises(ValueError, match="linear head"):
        SemanticStage.from_dict({**d, "act": "relu"})
