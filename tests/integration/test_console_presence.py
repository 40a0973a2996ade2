"""R-REG-5 on the room console: the invigilators watching the room are counted, across
consoles, and the console warns while fewer than the room needs (2, and 1 per 15 candidates)."""

from __future__ import annotations

import time

import httpx
from websockets.sync.client import connect

from examhall.config import Settings
from tests.conftest import LiveServer, login, make_user
from tests.integration.examday_site import api, build_site

PASSWORD = "correct-horse-9"


def presence(client: httpx.Client, path: str, expected: int) -> dict[str, object]:
    deadline = time.monotonic() + 5
    while True:
        body = api(client, "GET", path).json()
        if len(body["invigilators"]) == expected or time.monotonic() > deadline:
            return dict(body)
        time.sleep(0.1)


def test_the_console_counts_the_invigilators_watching_and_warns_when_too_few(
    live_server: LiveServer, clean_db: str, test_settings: Settings
) -> None:
    site = build_site(clean_db, test_settings, candidates=2)
    make_user(clean_db, test_settings, "zhangmin", ["invigilator"])
    make_user(clean_db, test_settings, "chengang", ["invigilator"])
    path = f"/api/v1/console/sittings/{site.sitting_id}/rooms/{site.room_id}"
    ws = f"{live_server.ws_url}/ws/console/sittings/{site.sitting_id}/rooms/{site.room_id}"
    with (
        httpx.Client(base_url=live_server.url, timeout=20) as first,
        httpx.Client(base_url=live_server.url, timeout=20) as second,
    ):
        assert login(first, "zhangmin", PASSWORD).status_code == 302
        assert login(second, "chengang", PASSWORD).status_code == 302
        nobody = presence(first, path, 0)
        assert nobody["invigilators"] == [] and nobody["understaffed"] is True
        with connect(ws, additional_headers={"Cookie": f"examhall_session={first.cookies['examhall_session']}"}) as one:
            assert 'id="seat-1"' in str(one.recv(timeout=10))
            alone = presence(first, path, 1)
            assert alone["invigilators"] == ["Zhangmin"] and alone["understaffed"] is True
            cookie = f"examhall_session={second.cookies['examhall_session']}"
            with connect(ws, additional_headers={"Cookie": cookie}) as two:
                assert 'id="seat-1"' in str(two.recv(timeout=10))
                both = presence(first, path, 2)
                assert both["invigilators"] == ["Chengang", "Zhangmin"] and both["understaffed"] is False
                # The first console is told (its header is sent again) without a reload.
                frame = ""
                deadline = time.monotonic() + 5
                while 'data-count="2"' not in frame and time.monotonic() < deadline:
                    frame = str(one.recv(timeout=5))
                assert 'data-testid="invigilators-present"' in frame and 'data-count="2"' in frame
            after = presence(first, path, 1)
            assert after["invigilators"] == ["Zhangmin"] and after["understaffed"] is True
