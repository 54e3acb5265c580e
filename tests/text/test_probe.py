"""The memory probe of a chat session (``ttt.text.probe``): read-only (every file of the session
byte-identical, the live fast weights ``torch.equal`` to the session's), its "with" side equals
the session's own greedy completion and reply loss, its "without" side equals a fresh
session's, and a probed session continues exactly as an unprobed copy; on both backends
(TinyLm, and a tiny random Llama with LoRA fast weights)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch

from ttt.models.pretrained import import_model
from ttt.models.sources import ModelSource
from ttt.store import ArtifactStore, InvalidIdError, NotFoundError
from ttt.text import chat
from ttt.text import chat_store as files
from ttt.text.chat_runtime import runtime
from ttt.text.probe import probe_memory

FACT = "The lighthouse keeper of Varnholm island is named Edda Quist."
QUESTION = "Who is the lighthouse keeper of Varnholm island?"
CFG = {"chunk_tokens": 32, "lr": 0.05}


@pytest.fixture()
def store(tiny_lm_copy: Path) -> ArtifactStore:
    return ArtifactStore(tiny_lm_copy)


def folder_hash(d: Path) -> str:
    """sha256 over every file's relative path and bytes (locks live outside the folder)."""
    h = hashlib.sha256()
    for p in sorted(d.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(d)).encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


def stored_weights(store: ArtifactStore, sid: str) -> dict[str, torch.Tensor]:
    d = files.session_dir(store, sid)
    return files.read_state(d, files.read_manifest(d, sid)).weights


def live_weights(store: ArtifactStore, model_id: str) -> dict[str, torch.Tensor]:
    return {n: p.detach().cpu().clone() for n, p in runtime(store, model_id).lm.plastic().items()}


def check_probe(store: ArtifactStore, model_id: str, sid: str, fresh: str, expected: str) -> None:
    """The probe's equivalences on a session ``sid`` with turns and a fresh one."""
    d = files.session_dir(store, sid)
    before = folder_hash(d)
    out = probe_memory(store, sid, QUESTION, expected, max_tokens=8)
    assert folder_hash(d) == before  # nothing written
    live = live_weights(store, model_id)
    own = stored_weights(store, sid)
    assert live.keys() == own.keys() and all(torch.equal(live[k], own[k]) for k in own)

    w, wo = out["with_fast_weights"], out["without_fast_weights"]
    assert w["answer"] == chat.complete_text(store, sid, QUESTION, max_tokens=8)
    assert w["loss"] == chat.continuation_loss(store, sid, QUESTION, out["scored_text"])
    assert wo["answer"] == chat.complete_text(store, fresh, QUESTION, max_tokens=8)
    assert wo["loss"] == chat.continuation_loss(store, fresh, QUESTION, out["scored_text"])
    assert out["loss_delta"] == w["loss"] - wo["loss"]
    assert out["fast_weight_norm"] > 0 and out["n_turns"] == 1
    assert out["answer_tokens"] == len(
        runtime(store, model_id).lm.tokenizer.encode(out["scored_text"])
    )
    # On a fresh session both sides are the same model.
    same = probe_memory(store, fresh, QUESTION, expected, max_tokens=8)
    assert same["with_fast_weights"] == same["without_fast_weights"] == wo
    assert same["loss_delta"] == 0.0 and same["fast_weight_norm"] == 0.0


def test_probe_is_read_only_and_each_side_equals_its_session(store: ArtifactStore) -> None:
    chat.create_session(store, "tiny-lm", CFG, "s1")
    chat.create_session(store, "tiny-lm", CFG, "fresh")
    chat.send_message(store, "s1", FACT, max_tokens=4, seed=0)
    check_probe(store, "tiny-lm", "s1", "fresh", "Edda Quist")
    out = probe_memory(store, "s1", QUESTION, "Edda Quist")
    # TinyLm has no chat template: the answer continues the question, after a space.
    assert out["scored_text"] == " Edda Quist" and out["expected"] == "Edda Quist"
    answer = out["with_fast_weights"]["answer"]
    assert out["with_fast_weights"]["recalled"] == ("edda quist" in answer.lower())
    # The fact written into the fast weights makes its answer more likely.
    assert out["loss_delta"] < 0
    bare = probe_memory(store, "s1", QUESTION)
    assert bare["with_fast_weights"]["loss"] is None and bare["loss_delta"] is None
    assert bare["with_fast_weights"]["answer"] == out["with_fast_weights"]["answer"]


def test_a_probed_session_continues_exactly_as_an_unprobed_copy(store: ArtifactStore) -> None:
    chat.create_session(store, "tiny-lm", CFG, "a")
    chat.send_message(store, "a", FACT, max_tokens=4, seed=0)
    chat.fork_session(store, "a", "b")
    probe_memory(store, "a", QUESTION, "Edda Quist")
    ra = chat.send_message(store, "a", "Edda Quist repairs the lamp.", max_tokens=6, seed=3)
    rb = chat.send_message(store, "b", "Edda Quist repairs the lamp.", max_tokens=6, seed=3)
    assert ra["completion"] == rb["completion"] and ra["updates"] == rb["updates"]
    wa, wb = stored_weights(store, "a"), stored_weights(store, "b")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_probe_errors_name_the_field(store: ArtifactStore) -> None:
    chat.create_session(store, "tiny-lm", CFG, "s1")
    with pytest.raises(ValueError, match="question"):
        probe_memory(store, "s1", "   ")
    with pytest.raises(ValueError, match="expected"):
        probe_memory(store, "s1", QUESTION, " ")
    with pytest.raises(ValueError, match="max_tokens"):
        probe_memory(store, "s1", QUESTION, max_tokens=0)
    with pytest.raises(NotFoundError, match="nope"):
        probe_memory(store, "nope", QUESTION)
    with pytest.raises(InvalidIdError):
        probe_memory(store, "../x", QUESTION)


def test_probe_on_lora_fast_weights(tiny_hf_folder: Path, tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "art")
    import_model(
        store, ModelSource("folder", str(tiny_hf_folder)), model_id="t", reference_windows=0
    )
    cfg = {"safety": "off", "steps_per_update": 2, "lr": 0.01}
    chat.create_session(store, "t", cfg, "s1")
    chat.create_session(store, "t", cfg, "fresh")
    chat.send_message(store, "s1", FACT, max_tokens=2, seed=0)
    check_probe(store, "t", "s1", "fresh", "Edda Quist")
    out = probe_memory(store, "s1", QUESTION, "Edda Quist", max_tokens=2)
    assert out["backend"] == "hf" and out["scored_text"] == "Edda Quist"  # chat template
