"""The incident log (考场记录表, R-INC-1/2/5) with violation consequences, toilet breaks, illness
and early forced leave (R-CLOCK-3/8): through the real API and pages of the live server."""

from __future__ import annotations

import io
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest
from pypdf import PdfReader

from examhall.config import Settings
from tests.conftest import LiveServer, csrf_token, login, make_user, sql
from tests.integration.examday_site import ExamSite, api, build_site, candidate_login

PASSWORD = "correct-horse-9"


@dataclass
class Hall:
    site: ExamSite
    invigilator: httpx.Client
    chief: httpx.Client
    url: str

    def record(self, seat_no: int | None, category: str, **body: object) -> httpx.Response:
        payload: dict[str, object] = {"category": category, "room_id": self.site.room_id, **body}
        if seat_no is not None:
            payload["seat_no"] = seat_no
        return api(self.invigilator, "POST", f"/api/v1/sittings/{self.site.sitting_id}/incidents", payload)

    def attempt_id(self, seat_no: int) -> int:
        rows = sql(
            self.url,
            "SELECT id FROM attempts WHERE sitting_id = $1 AND seat_no = $2 AND room_id = $3",
            self.site.sitting_id,
            seat_no,
            self.site.room_id,
        )
        return int(rows[0]["id"])

    def consequences(self, seat_no: int) -> dict[str, object]:
        response = api(self.invigilator, "GET", f"/api/v1/attempts/{self.attempt_id(seat_no)}/consequences")
        assert response.status_code == 200, response.text
        return dict(response.json())

    def bars(self, seat_no: int) -> dict[str, object]:
        candidate_id = self.site.seats[seat_no - 1].candidate_id
        response = api(self.chief, "GET", f"/api/v1/candidates/{candidate_id}/bars")
        assert response.status_code == 200, response.text
        return dict(response.json())


def _hall(live_server: LiveServer, url: str, settings: Settings, **site_options: object) -> Iterator[Hall]:
    site = build_site(url, settings, **site_options)  # type: ignore[arg-type]
    make_user(url, settings, "wangjk", ["invigilator"])
    make_user(url, settings, "liguohua", ["chief"])
    invigilator = httpx.Client(base_url=live_server.url, timeout=20)
    chief = httpx.Client(base_url=live_server.url, timeout=20)
    try:
        assert login(invigilator, "wangjk", PASSWORD).status_code == 302
        assert login(chief, "liguohua", PASSWORD).status_code == 302
        yield Hall(site, invigilator, chief, url)
    finally:
        invigilator.close()
        chief.close()


@pytest.fixture
def hall(live_server: LiveServer, clean_db: str, test_settings: Settings) -> Iterator[Hall]:
    yield from _hall(live_server, clean_db, test_settings)


@pytest.fixture
def terminal(live_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url, timeout=20) as client:
        yield client


def started(client: httpx.Client, hall: Hall, seat_no: int) -> None:
    assert candidate_login(client, hall.site.seats[seat_no - 1]).status_code == 200
    assert api(client, "POST", "/api/v1/attempt/start").status_code == 200


def end_time(client: httpx.Client) -> datetime:
    return datetime.fromisoformat(api(client, "GET", "/api/v1/attempt").json()["clock"]["end_time"])


def site_today(settings: Settings) -> date:
    return datetime.now(ZoneInfo(settings.timezone)).date()


def audit_actions(url: str) -> list[str]:
    return [r["action"] for r in sql(url, "SELECT action FROM audit_log WHERE action LIKE 'incident%' ORDER BY id")]


# --- violation levels (R-INC-2) ------------------------------------------------------------------------


def test_level_1_and_2_cancel_the_subject_without_a_bar(hall: Hall) -> None:
    one = hall.record(1, "left_seat", text="擅自离开座位，经提醒拒不改正", recorded_by=["王监考", "赵监考"])
    assert one.status_code == 201, one.text
    body = one.json()
    assert (body["level"], body["kind"], body["counts"]) == (1, "entry", True)
    assert body["consequence"]["cancel_subject"] and not body["consequence"]["counts_as_cheating"]
    assert body["recorded_by"] == ["王监考", "赵监考"]
    two = hall.record(2, "whispering_signalling", text="与邻座交头接耳")
    assert two.status_code == 201
    assert two.json()["consequence"]["counts_as_cheating"]
    assert two.json()["recorded_by"] == ["Wangjk"]  # nobody named: the invigilator logged in
    assert hall.consequences(2)["consequence"]["counts_as_cheating"] is True  # type: ignore[index]
    assert hall.bars(1)["bars"] == [] and hall.bars(2)["bars"] == []
    assert audit_actions(hall.url) == ["incident_recorded", "incident_recorded"]
    # The seat map flags both seats (R-INC-1: open incidents show on the console).
    room = api(hall.invigilator, "GET", f"/api/v1/console/sittings/{hall.site.sitting_id}/rooms/{hall.site.room_id}")
    flags = {t["seat_no"]: t["incidents"] for t in room.json()["tiles"] if t["seat_no"] in (1, 2, 3)}
    assert flags == {1: 1, 2: 1, 3: 0}


def test_level_3_cancels_all_and_bars_the_candidate_until_31_december(hall: Hall, test_settings: Settings) -> None:
    response = hall.record(1, "electronic_device_use", text="考试中使用手机拍照")
    assert response.status_code == 201, response.text
    body = response.json()
    today = site_today(test_settings)
    assert body["level"] == 3
    assert body["consequence"]["cancel_all_subjects_of_sitting"] is True
    assert body["consequence"]["bar_until"] == date(today.year, 12, 31).isoformat()
    bars = hall.bars(1)
    assert bars["barred_today"] is True
    [bar] = bars["bars"]  # type: ignore[misc]
    assert (bar["from_date"], bar["until_date"], bar["active"]) == (today.isoformat(), f"{today.year}-12-31", True)
    assert bar["incident_id"] == body["id"] and "三、1" in bar["reason"]
    found = hall.consequences(1)
    assert found["incident_ids"] == [body["id"]] and found["score_cancelled"] is True
    # The other candidates are untouched.
    assert hall.consequences(2)["incident_ids"] == []


def test_level_4_bars_two_years_and_the_chiefs_ruling_serious_makes_it_five(
    hall: Hall, test_settings: Settings
) -> None:
    today = site_today(test_settings)
    recorded = hall.record(3, "organised_cheating", text="与3号、5号串通作弊")
    assert recorded.status_code == 201
    light = recorded.json()
    assert light["consequence"]["bar_until"] == (today.replace(year=today.year + 2) - timedelta(days=1)).isoformat()
    # Only the chief decides; an invigilator is refused with the API's JSON.
    refused = api(hall.invigilator, "POST", f"/api/v1/incidents/{light['id']}/decision", {"decision": "情节严重"})
    assert refused.status_code == 403 and refused.json()["code"] == "forbidden_role"
    decided = api(
        hall.chief,
        "POST",
        f"/api/v1/incidents/{light['id']}/decision",
        {"decision": "经查情节严重，5年内不得参加，移送有关部门", "serious": True},
    )
    assert decided.status_code == 201, decided.text
    serious = decided.json()
    assert (serious["kind"], serious["corrects_id"], serious["serious"]) == ("decision", light["id"], True)
    assert serious["chief_decision"].startswith("经查情节严重")
    assert serious["text"] == "与3号、5号串通作弊"  # the description stays
    assert serious["incident_date"] == light["incident_date"]
    assert serious["consequence"]["referral"] is True
    five = (today.replace(year=today.year + 5) - timedelta(days=1)).isoformat()
    assert serious["consequence"]["bar_until"] == five
    bars = hall.bars(3)["bars"]
    assert [(b["incident_id"], b["active"], b["lifted_by_id"]) for b in bars] == [  # type: ignore[union-attr]
        (light["id"], False, serious["id"]),
        (serious["id"], True, None),
    ]
    log = api(hall.chief, "GET", f"/api/v1/sittings/{hall.site.sitting_id}/incidents").json()["incidents"]
    assert [(e["id"], e["counts"], e["replaced_by"]) for e in log] == [
        (light["id"], False, serious["id"]),
        (serious["id"], True, None),
    ]
    assert hall.consequences(3)["consequence"]["bar_until"] == five  # type: ignore[index]
    # A decision is changed by the chief only: an invigilator's correction is refused.
    again = api(hall.invigilator, "POST", f"/api/v1/incidents/{serious['id']}/correct", {"text": "改为情节轻微"})
    assert again.status_code == 403 and again.json()["code"] == "chief_only"
    assert audit_actions(hall.url) == ["incident_recorded", "incident_decided"]


def test_serious_is_only_for_level_4_and_unknown_categories_are_refused(hall: Hall) -> None:
    wrong = hall.record(1, "copying_paper", text="抄袭", serious=True)
    assert wrong.status_code == 400 and wrong.json()["code"] == "serious_level_4_only"
    unknown = hall.record(1, "chatting", text="聊天")
    assert unknown.status_code == 400
    assert unknown.json()["code"] == "unknown_category" and unknown.json()["message"]
    no_text = hall.record(1, "copying_paper")
    assert no_text.status_code == 400 and no_text.json()["code"] == "needs_text"
    no_seat = hall.record(None, "copying_paper", text="抄袭")
    assert no_seat.status_code == 400 and no_seat.json()["code"] == "needs_candidate"
    assert sql(hall.url, "SELECT count(*) AS n FROM incidents")[0]["n"] == 0


# --- corrections (R-INC-1) ---------------------------------------------------------------------------


def test_a_correction_is_a_new_entry_and_replaces_the_consequence(hall: Hall) -> None:
    first = hall.record(2, "questions_taken_out", text="将草稿纸带出考场").json()
    assert first["level"] == 3 and hall.bars(2)["barred_today"] is True
    corrected = api(
        hall.invigilator,
        "POST",
        f"/api/v1/incidents/{first['id']}/correct",
        {"category": "paper_taken_out", "text": "带出的是草稿纸，属二、5", "recorded_by": ["王监考"]},
    )
    assert corrected.status_code == 201, corrected.text
    second = corrected.json()
    assert (second["kind"], second["corrects_id"], second["level"]) == ("correction", first["id"], 2)
    assert second["consequence"]["bar_until"] is None
    assert hall.bars(2)["barred_today"] is False
    found = hall.consequences(2)
    assert found["incident_ids"] == [second["id"]]
    assert found["consequence"]["counts_as_cheating"] is True  # type: ignore[index]
    assert found["consequence"]["cancel_all_subjects_of_sitting"] is False  # type: ignore[index]
    # Correcting the replaced entry again would fork the log: refused, naming the latest.
    stale = api(hall.invigilator, "POST", f"/api/v1/incidents/{first['id']}/correct", {"text": "再次更正"})
    assert stale.status_code == 409 and stale.json()["code"] == "superseded"
    assert str(second["id"]) in stale.json()["message"]
    # Recorded in error: corrected to a note, nothing remains.
    cleared = api(
        hall.invigilator,
        "POST",
        f"/api/v1/incidents/{second['id']}/correct",
        {"category": "note", "text": "记录有误，该考生无违纪"},
    ).json()
    assert cleared["consequence"]["cancel_subject"] is False
    assert hall.consequences(2)["incident_ids"] == []
    # Both older entries are still there, unchanged.
    rows = sql(hall.url, "SELECT id, category, text FROM incidents ORDER BY id")
    assert [(r["category"], r["text"]) for r in rows] == [
        ("questions_taken_out", "将草稿纸带出考场"),
        ("paper_taken_out", "带出的是草稿纸，属二、5"),
        ("note", "记录有误，该考生无违纪"),
    ]
    assert api(hall.invigilator, "POST", "/api/v1/incidents/999/correct", {"text": "x"}).status_code == 404
    need = api(hall.invigilator, "POST", f"/api/v1/incidents/{cleared['id']}/correct", {"text": ""})
    assert need.status_code == 400 and need.json()["code"] == "needs_text"


def test_the_database_refuses_update_delete_and_truncate_of_the_log(hall: Hall) -> None:
    entry = hall.record(1, "copying_paper", text="抄袭").json()
    for statement in (
        "UPDATE incidents SET text = 'changed' WHERE id = $1",
        "DELETE FROM incidents WHERE id = $1",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            sql(hall.url, statement, entry["id"])
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
        sql(hall.url, "TRUNCATE incidents CASCADE")
    assert sql(hall.url, "SELECT text FROM incidents")[0]["text"] == "抄袭"


# --- toilet breaks, illness, early leave (R-CLOCK-3/8) ----------------------------------------------------


def test_a_toilet_break_with_two_escorts_keeps_the_clock_running(hall: Hall, terminal: httpx.Client) -> None:
    started(terminal, hall, 1)
    before = end_time(terminal)
    one_escort = hall.record(1, "toilet_start", escorts=["流动监考甲"])
    assert one_escort.status_code == 400 and one_escort.json()["code"] == "needs_escorts"
    out = hall.record(1, "toilet_start", escorts=["流动监考甲", "流动监考乙"])
    assert out.status_code == 201, out.text
    assert out.json()["detail"]["escorts"] == ["流动监考甲", "流动监考乙"]
    twice = hall.record(1, "toilet_start", escorts=["流动监考甲", "流动监考乙"])
    assert twice.status_code == 409 and twice.json()["code"] == "clock_refused"
    assert end_time(terminal) == before  # the clock keeps running: no compensation
    # The candidate can still save (the terminal is unattended, but the attempt runs).
    assert api(terminal, "PUT", "/api/v1/attempt/answers/1", {"response": "T", "seq": 1}).status_code == 200
    back = hall.record(1, "toilet_end")
    assert back.status_code == 201
    assert hall.record(1, "toilet_end").json()["code"] == "clock_refused"
    assert end_time(terminal) == before
    events = sql(
        hall.url,
        "SELECT kind, ref FROM attempt_events WHERE attempt_id = $1 AND kind LIKE 'break%' ORDER BY id",
        hall.attempt_id(1),
    )
    assert [(e["kind"], e["ref"]) for e in events] == [
        ("break_started", f"incident-{out.json()['id']}"),
        ("break_ended", f"incident-{back.json()['id']}"),
    ]
    assert hall.consequences(1)["incident_ids"] == []  # no consequence


def test_illness_continue_then_withdraw_closes_the_attempt_and_refuses_saves(
    hall: Hall, terminal: httpx.Client
) -> None:
    started(terminal, hall, 2)
    before = end_time(terminal)
    assert hall.record(2, "illness_continue", text="头晕，坚持考试").status_code == 201
    assert end_time(terminal) == before  # no extra time (R-CLOCK-8)
    withdrawn = hall.record(2, "illness_withdrawn", text="腹痛，停止考试，由两名工作人员陪同就医")
    assert withdrawn.status_code == 201, withdrawn.text
    [attempt] = sql(hall.url, "SELECT state, outcome, closed_at, score FROM attempts WHERE id = $1", hall.attempt_id(2))
    assert (attempt["state"], attempt["outcome"], attempt["score"]) == ("closed", "withdrawn", None)
    assert attempt["closed_at"] is not None
    saved = api(terminal, "PUT", "/api/v1/attempt/answers/1", {"response": "T", "seq": 5})
    assert saved.status_code == 409 and saved.json()["code"] == "closed"
    assert api(terminal, "GET", "/api/v1/attempt").json()["clock"]["phase"] == "withdrawn"
    # After the attempt closed, nothing more acts on its clock.
    late = hall.record(2, "toilet_start", escorts=["甲", "乙"])
    assert late.status_code == 409 and late.json()["code"] == "attempt_closed"
    assert hall.record(2, "left_early").json()["code"] == "attempt_closed"
    # A violation found afterwards is still recorded (R-INC-3).
    assert hall.record(2, "identical_papers", text="与4号试卷雷同").status_code == 201


def test_early_forced_leave_closes_the_attempt_and_cancels_the_score(hall: Hall, terminal: httpx.Client) -> None:
    started(terminal, hall, 3)
    left = hall.record(3, "left_early", text="开考40分钟后坚持离场，已告知取消本场成绩")
    assert left.status_code == 201, left.text
    assert left.json()["consequence"]["cancel_subject"] is True
    assert left.json()["consequence"]["counts_as_cheating"] is False
    [attempt] = sql(hall.url, "SELECT state, outcome FROM attempts WHERE id = $1", hall.attempt_id(3))
    assert (attempt["state"], attempt["outcome"]) == ("closed", "left_early")
    found = hall.consequences(3)
    assert found["left_early"] is True and found["score_cancelled"] is True
    assert api(terminal, "PUT", "/api/v1/attempt/answers/1", {"response": "T", "seq": 1}).status_code == 409


def test_leaving_once_hand_in_is_open_is_not_an_early_leave(
    live_server: LiveServer, clean_db: str, test_settings: Settings
) -> None:
    """A 10-minute sitting: hand-in is open from the start (E − 30 min is past), so R-CLOCK-3 does
    not apply and the entry is refused."""
    for hall in _hall(live_server, clean_db, test_settings, duration_minutes=10):
        with httpx.Client(base_url=live_server.url, timeout=20) as terminal:
            started(terminal, hall, 1)
            refused = hall.record(1, "left_early")
            assert refused.status_code == 409 and refused.json()["code"] == "may_hand_in"
            [attempt] = sql(hall.url, "SELECT state FROM attempts WHERE id = $1", hall.attempt_id(1))
            assert attempt["state"] == "running"
            assert sql(hall.url, "SELECT count(*) AS n FROM incidents")[0]["n"] == 0


# --- suspected impersonation (R-INC-5) -------------------------------------------------------------------


def test_impersonation_admitted_is_level_4_with_the_impersonators_confirmation(
    hall: Hall, test_settings: Settings
) -> None:
    unsure = hall.record(1, "impersonation_suspected", text="照片与本人明显不符")
    assert unsure.status_code == 400 and unsure.json()["code"] == "needs_admitted"
    unsigned = hall.record(1, "impersonation_suspected", text="照片与本人明显不符", admitted=True)
    assert unsigned.status_code == 400 and unsigned.json()["code"] == "needs_confirmation"
    admitted = hall.record(
        1, "impersonation_suspected", text="照片与本人明显不符，本人承认替考", admitted=True, impersonator="李四"
    )
    assert admitted.status_code == 201, admitted.text
    body = admitted.json()
    assert (body["category"], body["level"], body["investigation"]) == ("impersonation", 4, False)
    assert body["detail"] == {"requested": "impersonation_suspected", "admitted": True, "impersonator": "李四"}
    today = site_today(test_settings)
    assert body["consequence"]["bar_until"] == (today.replace(year=today.year + 2) - timedelta(days=1)).isoformat()
    assert hall.bars(1)["barred_today"] is True


def test_impersonation_denied_continues_and_is_marked_for_investigation(hall: Hall, terminal: httpx.Client) -> None:
    started(terminal, hall, 2)
    denied = hall.record(2, "impersonation_suspected", text="照片存疑，考生否认", admitted=False)
    assert denied.status_code == 201, denied.text
    body = denied.json()
    assert (body["category"], body["level"], body["investigation"]) == ("impersonation_suspected", None, True)
    assert body["consequence"]["cancel_subject"] is False
    # The candidate continues.
    assert api(terminal, "PUT", "/api/v1/attempt/answers/1", {"response": "T", "seq": 1}).status_code == 200
    assert hall.consequences(2)["investigation"] is True
    # After the sitting the chief investigates: confirmed impersonation becomes level 4.
    decided = api(
        hall.chief,
        "POST",
        f"/api/v1/incidents/{body['id']}/decision",
        {"decision": "经考点办公室调查，确认替考", "category": "impersonation"},
    )
    assert decided.status_code == 201, decided.text
    assert (decided.json()["level"], decided.json()["investigation"]) == (4, False)
    found = hall.consequences(2)
    assert found["investigation"] is False
    assert found["consequence"]["cancel_all_subjects_of_sitting"] is True  # type: ignore[index]
    assert hall.bars(2)["barred_today"] is True


# --- idempotency, roles, wrong places -------------------------------------------------------------------


def test_the_same_request_twice_makes_one_entry_even_at_once(hall: Hall, live_server: LiveServer) -> None:
    first = hall.record(1, "copying_paper", text="抄袭", request_id="click-1")
    again = hall.record(1, "copying_paper", text="抄袭", request_id="click-1")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"] and again.json()["created"] is False
    reused = hall.record(2, "copying_paper", text="抄袭", request_id="click-1")
    assert reused.status_code == 409 and reused.json()["code"] == "request_reused"

    # Two invigilators' clicks arriving together (a level-3 entry: one bar only).
    token = csrf_token(hall.invigilator)
    cookies = dict(hall.invigilator.cookies.items())
    path = f"/api/v1/sittings/{hall.site.sitting_id}/incidents"
    body = {
        "category": "copying_answers",
        "room_id": hall.site.room_id,
        "seat_no": 2,
        "text": "抄答案",
        "request_id": "r2",
    }

    def click(_: int) -> httpx.Response:
        with httpx.Client(base_url=live_server.url, timeout=20, cookies=cookies) as client:
            return client.post(path, json=body, headers={"x-csrftoken": token})

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(click, range(4)))
    assert sorted(r.status_code for r in results) == [200, 200, 200, 201]
    assert len({r.json()["id"] for r in results}) == 1
    assert sql(hall.url, "SELECT count(*) AS n FROM incidents WHERE request_id = 'r2'")[0]["n"] == 1
    assert len(hall.bars(2)["bars"]) == 1  # type: ignore[arg-type]
    # A repeated correction is one correction too.
    entry = results[0].json()["id"]
    fix = {"text": "更正为二、2", "category": "copying_paper", "request_id": "fix-1"}
    a = api(hall.invigilator, "POST", f"/api/v1/incidents/{entry}/correct", fix)
    b = api(hall.invigilator, "POST", f"/api/v1/incidents/{entry}/correct", fix)
    assert (a.status_code, b.status_code) == (201, 200) and a.json()["id"] == b.json()["id"]


def test_wrong_role_sitting_room_and_attempt_are_refused(
    hall: Hall, terminal: httpx.Client, live_server: LiveServer
) -> None:
    sitting = hall.site.sitting_id
    # A candidate (at their terminal) is not an invigilator.
    started(terminal, hall, 1)
    as_candidate = api(terminal, "POST", f"/api/v1/sittings/{sitting}/incidents", {"category": "note", "text": "x"})
    assert as_candidate.status_code == 403
    assert as_candidate.json()["code"] == "forbidden_role" and as_candidate.json()["message"]
    assert api(terminal, "GET", f"/api/v1/sittings/{sitting}/incidents").status_code == 403
    with httpx.Client(base_url=live_server.url, timeout=20) as anonymous:
        nobody = api(anonymous, "POST", f"/api/v1/sittings/{sitting}/incidents", {"category": "note"})
        assert nobody.status_code == 401 and nobody.json()["code"] == "login_required"
    # Wrong sitting, wrong room, empty seat, attempt of another room.
    missing = api(hall.invigilator, "POST", "/api/v1/sittings/999/incidents", {"category": "note", "room_id": 1})
    assert missing.status_code == 404 and missing.json()["code"] == "no_sitting"
    assert hall.record(None, "note", text="x", room_id=999).json()["code"] == "no_room"
    assert hall.record(None, "note", text="x", room_id=999).status_code == 404
    empty = hall.record(29, "copying_paper", text="x")
    assert empty.status_code == 404 and empty.json()["code"] == "no_seat"
    attempt_id = hall.attempt_id(1)
    other_room = api(
        hall.invigilator,
        "POST",
        f"/api/v1/sittings/{sitting}/incidents",
        {"category": "copying_paper", "attempt_id": attempt_id, "room_id": 999, "text": "x"},
    )
    assert other_room.status_code == 409 and other_room.json()["code"] == "other_room"
    # The seeded mock exam is another sitting: this attempt is not one of its.
    [mock] = sql(hall.url, "SELECT id FROM sittings WHERE id <> $1", sitting)
    wrong_sitting = api(
        hall.invigilator,
        "POST",
        f"/api/v1/sittings/{mock['id']}/incidents",
        {"category": "copying_paper", "attempt_id": attempt_id, "text": "x"},
    )
    assert wrong_sitting.status_code == 404 and wrong_sitting.json()["code"] == "no_attempt"
    bad_body = api(hall.invigilator, "POST", f"/api/v1/sittings/{sitting}/incidents", {"room_id": "A"})
    assert bad_body.status_code == 400 and bad_body.json()["code"] == "invalid"
    listing = api(hall.invigilator, "GET", f"/api/v1/sittings/{sitting}/incidents?room_id=999")
    assert listing.status_code == 404 and listing.json()["code"] == "no_room"
    # A room note needs no candidate; the listing by room shows it.
    assert hall.record(None, "note", text="试卷袋密封完好，09:00启封").status_code == 201
    listed = api(hall.invigilator, "GET", f"/api/v1/sittings/{sitting}/incidents?room_id={hall.site.room_id}")
    assert [e["category"] for e in listed.json()["incidents"]] == ["note"]
    categories = api(hall.invigilator, "GET", "/api/v1/incident-categories").json()
    assert {c["code"] for c in categories["categories"]} >= {"impersonation", "toilet_start", "left_early"}
    assert sql(hall.url, "SELECT count(*) AS n FROM incidents")[0]["n"] == 1


def test_an_action_on_a_candidate_not_checked_in_is_refused(
    live_server: LiveServer, clean_db: str, test_settings: Settings
) -> None:
    for hall in _hall(live_server, clean_db, test_settings, check_in=False, starts_in=timedelta(minutes=10)):
        refused = hall.record(1, "toilet_start", escorts=["甲", "乙"])
        assert refused.status_code == 409 and refused.json()["code"] == "not_checked_in"
        # A violation found at the entrance is recorded against the candidate (no attempt yet).
        forged = hall.record(1, "false_documents", text="身份证为伪造")
        assert forged.status_code == 201, forged.text
        assert forged.json()["attempt_id"] is None and forged.json()["candidate_id"] is not None
        assert hall.bars(1)["barred_today"] is True


# --- pages and the record form -----------------------------------------------------------------------------


def pdf_text(content: bytes) -> str:
    assert content.startswith(b"%PDF")
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def test_the_log_page_records_and_the_record_form_prints_in_chinese(hall: Hall) -> None:
    base = f"/console/sittings/{hall.site.sitting_id}/rooms/{hall.site.room_id}"
    blank = hall.invigilator.get(f"{base}/record.pdf")
    assert blank.status_code == 200 and blank.headers["content-type"] == "application/pdf"
    text = pdf_text(blank.content)
    assert "考场记录表" in text and "监考人员签名" in text and "主考签名" in text
    assert "应考 3 人" in text and "实考 3 人" in text

    page = hall.invigilator.get(f"{base}/incidents")
    assert page.status_code == 200
    assert 'data-testid="incident-form"' in page.text and "<optgroup" in page.text
    assert 'value="electronic_device_use"' in page.text
    token = csrf_token(hall.invigilator)
    form = {
        "_csrf_token": token,
        "category": "electronic_device_use",
        "seat_no": "2",
        "text": "使用智能手表接收信息",
        "recorded_by": "王监考、赵监考",
        "request_id": "page-1",
    }
    posted = hall.invigilator.post(f"{base}/incidents", data=form)
    assert posted.status_code == 200, posted.text
    assert 'data-testid="incident-message"' in posted.text and "使用智能手表接收信息" in posted.text
    assert hall.invigilator.post(f"{base}/incidents", data=form).status_code == 200  # reload: same entry
    rows = sql(hall.url, "SELECT id, recorded_by FROM incidents")
    assert len(rows) == 1
    refused = hall.invigilator.post(f"{base}/incidents", data={**form, "category": "nope", "request_id": "page-2"})
    assert refused.status_code == 400 and 'role="alert"' in refused.text
    entry_id = rows[0]["id"]
    decided = hall.chief.post(
        f"{base}/incidents/{entry_id}/decision",
        data={
            "_csrf_token": csrf_token(hall.chief),
            "decision": "维持，当年不得参加考试",
            "category": "electronic_device_use",
        },
    )
    assert decided.status_code == 200, decided.text
    refused_decision = hall.invigilator.post(
        f"{base}/incidents/{entry_id}/decision", data={"_csrf_token": token, "decision": "x"}
    )
    assert refused_decision.status_code == 403

    printed = hall.invigilator.get(f"{base}/record.pdf")
    text = pdf_text(printed.content)
    assert "考场记录表" in text
    assert hall.site.seats[1].name in text
    assert "使用规定以外的带拍照" in text and "王监考、赵监考" in text
    assert "维持，当年不得参加考试" in text
    assert "当年不得参加考试" in text
    other = hall.invigilator.get(f"/console/sittings/{hall.site.sitting_id}/rooms/999/record.pdf")
    assert other.status_code == 404


def test_entries_keep_their_order_and_times_are_server_times(hall: Hall) -> None:
    before = datetime.now(UTC)
    ids = [hall.record(n, "phone_ringing").json()["id"] for n in (3, 1, 2)]
    log = api(hall.invigilator, "GET", f"/api/v1/sittings/{hall.site.sitting_id}/incidents").json()["incidents"]
    assert [e["id"] for e in log] == ids
    assert [e["seat_no"] for e in log] == [3, 1, 2]
    assert all(datetime.fromisoformat(e["at"]) >= before - timedelta(seconds=1) for e in log)
    assert all(e["consequence"]["cancel_subject"] is False for e in log)  # a ringing phone is not cheating
