"""The folder journal and session recovery, step by step (the crash harness does it by kill)."""

from __future__ import annotations

import json

import pytest

from ttt.nano import journal as J
from ttt.nano import session as S
from ttt.nano.persist import WRITER, recover_session, writer_marker
from ttt.store import CorruptFileError, write_json


def test_commit_replaces_every_staged_file_at_once(tmp_path):
    (tmp_path / "a.json").write_text("old")
    j = J.FolderJournal(tmp_path)
    j.stage_json("a.json", {"v": 1})
    j.stage_json("sub/b.json", {"v": 2})
    seen = []
    j.commit(extra={"x": 1}, on_apply=seen.append)
    assert json.loads((tmp_path / "a.json").read_text())["v"] == 1
    assert json.loads((tmp_path / "sub" / "b.json").read_text())["v"] == 2
    assert seen == [{"x": 1}] and not (tmp_path / J.PENDING).exists()


def test_recover_rolls_a_committed_transaction_forward_and_an_open_one_back(tmp_path):
    (tmp_path / "a.json").write_text("old")
    j = J.FolderJournal(tmp_path)
    j.stage_json("a.json", {"v": 1})
    j.stage_json("b.json", {"v": 2})
    # Killed after the commit record and after moving one file: roll forward.
    write_json(tmp_path / J.PENDING / J.COMMIT, {"files": [list(f) for f in j.files], "extra": {}})
    (tmp_path / J.PENDING / "0000.stage").replace(tmp_path / "a.json")
    assert J.recover(tmp_path) == "rolled_forward"
    assert json.loads((tmp_path / "b.json").read_text())["v"] == 2
    # Killed before the commit record: the staged files are dropped, targets untouched.
    j = J.FolderJournal(tmp_path)
    j.stage_json("a.json", {"v": 9})
    assert J.recover(tmp_path) == "rolled_back"
    assert json.loads((tmp_path / "a.json").read_text())["v"] == 1
    assert J.recover(tmp_path) is None


def test_a_journal_cannot_write_outside_its_folder(tmp_path):
    with pytest.raises(CorruptFileError):
        J.FolderJournal(tmp_path).stage_json("../x.json", {})
    (tmp_path / J.PENDING).mkdir()
    write_json(tmp_path / J.PENDING / J.COMMIT, {"files": [["0000.stage", "/etc/x"]], "extra": {}})
    with pytest.raises(CorruptFileError, match="bad target"):
        J.recover(tmp_path)
    # And staging on top of a committed, unapplied transaction is refused (recover first).
    with pytest.raises(RuntimeError, match="recover"):
        J.FolderJournal(tmp_path).stage_json("a.json", {})


def test_recovery_finishes_a_dead_run_and_removes_leftovers(store):
    sid = S.create_session(store, base_id="tiny-base", mu=0.1, seed=1, session_id="r")
    rid = S.run_session(store, sid, steps=40)
    d = store.item_dir("sessions", sid)
    rd = d / "runs" / rid
    # A writer killed while deleting a finished run's parts, and a run folder never started.
    (rd / "parts").mkdir()
    (d / "runs" / "run-never").mkdir()
    writer_marker(d, rid)
    (d / WRITER).write_text(json.dumps({"schema_version": 1, "pid": 999999999, "run_id": rid}))
    did = recover_session(store, d)
    assert not (rd / "parts").exists() and not (d / "runs" / "run-never").exists()
    assert not (d / WRITER).exists() and did
    assert [r["status"] for r in S.list_runs(store, sid)] == ["completed"]


def test_readers_settle_a_dead_writer_but_not_their_own(store):
    sid = S.create_session(store, base_id="tiny-base", mu=0.1, seed=1, session_id="own")
    seen = []

    def progress(done: int, total: int) -> None:
        # A reader called from the run itself must not "recover" the live run.
        seen.append(S.list_runs(store, sid)[0]["status"])

    S.run_session(store, sid, steps=32, progress=progress)
    assert seen and set(seen) == {"running"}
