"""``ttt gate``: score text with the pre-update gate (no trained model needed).

ttt gate check < chunks.jsonl                 # {"id"?, "text"} per line -> a decision per line
ttt gate check --stream < document.jsonl      # lines are consecutive chunks of one document
ttt gate check --set instruction_override.enabled=false --set injection_scorer.threshold=0.7
ttt gate check --config gate.json --no-scorer # thresholds from a file; rules only
ttt gate check --weights DIR                  # learned stages + thresholds from DIR (as
                                              # python -m ttt.safety.gate_train --out DIR writes)
ttt gate config                               # the default thresholds as JSON

Each output line is ``{"id", "allowed", "reasons", "rules", "scores"}`` in input order; a
malformed input line gives ``{"id", "allowed": false, "error": "line N: ..."}``, the
command goes on, and exits 1 at the end. A line may carry ``"model_signals": {"loss_z":
..., "grad_norm_z": ...}`` for the OOD-plus-heavy-write rule. Blank lines are skipped.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

from ttt.cli.common import fail, parse_kv, print_json

app = typer.Typer(
    help="The pre-update text gate: score JSONL text with every rule (no model needed).",
    no_args_is_help=True,
)


def _load_config(
    config: Path | None, overrides: list[str] | None, learned: dict[str, float] | None = None
) -> Any:
    """Defaults, then ``learned`` ({"rule.field": value}: the thresholds stored with trained
    weights), then the ``config`` file, then ``--set`` overrides."""
    from ttt.safety.gate import GateConfig

    cfg = GateConfig().with_overrides(learned or {})
    if config is not None:
        try:
            data = json.loads(config.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"cannot read gate config {config}: {exc}") from exc
        cfg = GateConfig.from_dict(data, base=cfg)
    return cfg.with_overrides(parse_kv(overrides, "gate"))


def _load_weights(folder: Path) -> tuple[Any, Any, dict[str, float]]:
    """(n-gram scorer, semantic stage, their thresholds as overrides) from ``folder``."""
    from ttt.safety.gate_semantic import SemanticStage
    from ttt.safety.scorer import NgramScorer

    paths = [folder / "gate_scorer.json", folder / "gate_semantic.json"]
    for path in paths:
        if not path.is_file():
            raise ValueError(
                f"--weights: {path} is missing (python -m ttt.safety.gate_train --out {folder} "
                "writes gate_scorer.json and gate_semantic.json)"
            )
    scorer, stage = NgramScorer.load(paths[0]), SemanticStage.load(paths[1])
    learned = {
        "injection_scorer.threshold": scorer.threshold,
        "semantic.threshold": stage.threshold,
        "semantic.band_low": stage.band_low,
    }
    return scorer, stage, learned


def _decision(line_no: int, raw: str, check: Any) -> tuple[dict[str, Any], bool]:
    """(output object, ok) for one input line."""
    try:
        obj = json.loads(raw)
    except json.JSONDecodeError as exc:
        return {
            "id": line_no,
            "allowed": False,
            "error": f"line {line_no}: not JSON ({exc})",
        }, False
    if not isinstance(obj, dict):
        msg = f"line {line_no}: expected a JSON object, got {type(obj).__name__}"
        return {"id": line_no, "allowed": False, "error": msg}, False
    ident = obj.get("id", line_no)
    if "text" not in obj:
        return {"id": ident, "allowed": False, "error": f'line {line_no}: no "text" field'}, False
    text = obj["text"]
    if not isinstance(text, str):
        msg = f'line {line_no}: "text" must be a string, got {type(text).__name__}'
        return {"id": ident, "allowed": False, "error": msg}, False
    signals = obj.get("model_signals")
    if signals is not None and not isinstance(signals, dict):
        msg = f'line {line_no}: "model_signals" must be an object'
        return {"id": ident, "allowed": False, "error": msg}, False
    try:
        res = check(text, model_signals=signals)
    except ValueError as exc:
        return {"id": ident, "allowed": False, "error": f"line {line_no}: {exc}"}, False
    return {
        "id": ident,
        "allowed": res.allowed,
        "reasons": res.reasons,
        "rules": res.rules,
        "scores": res.scores,
    }, True


def register(root: typer.Typer) -> None:
    """Add the ``gate`` command group to the main CLI."""
    root.add_typer(app, name="gate")


@app.command("check")
def check(
    set_: list[str] = typer.Option(
        [],
        "--set",
        help="Override a threshold: rule.field=value (repeatable), e.g. "
        "repetition_flood.max_repeat=0.6 or injection_scorer.enabled=false.",
    ),
    config: Path | None = typer.Option(
        None,
        "--config",
        help="JSON file of thresholds {rule: {field: value}} (see `ttt gate config`); "
        "--set is applied on top.",
    ),
    stream: bool = typer.Option(
        False,
        "--stream",
        help="Treat consecutive lines as consecutive chunks of one document, so a phrase "
        "split across two lines is caught.",
    ),
    scorer: bool = typer.Option(
        True, "--scorer/--no-scorer", help="Use the shipped learned scorer (default) or rules only."
    ),
    weights: Path | None = typer.Option(
        None,
        "--weights",
        help="Folder with gate_scorer.json and gate_semantic.json (as `python -m "
        "ttt.safety.gate_train --out DIR` writes them, e.g. a --semantic lora stage) to use "
        "instead of the shipped ones; their thresholds become the defaults.",
    ),
) -> None:
    """Read JSON lines {"id"?, "text"} on stdin; write one JSON decision per line, in order."""
    from ttt.safety.gate import Gate

    if weights is not None and not scorer:
        raise fail("--weights and --no-scorer contradict each other: pick one", 2)
    try:
        learned = _load_weights(weights) if weights is not None else None
        cfg = _load_config(config, set_, learned[2] if learned else None)
    except ValueError as exc:
        raise fail(str(exc), 2) from exc
    if learned is not None:
        gate = Gate(cfg, scorer=learned[0], semantic=learned[1])
    else:
        gate = Gate(cfg, scorer="default" if scorer else None)
    checker = gate.stream().check if stream else gate.check
    bad = 0
    for line_no, raw in enumerate(sys.stdin, 1):
        if not raw.strip():
            continue
        out, ok = _decision(line_no, raw, checker)
        bad += not ok
        typer.echo(json.dumps(out, ensure_ascii=False))
    if bad:
        raise fail(f"{bad} malformed input line(s)", 1)


@app.command("config")
def show_config(
    set_: list[str] = typer.Option([], "--set", help="Override: rule.field=value (repeatable)."),
    config: Path | None = typer.Option(None, "--config", help="Start from this JSON file."),
) -> None:
    """Print the gate thresholds (defaults, or a file plus overrides) as JSON."""
    try:
        cfg = _load_config(config, set_)
    except ValueError as exc:
        raise fail(str(exc), 2) from exc
    print_json(cfg.to_dict())
