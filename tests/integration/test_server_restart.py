"""A server killed in the middle of a sitting loses no acknowledged answer and no time
(issue "Exam day", answers never lost; R-CLOCK-5/6 server-authoritative clock).

The server runs as its own process (``examhall serve``, as on exam day), is killed with
SIGKILL — no shutdown, no flush — and started again on the same database.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from examhall.config import Settings
from tests.conftest import free_port, sql
from tests.integration.examday_site import api, build_site, candidate_login


class ServerProcess:
    def __init__(self, url: str, settings: Settings, port: int, log: Path) -> None:
        self.url, self.settings, self.port, self.log = url, settings, port, log
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {
            **os.environ,
            "EXAMHALL_DATABASE_URL": self.url,
            "EXAMHALL_DATA": str(self.settings.data_dir),
            "EXAMHALL_SECRET_KEY": self.settings.resolved_secret_key(),
            "EXAMHALL_PORT": str(self.port),
            "EXAMHALL_HOST": "127.0.0.1",
            "EXAMHALL_WORKERS": "1",
        }
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "examhall", "serve"], env=env, stdout=out, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"server did not start: {self.log.read_text()[-2000:]}")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=20)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.fixture
def server(clean_db: str, test_settings: Settings, tmp_path: Path) -> Iterator[ServerProcess]:
    process = ServerProcess(clean_db, test_settings, free_port(), tmp_path / "server.log")
    yield process
    process.stop()


def test_sigkill_mid_sitting_loses_no_acknowledged_answer_and_no_time(
    server: ServerProcess, clean_db: str, test_settings: Settings
) -> None:
    site = build_site(clean_db, test_settings, candidates=1)
    seat = site.seats[0]
    server.start()
    acknowledged: dict[int, str] = {}
    with httpx.Client(base_url=server.base, timeout=20) as client:
        assert candidate_login(client, seat).status_code == 200
        started = api(client, "POST", "/api/v1/attempt/start")
        assert started.status_code == 200, started.text
        end_before = started.json()["clock"]["end_time"]
        paper = api(client, "GET", "/api/v1/attempt/paper").json()
        items = paper["items"]
        # Half the answers over HTTP …
        for seq, item in enumerate(items[:20], start=1):
            response = "T" if item["type"] == "judge" else item["options"][seq % len(item["options"])]["letter"]
            saved = api(
                client, "PUT", f"/api/v1/attempt/answers/{item['position']}", {"response": response, "seq": seq}
            )
            assert saved.status_code == 200, saved.text
            acknowledged[item["position"]] = saved.json()["response"]
        # … the other half over the terminal's websocket, each acknowledged after its commit.
        cookies = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
        with connect(f"ws://127.0.0.1:{server.port}/api/v1/attempt/ws", additional_headers={"Cookie": cookies}) as ws:
            for seq, item in enumerate(items[20:40], start=21):
                response = "F" if item["type"] == "judge" else item["options"][0]["letter"]
                ws.send(json.dumps({"t": "save", "position": item["position"], "response": response, "seq": seq}))
                while True:
                    message = json.loads(ws.recv(timeout=10))
                    if message["t"] in ("ack", "refused"):
                        break
                assert message["t"] == "ack", message
                acknowledged[item["position"]] = message["response"]
            server.kill()

        server.start()
        # The same terminal and session resume: every acknowledged answer, the same end time.
        state = api(client, "GET", "/api/v1/attempt")
        assert state.status_code == 200, state.text
        assert state.json()["clock"]["end_time"] == end_before
        assert state.json()["clock"]["phase"] in ("running", "final_minutes")
        remaining = state.json()["clock"]["remaining_s"]
        expected = datetime.fromisoformat(end_before) - datetime.fromisoformat(state.json()["clock"]["server_now"])
        assert abs(remaining - expected.total_seconds()) < 0.01
        resumed = api(client, "GET", "/api/v1/attempt/paper").json()
        assert {int(p): a["response"] for p, a in resumed["answers"].items()} == acknowledged
        assert resumed["last_seq"] == 40
    rows = sql(clean_db, "SELECT position, response FROM answers ORDER BY position")
    assert {r["position"]: r["response"] for r in rows} == acknowledged
