"""Exam day through the real HTTP API and websocket against PostgreSQL: seat-bound login
(R-SEC-2), check-in (R-CLOCK-1), start and lateness (R-CLOCK-2), saves and their refusals,
resume after a reload or a move (R-CLOCK-7), hand-in (R-CLOCK-3), automatic hand-in at E
(R-CLOCK-5), scoring (R-SCORE-1), receipts (R-SCORE-7) and errata (R-INC-4)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from examhall.config import Settings
from examhall.db import Database
from examhall.sittings import examday
from tests.conftest import LiveServer, login, make_user, run_db, sql
from tests.integration.examday_site import ExamSite, api, at_terminal, build_site, candidate_login

PASSWORD = "correct-horse-9"


@pytest.fixture
def clients(live_server: LiveServer, clean_db: str) -> Iterator[list[httpx.Client]]:
    """Three separate browsers (cookie jars), e.g. two terminals and a staff laptop."""
    made = [httpx.Client(base_url=live_server.url, timeout=20) for _ in range(3)]
    yield made
    for c in made:
        c.close()


def keys_for(url: str, settings: Settings, candidate_id: int) -> dict[int, tuple[str, str]]:
    """The server-side keys of a candidate's paper (position → (type, key)); never sent to terminals."""

    async def work(db: Database) -> dict[int, tuple[str, str]]:
        async with db.session() as session:
            attempt = await session.scalar(
                examday.select(examday.Attempt).where(examday.Attempt.candidate_id == candidate_id)
            )
            assert attempt is not None
            paper = await examday.candidate_paper(session, settings, attempt.paper_id)
            return {it.position: (it.type, it.key) for it in paper.items}

    return run_db(url, work)


def wrong_answer(item_type: str, key: str) -> str:
    if item_type == "judge":
        return "F" if key == "T" else "T"
    if item_type == "multiple":
        return key[:-1]  # one correct letter missing: nothing under all-or-nothing scoring
    return next(letter for letter in "ABCD" if letter not in key)


def started(client: httpx.Client, site: ExamSite, seat_index: int = 0) -> dict[str, Any]:
    assert candidate_login(client, site.seats[seat_index]).status_code == 200
    response = api(client, "POST", "/api/v1/attempt/start")
    assert response.status_code == 200, response.text
    return dict(response.json())


def staff(client: httpx.Client, url: str, settings: Settings, name: str, role: str) -> None:
    make_user(url, settings, name, [role])
    assert login(client, name, PASSWORD).status_code == 302


def count(url: str, query: str, *args: Any) -> int:
    return int(sql(url, query, *args)[0]["n"])


# --- login at the enrolled seat (R-SEC-2) ---------------------------------------------------------


def test_login_only_at_the_candidates_own_enrolled_seat(
    clients: list[httpx.Client], clean_db: str, test_settings: Settings
) -> None:
    site = build_site(clean_db, test_settings, candidates=2)
    first, second = site.seats
    nowhere, elsewhere, own = clients
    no_terminal = api(
        nowhere, "POST", "/api/v1/candidate/login", {"ticket_number": first.ticket, "id_number": first.id_number}
    )
    assert no_terminal.status_code == 403 and no_terminal.json()["code"] == "not_a_terminal"
    wrong = candidate_login(elsewhere, first, cookie=second.terminal_cookie)
    assert wrong.status_code == 403 and wrong.json()["code"] == "wrong_seat"
    assert f" {first.seat_no}" in wrong.json()["message"]  # names the right seat
    assert count(clean_db, "SELECT count(*) AS n FROM web_sessions") == 0
    ok = candidate_login(own, first)
    assert ok.status_code == 200
    reasons = [
        json.loads(r["detail"]).get("reason")
        for r in sql(clean_db, "SELECT detail FROM audit_log WHERE action = 'candidate_login_failed' ORDER BY id")
    ]
    assert reasons == ["not_a_terminal", "wrong_seat"]


def test_no_login_before_check_in_and_check_in_by_ticket_or_id(
    clients: list[httpx.Client], clean_db: str, test_settings: Settings
) -> None:
    """R-CLOCK-1: an invigilator checks the candidate in (ticket, its QR code, or ID number)."""
    site = build_site(clean_db, test_settings, candidates=2, check_in=False)
    terminal, invigilator, _ = clients
    refused = candidate_login(terminal, site.seats[0])
    assert refused.status_code == 403 and refused.json()["code"] == "not_checked_in"
    # A candidate cannot check themselves in.
    assert (
        api(terminal, "POST", f"/api/v1/sittings/{site.sitting_id}/checkin", {"ticket_or_id": "x"}).status_code == 401
    )
    staff(invigilator, clean_db, test_settings, "zhangmin", "invigilator")
    by_ticket = api(
        invigilator,
        "POST",
        f"/api/v1/sittings/{site.sitting_id}/checkin",
        {"ticket_or_id": site.seats[0].ticket.lower()},
    )
    assert by_ticket.status_code == 200 and by_ticket.json()["seat_no"] == 1
    again = api(
        invigilator, "POST", f"/api/v1/sittings/{site.sitting_id}/checkin", {"ticket_or_id": site.seats[0].ticket}
    )
    assert again.json()["attempt_id"] == by_ticket.json()["attempt_id"]
    by_id = api(
        invigilator, "POST", f"/api/v1/sittings/{site.sitting_id}/checkin", {"ticket_or_id": site.seats[1].id_number}
    )
    assert by_id.status_code == 200 and by_id.json()["seat_no"] == 2
    unknown = api(invigilator, "POST", f"/api/v1/sittings/{site.sitting_id}/checkin", {"ticket_or_id": "NOSUCH"})
    assert unknown.status_code == 404 and unknown.json()["code"] == "no_candidate"
    assert count(clean_db, "SELECT count(*) AS n FROM attempts") == 2
    assert candidate_login(terminal, site.seats[0]).status_code == 200


@pytest.mark.parametrize(
    ("starts_in", "code"), [(timedelta(minutes=25), "too_early"), (-timedelta(minutes=31), "barred")]
)
def test_check_in_window(
    clients: list[httpx.Client], clean_db: str, test_settings: Settings, starts_in: timedelta, code: str
) -> None:
    """R-CLOCK-1/2: check-in opens at S − 20 min and closes at S + 30 min."""
    site = build_site(clean_db, test_settings, candidates=1, check_in=False, starts_in=starts_in)
    invigilator = clients[0]
    staff(invigilator, clean_db, test_settings, "chenggang", "invigilator")
    refused = api(
        invigilator, "POST", f"/api/v1/sittings/{site.sitting_id}/checkin", {"ticket_or_id": site.seats[0].ticket}
    )
    assert refused.status_code == 409 and refused.json()["code"] == code
    assert count(clean_db, "SELECT count(*) AS n FROM attempts") == 0


# --- start, paper, lateness ----------------------------------------------------------------------


def test_start_waits_for_s_and_for_the_unsealing(
    clients: list[httpx.Client], clean_db: str, test_settings: Settings
) -> None:
    early = build_site(clean_db, test_settings, candidates=1, starts_in=timedelta(minutes=10))
    terminal = clients[0]
    assert candidate_login(terminal, early.seats[0]).status_code == 200
    state = api(terminal, "GET", "/api/v1/attempt").json()
    assert state["clock"]["phase"] == "waiting" and state["clock"]["may_start"] is False
    refused = api(terminal, "POST", "/api/v1/attempt/start")
    assert refused.status_code == 409 and refused.json()["code"] == "not_yet"
    assert api(terminal, "GET", "/api/v1/attempt/paper").json()["code"] == "not_started"


def test_sealed_papers_cannot_be_opened(clients: list[httpx.Client], clean_db: str, test_settings: Settings) -> None:
    site = build_site(clean_db, test_settings, candidates=1, unseal=False)
    terminal = clients[0]
    assert candidate_login(terminal, site.seats[0]).status_code == 200
    refused = api(terminal, "POST", "/api/v1/attempt/start")
    assert refused.status_code == 423 and refused.json()["code"] == "sealed"
    assert sql(clean_db, "SELECT started_at FROM attempts")[0]["started_at"] is None


def test_a_late_start_keeps_the_end_time_and_the_paper_has_no_keys(
    clients: list[httpx.Client], clean_db: str, test_settings: Settings
) -> None:
    """R-CLOCK-2: a late candidate's end time is not extended; keys never leave the server."""
    site = build_site(clean_db, test_settings, candidates=2, starts_in=-timedelta(minutes=12))
    body = started(clients[0], site)
    end = datetime.fromisoformat(body["clock"]["end_time"])
    assert abs((end - (site.starts_at + timedelta(minutes=90))).total_seconds()) < 0.001
    assert body["clock"]["late_by_s"] >= 12 * 60
    paper = api(clients[0], "GET", "/api/v1/attempt/paper")
    assert paper.status_code == 200
    assert '"key"' not in paper.text and "explanation" not in paper.text
    assert len(paper.json()["items"]) == 90
    # The other candidate's session sees only their own (not yet opened) attempt.
    assert candidate_login(clients[1], site.seats[1]).status_code == 200
    other = api(clients[1], "GET", "/api/v1/attempt").json()
    assert other["attempt_id"] != body["attempt_id"] and other["started_at"] is None


# --- saves -------------------------------------------------------------------------------------------


def test_saves_are_acknowledged_after_commit_and_bad_saves_change_nothing(
    clients: list[httpx.Client], clean_db: str, test_settings: Settings
) -> None:
    site = build_site(clean_db, test_settings, candidates=1)
    terminal = clients[0]
    started(terminal, site)
    keys = keys_for(clean_db, test_settings, site.seats[0].candidate_id)
    single = next(p for p, (t, _) in keys.items() if t == "single")
    judge = next(p for p, (t, _) in keys.items() if t == "judge")
    multiple = next(p for p, (t, _) in keys.items() if t == "multiple")

    ok = api(terminal, "PUT", f"/api/v1/attempt/answers/{multiple}", {"response": "ca", "seq": 5})
    assert ok.status_code == 200 and ok.json()["response"] == "AC"
    assert sql(clean_db, "SELECT response, seq FROM answers")[0] == {"response": "AC", "seq": 5}

    bad = [
        (f"/api/v1/attempt/answers/{multiple}", {"response": "B", "seq": 5}, 409, "stale"),  # replay
        (f"/api/v1/attempt/answers/{multiple}", {"response": "B", "seq": 4}, 409, "stale"),  # out of order
        ("/api/v1/attempt/answers/999", {"response": "A", "seq": 9}, 409, "no_such_question"),
        (f"/api/v1/attempt/answers/{single}", {"response": "AB", "seq": 10}, 422, "one_option_only"),
        (f"/api/v1/attempt/answers/{single}", {"response": "H", "seq": 11}, 422, "not_an_option"),
        (f"/api/v1/attempt/answers/{judge}", {"response": "A", "seq": 12}, 422, "judge_true_false"),
        (f"/api/v1/attempt/answers/{single}", {"response": "A", "seq": 0}, 409, "bad_seq"),
    ]
    for path, body, status, code in bad:
        response = api(terminal, "PUT", path, body)
        assert (response.status_code, response.json().get("code")) == (status, code), (path, body, response.text)
        assert response.json()["message"]
    assert sql(clean_db, "SELECT position, response, seq FROM answers") == [
        {"position": multiple, "response": "AC", "seq": 5}
    ]
    reasons = [r["reason"] for r in sql(clean_db, "SELECT reason FROM rejected_answers ORDER BY id")]
    assert reasons == [code for *_, code in bad]
    # Malformed JSON is refused with the field named, nothing stored.
    missing = api(terminal, "PUT", f"/api/v1/attempt/answers/{single}", {"response": "A"})
    assert missing.status_code == 400 and "seq" in missing.text


def test_websocket_saves_and_a_resume_after_reload(
    clients: list[httpx.Client], clean_db: str, test_settings: Settings, live_server: LiveServer
) -> None:
    site = build_site(clean_db, test_settings, candidates=1)
    terminal, reloaded, _ = clients
    body = started(terminal, site)
    cookies = "; ".join(f"{k}={v}" for k, v in terminal.cookies.items())
    acknowledged: dict[int, str] = {}
    with connect(f"{live_server.ws_url}/api/v1/attempt/ws", additional_headers={"Cookie": cookies}) as ws:
        first = json.loads(ws.recv(timeout=10))
        assert first["t"] == "state" and first["attempt_id"] == body["attempt_id"]
        clock = first["clock"]
        expected = datetime.fromisoformat(clock["end_time"]) - datetime.fromisoformat(clock["server_now"])
        assert abs(clock["remaining_s"] - expected.total_seconds()) < 0.01
        for seq, position in enumerate((1, 2, 3), start=1):
            ws.send(json.dumps({"t": "save", "position": position, "response": "T", "seq": seq}))
            while (message := json.loads(ws.recv(timeout=10)))["t"] not in ("ack", "refused"):
                pass
            if message["t"] == "ack":
                acknowledged[position] = message["response"]
        ws.send(json.dumps({"t": "save", "position": 4, "response": "Z", "seq": 9}))
        while (message := json.loads(ws.recv(timeout=10)))["t"] not in ("ack", "refused"):
            pass
        assert message["t"] == "refused" and message["code"] in ("judge_true_false", "not_an_option")
    # Same terminal, new page (a reload): every acknowledged answer, the same end time.
    at_terminal(reloaded, site.seats[0].terminal_cookie)
    reloaded.cookies.set("examhall_session", terminal.cookies["examhall_session"])
    paper = api(reloaded, "GET", "/api/v1/attempt/paper").json()
    assert {int(p): a["response"] for p, a in paper["answers"].items() if int(p) in acknowledged} == acknowledged
    assert api(reloaded, "GET", "/api/v1/attempt").json()["clock"]["end_time"] == clock["end_time"]


def test_a_move_to_a_spare_terminal_keeps_answers_and_compensates(
    clients: list[httpx.Client], clean_db: str, test_settings: Settings
) -> None:
    """R-CLOCK-7: moved by an invigilator; the old PC refuses, the spare resumes, lost time added."""
    site = build_site(clean_db, test_settings, candidates=1, spares=1)
    old_pc, spare_pc, invigilator = clients
    body = started(old_pc, site)
    assert api(old_pc, "PUT", "/api/v1/attempt/answers/1", {"response": "T", "seq": 1}).status_code == 200
    saved_before = sql(clean_db, "SELECT position, response FROM answers")
    spare_id = sql(clean_db, "SELECT id FROM terminals WHERE is_spare")[0]["id"]
    staff(invigilator, clean_db, test_settings, "zhangmin", "invigilator")
    moved = api(invigilator, "POST", f"/api/v1/attempts/{body['attempt_id']}/move", {"terminal_id": spare_id})
    assert moved.status_code == 200, moved.text
    time.sleep(2)
    refused = api(old_pc, "GET", "/api/v1/attempt")
    assert refused.status_code == 403 and refused.json()["code"] == "wrong_seat"
    assert candidate_login(spare_pc, site.seats[0], cookie=site.spare_cookies[0]).status_code == 200
    state = api(spare_pc, "GET", "/api/v1/attempt").json()
    gained = datetime.fromisoformat(state["clock"]["end_time"]) - datetime.fromisoformat(body["clock"]["end_time"])
    assert timedelta(seconds=2) <= gained < timedelta(seconds=10)
    assert state["clock"]["phase"] in ("running", "final_minutes")
    paper = api(spare_pc, "GET", "/api/v1/attempt/paper").json()
    assert [{"position": int(p), "response": a["response"]} for p, a in paper["answers"].items()] == saved_before
    assert candidate_login(old_pc, site.seats[0]).json()["code"] == "wrong_seat"


# --- hand-in, scoring, receipts -----------------------------------------------------------------------


def test_no_hand_in_before_the_last_30_minutes(
    clients: list[httpx.Client], clean_db: str, test_settings: Settings
) -> None:
    site = build_site(clean_db, test_settings, candidates=1, duration_minutes=90)
    terminal = clients[0]
    started(terminal, site)
    assert api(terminal, "POST", "/api/v1/attempt/submit", {"confirm": False}).status_code == 400
    refused = api(terminal, "POST", "/api/v1/attempt/submit", {"confirm": True})
    assert refused.status_code == 409 and refused.json()["code"] == "too_early"
    assert sql(clean_db, "SELECT state, score FROM attempts")[0] == {"state": "running", "score": None}


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


def test_hand_in_scores_signs_a_receipt_and_refuses_later_saves(
    clients: list[httpx.Client], clean_db: str, test_settings: Settings
) -> None:
    """R-SCORE-1/4/7: scored at hand-in, score never returned, receipt verifiable later."""
    site = build_site(clean_db, test_settings, candidates=2, duration_minutes=10)
    good, poor, _ = clients
    for client, seat, correct in ((good, site.seats[0], True), (poor, site.seats[1], False)):
        started(client, site, site.seats.index(seat))
        keys = keys_for(clean_db, test_settings, seat.candidate_id)
        for seq, (position, (item_type, key)) in enumerate(sorted(keys.items()), start=1):
            answer = key if correct else wrong_answer(item_type, key)
            assert (
                api(client, "PUT", f"/api/v1/attempt/answers/{position}", {"response": answer, "seq": seq}).status_code
                == 200
            )
        handed = api(client, "POST", "/api/v1/attempt/submit", {"confirm": True})
        assert handed.status_code == 200, handed.text
        assert "score" not in handed.text
        code = handed.json()["receipt_code"]
        assert len(code) == 19 and code.count("-") == 3
        assert api(client, "POST", "/api/v1/attempt/submit", {"confirm": True}).json()["receipt_code"] == code
        late = api(client, "PUT", "/api/v1/attempt/answers/1", {"response": "T", "seq": 10_000})
        assert late.status_code in (403, 409)
    rows = sql(
        clean_db, "SELECT candidate_id, score, max_score, outcome, receipt_code FROM attempts ORDER BY candidate_id"
    )
    assert [(r["score"], r["max_score"], r["outcome"]) for r in rows] == [
        (100, 100, "submitted"),
        (0, 100, "submitted"),
    ]
    assert count(clean_db, "SELECT count(*) AS n FROM rejected_answers WHERE reason = 'closed'") == 2
    # The receipt verifies against the stored answers, and stops verifying once one is altered.
    code = rows[0]["receipt_code"]
    valid = receipt_cli(clean_db, test_settings, code.lower())
    assert valid.returncode == 0 and "VALID" in valid.stdout, valid.stdout + valid.stderr
    sql(
        clean_db,
        "UPDATE answers SET response = CASE response WHEN 'T' THEN 'F' ELSE 'T' END"
        " WHERE attempt_id = (SELECT id FROM attempts WHERE candidate_id = $1) AND position = 1",
        site.seats[0].candidate_id,
    )
    changed = receipt_cli(clean_db, test_settings, code)
    assert changed.returncode == 1 and "CHANGED" in changed.stdout
    unknown = receipt_cli(clean_db, test_settings, "AAAA-BBBB-CCCC-DDDD")
    assert unknown.returncode == 1 and "UNKNOWN" in unknown.stdout


def test_automatic_hand_in_at_the_end_time(clients: list[httpx.Client], clean_db: str, test_settings: Settings) -> None:
    """R-CLOCK-5: at E the attempt is handed in with every answer saved until then."""
    site = build_site(
        clean_db, test_settings, candidates=1, duration_minutes=10, starts_in=-timedelta(minutes=9, seconds=54)
    )
    terminal = clients[0]
    started(terminal, site)
    assert api(terminal, "PUT", "/api/v1/attempt/answers/1", {"response": "T", "seq": 1}).status_code == 200
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        row = sql(clean_db, "SELECT outcome, receipt_code FROM attempts")[0]
        if row["outcome"]:
            break
        time.sleep(0.5)
    assert row["outcome"] == "auto_submitted" and row["receipt_code"]
    closed_at = sql(clean_db, "SELECT closed_at FROM attempts")[0]["closed_at"]
    assert closed_at >= site.starts_at + timedelta(minutes=10)
    late = api(terminal, "PUT", "/api/v1/attempt/answers/2", {"response": "T", "seq": 2})
    assert late.status_code == 409 and late.json()["code"] in ("closed", "ended")
    assert api(terminal, "GET", "/api/v1/attempt").json()["receipt_code"] == row["receipt_code"]


# --- errata (R-INC-4) -------------------------------------------------------------------------------


def test_errata_reach_the_terminal_and_are_acknowledged(
    clients: list[httpx.Client], clean_db: str, test_settings: Settings, live_server: LiveServer
) -> None:
    site = build_site(clean_db, test_settings, candidates=1)
    terminal, chief, invigilator = clients
    started(terminal, site)
    staff(chief, clean_db, test_settings, "liguohua", "chief")
    staff(invigilator, clean_db, test_settings, "zhangmin", "invigilator")
    assert api(invigilator, "POST", f"/api/v1/sittings/{site.sitting_id}/errata", {"text": "x"}).status_code == 403
    cookies = "; ".join(f"{k}={v}" for k, v in terminal.cookies.items())
    with connect(f"{live_server.ws_url}/api/v1/attempt/ws", additional_headers={"Cookie": cookies}) as ws:
        assert json.loads(ws.recv(timeout=10))["errata"] == []
        published = api(
            chief, "POST", f"/api/v1/sittings/{site.sitting_id}/errata", {"text": "第12题选项C应为“离心泵”。"}
        )
        assert published.status_code == 200
        deadline = time.monotonic() + 5
        errata: list[dict[str, Any]] = []
        while not errata and time.monotonic() < deadline:
            errata = json.loads(ws.recv(timeout=5)).get("errata", [])
        assert errata and errata[0]["text"].startswith("第12题") and errata[0]["acknowledged"] is False
    erratum_id = published.json()["id"]
    assert api(terminal, "POST", f"/api/v1/attempt/errata/{erratum_id}/ack").status_code == 200
    assert api(terminal, "GET", "/api/v1/attempt").json()["errata"][0]["acknowledged"] is True
    assert api(terminal, "POST", "/api/v1/attempt/errata/99999/ack").json()["code"] == "no_erratum"


def test_staff_and_strangers_cannot_use_candidate_endpoints(
    clients: list[httpx.Client], clean_db: str, test_settings: Settings
) -> None:
    stranger, admin, _ = clients
    assert api(stranger, "GET", "/api/v1/attempt").status_code == 401
    staff(admin, clean_db, test_settings, "wangjing", "admin")
    assert api(admin, "GET", "/api/v1/attempt").status_code == 403
    assert api(admin, "PUT", "/api/v1/attempt/answers/1", {"response": "A", "seq": 1}).status_code == 403
