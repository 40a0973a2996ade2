"""Enrolled seat terminals through the real HTTP API (R-SEC-2): an admin issues a one-time
code for "room R, seat N"; the exam-room PC that sends it becomes that seat and keeps a signed
cookie. Codes work once and expire; a forged or tampered cookie is no terminal; re-enrolling a
seat revokes the old PC; only admins issue codes; every enrollment and every failed attempt is
in the audit log (R-SEC-3)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from examhall.batches import service as batch_service
from examhall.config import Settings
from examhall.db import Database
from examhall.security import terminals
from tests.conftest import LiveServer, login, make_user, run_db, sql
from tests.integration.examday_site import api, at_terminal, build_site, candidate_login

PASSWORD = "correct-horse-9"
CODE_FORMAT = re.compile(r"^[234679ACDEFGHJKMNPQRTUVWXYZ]{4}-[234679ACDEFGHJKMNPQRTUVWXYZ]{4}$")


@pytest.fixture
def browser(live_server: LiveServer, clean_db: str) -> Iterator[Callable[[], httpx.Client]]:
    """Opens a separate browser (its own cookie jar) per call: exam-room PCs, an admin laptop."""
    made: list[httpx.Client] = []

    def open_one() -> httpx.Client:
        made.append(httpx.Client(base_url=live_server.url, timeout=20))
        return made[-1]

    yield open_one
    for c in made:
        c.close()


@pytest.fixture
def room_id(clean_db: str) -> int:
    """A room of 30 seats, nothing enrolled yet."""

    async def work(db: Database) -> int:
        async with db.session() as session:
            room = await batch_service.create_room(session, "本中心考点", "第三考场", seat_count=30)
            return room.id

    return run_db(clean_db, work)


def admin(browser: Callable[[], httpx.Client], url: str, settings: Settings, name: str = "wangjing") -> httpx.Client:
    client = browser()
    make_user(url, settings, name, ["admin"])
    assert login(client, name, PASSWORD).status_code == 302
    return client


def issue(client: httpx.Client, room: int, seat_no: int | None) -> str:
    response = api(client, "POST", "/api/v1/terminals/codes", {"room_id": room, "seat_no": seat_no})
    assert response.status_code == 200, response.text
    assert response.json()["room_id"] == room and response.json()["seat_no"] == seat_no
    return str(response.json()["code"])


def enroll(client: httpx.Client, code: str) -> httpx.Response:
    return api(client, "POST", "/api/v1/terminal/enroll", {"code": code})


def seat_of(client: httpx.Client) -> dict[str, Any] | None:
    response = client.get("/api/v1/terminal")
    assert response.status_code == 200, response.text
    return response.json()["terminal"]  # type: ignore[no-any-return]


def count(url: str, table: str) -> int:
    return int(sql(url, f"SELECT count(*) AS n FROM {table}")[0]["n"])


def failed_enrollments(url: str) -> list[str]:
    rows = sql(url, "SELECT detail FROM audit_log WHERE action = 'terminal_enroll_failed' ORDER BY id")
    return [json.loads(r["detail"])["reason"] for r in rows]


def test_an_admin_code_makes_a_pc_that_seat(
    browser: Callable[[], httpx.Client], clean_db: str, test_settings: Settings, room_id: int
) -> None:
    """R-SEC-2: a one-time code from the admin turns a PC into "room R, seat N"; the cookie is
    HttpOnly and the database keeps only the hash of its secret."""
    office = admin(browser, clean_db, test_settings)
    code = issue(office, room_id, 7)
    assert CODE_FORMAT.match(code), code
    pc = browser()
    assert seat_of(pc) is None
    # Typed by hand at the PC: lower case and without the dash is the same code.
    enrolled = enroll(pc, code.lower().replace("-", " "))
    assert enrolled.status_code == 200, enrolled.text
    set_cookie = enrolled.headers["set-cookie"]
    assert set_cookie.startswith(f"{terminals.TERMINAL_COOKIE}=") and "httponly" in set_cookie.lower()
    cookie = pc.cookies[terminals.TERMINAL_COOKIE]
    terminal_id, secret, _signature = cookie.split(".")
    body = enrolled.json()["terminal"]
    assert body["id"] == int(terminal_id)
    assert seat_of(pc) == body
    assert body["room_id"] == room_id and body["seat_no"] == 7 and body["is_spare"] is False
    assert body["label"] == "第三考场 7"
    row = sql(clean_db, "SELECT seat_no, is_spare, secret_hash, revoked_at, code_issued_by FROM terminals")
    assert len(row) == 1
    assert row[0]["seat_no"] == 7 and row[0]["revoked_at"] is None and row[0]["code_issued_by"] == "Wangjing"
    assert row[0]["secret_hash"] == hashlib.sha256(secret.encode()).digest()
    assert secret.encode() not in row[0]["secret_hash"]
    used = sql(clean_db, "SELECT used_at, terminal_id FROM enrollment_codes")
    assert used[0]["used_at"] is not None and used[0]["terminal_id"] == int(terminal_id)


def test_a_code_works_once_and_unknown_or_expired_codes_create_nothing(
    browser: Callable[[], httpx.Client], clean_db: str, test_settings: Settings, room_id: int
) -> None:
    """R-SEC-2: one-time codes; every refusal is the same bad_code, and nothing is created."""
    office = admin(browser, clean_db, test_settings)
    code = issue(office, room_id, 1)
    assert enroll(browser(), code).status_code == 200
    assert count(clean_db, "terminals") == 1
    for attempt in (code, "ZZZZ-ZZZZ", "ABC", ""):
        stranger = browser()
        refused = enroll(stranger, attempt)
        assert refused.status_code == 403, (attempt, refused.text)
        assert refused.json()["code"] == "bad_code" and refused.json()["message"]
        assert terminals.TERMINAL_COOKIE not in stranger.cookies
        assert seat_of(stranger) is None
    assert count(clean_db, "terminals") == 1
    # A code past its 72 hours is refused as well.
    expired = issue(office, room_id, 2)
    sql(clean_db, "UPDATE enrollment_codes SET expires_at = now() - interval '1 second' WHERE used_at IS NULL")
    late = browser()
    assert enroll(late, expired).json()["code"] == "bad_code"
    assert seat_of(late) is None
    assert count(clean_db, "terminals") == 1
    assert sql(clean_db, "SELECT count(*) AS n FROM enrollment_codes WHERE used_at IS NULL")[0]["n"] == 1
    assert failed_enrollments(clean_db) == ["used", "unknown", "unknown", "unknown", "expired"]


def test_a_tampered_or_forged_cookie_is_not_a_terminal(
    browser: Callable[[], httpx.Client], clean_db: str, test_settings: Settings, room_id: int
) -> None:
    """R-SEC-2: the cookie is <id>.<secret>.<HMAC>; changing any part of it, or signing a guessed
    secret with the site key (what a database dump would allow), gives no terminal."""
    office = admin(browser, clean_db, test_settings)
    first, second = browser(), browser()
    assert enroll(first, issue(office, room_id, 1)).status_code == 200
    assert enroll(second, issue(office, room_id, 2)).status_code == 200
    genuine = first.cookies[terminals.TERMINAL_COOKIE]
    terminal_id, secret, signature = genuine.split(".")
    other_id = second.cookies[terminals.TERMINAL_COOKIE].split(".")[0]

    def flip(text: str) -> str:
        return text[:-1] + ("0" if text[-1] != "0" else "1")

    forgeries = {
        "signature changed": f"{terminal_id}.{secret}.{flip(signature)}",
        "id changed": f"{other_id}.{secret}.{signature}",
        "secret changed": f"{terminal_id}.{flip(secret)}.{signature}",
        "validly signed, wrong secret": terminals.cookie_value(test_settings, int(other_id), secret),
        "validly signed, unknown id": terminals.cookie_value(test_settings, 99999, secret),
        "no signature": f"{terminal_id}.{secret}",
        "garbage": "x" * 300,
    }
    for what, value in forgeries.items():
        pc = browser()
        at_terminal(pc, value)
        assert seat_of(pc) is None, what
    at_terminal(pc, genuine)
    assert seat_of(pc) is not None and seat_of(pc)["seat_no"] == 1  # type: ignore[index]


def test_re_enrolling_a_seat_revokes_the_old_pc(
    browser: Callable[[], httpx.Client], clean_db: str, test_settings: Settings, room_id: int
) -> None:
    """R-SEC-2: a hardware swap — the new PC becomes the seat and the old one stops being it;
    other seats and spare terminals are not touched."""
    office = admin(browser, clean_db, test_settings)
    old_pc, new_pc, neighbour, spare_a, spare_b = (browser() for _ in range(5))
    assert enroll(old_pc, issue(office, room_id, 3)).status_code == 200
    assert enroll(neighbour, issue(office, room_id, 4)).status_code == 200
    assert enroll(spare_a, issue(office, room_id, None)).status_code == 200
    assert enroll(spare_b, issue(office, room_id, None)).status_code == 200
    old_id = seat_of(old_pc)["id"]  # type: ignore[index]
    assert enroll(new_pc, issue(office, room_id, 3)).status_code == 200
    assert seat_of(old_pc) is None
    assert seat_of(new_pc)["seat_no"] == 3  # type: ignore[index]
    assert seat_of(neighbour)["seat_no"] == 4  # type: ignore[index]
    spares = [seat_of(spare_a), seat_of(spare_b)]
    assert all(s is not None and s["is_spare"] and s["seat_no"] is None for s in spares)
    assert spares[0]["label"] != spares[1]["label"]  # type: ignore[index]
    live = sql(clean_db, "SELECT id, seat_no FROM terminals WHERE revoked_at IS NULL AND seat_no = 3")
    assert len(live) == 1 and live[0]["id"] != old_id
    assert sql(clean_db, "SELECT revoked_at FROM terminals WHERE id = $1", old_id)[0]["revoked_at"] is not None


def test_a_candidate_cannot_log_in_at_a_revoked_pc(
    browser: Callable[[], httpx.Client], clean_db: str, test_settings: Settings
) -> None:
    """R-SEC-2: after their seat was re-enrolled, the old PC is no exam terminal for the candidate;
    the new PC of the same seat is."""
    site = build_site(clean_db, test_settings, candidates=1)
    seat = site.seats[0]
    office = admin(browser, clean_db, test_settings)
    new_pc = browser()
    assert enroll(new_pc, issue(office, site.room_id, seat.seat_no)).status_code == 200
    refused = candidate_login(browser(), seat)  # the old PC's cookie
    assert refused.status_code == 403 and refused.json()["code"] == "not_a_terminal"
    assert candidate_login(new_pc, seat, cookie=new_pc.cookies[terminals.TERMINAL_COOKIE]).status_code == 200
    assert api(new_pc, "GET", "/api/v1/attempt").json()["seat_no"] == seat.seat_no


def test_a_pc_revoked_during_the_exam_stops_being_the_seat_for_every_request(
    browser: Callable[[], httpx.Client], clean_db: str, test_settings: Settings
) -> None:
    """R-SEC-2 on the terminal's fast path (attempt and terminal read in one statement, issue 7):
    once the seat is re-enrolled, the old PC — logged in already — can neither open the paper,
    nor read it, nor save; the new PC of the seat can."""
    site = build_site(clean_db, test_settings, candidates=1)
    seat = site.seats[0]
    old_pc = browser()
    assert candidate_login(old_pc, seat).status_code == 200
    office = admin(browser, clean_db, test_settings)
    new_pc = browser()
    assert enroll(new_pc, issue(office, site.room_id, seat.seat_no)).status_code == 200
    for method, path in (("POST", "/api/v1/attempt/start"), ("GET", "/api/v1/attempt/paper")):
        refused = api(old_pc, method, path)
        assert refused.status_code == 403 and refused.json()["code"] == "not_a_terminal", (path, refused.text)
    assert sql(clean_db, "SELECT started_at FROM attempts")[0]["started_at"] is None
    assert candidate_login(new_pc, seat, cookie=new_pc.cookies[terminals.TERMINAL_COOKIE]).status_code == 200
    opened = api(new_pc, "POST", "/api/v1/attempt/start")
    assert opened.status_code == 200 and opened.json()["paper"]["items"], opened.text


def test_only_admins_issue_codes(
    browser: Callable[[], httpx.Client], clean_db: str, test_settings: Settings, room_id: int
) -> None:
    """R-SEC-2, R-SEC-1: codes come from the exam office only, and only with the CSRF token."""
    body: dict[str, object] = {"room_id": room_id, "seat_no": 1}
    assert api(browser(), "POST", "/api/v1/terminals/codes", body).status_code == 401
    for name, role in (("zhangmin", "invigilator"), ("liguohua", "chief"), ("zhouli", "bank_keeper")):
        staff = browser()
        make_user(clean_db, test_settings, name, [role])
        assert login(staff, name, PASSWORD).status_code == 302
        refused = api(staff, "POST", "/api/v1/terminals/codes", body)
        assert refused.status_code == 403, (role, refused.text)
    office = admin(browser, clean_db, test_settings)
    no_token = office.post("/api/v1/terminals/codes", json=body)
    assert no_token.status_code == 403
    assert count(clean_db, "enrollment_codes") == 0
    assert CODE_FORMAT.match(issue(office, room_id, 1))
    assert count(clean_db, "enrollment_codes") == 1


def test_invalid_seats_and_rooms_are_refused(
    browser: Callable[[], httpx.Client], clean_db: str, test_settings: Settings, room_id: int
) -> None:
    """R-SEC-2, R-SEC-5: a seat the room does not have, or a room that does not exist, is refused
    with a clear code and no code is issued."""
    office = admin(browser, clean_db, test_settings)
    for seat_no in (0, -1, 31):
        refused = api(office, "POST", "/api/v1/terminals/codes", {"room_id": room_id, "seat_no": seat_no})
        assert refused.status_code == 400 and refused.json()["code"] == "no_seat", (seat_no, refused.text)
    no_room = api(office, "POST", "/api/v1/terminals/codes", {"room_id": room_id + 1000, "seat_no": 1})
    assert no_room.status_code == 404 and no_room.json()["code"] == "no_room"
    malformed = api(office, "POST", "/api/v1/terminals/codes", {"room_id": "three", "seat_no": 1})
    assert malformed.status_code == 400
    assert count(clean_db, "enrollment_codes") == 0
    assert CODE_FORMAT.match(issue(office, room_id, 30))  # the last seat exists


def test_the_audit_log_records_issues_enrollments_and_failures(
    browser: Callable[[], httpx.Client], clean_db: str, test_settings: Settings, room_id: int
) -> None:
    """R-SEC-3: code issued (by whom, for which seat), PC enrolled (which terminal, from where),
    and every failed enrollment with its reason — in the hash-chained audit log."""
    office = admin(browser, clean_db, test_settings)
    code = issue(office, room_id, 5)
    pc = browser()
    assert enroll(pc, code).status_code == 200
    terminal_id = seat_of(pc)["id"]  # type: ignore[index]
    assert enroll(browser(), code).status_code == 403
    assert enroll(browser(), "AAAA-AAAA").status_code == 403
    rows = sql(
        clean_db,
        "SELECT action, actor, object_type, object_id, detail, ip FROM audit_log"
        " WHERE action LIKE 'enrollment%' OR action LIKE 'terminal%' ORDER BY id",
    )
    assert [r["action"] for r in rows] == [
        "enrollment_code_issued",
        "terminal_enrolled",
        "terminal_enroll_failed",
        "terminal_enroll_failed",
    ]
    issued, enrolled, used, unknown = rows
    assert issued["actor"] == "Wangjing" and issued["object_id"] == str(room_id)
    assert json.loads(issued["detail"]) == {"seat_no": 5, "spare": False}
    assert enrolled["object_type"] == "terminal" and enrolled["object_id"] == str(terminal_id)
    assert enrolled["actor"] == "terminal 第三考场 5" and enrolled["ip"] == "127.0.0.1"
    assert json.loads(enrolled["detail"]) == {"room_id": room_id, "seat_no": 5, "spare": False}
    assert [json.loads(r["detail"])["reason"] for r in (used, unknown)] == ["used", "unknown"]
    assert used["ip"] == "127.0.0.1"
    # The code itself is never written to the log.
    assert all(code.replace("-", "") not in json.dumps(r["detail"]) for r in rows)
