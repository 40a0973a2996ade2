"""Outages with compensating time and the 50-minute rule (R-CLOCK-6), stopping a sitting
(R-INC-6): through the API with candidates in two rooms, and through the service with an
injected clock where the rule needs 50 minutes to pass."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from websockets.sync.client import connect

from examhall.config import Settings
from examhall.db import Database
from examhall.demo import seed_sitting
from examhall.security.audit import Actor
from examhall.sittings import examday, outages
from examhall.sittings.service import SittingError
from tests.conftest import LiveServer, form_post, login, make_user, run_db, sql
from tests.integration.examday_site import api, candidate_login, sample_document

PASSWORD = "correct-horse-9"
CHIEF = Actor("test-chief")


def two_rooms(url: str, settings: Settings, starts_in: timedelta = -timedelta(minutes=1)) -> tuple[int, list]:
    """Four candidates, two per room, all checked in; papers unsealed."""

    async def work(db: Database) -> tuple[int, list]:
        now = datetime.now(UTC)
        async with db.session() as session:
            seeded = await seed_sitting(
                session,
                settings,
                bank_document=sample_document(),
                label=f"O{now:%H%M%S%f}",
                starts_at=now + starts_in,
                duration_minutes=90,
                candidates=4,
                room_size=2,
                now=now,
            )
        return seeded.sitting_id, seeded.seats

    return run_db(url, work)


def end_time(client: httpx.Client) -> datetime:
    return datetime.fromisoformat(api(client, "GET", "/api/v1/attempt").json()["clock"]["end_time"])


def test_a_room_outage_pauses_that_room_only_and_compensates_each_candidate(
    live_server: LiveServer, clean_db: str, test_settings: Settings
) -> None:
    sitting_id, seats = two_rooms(clean_db, test_settings)
    room_a = seats[0].room_id
    terminals = [httpx.Client(base_url=live_server.url, timeout=20) for _ in seats]
    chief = httpx.Client(base_url=live_server.url, timeout=20)
    try:
        for client, seat in zip(terminals, seats, strict=True):
            assert candidate_login(client, seat).status_code == 200
            assert api(client, "POST", "/api/v1/attempt/start").status_code == 200
        before = [end_time(c) for c in terminals]
        make_user(clean_db, test_settings, "liguohua", ["chief"])
        assert login(chief, "liguohua", PASSWORD).status_code == 302

        cookies = "; ".join(f"{k}={v}" for k, v in terminals[0].cookies.items())
        with connect(f"{live_server.ws_url}/api/v1/attempt/ws", additional_headers={"Cookie": cookies}) as ws:
            assert json.loads(ws.recv(timeout=10))["clock"]["phase"] in ("running", "final_minutes")
            declared = api(
                chief,
                "POST",
                f"/api/v1/sittings/{sitting_id}/outages",
                {"scope": "room", "room_id": room_a, "cause": "power"},
            )
            assert declared.status_code == 200, declared.text
            assert declared.json()["affected"] == 2
            # The terminal in room A is told at once: its clock is stopped.
            deadline = time.monotonic() + 5
            phase = ""
            while phase != "paused" and time.monotonic() < deadline:
                phase = json.loads(ws.recv(timeout=5)).get("clock", {}).get("phase", "")
            assert phase == "paused"
        # Saves during the pause are refused (kept on the terminal), in room A only.
        assert (
            api(terminals[0], "PUT", "/api/v1/attempt/answers/1", {"response": "T", "seq": 1}).json()["code"]
            == "paused"
        )
        assert api(terminals[2], "PUT", "/api/v1/attempt/answers/1", {"response": "T", "seq": 1}).status_code == 200
        # Declaring it again (a second click) returns the same outage.
        again = api(
            chief,
            "POST",
            f"/api/v1/sittings/{sitting_id}/outages",
            {"scope": "room", "room_id": room_a, "cause": "power"},
        )
        assert again.json()["id"] == declared.json()["id"]
        time.sleep(2)
        ended = api(chief, "POST", f"/api/v1/outages/{declared.json()['id']}/end")
        assert ended.status_code == 200 and ended.json()["outcome"] == "resumed"
        assert api(chief, "POST", f"/api/v1/outages/{declared.json()['id']}/end").json()["outcome"] == "resumed"
        after = [end_time(c) for c in terminals]
        lost = ended.json()["elapsed_s"]
        for index in (0, 1):  # room A: E moved by exactly the outage's length
            assert abs((after[index] - before[index]).total_seconds() - lost) < 0.001
        for index in (2, 3):  # room B: untouched
            assert after[index] == before[index]
        assert api(terminals[0], "PUT", "/api/v1/attempt/answers/1", {"response": "T", "seq": 2}).status_code == 200
        # Stopping before the limit is refused; only a chief may declare.
        assert api(chief, "POST", f"/api/v1/outages/{declared.json()['id']}/stop").json()["code"] == "outage_over"
        assert (
            api(
                terminals[0], "POST", f"/api/v1/sittings/{sitting_id}/outages", {"scope": "sitting", "cause": "power"}
            ).status_code
            == 403
        )
        listed = api(chief, "GET", f"/api/v1/sittings/{sitting_id}/outages").json()["outages"]
        assert [o["outcome"] for o in listed] == ["resumed"]
        actions = [
            r["action"] for r in sql(clean_db, "SELECT action FROM audit_log WHERE action LIKE 'outage%' ORDER BY id")
        ]
        assert actions == ["outage_declared", "outage_ended"]
    finally:
        for c in [*terminals, chief]:
            c.close()


def test_the_50_minute_rule_stops_the_part_and_reschedules_its_candidates(
    clean_db: str, test_settings: Settings
) -> None:
    """R-CLOCK-6 with an injected clock: the limit is reached exactly at 50:00; the stopped part's
    attempts are kept, closed as rescheduled and never scored."""
    sitting_id, seats = two_rooms(clean_db, test_settings)
    t0 = datetime.now(UTC)

    async def work(db: Database) -> None:
        async with db.session() as session:
            for seat in seats:
                attempt = await examday.open_attempt_of(session, seat.candidate_id, t0)
                assert attempt is not None
                await examday.start_attempt(session, test_settings, attempt, t0)
            outage = await outages.declare_outage(
                session, sitting_id, scope="sitting", cause="network", actor=CHIEF, now=t0 + timedelta(seconds=1)
            )
            with pytest.raises(SittingError) as early:
                await outages.stop_affected_part(session, outage.id, CHIEF, t0 + timedelta(minutes=50, seconds=0.999))
            assert early.value.code == "limit_not_reached"
            views = await outages.outages_of(session, sitting_id, t0 + timedelta(minutes=50, seconds=1))
            assert views[0].limit_reached and views[0].elapsed == timedelta(minutes=50)
            stopped = await outages.stop_affected_part(session, outage.id, CHIEF, t0 + timedelta(minutes=50, seconds=1))
            assert stopped.outcome == "stopped"
            again = await outages.stop_affected_part(session, outage.id, CHIEF, t0 + timedelta(minutes=51))
            assert again.id == stopped.id

    run_db(clean_db, work)
    rows = sql(clean_db, "SELECT state, outcome, score, receipt_code FROM attempts ORDER BY id")
    assert rows == [{"state": "closed", "outcome": "rescheduled", "score": None, "receipt_code": None}] * 4


def test_stopping_a_sitting_reschedules_everyone_and_refuses_more_actions(
    live_server: LiveServer, clean_db: str, test_settings: Settings
) -> None:
    """R-INC-6: a major incident stops the sitting."""
    sitting_id, seats = two_rooms(clean_db, test_settings)
    with (
        httpx.Client(base_url=live_server.url, timeout=20) as chief,
        httpx.Client(base_url=live_server.url, timeout=20) as terminal,
    ):
        make_user(clean_db, test_settings, "liguohua", ["chief"])
        assert login(chief, "liguohua", PASSWORD).status_code == 302
        assert candidate_login(terminal, seats[0]).status_code == 200
        assert api(chief, "POST", f"/api/v1/sittings/{sitting_id}/stop", {"reason": " "}).json()["code"] == "bad_text"
        stopped = api(chief, "POST", f"/api/v1/sittings/{sitting_id}/stop", {"reason": "考点火警，全体疏散"})
        assert stopped.status_code == 200 and stopped.json()["rescheduled"] == 4
        assert (
            api(chief, "POST", f"/api/v1/sittings/{sitting_id}/stop", {"reason": "again"}).json()["code"]
            == "sitting_over"
        )
        assert (
            api(chief, "POST", f"/api/v1/sittings/{sitting_id}/outages", {"scope": "sitting", "cause": "power"}).json()[
                "code"
            ]
            == "sitting_over"
        )
        state = api(terminal, "GET", "/api/v1/attempt").json()
        assert state["state"] == "closed" and state["clock"]["phase"] == "rescheduled"
    assert sql(clean_db, "SELECT status FROM sittings WHERE id = $1", sitting_id)[0]["status"] == "stopped"


def test_a_defective_paper_is_replaced_and_the_time_it_took_is_added(
    live_server: LiveServer, clean_db: str, test_settings: Settings
) -> None:
    """R-CLOCK-9: seat outage with cause "paper", a fresh paper, then resume: E moves by the pause."""
    sitting_id, seats = two_rooms(clean_db, test_settings)
    with (
        httpx.Client(base_url=live_server.url, timeout=20) as terminal,
        httpx.Client(base_url=live_server.url, timeout=20) as chief,
    ):
        assert candidate_login(terminal, seats[0]).status_code == 200
        started = api(terminal, "POST", "/api/v1/attempt/start").json()
        attempt_id, old_paper = started["attempt_id"], started["paper_id"]
        for seq in (1, 2):
            assert (
                api(terminal, "PUT", f"/api/v1/attempt/answers/{seq}", {"response": "T", "seq": seq}).status_code == 200
            )
        make_user(clean_db, test_settings, "liguohua", ["chief"])
        assert login(chief, "liguohua", PASSWORD).status_code == 302
        assert api(terminal, "POST", f"/api/v1/attempts/{attempt_id}/replace-paper").status_code == 403
        outage = api(
            chief,
            "POST",
            f"/api/v1/sittings/{sitting_id}/outages",
            {"scope": "seat", "attempt_id": attempt_id, "cause": "paper", "note": "第5题缺图"},
        ).json()
        replaced = api(chief, "POST", f"/api/v1/attempts/{attempt_id}/replace-paper")
        assert replaced.status_code == 200, replaced.text
        assert replaced.json()["paper_id"] != old_paper and replaced.json()["item_count"] == 90
        time.sleep(1)
        ended = api(chief, "POST", f"/api/v1/outages/{outage['id']}/end").json()
        state = api(terminal, "GET", "/api/v1/attempt").json()
        assert state["paper_id"] == replaced.json()["paper_id"]
        gained = datetime.fromisoformat(state["clock"]["end_time"]) - datetime.fromisoformat(
            started["clock"]["end_time"]
        )
        assert abs(gained.total_seconds() - ended["elapsed_s"]) < 0.001 and gained.total_seconds() >= 1
        paper = api(terminal, "GET", "/api/v1/attempt/paper").json()
        assert paper["answers"] == {} and len(paper["items"]) == 90
        assert api(terminal, "PUT", "/api/v1/attempt/answers/1", {"response": "T", "seq": 3}).status_code == 200
    set_aside = sql(clean_db, "SELECT position, reason FROM rejected_answers ORDER BY position")
    assert set_aside == [{"position": 1, "reason": "paper_replaced"}, {"position": 2, "reason": "paper_replaced"}]
    assert [r["action"] for r in sql(clean_db, "SELECT action FROM audit_log WHERE action = 'paper_replaced'")] == [
        "paper_replaced"
    ]


def test_the_chief_console_replaces_a_paper_and_ends_the_seat_outage_in_one_action(
    live_server: LiveServer, clean_db: str, test_settings: Settings
) -> None:
    """R-CLOCK-9 from the chief's page: the seat's "paper" outage declared when the candidate reported
    the fault ends with the replacement, so the time in between is added; a seat of another sitting
    or a made-up id is refused."""
    sitting_id, seats = two_rooms(clean_db, test_settings)
    with (
        httpx.Client(base_url=live_server.url, timeout=20) as terminal,
        httpx.Client(base_url=live_server.url, timeout=20) as chief,
    ):
        assert candidate_login(terminal, seats[0]).status_code == 200
        started = api(terminal, "POST", "/api/v1/attempt/start").json()
        attempt_id, old_paper = started["attempt_id"], started["paper_id"]
        make_user(clean_db, test_settings, "liguohua", ["chief"])
        assert login(chief, "liguohua", PASSWORD).status_code == 302
        page = chief.get(f"/console/sittings/{sitting_id}/chief")
        assert f'<option value="{attempt_id}">' in page.text and "chief/replace-paper" in page.text
        declared = form_post(
            chief,
            f"/console/sittings/{sitting_id}/chief/outages",
            {"scope": "seat", "seat": str(attempt_id), "cause": "paper", "note": "第5题缺图"},
        )
        assert declared.status_code == 200
        assert api(terminal, "GET", "/api/v1/attempt").json()["state"] == "paused"
        time.sleep(1)
        wrong = form_post(chief, f"/console/sittings/{sitting_id}/chief/replace-paper", {"seat": "999999"})
        assert 'role="alert"' in wrong.text
        replaced = form_post(chief, f"/console/sittings/{sitting_id}/chief/replace-paper", {"seat": str(attempt_id)})
        assert replaced.status_code == 200 and 'role="status"' in replaced.text, replaced.text
        state = api(terminal, "GET", "/api/v1/attempt").json()
        assert state["state"] == "running" and state["paper_id"] != old_paper
        gained = datetime.fromisoformat(state["clock"]["end_time"]) - datetime.fromisoformat(
            started["clock"]["end_time"]
        )
        assert gained.total_seconds() >= 1
    outage = sql(clean_db, "SELECT cause, outcome, ended_at IS NOT NULL AS ended FROM outages")
    assert outage == [{"cause": "paper", "outcome": "resumed", "ended": True}]


def test_a_whole_room_gets_new_papers_and_its_paper_outage_ends(
    live_server: LiveServer, clean_db: str, test_settings: Settings
) -> None:
    """R-CLOCK-9 for a room: a mis-packed form replaced for every started candidate of room A; room B
    keeps its papers; the room outage with cause "paper" ends with it."""
    sitting_id, seats = two_rooms(clean_db, test_settings)
    room_a = seats[0].room_id
    in_a = [s for s in seats if s.room_id == room_a][:2]
    in_b = next(s for s in seats if s.room_id != room_a)
    clients = [httpx.Client(base_url=live_server.url, timeout=20) for _ in range(4)]
    try:
        papers = {}
        for client, seat in zip(clients, [*in_a, in_b], strict=False):
            assert candidate_login(client, seat).status_code == 200
            papers[seat.ticket] = api(client, "POST", "/api/v1/attempt/start").json()["paper_id"]
        chief = clients[3]
        make_user(clean_db, test_settings, "liguohua", ["chief"])
        assert login(chief, "liguohua", PASSWORD).status_code == 302
        form_post(
            chief,
            f"/console/sittings/{sitting_id}/chief/outages",
            {"scope": "room", "room_id": str(room_a), "cause": "paper", "note": "错装"},
        )
        done = form_post(chief, f"/console/sittings/{sitting_id}/chief/replace-paper", {"room_id": str(room_a)})
        assert 'role="status"' in done.text and "2" in done.text, done.text
        for client, seat in zip(clients, [*in_a, in_b], strict=False):
            state = api(client, "GET", "/api/v1/attempt").json()
            assert state["state"] == "running"
            assert (state["paper_id"] != papers[seat.ticket]) == (seat.room_id == room_a)
    finally:
        for client in clients:
            client.close()
    assert sql(clean_db, "SELECT outcome FROM outages") == [{"outcome": "resumed"}]
