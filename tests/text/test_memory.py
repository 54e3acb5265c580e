"""The memory benchmark's parts: fact pools (tune and report disjoint), scoring, the write
objectives (keys, question/answer pairs), user fact files, and one tiny end-to-end run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ttt.models.registry import load_model
from ttt.store import ArtifactStore, CorruptFileError, NotFoundError
from ttt.text.chat_runtime import chat_config
from ttt.text.facts import distractors, read_facts, sample_facts
from ttt.text.memory import MemoryBenchConfig, bench_memory, score, turns_of
from ttt.text.write import WriteConfig, keys_of, qa_pairs


def test_tune_and_report_pools_share_no_name_answer_or_template() -> None:
    tune = [f for s in range(20) for f in sample_facts("tune", 8, s)]
    report = [f for s in range(20) for f in sample_facts("report", 8, s)]
    words = lambda fs: {w.lower() for f in fs for w in (f["name"] + " " + f["answer"]).split()}  # noqa: E731
    assert not words(tune) & words(report)
    strip = lambda fs: {f["question"].replace(f["name"], "") for f in fs}  # noqa: E731
    assert not strip(tune) & strip(report)
    for split in ("tune", "report"):
        told = sample_facts(split, 6, 3)
        ctrl = sample_facts(split, 6, 3, control=True)
        assert len({f["answer"] for f in told}) == 6 == len({f["name"] for f in told})
        assert not {f["name"] for f in told} & {f["name"] for f in ctrl}
        assert not {f["answer"] for f in told} & {f["answer"] for f in ctrl}
        assert all(f["answer"] in f["fact"] and f["name"] in f["question"] for f in told)
        assert sample_facts(split, 6, 3) == told  # seeded
    with pytest.raises(ValueError, match="split"):
        sample_facts("test", 1, 0)


def test_score_counts_recall_binding_wrong_facts_and_leaks() -> None:
    facts = [{"answer": "Brinvex"}, {"answer": "Kaldor"}]
    controls = [{"answer": "Zorquil"}, {"answer": "Nholdul"}]
    m = score(facts, ["It is brinvex.", "Brinvex, I think"], ["No idea", "Kaldor?"], controls)
    assert m["recall"] == 0.5 and m["binding"] == 0.5 and m["wrong_fact"] == 0.5
    assert m["control_leak"] == 0.5 and m["control_guess"] == 0.0


def test_turns_put_distractors_between_facts() -> None:
    facts = sample_facts("tune", 3, 0)
    turns = turns_of(facts, 2, 0)
    assert len(turns) == 9 and turns[0::3] == [f["fact"] for f in facts]
    assert all(t in distractors(40, 0) or t in [f["fact"] for f in facts] for t in turns)


def test_keys_and_qa_pairs_come_from_the_message_alone() -> None:
    assert keys_of("Remember this: my neighbour Zorvath Quillen keeps llamas in Marnhold.") == [
        "Zorvath Quillen",
        "Marnhold",
    ]
    assert keys_of("Mirpim Lotav's horse is Yassargol.") == ["Mirpim Lotav", "Yassargol"]
    assert keys_of("I like tea. The weather is nice.") == []
    cfg = WriteConfig(objective="qa", qa_templates=["Who is {key}?"], max_keys=1)
    assert qa_pairs("My sister Anna lives in Lyon. Hi.", cfg) == [
        ("Who is Anna?", "My sister Anna lives in Lyon.")
    ]
    for bad in ({"objective": "x"}, {"qa_templates": ["no key"]}, {"anchors": -1}):
        with pytest.raises(ValueError, match="WriteConfig"):
            WriteConfig.from_dict(bad)


def test_user_fact_files_are_checked(tmp_path: Path) -> None:
    good = tmp_path / "f.jsonl"
    rows = [{"id": "a", "fact": "X is Y.", "question": "What is X?", "answer": "Y"}]
    good.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    assert read_facts(good) == rows
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "fact": "x"}\n')
    with pytest.raises(CorruptFileError, match=r"line 1.*question"):
        read_facts(bad)
    with pytest.raises(NotFoundError):
        read_facts(tmp_path / "none.jsonl")


def test_a_tiny_run_gives_every_row(tiny_lm_root: Path, tmp_path: Path) -> None:
    shutil.copytree(tiny_lm_root, tmp_path / "art")
    lm = load_model(ArtifactStore(tmp_path / "art"), "tiny-lm")
    cfg = MemoryBenchConfig(n_facts=(2,), seeds=(0,), split="tune", max_tokens=3, ppl_windows=1)
    rows = bench_memory(lm, chat_config({"safety": "off"}), WriteConfig(objective="qa"), cfg)
    assert [r["condition"] for r in rows] == ["fast_weights", "no_update", "in_context"]
    fw = next(r for r in rows if r["condition"] == "fast_weights")
    assert fw["backend"] == "tinylm" and fw["n_facts"] == 2 and fw["commit_rate"] == 1.0
    assert fw["ppl_after"] != fw["ppl_before"] > 1  # the writes moved the model
    for r in rows:
        for key in ("recall", "binding", "wrong_fact", "control_leak", "ppl_before", "seconds"):
            assert isinstance(r[key], float), (r["condition"], key)
