"""Exam day through the real HTTP API and websocket of a live server on PostgreSQL: seat-bound
login (R-SEC-2), check-in (R-CLOCK-1), start and lateness (R-CLOCK-2), the candidate's own paper
without keys (R-PAPER-5, R-SEC-1), saves and their refusals (R-SEC-5), resume after a reload or a
move to a spare terminal (R-CLOCK-7), hand-in (R-CLOCK-3), automatic hand-in at E (R-CLOCK-5),
scoring (R-SCORE-1), the score kept from the candidate (R-SCORE-4), receipts (R-SCORE-7) and
errata (R-INC-4).

Keys are never obtainable through the API; where a test needs them it decrypts the candidate's
paper on the server side, straight from the database (``server_paper``)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from examhall.bank import rules as bank_rules
from examhall.config import Settings
from examhall.db import Database
from examhall.papers.models import Paper, PaperSet
from examhall.papers.service import open_paper
from examhall.sittings.models import Attempt
from tests.conftest import LiveServer, login, make_user, run_db, sql
from tests.integration.examday_site import ExamSite, Seat, api, at_terminal, build_site, candidate_login

PASSWORD = "correct-horse-9"
RECEIPT_FORMAT = re.compile(r"^[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}$")
CANDIDATE_ITEM_FIELDS = {"position", "section", "type", "stem", "options", "points"}


@pytest.fixture
def browser(live_server: LiveServer, clean_db: str) -> Iterator[Callable[[], httpx.Client]]:
    """Opens a separate browser (its own cookie jar) per call: terminals, staff laptops."""
    made: list[httpx.Client] = []

    def open_one() -> httpx.Client:
        made.append(httpx.Client(base_url=live_server.url, timeout=20))
        return made[-1]

    yield open_one
    for c in made:
        c.close()


@dataclass(frozen=True)
class ServerItem:
    position: int
    type: str
    stem: str
    letters: str
    key: str
    points: float


def server_paper(url: str, settings: Settings, candidate_id: int) -> list[ServerItem]:
    """The candidate's paper as the server holds it, keys included, decrypted from the database
    (not from the server's in-memory cache)."""

    async def work(db: Database) -> list[ServerItem]:
        async with db.session() as session:
            paper_id = await session.scalar(select(Attempt.paper_id).where(Attempt.candidate_id == candidate_id))
            paper = await session.get(Paper, paper_id)
            assert paper is not None
            paper_set = await session.get(PaperSet, paper.paper_set_id)
            assert paper_set is not None
            view = await open_paper(session, settings, paper_set, paper)
            return sorted(
                (
                    ServerItem(
                        e["number"],
                        e["type"],
                        e["stem"],
                        "".join(letter for letter, _ in e["options"]),
                        e["key"],
                        float(e["points"]),
                    )
                    for section in view.sections
                    for e in section["items"]
                ),
                key=lambda it: it.position,
            )

    return run_db(url, work)


def wrong_answer(item: ServerItem) -> str:
    if item.type == bank_rules.JUDGE:
        return "F" if item.key == "T" else "T"
    if item.type == bank_rules.MULTIPLE:
        return item.key[:-1]  # one correct letter missing: nothing under all-or-nothing scoring
    return next(letter for letter in item.letters if letter not in item.key)


def started(client: httpx.Client, seat: Seat) -> dict[str, Any]:
    assert candidate_login(client, seat).status_code == 200
    response = api(client, "POST", "/api/v1/attempt/start")
    assert response.status_code == 200, response.text
    return dict(response.json())


def staff(client: httpx.Client, url: str, settings: Settings, name: str, role: str) -> httpx.Client:
    make_user(url, settings, name, [role])
    assert login(client, name, PASSWORD).status_code == 302
    return client


def save(client: httpx.Client, position: int, response: str, seq: int, flagged: bool = False) -> httpx.Response:
    return api(
        client, "PUT", f"/api/v1/attempt/answers/{position}", {"response": response, "seq": seq, "flagged": flagged}
    )


def count(url: str, query: str, *args: Any) -> int:
    return int(sql(url, query, *args)[0]["n"])


def answers_in_db(url: str) -> dict[int, str]:
    return {r["position"]: r["response"] for r in sql(url, "SELECT position, response FROM answers")}


def ws_open(live_server: LiveServer, client: httpx.Client, **headers: str) -> ClientConnection:
    cookies = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    return connect(f"{live_server.ws_url}/api/v1/attempt/ws", additional_headers={"Cookie": cookies, **headers})


def ws_reply(ws: ClientConnection, kinds: tuple[str, ...] = ("ack", "refused")) -> dict[str, Any]:
    """The next message of one of ``kinds`` (state ticks in between are skipped)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        message: dict[str, Any] = json.loads(ws.recv(timeout=10))
        if message["t"] in kinds:
            return message
    raise AssertionError(f"no {kinds} message within 10 s")


def when(text: str) -> datetime:
    return datetime.fromisoformat(text)


def room_name(url: str, site: ExamSite) -> str:
    return str(sql(url, "SELECT name FROM rooms WHERE id = $1", site.room_id)[0]["name"])


# --- login at the enrolled seat (R-SEC-2) ---------------------------------------------------------


def test_login_only_with_ticket_and_id_at_the_own_enrolled_seat(
    browser: Callable[[], httpx.Client], clean_db: str, test_settings: Settings
) -> None:
    """R-SEC-2: ticket + ID number, only at the candidate's own seat terminal; a refusal names
    the right seat, opens no session, and is audited with its reason (R-SEC-3)."""
    site = build_site(clean_db, test_settings, candidates=2)
    first, second = site.seats
    own = browser()
    at_terminal(own, first.terminal_cookie)
    wrong_id = api(
        own, "POST", "/api/v1/candidate/login", {"ticket_number": first.ticket, "id_number": second.id_number}
    )
    assert wrong_id.status_code == 403 and wrong_id.json()["code"] == "bad_ticket"
    unknown = api(own, "POST", "/api/v1/candidate/login", {"ticket_number": "NOSUCH0001", "id_number": first.id_number})
    assert unknown.status_code == 403 and unknown.json()["code"] == "bad_ticket"
    nowhere = api(
        browser(), "POST", "/api/v1/candidate/login", {"ticket_number": first.ticket, "id_number": first.id_number}
    )
    assert nowhere.status_code == 403 and nowhere.json()["code"] == "not_a_terminal"
    elsewhere = browser()
    wrong_seat = candidate_login(elsewhere, first, cookie=second.terminal_cookie)
    assert wrong_seat.status_code == 403 and wrong_seat.json()["code"] == "wrong_seat"
    assert f"{room_name(clean_db, site)} {first.seat_no}" in wrong_seat.json()["message"]
    assert "examhall_session" not in own.cookies and "examhall_session" not in elsewhere.cookies
    assert count(clean_db, "SELECT count(*) AS n FROM web_sessions") == 0

    ok = candidate_login(own, first)
    assert ok.status_code == 200 and ok.json()["candidate"]["name"] == first.name
    assert own.cookies.get("examhall_session")
    assert sql(clean_db, "SELECT candidate_id, user_id FROM web_sessions") == [
        {"candidate_id": first.candidate_id, "user_id": None}
    ]
    assert api(own, "GET", "/api/v1/attempt").json()["seat_no"] == first.seat_no
    audited = sql(
        clean_db,
        "SELECT action, object_id, detail FROM audit_log WHERE action LIKE 'candidate_login%' ORDER BY id",
    )
    assert [(r["action"], json.loads(r["detail"]).get("reason")) for r in audited] == [
        ("candidate_login_failed", "id_mismatch"),
        ("candidate_login_failed", "unknown_ticket"),
        ("candidate_login_failed", "not_a_terminal"),
        ("candidate_login_failed", "wrong_seat"),
        ("candidate_login", None),
    ]
    assert audited[-1]["object_id"] == str(first.candidate_id)


# --- check-in (R-CLOCK-1) ---------------------------------------------------------------------------


def test_invigilators_check_in_by_ticket_or_id_number(
    browser: Callable[[], httpx.Client], clean_db: str, test_settings: Settings
) -> None:
    """R-CLOCK-1: no login before check-in; an invigilator checks in by ticket number (as its QR
    code carries it) or ID number, twice is harmless; a candidate cannot check anybody in."""
    site = build_site(clean_db, test_settings, candidates=2, check_in=False)
    first, second = site.seats
    checkin = f"/api/v1/sittings/{site.sitting_id}/checkin"
    terminal = browser()
    refused = candidate_login(terminal, first)
    assert refused.status_code == 403 and refused.json()["code"] == "not_checked_in"
    assert api(browser(), "POST", checkin, {"ticket_or_id": first.ticket}).status_code == 401

    invigilator = staff(browser(), clean_db, test_settings, "zhangmin", "invigilator")
    by_ticket = api(invigilator, "POST", checkin, {"ticket_or_id": f" {first.ticket.lower()} "})
    assert by_ticket.status_code == 200, by_ticket.text
    assert by_ticket.json()["seat_no"] == first.seat_no and by_ticket.json()["state"] == "checked_in"
    again = api(invigilator, "POST", checkin, {"ticket_or_id": first.ticket})
    assert again.status_code == 200 and again.json()["attempt_id"] == by_ticket.json()["attempt_id"]
    assert count(clean_db, "SELECT count(*) AS n FROM attempts") == 1

    assert candidate_login(terminal, first).status_code == 200
    self_service = api(terminal, "POST", checkin, {"ticket_or_id": second.ticket})
    assert self_service.status_code == 403
    assert count(clean_db, "SELECT count(*) AS n FROM attempts") == 1

    by_id = api(invigilator, "POST", checkin, {"ticket_or_id": second.id_number})
    assert by_id.status_code == 200 and by_id.json()["seat_no"] == second.seat_no
    unknown = api(invigilator, "POST", checkin, {"ticket_or_id": "NOSUCH"})
    assert unknown.status_code == 404 and unknown.json()["code"] == "no_candidate"
    rows = sql(clean_db, "SELECT candidate_id, checked_in_by, state FROM attempts ORDER BY candidate_id")
    assert rows == [
        {"candidate_id": first.candidate_id, "checked_in_by": "Zhangmin", "state": "checked_in"},
        {"candidate_id": second.candidate_id, "checked_in_by": "Zhangmin", "state": "checked_in"},
    ]
    assert count(clean_db, "SELECT count(*) AS n FROM attempt_events WHERE kind = 'checked_in'") == 2
    assert count(clean_db, "SELECT count(*) AS n FROM audit_log WHERE action = 'candidate_checked_in'") == 2


@pytest.mark.parametrize(
    ("starts_in", "code"), [(timedelta(minutes=25), "checkin_not_open"), (-timedelta(minutes=31), "barred")]
)
def test_check_in_opens_at_s_minus_20_and_closes_at_s_plus_30(
    browser: Callable[[], httpx.Client], clean_db: str, test_settings: Settings, starts_in: timedelta, code: str
) -> None:
    """R-CLOCK-1/2: check-in is refused before S − 20 min (too_early) and from S + 30 min (barred)."""
    site = build_site(clean_db, test_settings, candidates=1, check_in=False, starts_in=starts_in)
    invigilator = staff(browser(), clean_db, test_settings, "chenggang", "invigilator")
    refused = api(
        invigilator, "POST", f"/api/v1/sittings/{site.sitting_id}/checkin", {"ticket_or_id": site.seats[0].ticket}
    )
    assert refused.status_code == 409 and refused.json()["code"] == code
    assert count(clean_db, "SELECT count(*) AS n FROM attempts") == 0
    assert candidate_login(browser(), site.seats[0]).json()["code"] == "not_checked_in"


# --- start, lateness, the paper ---------------------------------------------------------------------


def test_the_paper_opens_from_s_and_not_before(
    browser: Callable[[], httpx.Client], clean_db: str, test_settings: Settings
) -> None:
    """R-CLOCK-1/2: a checked-in candidate waits at the seat; start before S is refused (not_yet),
    and so are the paper and any save."""
    site = build_site(clean_db, test_settings, candidates=1, starts_in=timedelta(minutes=10))
    terminal = browser()
    assert candidate_login(terminal, site.seats[0]).status_code == 200
    state = api(terminal, "GET", "/api/v1/attempt").json()
    clock = state["clock"]
    assert clock["phase"] == "waiting" and clock["may_start"] is False and clock["end_time"] is None
    assert clock["remaining_s"] == 90 * 60 and state["started_at"] is None
    refused = api(terminal, "POST", "/api/v1/attempt/start")
    assert refused.status_code == 409 and refused.json()["code"] == "not_yet"
    paper = api(terminal, "GET", "/api/v1/attempt/paper")
    assert paper.status_code == 409 and paper.json()["code"] == "not_started"
    early_save = save(terminal, 1, "T", 1)
    assert early_save.status_code == 409 and early_save.json()["code"] == "not_started"
    assert sql(clean_db, "SELECT started_at, state FROM attempts") == [{"started_at": None, "state": "checked_in"}]
    assert answers_in_db(clean_db) == {}
    assert sql(clean_db, "SELECT position, reason FROM rejected_answers") == [{"position": 1, "reason": "not_started"}]


def test_sealed_papers_cannot_be_opened(
    browser: Callable[[], httpx.Client], clean_db: str, test_settings: Settings
) -> None:
    """R-PAPER-5: until the chief unseals, the start is refused with 423 and nothing is recorded."""
    site = build_site(clean_db, test_settings, candidates=1, unseal=False)
    terminal = browser()
    assert candidate_login(terminal, site.seats[0]).status_code == 200
    assert api(terminal, "GET", "/api/v1/attempt").json()["clock"]["may_start"] is True
    refused = api(terminal, "POST", "/api/v1/attempt/start")
    assert refused.status_code == 423 and refused.json()["code"] == "sealed"
    assert sql(clean_db, "SELECT started_at FROM attempts")[0]["started_at"] is None
    assert count(clean_db, "SELECT count(*) AS n FROM attempt_events WHERE kind = 'started'") == 0


def test_a_late_start_keeps_the_end_time_at_s_plus_d(
    browser: Callable[[], httpx.Client], clean_db: str, test_settings: Settings
) -> None:
    """R-CLOCK-2: a candidate starting 12 minutes late ends at S + D, not at start + D."""
    site = build_site(clean_db, test_settings, candidates=1, starts_in=-timedelta(minutes=12))
    terminal = browser()
    body = started(terminal, site.seats[0])
    clock = body["clock"]
    scheduled_end = site.starts_at + timedelta(minutes=site.duration_minutes)
    assert abs((when(clock["end_time"]) - scheduled_end).total_seconds()) < 0.001
    assert clock["late_by_s"] >= 12 * 60 and clock["compensation_s"] == 0
    assert clock["phase"] == "running" and clock["may_submit"] is False
    assert clock["remaining_s"] < (90 - 12) * 60
    expected = when(clock["end_time"]) - when(clock["server_now"])
    assert abs(clock["remaining_s"] - expected.total_seconds()) < 0.01
    row = sql(clean_db, "SELECT started_at, ends_at, state FROM attempts")[0]
    assert row["state"] == "running" and abs((row["ends_at"] - scheduled_end).total_seconds()) < 0.001
    # Opening again changes nothing.
    again = api(terminal, "POST", "/api/v1/attempt/start").json()
    assert again["started_at"] == body["started_at"] and again["clock"]["end_time"] == clock["end_time"]


def test_the_paper_has_no_keys_and_every_candidate_sees_only_their_own(
    browser: Callable[[], httpx.Client], clean_db: str, test_settings: Settings
) -> None:
    """R-PAPER-5: keys never reach a terminal; R-SEC-1: a candidate reaches only their own attempt
    — and a session cannot be used at somebody else's seat."""
    site = build_site(clean_db, test_settings, candidates=2)
    first, second = site.seats
    pc1, pc2 = browser(), browser()
    opened1, opened2 = started(pc1, first), started(pc2, second)
    attempt1, attempt2 = opened1["attempt_id"], opened2["attempt_id"]
    assert attempt1 != attempt2
    papers = {}
    for pc, seat, opened in ((pc1, first, opened1), (pc2, second, opened2)):
        response = api(pc, "GET", "/api/v1/attempt/paper")
        assert response.status_code == 200, response.text
        # The answer to "open" carries the same paper (one request less in the start storm).
        assert opened["paper"] == response.json()
        for forbidden in ('"key"', "explanation", "scoring", "revision_id", "correct"):
            assert forbidden not in json.dumps(opened, ensure_ascii=False)
        for forbidden in ('"key"', "explanation", "scoring", "revision_id", "correct"):
            assert forbidden not in response.text
        paper = response.json()
        assert all(set(item) == CANDIDATE_ITEM_FIELDS for item in paper["items"])
        assert all(set(o) == {"letter", "text"} for item in paper["items"] for o in item["options"])
        own = server_paper(clean_db, test_settings, seat.candidate_id)
        assert [(i["position"], i["type"], i["stem"]) for i in paper["items"]] == [
            (it.position, it.type, it.stem) for it in own
        ]
        assert [sum(float(i["points"]) for i in paper["items"])] == [100.0] and len(paper["items"]) == 90
        papers[seat.seat_no] = paper
    paper_ids = sql(clean_db, "SELECT paper_id FROM attempts ORDER BY id")
    assert paper_ids[0]["paper_id"] != paper_ids[1]["paper_id"]

    assert save(pc1, 1, "T", 1).status_code == 200
    assert api(pc2, "GET", "/api/v1/attempt/paper").json()["answers"] == {}
    assert api(pc1, "GET", "/api/v1/attempt/paper").json()["answers"] == {
        "1": {"response": "T", "flagged": False, "seq": 1}
    }
    # Opening again (a reload before the paper arrived) brings the paper with what was saved.
    again = api(pc1, "POST", "/api/v1/attempt/start").json()
    assert again["paper"]["answers"] == {"1": {"response": "T", "flagged": False, "seq": 1}}
    assert again["paper"]["last_seq"] == 1 and again["paper"]["items"] == papers[first.seat_no]["items"]
    # Candidate 1's session cookie carried to candidate 2's PC is refused there.
    thief = browser()
    at_terminal(thief, second.terminal_cookie)
    thief.cookies.set("examhall_session", pc1.cookies["examhall_session"])
    for method, path in (("GET", "/api/v1/attempt"), ("GET", "/api/v1/attempt/paper")):
        refused = api(thief, method, path)
        assert refused.status_code == 403 and refused.json()["code"] == "wrong_seat", (path, refused.text)
    assert save(thief, 2, "T", 2).json()["code"] == "wrong_seat"
    assert answers_in_db(clean_db) == {1: "T"}


# --- saves (R-SEC-5) --------------------------------------------------------------------------------


def test_http_saves_are_acknowledged_after_commit_and_refusals_change_nothing(
    browser: Callable[[], httpx.Client], clean_db: str, test_settings: Settings
) -> None:
    """R-SEC-5: a save answers 200 only with an ack of what was committed; replays, stale and
    malformed answers are refused with a stable code, logged in rejected_answers, and change
    no stored answer."""
    site = build_site(clean_db, test_settings, candidates=1)
    terminal = browser()
    started(terminal, site.seats[0])
    items = server_paper(clean_db, test_settings, site.seats[0].candidate_id)
    single = next(it for it in items if it.type == bank_rules.SINGLE)
    judge = next(it for it in items if it.type == bank_rules.JUDGE)
    multiple = next(it for it in items if it.type == bank_rules.MULTIPLE)
    beyond = bank_rules.OPTION_LETTERS[len(single.letters)]  # first letter the item does not have

    ok = save(terminal, multiple.position, "c, a", 5, flagged=True)
    assert ok.status_code == 200, ok.text
    ack = ok.json()
    assert ack["t"] == "ack" and ack["ok"] is True
    assert (ack["position"], ack["seq"], ack["response"], ack["flagged"]) == (multiple.position, 5, "AC", True)
    stored = sql(clean_db, "SELECT position, response, flagged, seq, saved_at FROM answers")
    assert len(stored) == 1
    assert {k: stored[0][k] for k in ("position", "response", "flagged", "seq")} == {
        "position": multiple.position,
        "response": "AC",
        "flagged": True,
        "seq": 5,
    }
    assert stored[0]["saved_at"] == when(ack["saved_at"])

    bad = [
        (multiple.position, "B", 5, 409, "stale"),  # the same seq again: a replay
        (multiple.position, "B", 4, 409, "stale"),  # an older save arriving late
        (len(items) + 1, "A", 9, 409, "no_such_question"),
        (0, "A", 9, 409, "no_such_question"),
        (single.position, "AB", 10, 422, "one_option_only"),
        (single.position, beyond, 11, 422, "not_an_option"),
        (judge.position, "A", 12, 422, "judge_true_false"),
        (multiple.position, "AA", 13, 422, "repeated_option"),
        (single.position, "A" * 40, 14, 422, "too_long"),
        (single.position, "A", 0, 409, "bad_seq"),
    ]
    for position, response, seq, status, code in bad:
        refused = save(terminal, position, response, seq)
        assert (refused.status_code, refused.json().get("code")) == (status, code), (position, response, refused.text)
        assert refused.json()["t"] == "refused" and refused.json()["ok"] is False and refused.json()["message"]
    after = sql(clean_db, "SELECT position, response, flagged, seq, saved_at FROM answers")
    assert after == stored
    rejected = sql(clean_db, "SELECT position, response, seq, reason FROM rejected_answers ORDER BY id")
    assert [(r["position"], r["reason"]) for r in rejected] == [(p, c) for p, _r, _s, _st, c in bad]
    assert [r["seq"] for r in rejected[:3]] == [5, 4, 9]
    assert rejected[6]["response"] == "A"
    # A body without seq is refused by validation, naming the field; nothing stored.
    missing = api(terminal, "PUT", f"/api/v1/attempt/answers/{single.position}", {"response": "A"})
    assert missing.status_code == 400 and "seq" in missing.text
    # A newer seq overwrites, and an empty response clears the answer.
    assert save(terminal, multiple.position, "b", 6).json()["response"] == "B"
    assert save(terminal, multiple.position, "", 7).json()["response"] == ""
    # True/false takes the bank's spellings (X and × are "false"), stored canonical.
    assert save(terminal, judge.position, "×", 8).json()["response"] == "F"
    assert save(terminal, judge.position, "对", 9).json()["response"] == "T"
    assert answers_in_db(clean_db) == {multiple.position: "", judge.position: "T"}


def test_websocket_saves_are_acknowledged_and_the_clock_is_the_servers(
    browser: Callable[[], httpx.Client], clean_db: str, test_settings: Settings, live_server: LiveServer
) -> None:
    """The terminal's live channel: a state message with the server's clock on connect and on
    "sync"; saves acknowledged after commit or refused and logged (R-CLOCK-5, R-SEC-5)."""
    site = build_site(clean_db, test_settings, candidates=1)
    terminal = browser()
    body = started(terminal, site.seats[0])
    with ws_open(live_server, terminal) as ws:
        first = json.loads(ws.recv(timeout=10))
        assert first["t"] == "state" and first["attempt_id"] == body["attempt_id"]
        clock = first["clock"]
        assert clock["end_time"] == body["clock"]["end_time"] and clock["phase"] == "running"
        server_now = when(clock["server_now"])
        expected = when(clock["end_time"]) - server_now
        assert abs(clock["remaining_s"] - expected.total_seconds()) < 0.01
        ws.send(json.dumps({"t": "save", "position": 1, "response": "对", "seq": 1}))
        ack = ws_reply(ws)
        assert ack["t"] == "ack" and (ack["position"], ack["seq"], ack["response"]) == (1, 1, "T")
        assert answers_in_db(clean_db) == {1: "T"}  # committed before the ack
        ws.send(json.dumps({"t": "save", "position": 1, "response": "F", "seq": 1}))
        stale = ws_reply(ws)
        assert stale["t"] == "refused" and stale["code"] == "stale"
        ws.send(json.dumps({"t": "save", "position": 1, "response": "maybe", "seq": 2}))
        assert ws_reply(ws)["code"] == "judge_true_false"
        ws.send(json.dumps({"t": "save", "position": 99, "response": "T", "seq": 3}))
        assert ws_reply(ws)["code"] == "no_such_question"
        ws.send(json.dumps({"t": "save", "position": "1", "response": "F", "seq": 4}))
        assert ws_reply(ws)["code"] == "no_such_question"  # malformed position, logged too
        ws.send(json.dumps({"t": "sync"}))
        synced = ws_reply(ws, ("state",))
        assert when(synced["clock"]["server_now"]) > server_now
        assert synced["clock"]["end_time"] == clock["end_time"]
        ws.send(json.dumps({"t": "ping"}))
        assert when(ws_reply(ws, ("pong",))["server_now"]) >= when(synced["clock"]["server_now"])
    assert answers_in_db(clean_db) == {1: "T"}
    reasons = [r["reason"] for r in sql(clean_db, "SELECT reason FROM rejected_answers ORDER BY id")]
    assert reasons == ["stale", "judge_true_false", "no_such_question", "no_such_question"]


# --- resume (R-CLOCK-7) -------------------------------------------------------------------------------


def test_a_reload_or_a_new_login_at_the_seat_resumes_every_acknowledged_answer(
    browser: Callable[[], httpx.Client], clean_db: str, test_settings: Settings
) -> None:
    """Answers are never lost: the same terminal, reloaded or logged in again, gets every
    acknowledged answer, the last seq and the same end time."""
    site = build_site(clean_db, test_settings, candidates=1)
    seat = site.seats[0]
    terminal = browser()
    body = started(terminal, seat)
    acknowledged: dict[str, str] = {}
    for seq, position in enumerate((3, 1, 7, 2), start=1):
        response = save(terminal, position, "T" if seq % 2 else "F", seq, flagged=position == 7)
        assert response.status_code == 200
        acknowledged[str(position)] = response.json()["response"]
    reloaded = browser()
    for name, value in terminal.cookies.items():
        reloaded.cookies.set(name, value)
    relogged = browser()
    assert candidate_login(relogged, seat).status_code == 200
    for client in (reloaded, relogged):
        paper = api(client, "GET", "/api/v1/attempt/paper").json()
        assert {p: a["response"] for p, a in paper["answers"].items()} == acknowledged
        assert paper["answers"]["7"]["flagged"] is True and paper["last_seq"] == 4
        state = api(client, "GET", "/api/v1/attempt").json()
        assert state["clock"]["end_time"] == body["clock"]["end_time"] and state["started_at"] == body["started_at"]
        assert state["attempt_id"] == body["attempt_id"]


def test_a_move_to_a_spare_terminal_keeps_answers_and_compensates_the_lost_time(
    browser: Callable[[], httpx.Client], clean_db: str, test_settings: Settings
) -> None:
    """R-CLOCK-7: an invigilator moves the candidate to a spare; the old seat refuses them, the
    spare resumes with every saved answer and E moves by the time between move and re-login."""
    site = build_site(clean_db, test_settings, candidates=1, spares=1)
    seat = site.seats[0]
    old_pc, spare_pc = browser(), browser()
    body = started(old_pc, seat)
    assert save(old_pc, 1, "T", 1).status_code == 200
    assert save(old_pc, 2, "F", 2).status_code == 200
    spare = sql(clean_db, "SELECT id, label FROM terminals WHERE is_spare")[0]
    invigilator = staff(browser(), clean_db, test_settings, "zhangmin", "invigilator")
    moved = api(invigilator, "POST", f"/api/v1/attempts/{body['attempt_id']}/move", {"terminal_id": spare["id"]})
    assert moved.status_code == 200, moved.text
    assert moved.json()["terminal_id"] == spare["id"]
    time.sleep(2)
    # The old PC: the running session and a new login are both sent to the spare.
    refused = api(old_pc, "GET", "/api/v1/attempt")
    assert refused.status_code == 403 and refused.json()["code"] == "wrong_seat"
    assert spare["label"] in refused.json()["message"]
    assert save(old_pc, 3, "T", 3).json()["code"] == "wrong_seat"
    again = candidate_login(browser(), seat)
    assert again.status_code == 403 and again.json()["code"] == "wrong_seat"

    assert candidate_login(spare_pc, seat, cookie=site.spare_cookies[0]).status_code == 200
    state = api(spare_pc, "GET", "/api/v1/attempt").json()
    gained = when(state["clock"]["end_time"]) - when(body["clock"]["end_time"])
    assert timedelta(seconds=2) <= gained < timedelta(seconds=10)
    assert abs(state["clock"]["compensation_s"] - gained.total_seconds()) < 0.01
    assert state["clock"]["phase"] == "running"
    paper = api(spare_pc, "GET", "/api/v1/attempt/paper").json()
    assert {p: a["response"] for p, a in paper["answers"].items()} == {"1": "T", "2": "F"}
    assert save(spare_pc, 3, "T", 3).status_code == 200
    assert answers_in_db(clean_db) == {1: "T", 2: "F", 3: "T"}
    kinds = [r["kind"] for r in sql(clean_db, "SELECT kind FROM attempt_events ORDER BY at, id")]
    assert kinds[-3:] == ["moved", "paused", "resumed"]
    assert count(clean_db, "SELECT count(*) AS n FROM audit_log WHERE action = 'candidate_moved'") == 1


# --- hand-in, scoring, receipts -----------------------------------------------------------------------


def test_no_hand_in_without_confirmation_or_before_the_last_30_minutes(
    browser: Callable[[], httpx.Client], clean_db: str, test_settings: Settings
) -> None:
    """R-CLOCK-3: hand-in needs an explicit confirmation and opens at E − 30 min."""
    site = build_site(clean_db, test_settings, candidates=1, duration_minutes=90)
    terminal = browser()
    clock = started(terminal, site.seats[0])["clock"]
    assert clock["may_submit"] is False
    assert when(clock["submit_opens_at"]) == when(clock["end_time"]) - timedelta(minutes=30)
    unconfirmed = api(terminal, "POST", "/api/v1/attempt/submit", {"confirm": False})
    assert unconfirmed.status_code == 400 and unconfirmed.json()["code"] == "confirm"
    assert api(terminal, "POST", "/api/v1/attempt/submit", {}).status_code == 400
    refused = api(terminal, "POST", "/api/v1/attempt/submit", {"confirm": True})
    assert refused.status_code == 409 and refused.json()["code"] == "too_early"
    assert sql(clean_db, "SELECT state, outcome, score, receipt_code FROM attempts") == [
        {"state": "running", "outcome": None, "score": None, "receipt_code": None}
    ]
    assert count(clean_db, "SELECT count(*) AS n FROM attempt_events WHERE kind = 'submitted'") == 0


def test_hand_in_gives_a_receipt_never_the_score_and_closes_the_attempt(
    browser: Callable[[], httpx.Client], clean_db: str, test_settings: Settings
) -> None:
    """R-CLOCK-3, R-SCORE-1/4/7: once may_submit, hand-in scores the attempt, stores the score,
    returns only a receipt code (the same on a repeat); later saves are refused as closed."""
    site = build_site(clean_db, test_settings, candidates=1, duration_minutes=10)
    terminal = browser()
    body = started(terminal, site.seats[0])
    assert body["clock"]["may_submit"] is True
    assert save(terminal, 1, "T", 1).status_code == 200
    assert save(terminal, 2, "F", 2).status_code == 200
    handed = api(terminal, "POST", "/api/v1/attempt/submit", {"confirm": True})
    assert handed.status_code == 200, handed.text
    assert set(handed.json()) == {"receipt_code", "submitted_at", "outcome"}
    assert "score" not in handed.text and handed.json()["outcome"] == "submitted"
    code = handed.json()["receipt_code"]
    assert RECEIPT_FORMAT.match(code), code
    repeat = api(terminal, "POST", "/api/v1/attempt/submit", {"confirm": True})
    assert repeat.status_code == 200 and repeat.json()["receipt_code"] == code

    row = sql(clean_db, "SELECT state, outcome, score, max_score, answered_count, receipt_code FROM attempts")[0]
    assert row["state"] == "closed" and row["outcome"] == "submitted" and row["receipt_code"] == code
    assert row["score"] is not None and row["max_score"] == 100 and row["answered_count"] == 2
    state = api(terminal, "GET", "/api/v1/attempt")
    assert state.json()["receipt_code"] == code and state.json()["state"] == "closed"
    assert "score" not in state.text

    late = save(terminal, 3, "T", 3)
    assert late.status_code == 409 and late.json()["code"] == "closed"
    assert answers_in_db(clean_db) == {1: "T", 2: "F"}
    assert sql(clean_db, "SELECT position, reason FROM rejected_answers") == [{"position": 3, "reason": "closed"}]
    assert api(terminal, "GET", "/api/v1/attempt/paper").json()["code"] == "closed"
    relogin = candidate_login(browser(), site.seats[0])
    assert relogin.status_code == 409 and relogin.json()["code"] == "closed"
    audited = sql(clean_db, "SELECT detail FROM audit_log WHERE action = 'attempt_submitted'")
    assert len(audited) == 1 and json.loads(audited[0]["detail"])["receipt"] == code


def receipt_cli(url: str, settings: Settings, code: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "EXAMHALL_DATABASE_URL": url, "EXAMHALL_DATA": str(settings.data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "examhall", "receipt", "verify", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_scoring_end_to_end_and_receipts_verify_against_the_stored_answers(
    browser: Callable[[], httpx.Client], clean_db: str, test_settings: Settings
) -> None:
    """R-SCORE-1: all keys → full marks, all wrong (a multiple-choice answer one letter short
    included) → 0, all or nothing; R-SCORE-7: `examhall receipt verify` says VALID, and CHANGED
    once a stored answer was altered."""
    site = build_site(clean_db, test_settings, candidates=2, duration_minutes=10)
    codes = []
    for seat, correct in ((site.seats[0], True), (site.seats[1], False)):
        client = browser()
        started(client, seat)
        items = server_paper(clean_db, test_settings, seat.candidate_id)
        assert sum(it.points for it in items) == 100
        for seq, item in enumerate(items, start=1):
            answer = item.key if correct else wrong_answer(item)
            saved = save(client, item.position, answer, seq)
            assert saved.status_code == 200 and saved.json()["response"] == answer, saved.text
        handed = api(client, "POST", "/api/v1/attempt/submit", {"confirm": True})
        assert handed.status_code == 200, handed.text
        codes.append(handed.json()["receipt_code"])
    rows = sql(clean_db, "SELECT score, max_score, answered_count, outcome FROM attempts ORDER BY candidate_id")
    assert [(r["score"], r["max_score"], r["answered_count"], r["outcome"]) for r in rows] == [
        (100, 100, 90, "submitted"),
        (0, 100, 90, "submitted"),
    ]

    valid = receipt_cli(clean_db, test_settings, codes[0].lower())
    assert valid.returncode == 0 and "VALID" in valid.stdout, valid.stdout + valid.stderr
    assert receipt_cli(clean_db, test_settings, codes[1]).returncode == 0
    sql(
        clean_db,
        "UPDATE answers SET response = CASE response WHEN 'T' THEN 'F' ELSE 'T' END"
        " WHERE attempt_id = (SELECT id FROM attempts WHERE candidate_id = $1)"
        " AND position = (SELECT min(position) FROM answers a JOIN attempts t ON t.id = a.attempt_id"
        " WHERE t.candidate_id = $1)",
        site.seats[0].candidate_id,
    )
    changed = receipt_cli(clean_db, test_settings, codes[0])
    assert changed.returncode == 1 and "CHANGED" in changed.stdout, changed.stdout + changed.stderr
    assert receipt_cli(clean_db, test_settings, codes[1]).returncode == 0  # the other one is untouched
    unknown = receipt_cli(clean_db, test_settings, "AAAA-BBBB-CCCC-DDDD")
    assert unknown.returncode == 1 and "UNKNOWN" in unknown.stdout


def test_automatic_hand_in_at_the_end_time(
    browser: Callable[[], httpx.Client], clean_db: str, test_settings: Settings
) -> None:
    """R-CLOCK-5: at E the server hands the attempt in by itself — no request from the terminal
    needed — scored with every answer saved until then; later saves are refused."""
    site = build_site(
        clean_db, test_settings, candidates=1, duration_minutes=10, starts_in=-timedelta(minutes=9, seconds=53)
    )
    end = site.starts_at + timedelta(minutes=10)
    terminal = browser()
    started(terminal, site.seats[0])
    items = server_paper(clean_db, test_settings, site.seats[0].candidate_id)
    right, wrong = items[0], items[1]
    assert save(terminal, right.position, right.key, 1).status_code == 200
    assert save(terminal, wrong.position, wrong_answer(wrong), 2).status_code == 200
    assert datetime.now(end.tzinfo) < end, "the saves must happen before E"
    deadline = time.monotonic() + 15
    row: dict[str, Any] = {}
    while time.monotonic() < deadline:  # watch the database only: the terminal stays silent
        row = sql(clean_db, "SELECT outcome, receipt_code, score, answered_count, closed_at FROM attempts")[0]
        if row["outcome"]:
            break
        time.sleep(0.25)
    assert row["outcome"] == "auto_submitted" and row["receipt_code"], row
    assert row["closed_at"] >= end
    assert row["score"] == right.points and row["answered_count"] == 2
    state = api(terminal, "GET", "/api/v1/attempt").json()
    assert state["receipt_code"] == row["receipt_code"] and state["state"] == "closed"
    late = save(terminal, items[2].position, items[2].key, 3)
    assert late.status_code == 409 and late.json()["code"] in ("closed", "ended")
    assert set(answers_in_db(clean_db)) == {right.position, wrong.position}
    assert sql(clean_db, "SELECT reason FROM rejected_answers")[0]["reason"] in ("closed", "ended")


# --- errata (R-INC-4) -------------------------------------------------------------------------------


def test_errata_reach_every_terminal_at_once_and_are_acknowledged(
    browser: Callable[[], httpx.Client], clean_db: str, test_settings: Settings, live_server: LiveServer
) -> None:
    """R-INC-4: the chief (not an invigilator) publishes a correction; the open terminal gets it
    over its websocket unacknowledged; the candidate acknowledges it."""
    site = build_site(clean_db, test_settings, candidates=1)
    terminal = browser()
    started(terminal, site.seats[0])
    chief = staff(browser(), clean_db, test_settings, "liguohua", "chief")
    invigilator = staff(browser(), clean_db, test_settings, "zhangmin", "invigilator")
    errata = f"/api/v1/sittings/{site.sitting_id}/errata"
    assert api(invigilator, "POST", errata, {"text": "x"}).status_code == 403
    assert api(terminal, "POST", errata, {"text": "x"}).status_code == 403
    assert count(clean_db, "SELECT count(*) AS n FROM errata") == 0
    text = "第12题选项C应为“离心泵”。"
    with ws_open(live_server, terminal) as ws:
        assert json.loads(ws.recv(timeout=10))["errata"] == []
        sent_at = time.monotonic()
        published = api(chief, "POST", errata, {"text": text})
        assert published.status_code == 200, published.text
        erratum_id = published.json()["id"]
        message = ws_reply(ws, ("state",))
        while not message["errata"]:
            message = ws_reply(ws, ("state",))
        assert time.monotonic() - sent_at < 4  # pushed on the event, not at the next 5 s tick
        assert message["errata"] == [
            {
                "id": erratum_id,
                "text": text,
                "published_at": message["errata"][0]["published_at"],
                "acknowledged": False,
            }
        ]
    acked = api(terminal, "POST", f"/api/v1/attempt/errata/{erratum_id}/ack")
    assert acked.status_code == 200 and acked.json() == {"ok": True}
    assert api(terminal, "POST", f"/api/v1/attempt/errata/{erratum_id}/ack").status_code == 200  # idempotent
    assert api(terminal, "GET", "/api/v1/attempt").json()["errata"][0]["acknowledged"] is True
    assert count(clean_db, "SELECT count(*) AS n FROM erratum_acks") == 1
    missing = api(terminal, "POST", "/api/v1/attempt/errata/99999/ack")
    assert missing.status_code == 404 and missing.json()["code"] == "no_erratum"
    assert count(clean_db, "SELECT count(*) AS n FROM audit_log WHERE action = 'erratum_published'") == 1


# --- roles (R-SEC-1) --------------------------------------------------------------------------------


def test_staff_and_strangers_cannot_use_candidate_endpoints(
    browser: Callable[[], httpx.Client], clean_db: str, test_settings: Settings, live_server: LiveServer
) -> None:
    """R-SEC-1: candidate endpoints need a candidate session (401 without, 403 for staff), staff
    endpoints refuse candidates, and the websocket refuses strangers and other sites' pages."""
    site = build_site(clean_db, test_settings, candidates=1)
    calls: list[tuple[str, str, dict[str, Any] | None]] = [
        ("GET", "/api/v1/attempt", None),
        ("POST", "/api/v1/attempt/start", None),
        ("GET", "/api/v1/attempt/paper", None),
        ("PUT", "/api/v1/attempt/answers/1", {"response": "T", "seq": 1}),
        ("POST", "/api/v1/attempt/submit", {"confirm": True}),
        ("POST", "/api/v1/attempt/errata/1/ack", None),
    ]
    stranger = browser()
    at_terminal(stranger, site.seats[0].terminal_cookie)  # even at the seat's own PC
    for method, path, body in calls:
        assert api(stranger, method, path, body).status_code == 401, path
    for name, role in (("wangjing", "admin"), ("liguohua", "chief"), ("zhangmin", "invigilator")):
        member = staff(browser(), clean_db, test_settings, name, role)
        at_terminal(member, site.seats[0].terminal_cookie)
        for method, path, body in calls:
            assert api(member, method, path, body).status_code == 403, (role, path)
    assert sql(clean_db, "SELECT started_at FROM attempts")[0]["started_at"] is None

    candidate = browser()
    attempt_id = started(candidate, site.seats[0])["attempt_id"]
    staff_calls: list[tuple[str, dict[str, object]]] = [
        ("/api/v1/terminals/codes", {"room_id": site.room_id, "seat_no": 1}),
        (f"/api/v1/sittings/{site.sitting_id}/errata", {"text": "x"}),
        (f"/api/v1/sittings/{site.sitting_id}/checkin", {"ticket_or_id": site.seats[0].ticket}),
        (f"/api/v1/attempts/{attempt_id}/move", {"terminal_id": 1}),
    ]
    for path, body in staff_calls:
        assert api(candidate, "POST", path, body).status_code == 403, path
    assert count(clean_db, "SELECT count(*) AS n FROM errata") == 0
    assert sql(clean_db, "SELECT terminal_id FROM attempts")[0]["terminal_id"] is None

    def ws_refused(client: httpx.Client, **headers: str) -> bool:
        try:
            with ws_open(live_server, client, **headers) as ws:
                ws.recv(timeout=5)
        except (InvalidStatus, ConnectionClosed):
            return True
        return False

    assert ws_refused(stranger)
    assert ws_refused(candidate, Origin="http://evil.example")
    with ws_open(live_server, candidate) as ws:
        assert json.loads(ws.recv(timeout=10))["t"] == "state"
