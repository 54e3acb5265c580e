"""Store layout: id validation attacks, path escapes via symlinks, listing, create, root."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from ttt.store import (
    ID_RE,
    KINDS,
    AlreadyExistsError,
    ArtifactStore,
    InvalidIdError,
    NotFoundError,
    PathEscapeError,
    StoreError,
    is_valid_id,
    new_id,
    validate_id,
    write_json,
)

BAD_IDS = [
    "",
    ".",
    "..",
    "../x",
    "..\\x",
    "x/..",
    "/abs",
    "a/b",
    "a\\b",
    "a..b",
    "x" * 65,
    "ab.",
    "-a",
    "_a",
    ".hidden",
    " a",
    "a b",
    "a\n",
    "a\r",
    "a\t",
    "a\x00b",
    "\x00",
    "a:b",
    "a*b",
    "a%2fb",
    "~",
    "ａbc",  # fullwidth a
    "аbc",  # Cyrillic a
    "Ａ",  # fullwidth A
    "ab\u202e",  # right-to-left override
    "\u202eab",
    "a\u200bb",  # zero-width space
    "é",
    "١٢٣",  # Arabic-Indic digits (\d would accept them)
    "²",
    "a\ufe0f",  # variation selector
]
GOOD_IDS = ["a", "A1", "0", "x" * 64, "a.b", "a_b-c", "1.2.3", "nano-20261123-051233-3f9a1c"]


@pytest.mark.parametrize("value", BAD_IDS)
def test_bad_ids_rejected(value: str) -> None:
    with pytest.raises(InvalidIdError, match=r"^invalid session id ") as info:
        validate_id(value, what="session id")
    assert isinstance(info.value, ValueError) and isinstance(info.value, StoreError)
    assert not is_valid_id(value)


@pytest.mark.parametrize("value", [None, 12, b"abc", ["a"]])
def test_non_string_ids_rejected(value: object) -> None:
    with pytest.raises(InvalidIdError, match="must be a string"):
        validate_id(value)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", GOOD_IDS)
def test_good_ids_accepted(value: str) -> None:
    assert validate_id(value) == value
    assert re.match(ID_RE, value)


def test_error_names_the_id() -> None:
    with pytest.raises(InvalidIdError, match=r"invalid session id '\.\./x': must not contain"):
        validate_id("../x", what="session id")


def test_new_id_is_valid_and_unique() -> None:
    ids = {new_id("nano") for _ in range(50)}
    assert len(ids) == 50
    for i in ids:
        assert validate_id(i) == i
        assert re.fullmatch(r"nano-\d{8}-\d{6}-[0-9a-f]{6}", i)
    assert validate_id(new_id("x" * 41))
    for bad in ["", "../", "x" * 42]:
        with pytest.raises(InvalidIdError):
            new_id(bad)


@pytest.mark.parametrize("value", BAD_IDS)
def test_store_rejects_bad_ids_everywhere(tmp_path: Path, value: str) -> None:
    store = ArtifactStore(tmp_path)
    for call in (
        lambda: store.item_dir("sessions", value),
        lambda: store.exists("sessions", value),
        lambda: store.create_item("sessions", value),
        lambda: store.lock("sessions", value).__enter__(),
    ):
        with pytest.raises(InvalidIdError):
            call()
    assert list(tmp_path.iterdir()) == []  # nothing was created


def test_unknown_kind(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    with pytest.raises(InvalidIdError, match="unknown kind 'secrets'"):
        store.item_dir("secrets", "a")
    assert "sessions" in KINDS and store.kind_dir("jobs") == tmp_path.resolve() / "jobs"


@pytest.mark.parametrize("part", ["..", ".", "a/b", "/etc", "", "a..b", "é"])
def test_resolve_rejects_bad_parts(tmp_path: Path, part: str) -> None:
    with pytest.raises(InvalidIdError):
        ArtifactStore(tmp_path).resolve("sessions", part)


def test_symlink_escape(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    outside.mkdir()
    (outside / "meta.json").write_text("{}")
    store = ArtifactStore(root)
    store.create_item("sessions", "good")
    (root / "sessions" / "evil").symlink_to(outside, target_is_directory=True)
    (root / "sessions" / "good" / "link.json").symlink_to(outside / "meta.json")
    with pytest.raises(PathEscapeError, match="outside the artifact root"):
        store.item_dir("sessions", "evil")
    with pytest.raises(PathEscapeError):
        store.resolve("sessions", "evil", "meta.json")
    with pytest.raises(PathEscapeError):
        store.resolve("sessions", "good", "link.json")
    assert store.list_ids("sessions") == ["good"]
    # A symlink that stays inside the root is fine.
    (root / "sessions" / "alias").symlink_to(root / "sessions" / "good")
    assert store.item_dir("sessions", "alias").is_dir()


def test_symlink_loop_is_an_error(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    store.kind_dir("jobs").mkdir(parents=True)
    (tmp_path / "jobs" / "loop").symlink_to(tmp_path / "jobs" / "loop")
    with pytest.raises(PathEscapeError):
        store.item_dir("jobs", "loop")


def test_root_from_env_and_lazy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARTIFACTS_ROOT", str(tmp_path / "art"))
    store = ArtifactStore()
    assert store.root == (tmp_path / "art").resolve() and store.root.is_absolute()
    assert not store.root.exists() and store.list_ids("sessions") == []
    monkeypatch.delenv("ARTIFACTS_ROOT")
    monkeypatch.chdir(tmp_path)
    assert ArtifactStore().root == tmp_path.resolve() / "artifacts"


def test_create_list_exists(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    d = store.create_item("sessions", "b")
    write_json(d / "meta.json", {"x": 1})
    store.create_item("sessions", "a")
    with pytest.raises(AlreadyExistsError, match="session 'b' already exists"):
        store.create_item("sessions", "b")
    assert (d / "meta.json").exists()  # never overwritten
    kd = store.kind_dir("sessions")
    (kd / ".tmp-meta.json.1234").write_text("x")
    (kd / ".tmp-c").mkdir()
    (kd / "file-not-dir").write_text("x")
    with store.lock("sessions", "a"):
        pass
    assert store.list_ids("sessions") == ["a", "b"]
    assert store.exists("sessions", "a") and not store.exists("sessions", "zz")
    with pytest.raises(NotFoundError, match="session 'zz' not found"):
        store.item_dir("sessions", "zz", must_exist=True)
    assert store.item_dir("jobs", "j1", create=True).is_dir()


def test_not_found_message_is_plain(tmp_path: Path) -> None:
    err = NotFoundError("session 'x' not found")
    assert str(err) == "session 'x' not found" and isinstance(err, KeyError)


def test_lock_file_outside_item(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    with store.lock("sessions", "s1"):
        d = store.create_item("sessions", "s1")
        os.rmdir(d)  # deleting a locked item is fine
    assert (tmp_path / "sessions" / ".locks").is_dir()


def test_user_path_stays_inside_the_root(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    outside.mkdir()
    store = ArtifactStore(root)
    (root / "notes").mkdir(parents=True)
    assert store.user_path("notes", "core_path") == (root / "notes").resolve()
    assert store.user_path(str(root / "x.txt"), "f") == (root / "x.txt").resolve()
    (root / "link").symlink_to(outside, target_is_directory=True)
    for raw in ("../outside", str(outside), "link", "link/a.txt", "notes/../../outside"):
        with pytest.raises(PathEscapeError, match=r"core_path .* lies outside the artifact root"):
            store.user_path(raw, "core_path")
    for raw in ("text_runs/.spool/r1.txt", ".locks/x", "notes/.hidden"):
        with pytest.raises(PathEscapeError, match="is a hidden store folder"):
            store.user_path(raw, "core_path")
    for raw in ("", "  ", "a\x00b"):
        with pytest.raises(PathEscapeError, match="core_path: bad path"):
            store.user_path(raw, "core_path")
