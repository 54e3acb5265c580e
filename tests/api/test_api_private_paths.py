"""A path a user gives (a training corpus, a sleep core text, a red-team seeds file) can name
nothing under the store's private folders: spooled private text (``<kind>/.spool/``), lock
files (``<kind>/.locks/``) and temp files (``.tmp-*``), directly, through ``..``, or through
a symlink to a file or a folder, inside a folder or as the path itself. Checked on
``ArtifactStore.user_path``, on each route that takes a path (403, no job queued) and, for
the training corpus, again in the job."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from apitools import client_over

from ttt.jobs import JOB_KINDS
from ttt.store import ArtifactStore, PathEscapeError

SECRET = "private text of a queued Sentry job\n"
# name -> path relative to the root of each private thing the fixture makes
PRIVATE = {
    "spool file": "text_runs/.spool/r-secret.txt",
    "spool folder": "text_runs/.spool",
    "lock file": "text_models/.locks/tiny-lm.lock",
    "temp file": "text_models/tiny-lm/.tmp-meta.json.abcd1234",
}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory, tiny_lm_root: Path) -> Path:
    """The tiny model's root plus one of each private thing, and links to each of them."""
    root = tmp_path_factory.mktemp("private") / "artifacts"
    shutil.copytree(tiny_lm_root, root)
    for rel in PRIVATE.values():
        p = root / rel
        if rel.endswith(".spool"):
            continue
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(SECRET)
    links = root / "links"
    links.mkdir()
    for i, rel in enumerate(PRIVATE.values()):
        (links / f"link{i}.txt").symlink_to(root / rel)
        folder = root / f"folder{i}"
        folder.mkdir()
        (folder / "ok.txt").write_text("ordinary text\n")
        (folder / "inner.txt").symlink_to(root / rel)
    return root


@pytest.fixture(scope="module")
def client(root: Path) -> Iterator[Any]:
    yield from client_over(root)


def ways_to_name(root: Path) -> list[tuple[str, str]]:
    """(how, path as the user writes it) for every private thing."""
    out = []
    for i, (what, rel) in enumerate(PRIVATE.items()):
        out += [
            (f"{what}, relative", rel),
            (f"{what}, absolute", str(root / rel)),
            (f"{what}, through ..", f"sessions/../{rel}"),
            (f"{what}, through a symlink", f"links/link{i}.txt"),
        ]
        if not rel.endswith(".spool"):  # a link to a folder is not walked: see below
            out.append((f"{what}, a folder holding a symlink to it", f"folder{i}"))
    return out


def test_user_path_refuses_every_private_path(root: Path) -> None:
    store = ArtifactStore(root)
    for how, raw in ways_to_name(root):
        if how.endswith("a folder holding a symlink to it"):
            continue  # user_path checks one path; the folder walks are the routes' (below)
        with pytest.raises(PathEscapeError, match="hidden store folder"):
            store.user_path(raw, "test")
        assert how


def test_private_part(root: Path) -> None:
    store = ArtifactStore(root)
    assert store.private_part((root / PRIVATE["spool file"]).resolve()) == ".spool"
    assert store.private_part((root / "links" / "link0.txt").resolve()) == ".spool"
    assert store.private_part((root / "folder0" / "ok.txt").resolve()) is None
    assert store.private_part(Path("/etc/passwd")) is None  # outside: not the store's


def _jobs(client: Any) -> int:
    return int(client.get("/api/jobs").json()["total"])


def test_training_corpus_cannot_name_private_files(client: Any, root: Path) -> None:
    before = _jobs(client)
    for how, raw in ways_to_name(root):
        r = client.post("/api/text_models/train", json={"corpus": [raw], "preset": "tiny"})
        assert r.status_code == 403, (how, r.text)
        assert "hidden store folder" in r.json()["detail"], (how, r.text)
    assert _jobs(client) == before


def test_sleep_core_path_cannot_name_private_files(client: Any, root: Path) -> None:
    before = _jobs(client)
    for how, raw in ways_to_name(root):
        r = client.post("/api/sleep", json={"model_id": "tiny-lm", "core_path": raw})
        assert r.status_code == 403, (how, r.text)
        assert "hidden store folder" in r.json()["detail"], (how, r.text)
    assert _jobs(client) == before


def test_redteam_seeds_cannot_name_private_files(client: Any, root: Path) -> None:
    before = _jobs(client)
    for how, raw in ways_to_name(root):
        if how.endswith("a folder holding a symlink to it"):
            continue  # a seeds file is a file
        r = client.post("/api/redteam", json={"config": {"seeds_file": raw}})
        assert r.status_code == 403, (how, r.text)
        assert "hidden store folder" in r.json()["detail"], (how, r.text)
    assert _jobs(client) == before


def test_an_ordinary_folder_is_accepted(client: Any) -> None:
    """Control: the same folders without the private link are fine."""
    r = client.post("/api/text_models/train", json={"corpus": ["folder0/ok.txt"], "steps": 1})
    assert r.status_code == 202, r.text
    client.post(f"/api/jobs/{r.json()['job_id']}/cancel")


def test_the_training_job_checks_again(root: Path, tmp_path: Path) -> None:
    """A link swapped after the API's check: the job refuses it before reading anything."""
    store = ArtifactStore(root)
    swapped = root / "swapped"
    swapped.mkdir(exist_ok=True)
    link = swapped / "doc.txt"
    link.unlink(missing_ok=True)
    link.symlink_to(root / PRIVATE["spool file"])
    for corpus in ([str(swapped)], [str(link)]):
        with pytest.raises(PathEscapeError, match="hidden store folder"):
            JOB_KINDS["train_lm"](store, {"corpus": corpus}, lambda d, t: None, lambda: False)


def test_folder_walks_skip_private_folders(root: Path) -> None:
    """A corpus of a whole kind folder reads its items, never its .spool; a folder holding a
    symlink to the .spool folder reads its own files only (links to folders are not walked)."""
    from ttt.models.corpus import find_files

    store = ArtifactStore(root)
    assert all(".spool" not in f.parts for f in find_files(root / "text_runs"))
    i = list(PRIVATE).index("spool folder")
    walked = find_files(root / f"folder{i}")
    assert [f.name for f in walked] == ["ok.txt"]
    assert all(store.private_part(f.resolve()) is None for f in walked)
