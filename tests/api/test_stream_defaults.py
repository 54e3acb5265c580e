"""Per-backend document-stream defaults (``STREAM_DEFAULTS``): a Sentry run or a red-team
defence on an imported HF model takes Muon lr 0.002 where a field is left out (TinyLm's 0.02
wrecks SmolLM2), through the library, the CLI and the API; given fields always win."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from apitools import wait_job
from typer.testing import CliRunner

from ttt.cli.main import app
from ttt.models.pretrained import import_model
from ttt.models.sources import ModelSource
from ttt.store import ArtifactStore, read_json
from ttt.text.sentry import STREAM_DEFAULTS, SentryConfig, run_sentry, stream_config

TEXT = "the cat sat on a mat and she sells sea shells by the shore while dogs run fast. " * 3


def test_stream_config_layers_defaults_then_overrides() -> None:
    assert stream_config("tinylm") == SentryConfig()
    hf = stream_config("hf")
    assert (
        (hf.optimizer, hf.lr)
        == ("muon", 0.002)
        == (
            STREAM_DEFAULTS["hf"]["optimizer"],
            STREAM_DEFAULTS["hf"]["lr"],
        )
    )
    assert hf.canary_max_delta == SentryConfig().canary_max_delta  # only the listed fields
    assert stream_config("hf", {"lr": 0.01, "safety": "off"}).lr == 0.01
    assert stream_config("hf", {"optimizer": "adamw"}).optimizer == "adamw"
    with pytest.raises(ValueError, match=r"SentryConfig\.lr"):
        stream_config("hf", {"lr": -1.0})


@pytest.fixture()
def hf_root(tiny_hf_folder: Path, tmp_path: Path) -> Path:
    root = tmp_path / "art"
    src = ModelSource("folder", str(tiny_hf_folder))
    import_model(ArtifactStore(root), src, model_id="t", reference_windows=0)
    return root


def _config(root: Path, run_id: str) -> dict[str, Any]:
    return dict(read_json(root / "text_runs" / run_id / "request.json")["config"])


def test_library_and_cli_use_the_backend_default_unless_given(hf_root: Path) -> None:
    store = ArtifactStore(hf_root)
    run_sentry(store, text=TEXT, model_id="t", run_id="lib")
    assert _config(hf_root, "lib")["lr"] == 0.002
    runner = CliRunner()
    base = ["sentry", "run", "--model", "t", "--text", TEXT, "--safety", "off", "--json"]
    root = ["--artifacts-root", str(hf_root)]
    r = runner.invoke(app, [*base, "--id", "cli", *root])
    assert r.exit_code == 0, r.output
    assert _config(hf_root, "cli")["lr"] == 0.002 and _config(hf_root, "cli")["safety"] == "off"
    r = runner.invoke(app, [*base, "--lr", "0.01", "--id", "cli-lr", *root])
    assert r.exit_code == 0, r.output
    assert _config(hf_root, "cli-lr")["lr"] == 0.01
    # A bad field is refused before any model loads, naming it.
    r = runner.invoke(app, [*base, "--set", "canary_z=-1", "--id", "bad", *root])
    assert r.exit_code != 0 and "canary_z" in r.output
    assert not (hf_root / "text_runs" / "bad").exists()


def test_api_runs_and_red_team_take_the_backend_default(
    hf_root: Path, make_client: Callable[..., Any]
) -> None:
    c = make_client(hf_root)
    d = c.get("/api/text_runs/_defaults").json()
    assert d["backend_defaults"] == {"hf": {"optimizer": "muon", "lr": 0.002}}
    assert d["config"]["lr"] == 0.02  # SentryConfig's own default, for TinyLm
    r = c.post("/api/text_runs", json={"text": TEXT, "model_id": "t", "run_id": "api",
                                       "config": {"safety": "off"}})  # fmt: skip
    assert r.status_code == 202, r.text
    assert r.json()["job"]["params"]["config"]["lr"] == 0.002
    assert wait_job(c, r.json()["job_id"])["status"] == "completed"
    assert _config(hf_root, "api")["lr"] == 0.002
    r = c.post("/api/text_runs", json={"text": TEXT, "model_id": "t",
                                       "config": {"safety": "off", "lr": 0.005}})  # fmt: skip
    assert r.status_code == 202 and r.json()["job"]["params"]["config"]["lr"] == 0.005
    wait_job(c, r.json()["job_id"])
    # A bad field is a 422 naming it, before the model is looked up.
    r = c.post("/api/text_runs", json={"text": TEXT, "model_id": "nope", "config": {"lr": -1}})
    assert r.status_code == 422 and "lr" in r.text
    rt = c.post(
        "/api/redteam",
        json={"model_id": "t", "config": {"budget": 2, "population": 2,
                                          "sentry": {"safety": "off"}}},
    )  # fmt: skip
    assert rt.status_code == 202, rt.text
    sentry = rt.json()["job"]["params"]["sentry"]
    assert sentry["lr"] == 0.002 and sentry["safety"] == "off"
    job = wait_job(c, rt.json()["job_id"])
    assert job["status"] == "completed", json.dumps(job)[:2000]
