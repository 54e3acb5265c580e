"""SSE: the live tail of a running run's live.jsonl, and its framing."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from ttt.api.sse import frame
from ttt.store import read_json, write_json


def _row(t: int, did: int = 0) -> list[Any]:
    return [t, 0.5, 0.25, 0.5, 0.0, did, did, "commit" if did else "", 0.1]


def _setup_run(root: Path, sid: str = "live-s", rid: str = "live-r") -> Path:
    sd = root / "sessions" / sid
    rd = sd / "runs" / rid
    rd.mkdir(parents=True)
    write_json(sd / "meta.json", {"session_id": sid, "parent": None})
    write_json(
        rd / "run.json",
        {
            "run_id": rid,
            "status": "running",
            "steps": 64,
            "t_start": 0,
            "t_end": 0,
            "pid": os.getpid(),
        },
    )
    return rd


def _record(t0: int, n: int = 16) -> dict[str, Any]:
    rows = [_row(t, int(t % 16 == 15)) for t in range(t0, t0 + n)]
    events = [{"t": t0 + n - 1, "index": t0 // n, "status": "commit", "run_id": "live-r"}]
    return {"t_end": t0 + n - 1, "rows": rows, "events": events}


def _parse(text: str) -> list[tuple[str, Any, str | None]]:
    out = []
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            if line.startswith(":") or ": " not in line:
                continue
            k, v = line.split(": ", 1)
            fields[k] = v
        if "event" in fields:
            out.append((fields["event"], json.loads(fields["data"]), fields.get("id")))
    return out


def _writer(rd: Path, records: list[dict[str, Any]], *, torn: bool = True) -> None:
    live = rd / "live.jsonl"
    for i, rec in enumerate(records):
        line = json.dumps(rec) + "\n"
        with open(live, "a") as f:
            if torn and i == 1:  # half a line first: readers must wait for its newline
                f.write(line[:20])
                f.flush()
                time.sleep(0.3)
                f.write(line[20:])
            else:
                f.write(line)
        time.sleep(0.15)
    run = read_json(rd / "run.json")
    run.update(status="completed", t_end=records[-1]["t_end"] + 1)
    write_json(rd / "run.json", run)


def test_live_stream_delivers_appended_rows(make_client, tmp_path: Path) -> None:
    root = tmp_path / "artifacts"
    rd = _setup_run(root)
    c = make_client(root)
    records = [_record(t0) for t0 in range(0, 64, 16)]
    with open(rd / "live.jsonl", "w") as f:  # one chunk already there when the client comes
        f.write(json.dumps(records[0]) + "\n")
    th = threading.Thread(target=_writer, args=(rd, records[1:]))
    th.start()
    with c.stream("GET", "/api/sessions/live-s/live") as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        text = r.read().decode()
    th.join()
    events = _parse(text)
    assert events[0][0] == "status" and events[0][1]["status"] == "running"
    assert events[-1][0] == "status" and events[-1][1] == {
        "run_id": "live-r",
        "status": "completed",
        "t_end": 64,
    }
    rows = [row for name, data, _ in events if name == "rows" for row in data["rows"]]
    assert rows == [row for rec in records for row in rec["rows"]]
    updates = [data for name, data, _ in events if name == "event"]
    assert [u["t"] for u in updates] == [15, 31, 47, 63]
    ids = [int(i) for name, _, i in events if name == "rows" and i is not None]
    assert ids == sorted(ids) and ids[-1] == (rd / "live.jsonl").stat().st_size


def test_live_stream_resumes_from_last_event_id(make_client, tmp_path: Path) -> None:
    root = tmp_path / "artifacts"
    rd = _setup_run(root)
    records = [_record(t0) for t0 in range(0, 48, 16)]
    lines = [json.dumps(r) + "\n" for r in records]
    (rd / "live.jsonl").write_text("".join(lines))
    run = read_json(rd / "run.json")
    write_json(rd / "run.json", {**run, "status": "completed", "t_end": 48})
    c = make_client(root)
    url = "/api/sessions/live-s/live?run_id=live-r"
    offset = len(lines[0].encode())
    text = c.get(url, headers={"Last-Event-ID": str(offset)}).text
    rows = [row for name, d, _ in _parse(text) if name == "rows" for row in d["rows"]]
    assert rows[0][0] == 16 and rows[-1][0] == 47 and len(rows) == 32


def test_live_stream_idle_without_running_run(make_client, tmp_path: Path) -> None:
    root = tmp_path / "artifacts"
    rd = _setup_run(root)
    run = read_json(rd / "run.json")
    write_json(rd / "run.json", {**run, "pid": 2**22 + 12345})  # a writer that is gone
    c = make_client(root)
    text = c.get("/api/sessions/live-s/live?wait_s=0").text
    assert _parse(text) == [("status", {"run_id": None, "status": "idle", "t_end": None}, None)]
    detail = c.get("/api/sessions/live-s").json()
    assert detail["runs"][0]["status"] == "interrupted" and detail["running"] is False


def test_live_stream_unknown_session_is_404(client) -> None:
    assert client.get("/api/sessions/nope/live").status_code == 404


def test_frame_format() -> None:
    assert frame("rows", {"a": 1}, id=7) == b'id: 7\nevent: rows\ndata: {"a":1}\n\n'
    assert frame("status", {"s": "x"}) == b'event: status\ndata: {"s":"x"}\n\n'
