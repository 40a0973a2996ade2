"""The invigilator's live room console through the real HTTP API and websockets of a live server
on PostgreSQL: the seat map streamed as htmx out-of-band fragments, answer counts arriving within
a fraction of a second of the terminal's save (ARCHITECTURE "The hot path"), check-in from the
console (R-CLOCK-1), lateness and absence at S + 30 min (R-CLOCK-2), who may hand in (R-CLOCK-3),
moves to a spare terminal (R-CLOCK-7), the full state on reconnect, the JSON view with its counts,
and who may open it (R-SEC-1)."""

from __future__ import annotations

import hashlib
import io
import json
import random
import re
import statistics
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from examhall.batches import service as batch_service
from examhall.config import Settings, load_settings
from examhall.console import room as console_room
from examhall.db import Database
from tests.conftest import LiveServer, form_post, login, make_user, run_db, sql, truncate_all
from tests.integration.examday_site import ExamSite, Seat, api, build_site, candidate_login
from tests.integration.test_events import Worker

PASSWORD = "correct-horse-9"
SEAT_ID = re.compile(r'<div id="seat-(\d+)"')


@pytest.fixture
def browser(live_server: LiveServer, clean_db: str) -> Iterator[Callable[[], httpx.Client]]:
    """Opens a separate browser (its own cookie jar) per call: terminals, invigilators' laptops."""
    made: list[httpx.Client] = []

    def open_one() -> httpx.Client:
        made.append(httpx.Client(base_url=live_server.url, timeout=20))
        return made[-1]

    yield open_one
    for c in made:
        c.close()


def staff(client: httpx.Client, url: str, settings: Settings, name: str, roles: list[str]) -> httpx.Client:
    make_user(url, settings, name, roles)
    assert login(client, name, PASSWORD).status_code == 302
    return client


def console_url(site: ExamSite, room_id: int | None = None) -> str:
    return f"/console/sittings/{site.sitting_id}/rooms/{room_id or site.room_id}"


def api_url(site: ExamSite, room_id: int | None = None) -> str:
    return f"/api/v1/console/sittings/{site.sitting_id}/rooms/{room_id or site.room_id}"


def open_console(live_server: LiveServer, client: httpx.Client, site: ExamSite) -> ClientConnection:
    cookies = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    return connect(
        f"{live_server.ws_url}/ws{console_url(site)}", additional_headers={"Cookie": cookies}, open_timeout=10
    )


def open_terminal(live_server: LiveServer, client: httpx.Client) -> ClientConnection:
    cookies = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    return connect(f"{live_server.ws_url}/api/v1/attempt/ws", additional_headers={"Cookie": cookies}, open_timeout=10)


def tile(frame: str, dom_id: str) -> str | None:
    """The HTML of one tile in a frame (tiles do not nest), or None."""
    start = frame.find(f'<div id="{dom_id}"')
    if start < 0:
        return None
    end = frame.find('<div id="', start + 5)
    return frame[start : end if end > 0 else len(frame)]


def wait_for(ws: ClientConnection, check: Callable[[str], bool], timeout: float = 5.0) -> str:
    """The first frame for which ``check`` holds (keep-alives and other tiles are skipped)."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no matching console frame within {timeout} s")
        frame = str(ws.recv(timeout=left))
        if frame and check(frame):
            return frame


def answered_is(seat_no: int, count: int) -> Callable[[str], bool]:
    def check(frame: str) -> bool:
        html = tile(frame, f"seat-{seat_no}")
        return html is not None and f'data-answered="{count}"' in html

    return check


def status_is(dom_id: str, status: str) -> Callable[[str], bool]:
    def check(frame: str) -> bool:
        html = tile(frame, dom_id)
        return html is not None and f'data-status="{status}"' in html

    return check


def started(client: httpx.Client, seat: Seat) -> dict[str, Any]:
    assert candidate_login(client, seat).status_code == 200
    response = api(client, "POST", "/api/v1/attempt/start")
    assert response.status_code == 200, response.text
    return dict(response.json())


def valid_responses(client: httpx.Client) -> dict[int, str]:
    """A well-formed (not necessarily right) answer for every question of the candidate's paper."""
    paper = api(client, "GET", "/api/v1/attempt/paper").json()
    kinds = {"judge": "T", "multiple": "AB", "single": "A"}
    return {item["position"]: kinds[item["type"]] for item in paper["items"]}


def ws_ack(ws: ClientConnection) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        message: dict[str, Any] = json.loads(ws.recv(timeout=10))
        if message["t"] in ("ack", "refused"):
            return message
    raise AssertionError("no ack within 10 s")


def room_json(client: httpx.Client, site: ExamSite) -> dict[str, Any]:
    response = client.get(api_url(site))
    assert response.status_code == 200, response.text
    return dict(response.json())


# --- the live seat map ---------------------------------------------------------------------------


def test_answer_counts_reach_the_console_within_a_fraction_of_a_second(
    browser: Callable[[], httpx.Client], live_server: LiveServer, clean_db: str, test_settings: Settings
) -> None:
    """ARCHITECTURE "The hot path": a save over the terminal's websocket → coalesced progress
    event (200 ms) → the room's console gets one out-of-band tile with the new count."""
    site = build_site(clean_db, test_settings, candidates=3)
    invigilator = staff(browser(), clean_db, test_settings, "zhangmin", ["invigilator"])
    terminal = browser()
    started(terminal, site.seats[0])
    responses = valid_responses(terminal)

    with open_console(live_server, invigilator, site) as console:
        first = str(console.recv(timeout=10))
        # The full state: every seat of the room (30, most of them empty) and the spare terminal.
        assert sorted(int(n) for n in SEAT_ID.findall(first)) == list(range(1, 31))
        assert 'id="spare-' in first and 'hx-swap-oob="true"' in first
        assert 'id="room-summary"' in first and 'id="not-arrived"' in first and 'id="room-clock"' in first
        assert 'data-status="working"' in (tile(first, "seat-1") or "")
        assert 'data-status="checked_in"' in (tile(first, "seat-2") or "")
        assert 'data-status="empty"' in (tile(first, "seat-30") or "")

        latencies: list[float] = []
        with open_terminal(live_server, terminal) as ws:
            # The terminal's live channel opened: the tile turns online.
            online = wait_for(console, lambda f: 'data-online="true"' in (tile(f, "seat-1") or ""))
            assert "seat-2" not in online  # only the tile that changed
            jitter = random.Random(5)
            for seq, position in enumerate(sorted(responses)[:24], start=1):
                time.sleep(jitter.random() * 0.2)  # saves land anywhere in the 200 ms coalescing window
                ws.send(json.dumps({"t": "save", "position": position, "response": responses[position], "seq": seq}))
                ack = ws_ack(ws)
                acked = time.monotonic()
                assert ack["t"] == "ack", ack
                frame = wait_for(console, answered_is(1, seq), timeout=2.0)
                latencies.append(time.monotonic() - acked)
                assert "seat-2" not in frame and "seat-3" not in frame
        offline = wait_for(console, lambda f: 'data-online="false"' in (tile(f, "seat-1") or ""))
        assert 'data-answered="24"' in (tile(offline, "seat-1") or "")

    p50, worst = statistics.median(latencies), max(latencies)
    print(f"\nconsole latency over {len(latencies)} saves: p50 {p50 * 1000:.0f} ms, max {worst * 1000:.0f} ms")
    assert p50 < 0.5 and worst < 1.0, latencies
    assert room_json(invigilator, site)["tiles"][0]["answered"] == 24


def test_a_start_is_drawn_from_its_event_as_a_fresh_read_would_draw_it(
    browser: Callable[[], httpx.Client], live_server: LiveServer, clean_db: str, test_settings: Settings
) -> None:
    """Issue 7: a start published with what it changed (the time, E, the state) is taken into
    the console's snapshot without reading the attempt; the tile and the counts are those a
    reconnecting console reads from the database, and the socket that opened meanwhile stays
    shown as connected."""
    site = build_site(clean_db, test_settings, candidates=3)
    invigilator = staff(browser(), clean_db, test_settings, "zhaolei", ["invigilator"])
    terminal = browser()
    with open_console(live_server, invigilator, site) as console:
        first = str(console.recv(timeout=10))
        assert 'data-status="checked_in"' in (tile(first, "seat-1") or "")
        opened = started(terminal, site.seats[0])
        frame = wait_for(console, status_is("seat-1", "working"))
        assert 'id="room-summary"' in frame  # the header's counts moved with it
        with open_terminal(live_server, terminal):
            wait_for(console, lambda f: 'data-online="true"' in (tile(f, "seat-1") or ""))
            with open_console(live_server, invigilator, site) as fresh:
                read = str(fresh.recv(timeout=10))
            drawn, again = tile(frame, "seat-1") or "", tile(read, "seat-1") or ""
            for attribute in ("data-status", "data-answered"):
                assert re.search(f'{attribute}="[^"]*"', drawn)[0] == re.search(f'{attribute}="[^"]*"', again)[0]  # type: ignore[index]
            assert 'data-online="true"' in again
            for count in ("expected", "present", "waiting", "working", "submitted"):
                shown = re.compile(f'data-testid="count-{count}">(\\d+)<')
                assert shown.findall(frame) == shown.findall(read) != [], count
    assert opened["state"] == "running"


def test_check_in_through_the_console_turns_the_tile_and_the_counts(
    browser: Callable[[], httpx.Client], live_server: LiveServer, clean_db: str, test_settings: Settings
) -> None:
    """R-CLOCK-1: the invigilator checks a candidate in from the console (as the USB scanner
    types the ticket number); the tile changes to "checked in" and the counts follow."""
    site = build_site(clean_db, test_settings, candidates=3, check_in=False)
    invigilator = staff(browser(), clean_db, test_settings, "zhangmin", ["invigilator"])
    page = invigilator.get(console_url(site))
    assert page.status_code == 200
    assert 'ws-connect="/ws/console/sittings/' in page.text and 'id="seat-1"' in page.text
    assert 'data-testid="checkin-input"' in page.text and "autofocus" in page.text
    assert "/static/css/console.css" in page.text

    with open_console(live_server, invigilator, site) as console:
        first = str(console.recv(timeout=10))
        assert 'data-status="expected"' in (tile(first, "seat-2") or "")
        assert 'data-testid="count-not-arrived">3<' in first

        done = form_post(invigilator, f"{console_url(site)}/checkin", {"ticket_or_id": site.seats[1].ticket.lower()})
        assert done.status_code == 200, done.text
        assert site.seats[1].name in done.text and 'data-ok="true"' in done.text
        frame = wait_for(console, status_is("seat-2", "checked_in"))
        assert 'data-testid="count-present">1<' in frame and 'data-testid="count-not-arrived">2<' in frame
        assert site.seats[1].name not in frame.split('id="not-arrived"')[1]

        # Twice is harmless; an unknown ticket is refused with a message and changes nothing.
        again = form_post(invigilator, f"{console_url(site)}/checkin", {"ticket_or_id": site.seats[1].ticket})
        assert again.status_code == 200 and 'data-ok="true"' in again.text
        unknown = form_post(invigilator, f"{console_url(site)}/checkin", {"ticket_or_id": "NOSUCH00001"})
        assert unknown.status_code == 400 and 'data-ok="false"' in unknown.text
        empty = form_post(invigilator, f"{console_url(site)}/checkin", {"ticket_or_id": "  "})
        assert empty.status_code == 400
    assert sql(clean_db, "SELECT seat_no, state FROM attempts") == [{"seat_no": 2, "state": "checked_in"}]
    summary = room_json(invigilator, site)["summary"]
    assert (summary["present"], summary["not_arrived"], summary["waiting"]) == (1, 2, 1)


def test_check_in_of_a_candidate_of_another_room_is_refused_with_their_seat(
    browser: Callable[[], httpx.Client], live_server: LiveServer, clean_db: str, test_settings: Settings
) -> None:
    site = build_site(clean_db, test_settings, candidates=2, check_in=False)

    async def move_second(db: Database) -> int:
        async with db.session() as session:
            other = await batch_service.create_room(session, "考点", "第九考场", seat_count=30)
        return other.id

    other_room = run_db(clean_db, move_second)
    sql(clean_db, "UPDATE seat_assignments SET room_id = $1, seat_no = 7 WHERE seat_no = 2", other_room)
    invigilator = staff(browser(), clean_db, test_settings, "zhangmin", ["invigilator"])
    refused = form_post(invigilator, f"{console_url(site)}/checkin", {"ticket_or_id": site.seats[1].ticket})
    assert refused.status_code == 409
    assert "第九考场" in refused.text and "7" in refused.text
    assert sql(clean_db, "SELECT count(*) AS n FROM attempts")[0]["n"] == 0
    # That room has its own console, and this one shows only its own candidate.
    assert invigilator.get(console_url(site, other_room)).status_code == 200
    assert [t["seat_no"] for t in room_json(invigilator, site)["tiles"] if t["candidate"]] == [1]


def test_a_reconnecting_console_gets_the_full_current_state(
    browser: Callable[[], httpx.Client], live_server: LiveServer, clean_db: str, test_settings: Settings
) -> None:
    """What happened while the console was away is all there when it comes back."""
    site = build_site(clean_db, test_settings, candidates=3)
    invigilator = staff(browser(), clean_db, test_settings, "zhangmin", ["chief"])  # a chief is an invigilator too
    with open_console(live_server, invigilator, site) as console:
        assert 'data-status="checked_in"' in (tile(str(console.recv(timeout=10)), "seat-3") or "")
    # Away: seat 3 starts and answers five questions over HTTP.
    terminal = browser()
    started(terminal, site.seats[2])
    responses = valid_responses(terminal)
    for seq, position in enumerate(sorted(responses)[:5], start=1):
        saved = api(
            terminal,
            "PUT",
            f"/api/v1/attempt/answers/{position}",
            {"response": responses[position], "seq": seq, "flagged": False},
        )
        assert saved.status_code == 200, saved.text
    deadline = time.monotonic() + 5
    while room_json(invigilator, site)["tiles"][2]["answered"] != 5:
        assert time.monotonic() < deadline, "the progress flush did not run"
        time.sleep(0.05)
    with open_console(live_server, invigilator, site) as console:
        first = str(console.recv(timeout=10))
        assert sorted(int(n) for n in SEAT_ID.findall(first)) == list(range(1, 31))
        seat3 = tile(first, "seat-3") or ""
        assert 'data-status="working"' in seat3 and 'data-answered="5"' in seat3
        assert 'data-testid="count-working">1<' in first


def test_move_to_a_spare_terminal_from_the_console(
    browser: Callable[[], httpx.Client], live_server: LiveServer, clean_db: str, test_settings: Settings
) -> None:
    """R-CLOCK-7: the move form lists the room's free spare terminals; after the move the seat
    shows where the candidate went and the spare shows the candidate, their clock stopped."""
    site = build_site(clean_db, test_settings, candidates=2, spares=1)
    terminal = browser()
    body = started(terminal, site.seats[0])
    spare = sql(clean_db, "SELECT id, label FROM terminals WHERE is_spare")[0]
    invigilator = staff(browser(), clean_db, test_settings, "zhangmin", ["invigilator"])
    panel = invigilator.get(f"{console_url(site)}/move", params={"attempt_id": body["attempt_id"]})
    assert panel.status_code == 200 and f'value="{spare["id"]}"' in panel.text
    with open_console(live_server, invigilator, site) as console:
        str(console.recv(timeout=10))
        moved = form_post(
            invigilator,
            f"{console_url(site)}/move",
            {"attempt_id": str(body["attempt_id"]), "terminal_id": str(spare["id"])},
        )
        assert moved.status_code == 200 and 'data-ok="true"' in moved.text, moved.text
        frame = wait_for(console, status_is(f"spare-{spare['id']}", "paused"))
        assert spare["label"] in (tile(frame, "seat-1") or "")
        assert site.seats[0].name in (tile(frame, f"spare-{spare['id']}") or "")
    # The spare is taken now: the second candidate cannot be moved there; a stranger attempt id is refused.
    again = form_post(
        invigilator, f"{console_url(site)}/move", {"attempt_id": str(body["attempt_id"] + 99), "terminal_id": "1"}
    )
    assert again.status_code == 409
    data = room_json(invigilator, site)
    assert data["free_spares"] == []
    assert data["tiles"][0]["moved_to"] == spare["label"]


# --- lateness and hand-in (R-CLOCK-2, R-CLOCK-3) ---------------------------------------------------


def test_json_view_counts_and_who_may_hand_in(
    browser: Callable[[], httpx.Client], live_server: LiveServer, clean_db: str, test_settings: Settings
) -> None:
    """The summary adds up: 5 seated = 1 not arrived + 1 waiting + 2 working + 1 handed in; a
    10-minute sitting lets candidates hand in at once (E − 30 min is past, R-CLOCK-3)."""
    site = build_site(clean_db, test_settings, candidates=5, duration_minutes=10, check_in=False)
    invigilator = staff(browser(), clean_db, test_settings, "zhangmin", ["invigilator"])
    for seat in site.seats[:4]:
        checked = api(invigilator, "POST", f"/api/v1/sittings/{site.sitting_id}/checkin", {"ticket_or_id": seat.ticket})
        assert checked.status_code == 200, checked.text
    for seat in site.seats[:3]:
        started(browser(), seat)
    submitter = browser()
    started(submitter, site.seats[0])
    assert api(submitter, "POST", "/api/v1/attempt/submit", {"confirm": True}).status_code == 200

    data = room_json(invigilator, site)
    assert data["summary"] == {
        "expected": 5,
        "present": 4,
        "not_arrived": 1,
        "waiting": 1,
        "working": 2,
        "submitted": 1,
        "absent": 0,
        "withdrawn": 0,
        "rescheduled": 0,
        "online": 0,
        "invigilators_needed": 2,
    }
    assert data["not_arrived"] == [{"seat_no": 5, "name": site.seats[4].name, "ticket": site.seats[4].ticket}]
    assert len(data["tiles"]) == 31 and data["tiles"][-1]["spare"] is True
    statuses = [t["status"] for t in data["tiles"][:6]]
    assert statuses == ["submitted", "final_minutes", "final_minutes", "checked_in", "expected", "empty"]
    assert [t["may_submit"] for t in data["tiles"][:5]] == [False, True, True, False, False]
    assert data["tiles"][1]["end_time"] is not None and data["tiles"][3]["end_time"] is None
    assert datetime.fromisoformat(data["start_deadline"]) == site.starts_at + timedelta(minutes=30)
    assert data["start_deadline_passed"] is False
    page = invigilator.get(console_url(site))
    assert page.text.count('data-testid="may-submit"') == 2


def test_not_arrived_candidates_are_absent_from_start_plus_30_minutes(
    browser: Callable[[], httpx.Client], live_server: LiveServer, clean_db: str, test_settings: Settings
) -> None:
    """R-CLOCK-2 with an injected clock: at S + 29:59 the not-arrived are still expected and the
    checked-in may still start; at S + 30:00 both are absent. mark_absent records each absence
    once, however often and from however many consoles it runs."""
    site = build_site(clean_db, test_settings, candidates=3, check_in=False, starts_in=-timedelta(minutes=5))
    invigilator = staff(browser(), clean_db, test_settings, "zhangmin", ["invigilator"])
    checked = api(
        invigilator, "POST", f"/api/v1/sittings/{site.sitting_id}/checkin", {"ticket_or_id": site.seats[0].ticket}
    )
    assert checked.status_code == 200
    deadline = site.starts_at + timedelta(minutes=30)

    async def view_at(db: Database, now: datetime) -> console_room.RoomView:
        async with db.session() as session:
            return await console_room.room_view(session, site.sitting_id, site.room_id, now)

    before = run_db(clean_db, lambda db: view_at(db, deadline - timedelta(seconds=1)))
    assert [t.status for t in before.seat_tiles[:3]] == ["checked_in", "expected", "expected"]
    assert [n.seat_no for n in before.not_arrived] == [2, 3] and not before.deadline_passed
    late = before.seat_tiles[1]
    assert late.remaining_s is not None and late.remaining_s < 61 * 60  # R-CLOCK-2: a late start gets less
    at = run_db(clean_db, lambda db: view_at(db, deadline))
    assert [t.status for t in at.seat_tiles[:3]] == ["absent", "absent", "absent"]
    assert at.not_arrived == [] and at.deadline_passed
    assert (at.summary.absent, at.summary.present, at.summary.not_arrived) == (3, 0, 0)
    assert [console_room.invigilators_needed(n) for n in (0, 15, 30, 31, 45, 46)] == [2, 2, 2, 3, 3, 4]  # R-REG-5

    async def mark(db: Database, now: datetime) -> list[int]:
        async with db.session() as session:
            return await console_room.mark_absent(session, site.sitting_id, now)

    assert run_db(clean_db, lambda db: mark(db, deadline - timedelta(seconds=1))) == []
    assert len(run_db(clean_db, lambda db: mark(db, deadline))) == 3
    assert run_db(clean_db, lambda db: mark(db, deadline + timedelta(minutes=1))) == []
    rows = sql(clean_db, "SELECT detail FROM audit_log WHERE action = 'candidate_absent' ORDER BY id")
    details = [json.loads(r["detail"]) if isinstance(r["detail"], str) else r["detail"] for r in rows]
    assert sorted((d["seat"], d["checked_in"]) for d in details) == [(1, True), (2, False), (3, False)]


def test_the_console_after_the_deadline_shows_absent_and_records_it_once(
    browser: Callable[[], httpx.Client], live_server: LiveServer, clean_db: str, test_settings: Settings
) -> None:
    """A console opened after S + 30 min: not-arrived candidates show as absent and are recorded
    once, even when two consoles connect."""
    site = build_site(clean_db, test_settings, candidates=2, check_in=False, starts_in=-timedelta(minutes=31))
    invigilator = staff(browser(), clean_db, test_settings, "zhangmin", ["invigilator"])
    for _round in range(2):
        with open_console(live_server, invigilator, site) as console:
            first = str(console.recv(timeout=10))
            assert 'data-status="absent"' in (tile(first, "seat-1") or "")
            assert 'data-testid="absent-list"' in first and 'data-testid="count-absent">2<' in first
    assert sql(clean_db, "SELECT count(*) AS n FROM audit_log WHERE action = 'candidate_absent'")[0]["n"] == 2
    late = form_post(invigilator, f"{console_url(site)}/checkin", {"ticket_or_id": site.seats[0].ticket})
    assert late.status_code == 409 and 'data-ok="false"' in late.text


# --- who may open it, and which rooms exist ---------------------------------------------------------


def test_only_invigilators_and_chiefs_open_a_room_console(
    browser: Callable[[], httpx.Client], live_server: LiveServer, clean_db: str, test_settings: Settings
) -> None:
    """R-SEC-1: candidates, admins without the invigilator role and strangers are refused."""
    site = build_site(clean_db, test_settings, candidates=1)
    anonymous = browser()
    assert anonymous.get(api_url(site)).status_code == 401
    assert anonymous.get(console_url(site)).status_code in (302, 303)
    with pytest.raises(InvalidStatus):
        open_console(live_server, anonymous, site)
    admin = staff(browser(), clean_db, test_settings, "wangjing", ["admin"])
    assert admin.get(api_url(site)).status_code == 403
    assert admin.get(console_url(site)).status_code == 403
    with pytest.raises(InvalidStatus):
        open_console(live_server, admin, site)
    assert form_post(admin, f"{console_url(site)}/checkin", {"ticket_or_id": site.seats[0].ticket}).status_code == 403
    candidate = browser()
    assert candidate_login(candidate, site.seats[0]).status_code == 200
    assert candidate.get(api_url(site)).status_code == 403
    with pytest.raises(InvalidStatus):
        open_console(live_server, candidate, site)
    chief = staff(browser(), clean_db, test_settings, "lichief", ["chief"])
    assert chief.get(api_url(site)).status_code == 200
    assert chief.get(f"/console/sittings/{site.sitting_id}/rooms").status_code == 200


def test_a_room_that_is_not_the_sittings_is_not_found(
    browser: Callable[[], httpx.Client], live_server: LiveServer, clean_db: str, test_settings: Settings
) -> None:
    site = build_site(clean_db, test_settings, candidates=1)

    async def empty_room(db: Database) -> int:
        async with db.session() as session:
            room = await batch_service.create_room(session, "考点", "空考场", seat_count=10)
        return room.id

    unused = run_db(clean_db, empty_room)
    invigilator = staff(browser(), clean_db, test_settings, "zhangmin", ["invigilator"])
    for room_id in (site.room_id + 999, unused):
        wrong = invigilator.get(api_url(site, room_id))
        assert wrong.status_code == 404 and wrong.json()["code"] == "no_room"
        assert invigilator.get(console_url(site, room_id)).status_code == 404
        with pytest.raises(InvalidStatus):
            connect(
                f"{live_server.ws_url}/ws{console_url(site, room_id)}",
                additional_headers={"Cookie": f"examhall_session={invigilator.cookies['examhall_session']}"},
                open_timeout=5,
            )
    assert invigilator.get(f"/api/v1/console/sittings/{site.sitting_id + 99}/rooms/{site.room_id}").status_code == 404
    listing = invigilator.get(f"/console/sittings/{site.sitting_id}/rooms")
    assert listing.status_code == 200 and console_url(site) in listing.text and "空考场" not in listing.text


# --- across worker processes ------------------------------------------------------------------------

SECRET = "shared-secret-0123456789"


@pytest.fixture
def worker_pair(pg_url: str, tmp_path: Path) -> Iterator[tuple[Worker, Worker, Settings]]:
    """Two server processes on one database and data folder, as `examhall serve --workers 2`."""
    truncate_all(pg_url)
    workers = (Worker(pg_url, tmp_path, SECRET), Worker(pg_url, tmp_path, SECRET))
    try:
        for w in workers:
            w.wait_ready()
        yield workers[0], workers[1], load_settings(env={}, data_dir=tmp_path, secret_key=SECRET)
    finally:
        for w in workers:
            w.stop()


def test_console_and_terminal_on_different_workers(worker_pair: tuple[Worker, Worker, Settings], pg_url: str) -> None:
    """The console's websocket is held by one worker, the terminal saves through the other: the
    tile still follows within a fraction of a second (events cross processes via PostgreSQL)."""
    console_worker, terminal_worker, settings = worker_pair
    site = build_site(pg_url, settings, candidates=2)
    make_user(pg_url, settings, "zhangmin", ["invigilator"])
    with (
        httpx.Client(base_url=console_worker.base, timeout=20) as invigilator,
        httpx.Client(base_url=terminal_worker.base, timeout=20) as terminal,
    ):
        assert login(invigilator, "zhangmin", PASSWORD).status_code == 302
        assert (
            invigilator.get("/healthz").headers["x-examhall-worker"]
            != terminal.get("/healthz").headers["x-examhall-worker"]
        )
        started(terminal, site.seats[1])
        responses = valid_responses(terminal)
        cookie = f"examhall_session={invigilator.cookies['examhall_session']}"
        url = f"ws://127.0.0.1:{console_worker.port}/ws{console_url(site)}"
        latencies: list[float] = []
        with connect(url, additional_headers={"Cookie": cookie}, open_timeout=10) as console:
            assert 'data-status="working"' in (tile(str(console.recv(timeout=10)), "seat-2") or "")
            for seq, position in enumerate(sorted(responses)[:10], start=1):
                saved = api(
                    terminal,
                    "PUT",
                    f"/api/v1/attempt/answers/{position}",
                    {"response": responses[position], "seq": seq, "flagged": False},
                )
                acked = time.monotonic()
                assert saved.status_code == 200, saved.text
                wait_for(console, answered_is(2, seq), timeout=2.0)
                latencies.append(time.monotonic() - acked)
    p50, worst = statistics.median(latencies) * 1000, max(latencies) * 1000
    print(f"\nconsole latency across workers over {len(latencies)} saves: p50 {p50:.0f} ms, max {worst:.0f} ms")
    assert max(latencies) < 1.0, latencies


def test_the_seat_map_shows_the_candidates_photo_to_invigilators_only(
    browser: Callable[[], httpx.Client], live_server: LiveServer, clean_db: str, test_settings: Settings
) -> None:
    """Issue 5 item 1 / R-CLOCK-1: the tile shows the registered photo for the face-to-ID comparison;
    the image is served to invigilators and chiefs only; a candidate without a photo keeps the initial."""
    site = build_site(clean_db, test_settings, candidates=2)
    png = _tiny_png()
    sql(
        clean_db,
        "INSERT INTO candidate_photos (candidate_id, content_type, data, sha256) VALUES ($1, 'image/png', $2, $3)",
        site.seats[0].candidate_id,
        png,
        hashlib.sha256(png).hexdigest(),
    )
    invigilator = staff(browser(), clean_db, test_settings, "zhangmin", ["invigilator"])
    page = invigilator.get(console_url(site)).text
    first, second = tile(page, "seat-1") or "", tile(page, "seat-2") or ""
    photo_url = f"/console/candidates/{site.seats[0].candidate_id}/photo?v={hashlib.sha256(png).hexdigest()[:12]}"
    assert 'data-testid="photo"' in first and photo_url in first
    assert 'data-testid="photo"' not in second and "暂无照片" in second
    served = invigilator.get(photo_url)
    assert served.status_code == 200 and served.headers["content-type"] == "image/png" and served.content == png
    assert invigilator.get(f"/console/candidates/{site.seats[1].candidate_id}/photo").status_code == 404
    admin = staff(browser(), clean_db, test_settings, "wangjing", ["admin"])
    assert admin.get(photo_url).status_code == 403
    assert browser().get(photo_url).status_code in (302, 303, 401)


def _tiny_png() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (120, 160), (180, 190, 200)).save(buffer, format="PNG")
    return buffer.getvalue()
