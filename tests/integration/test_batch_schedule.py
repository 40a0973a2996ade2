"""Scheduling a batch over real HTTP and PostgreSQL: theory sitting, seat allocation (R-REG-3),
invigilators and conflicts (R-REG-5, R-STAFF-3), printed documents with progress (R-REG-4)."""

from __future__ import annotations

import dataclasses
import io
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pypdf
from openpyxl import load_workbook

from examhall.bank.models import Occupation
from examhall.batches import registration, seating
from examhall.batches import service as batch_service
from examhall.batches.models import Room
from examhall.batches.rules import id_check_char
from examhall.config import Settings
from examhall.db import Database
from examhall.security import terminals
from examhall.security.audit import Actor
from examhall.sittings import service as sittings_service
from tests.conftest import form_post, login, make_user, run_db, sql

PASSWORD = "correct-horse-9"


def valid_id_number(n: int) -> str:
    first17 = f"37010219900101{n:03d}"
    return first17 + id_check_char(first17)


ACTOR = Actor("test")


@dataclasses.dataclass
class Scheduled:
    batch_id: int
    sitting_id: int
    room_a: int  # 6 seats, terminals at seats 1–5, capacity 3, 1 spare
    room_b: int  # 6 seats, all with terminals, capacity 30, 1 spare
    applications: dict[str, int]  # name -> application id
    candidates: dict[str, int]  # name -> candidate id


def scheduled_batch(url: str, settings: Settings, approved_paid: int = 7) -> Scheduled:
    """A batch offering 化工总控工 level 4; ``approved_paid`` candidates approved and paid, plus one
    approved but unpaid (欠费) and one rejected (驳回)."""

    async def work(db: Database) -> Scheduled:
        now = datetime.now(UTC)
        async with db.session() as session:
            occupation = Occupation(name="化工总控工", code="6-11-01-01", fee_category="B")
            session.add(occupation)
            await session.flush()
            batch = await batch_service.create_batch(session, "B2026-12", "2026年第12批次职业技能等级认定")
            await batch_service.add_offering(session, batch.id, occupation.id, 4, ACTOR)
            names = [f"考生{n:02d}" for n in range(1, approved_paid + 1)] + ["欠费", "驳回"]
            applications: dict[str, int] = {}
            candidates: dict[str, int] = {}
            for n, name in enumerate(names, start=1):
                app = await registration.register(
                    session,
                    batch.id,
                    registration.Registration(
                        name=name, id_number=valid_id_number(n), occupation_id=occupation.id, level=4
                    ),
                    ACTOR,
                )
                applications[name], candidates[name] = app.id, app.candidate_id
                if name == "驳回":
                    await registration.decide(session, app.id, "rejected", "工作年限不足", ACTOR)
                    continue
                await registration.decide(session, app.id, "approved", "", ACTOR)
                if name != "欠费":
                    await registration.record_payment(
                        session, app.id, amount=app.fee_total, method="wechat", receipt_no=f"R{n:04d}", actor=ACTOR
                    )
            room_a = await batch_service.create_room(session, "本中心考点", "第一考场", seat_count=6, columns=3)
            room_a.capacity, room_a.spare_seats = 3, 1
            room_b = await batch_service.create_room(session, "本中心考点", "第二考场", seat_count=6, columns=3)
            room_b.capacity, room_b.spare_seats = 30, 1
            for room, seats in ((room_a, range(1, 6)), (room_b, range(1, 7))):
                for seat_no in seats:
                    code = await terminals.issue_code(session, room.id, seat_no, ACTOR, now)
                    await terminals.enroll(session, settings, code, "127.0.0.1", now)
            sitting = await sittings_service.schedule_sitting(
                session,
                batch_id=batch.id,
                occupation_id=occupation.id,
                level=4,
                kind="theory",
                title="化工总控工四级 理论知识考试",
                starts_at=now + timedelta(days=7),
                duration_minutes=90,
                actor=ACTOR,
            )
            return Scheduled(batch.id, sitting.id, room_a.id, room_b.id, applications, candidates)

    return run_db(url, work)


def admin(client: httpx.Client, url: str, settings: Settings) -> httpx.Client:
    make_user(url, settings, "wangjing", ["admin"])
    assert login(client, "wangjing", PASSWORD).status_code == 302
    return client


def seats_of(url: str, sitting_id: int) -> dict[int, tuple[int, int]]:
    rows = sql(url, "SELECT candidate_id, room_id, seat_no FROM seat_assignments WHERE sitting_id = $1", sitting_id)
    return {r["candidate_id"]: (r["room_id"], r["seat_no"]) for r in rows}


def allocate(client: httpx.Client, site: Scheduled, **form: Any) -> httpx.Response:
    data = {"room_ids": [str(site.room_a), str(site.room_b)], "mode": "sequential", "seed": "7"} | form
    return client.post(
        f"/batches/{site.batch_id}/sittings/{site.sitting_id}/allocate",
        data={**data, "_csrf_token": client.cookies.get("csrftoken", "")},
    )


def test_only_approved_and_paid_candidates_get_seats_within_capacity_and_terminals(
    client: httpx.Client, clean_db: str, test_settings: Settings
) -> None:
    """R-REG-1/2/3: the unpaid and the rejected get no seat and no ticket; room A (capacity 3, a seat
    without a terminal, one spare) takes at most 3 on seats with a terminal; the rest go to room B."""
    site = scheduled_batch(clean_db, test_settings)
    admin(client, clean_db, test_settings)
    page = client.get(f"/batches/{site.batch_id}/schedule")
    assert page.status_code == 200 and "化工总控工四级 理论知识考试" in page.text
    done = allocate(client, site)
    assert done.status_code == 200 and 'role="status"' in done.text, done.text
    placed = seats_of(clean_db, site.sitting_id)
    assert set(placed) == {site.candidates[f"考生{n:02d}"] for n in range(1, 8)}
    in_a = [seat for room, seat in placed.values() if room == site.room_a]
    assert len(in_a) <= 3 and all(seat <= 5 for seat in in_a)
    assert len(set(placed.values())) == len(placed)  # no seat twice
    tickets = sql(clean_db, "SELECT name, ticket_number FROM candidates ORDER BY id")
    assert all(t["ticket_number"] for t in tickets if t["name"].startswith("考生"))
    assert [t["ticket_number"] for t in tickets if t["name"] in ("欠费", "驳回")] == [None, None]
    assert len({t["ticket_number"] for t in tickets if t["ticket_number"]}) == 7
    assert sql(clean_db, "SELECT count(*) AS n FROM audit_log WHERE action = 'seats_allocated'")[0]["n"] == 1
    plan = client.get(f"/batches/{site.batch_id}/sittings/{site.sitting_id}/seating.xlsx")
    assert plan.status_code == 200
    sheet = load_workbook(io.BytesIO(plan.content)).active
    assert sheet is not None and sheet.max_row == 1 + 7


def test_seating_again_after_a_withdrawal_keeps_printed_seats_and_tickets(
    client: httpx.Client, clean_db: str, test_settings: Settings
) -> None:
    """R-REG-3: a late withdrawal frees one seat; everyone else keeps seat and ticket; a candidate
    who pays later takes a free seat; the same seed gives the same plan."""
    site = scheduled_batch(clean_db, test_settings)
    admin(client, clean_db, test_settings)
    assert 'role="status"' in allocate(client, site, mode="random").text
    first = seats_of(clean_db, site.sitting_id)
    tickets = {r["id"]: r["ticket_number"] for r in sql(clean_db, "SELECT id, ticket_number FROM candidates")}

    app = site.applications["欠费"]
    fee = sql(clean_db, "SELECT fee_total FROM applications WHERE id = $1", app)[0]["fee_total"]

    async def change(db: Database) -> None:
        async with db.session() as session:
            await registration.withdraw(session, site.applications["考生03"], "生病", ACTOR)
            await registration.record_payment(session, app, amount=fee, method="cash", receipt_no="LATE-1", actor=ACTOR)

    run_db(clean_db, change)
    assert 'role="status"' in allocate(client, site, mode="random").text
    second = seats_of(clean_db, site.sitting_id)
    assert site.candidates["考生03"] not in second and site.candidates["欠费"] in second
    for candidate_id, place in first.items():
        if candidate_id != site.candidates["考生03"]:
            assert second[candidate_id] == place
    after = {r["id"]: r["ticket_number"] for r in sql(clean_db, "SELECT id, ticket_number FROM candidates")}
    assert all(after[cid] == number for cid, number in tickets.items() if number)
    assert after[site.candidates["欠费"]] not in tickets.values()  # a new number, never one given before


def test_a_room_busy_with_another_sitting_at_the_same_time_is_refused(
    client: httpx.Client, clean_db: str, test_settings: Settings
) -> None:
    site = scheduled_batch(clean_db, test_settings, approved_paid=2)
    admin(client, clean_db, test_settings)
    assert 'role="status"' in allocate(client, site).text

    occupation_id = sql(clean_db, "SELECT id FROM occupations")[0]["id"]

    async def other(db: Database) -> int:
        async with db.session() as session:
            first = await session.get(Room, site.room_a)
            assert first is not None
            sitting = await sittings_service.schedule_sitting(
                session,
                batch_id=site.batch_id,
                occupation_id=occupation_id,
                level=4,
                kind="theory",
                title="同时段的另一场",
                starts_at=datetime.now(UTC) + timedelta(days=7, minutes=30),
                duration_minutes=60,
                actor=ACTOR,
            )
            return sitting.id

    second = run_db(clean_db, other)
    refused = client.post(
        f"/batches/{site.batch_id}/sittings/{second}/allocate",
        data={
            "room_ids": [str(site.room_a)],
            "mode": "sequential",
            "seed": "1",
            "_csrf_token": client.cookies.get("csrftoken", ""),
        },
    )
    assert 'role="alert"' in refused.text and "第一考场" in refused.text
    assert sql(clean_db, "SELECT count(*) AS n FROM seat_assignments WHERE sitting_id = $1", second)[0]["n"] == 0


def test_invigilators_ratio_and_declared_conflicts(
    client: httpx.Client, clean_db: str, test_settings: Settings
) -> None:
    """R-REG-5: a room warns until it has 2 invigilators; R-STAFF-3: a declared relative seated in the
    room blocks the assignment with the reason; one person cannot hold two rooms of a sitting."""
    site = scheduled_batch(clean_db, test_settings)
    admin(client, clean_db, test_settings)
    assert 'role="status"' in allocate(client, site).text
    for username in ("zhangmin", "chengang", "liuqiang"):
        make_user(clean_db, test_settings, username, ["invigilator"])
    users = {r["username"]: r["id"] for r in sql(clean_db, "SELECT id, username FROM users")}
    url = f"/batches/{site.batch_id}/sittings/{site.sitting_id}/staffing"
    page = client.get(url)
    assert page.status_code == 200 and 'data-testid="staffing"' in page.text
    placed = seats_of(clean_db, site.sitting_id)
    relative = next(cid for cid, (room, _seat) in placed.items() if room == site.room_a)
    person = sql(clean_db, "SELECT name, id_number FROM candidates WHERE id = $1", relative)[0]
    declared = form_post(
        client,
        "/staff/conflicts",
        {
            "user_id": str(users["liuqiang"]),
            "id_number": person["id_number"],
            "person_name": person["name"],
            "kind": "relative",
        },
    )
    assert 'role="status"' in declared.text
    blocked = form_post(client, url, {"room_id": str(site.room_a), "user_id": str(users["liuqiang"])})
    assert 'role="alert"' in blocked.text and person["name"] in blocked.text
    one = form_post(client, url, {"room_id": str(site.room_a), "user_id": str(users["zhangmin"])})
    assert f'data-testid="staffing-room-{site.room_a}"' in one.text
    row_a = one.text.split(f'data-testid="staffing-room-{site.room_a}"')[1].split("</tr>")[0]
    assert 'role="alert"' in row_a  # one invigilator is not enough
    twice = form_post(client, url, {"room_id": str(site.room_b), "user_id": str(users["zhangmin"])})
    assert 'role="alert"' in twice.text
    two = form_post(client, url, {"room_id": str(site.room_a), "user_id": str(users["chengang"])})
    row_a = two.text.split(f'data-testid="staffing-room-{site.room_a}"')[1].split("</tr>")[0]
    assert 'role="alert"' not in row_a and "✓" in row_a
    assert sql(clean_db, "SELECT count(*) AS n FROM room_staff")[0]["n"] == 2
    assert sql(clean_db, "SELECT count(*) AS n FROM audit_log WHERE action = 'invigilator_assigned'")[0]["n"] == 2


def test_printing_tickets_shows_progress_and_gives_the_pdf(
    client: httpx.Client, clean_db: str, test_settings: Settings
) -> None:
    """R-REG-4: the job reports progress while it renders; the PDF holds a ticket per candidate."""
    site = scheduled_batch(clean_db, test_settings)
    admin(client, clean_db, test_settings)
    nothing = form_post(
        client, f"/batches/{site.batch_id}/print", {"kind": "tickets", "sitting_id": str(site.sitting_id)}
    )
    assert 'data-testid="print-job"' in nothing.text
    job_id = sql(clean_db, "SELECT max(id) AS id FROM print_jobs")[0]["id"]
    state = poll(client, job_id)
    assert state == "failed"  # nobody seated yet: the page says so instead of an empty PDF
    assert 'role="status"' in allocate(client, site).text
    for kind, pages in (("tickets", 4), ("door_lists", 2), ("sign_in", 2), ("desk_labels", 2), ("record_forms", 2)):
        started = form_post(
            client, f"/batches/{site.batch_id}/print", {"kind": kind, "sitting_id": str(site.sitting_id)}
        )
        assert 'data-state="running"' in started.text and "<progress" in started.text
        job_id = sql(clean_db, "SELECT max(id) AS id FROM print_jobs")[0]["id"]
        assert poll(client, job_id) == "done"
        pdf = client.get(f"/batches/print-jobs/{job_id}/document.pdf")
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
        reader = pypdf.PdfReader(io.BytesIO(pdf.content))
        assert len(reader.pages) == pages, kind
        if kind == "tickets":
            assert "考生01" in reader.pages[0].extract_text()
    make_user(clean_db, test_settings, "zhangmin", ["invigilator"])
    client.cookies.clear()
    assert login(client, "zhangmin", PASSWORD).status_code == 302
    assert client.get(f"/batches/print-jobs/{job_id}/document.pdf").status_code == 403


def poll(client: httpx.Client, job_id: int) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        fragment = client.get(f"/batches/print-jobs/{job_id}")
        state = fragment.text.split('data-state="')[1].split('"')[0]
        if state != "running":
            return state
        time.sleep(0.2)
    raise AssertionError("the print job did not finish in 30 s")


def test_seating_service_refuses_unknown_rooms_and_mock_sittings(clean_db: str, test_settings: Settings) -> None:
    site = scheduled_batch(clean_db, test_settings, approved_paid=1)

    async def work(db: Database) -> list[str]:
        codes = []
        for rooms, mode in (([], "sequential"), ([site.room_a, 999999], "sequential"), ([site.room_a], "alphabetical")):
            try:
                async with db.session() as session:
                    await seating.allocate(session, site.sitting_id, rooms, ACTOR, mode=mode)
            except batch_service.BatchError as exc:
                codes.append(exc.code)
        return codes

    assert run_db(clean_db, work) == ["no_rooms", "no_room", "bad_mode"]
    assert sql(clean_db, "SELECT count(*) AS n FROM seat_assignments")[0]["n"] == 0


def test_scheduling_through_the_api(client: httpx.Client, clean_db: str, test_settings: Settings) -> None:
    """Every scheduling action of the pages is in /api/v1 too, with coded refusals."""
    from tests.conftest import csrf_token

    site = scheduled_batch(clean_db, test_settings, approved_paid=3)
    admin(client, clean_db, test_settings)
    headers = {"x-csrftoken": csrf_token(client)}
    bad = client.post(f"/api/v1/sittings/{site.sitting_id}/allocate", json={"room_ids": []}, headers=headers)
    assert bad.status_code == 409 and bad.json()["code"] == "no_rooms"
    done = client.post(
        f"/api/v1/sittings/{site.sitting_id}/allocate", json={"room_ids": [site.room_b], "seed": 4}, headers=headers
    )
    assert done.status_code == 200 and done.json()["placed"] == 3 and done.json()["problems"] == []
    seats = client.get(f"/api/v1/sittings/{site.sitting_id}/seats").json()
    assert [s["seat_no"] for s in seats] == [1, 2, 3] and all(s["ticket"] for s in seats)
    make_user(clean_db, test_settings, "zhangmin", ["invigilator"])
    user_id = sql(clean_db, "SELECT id FROM users WHERE username = 'zhangmin'")[0]["id"]
    assigned = client.post(
        f"/api/v1/sittings/{site.sitting_id}/invigilators",
        json={"room_id": site.room_b, "user_id": user_id},
        headers=headers,
    )
    assert assigned.status_code == 200
    staffing = client.get(f"/api/v1/sittings/{site.sitting_id}/staffing").json()
    assert staffing[0]["invigilators"] == [{"user_id": user_id, "name": "Zhangmin"}] and staffing[0]["problems"]
    job = client.post(
        f"/api/v1/batches/{site.batch_id}/print",
        json={"kind": "door_lists", "sitting_id": site.sitting_id},
        headers=headers,
    ).json()["job_id"]
    deadline = time.monotonic() + 30
    state: dict[str, Any] = {}
    while time.monotonic() < deadline:
        state = client.get(f"/api/v1/print-jobs/{job}").json()
        if state["state"] != "running":
            break
        time.sleep(0.2)
    assert state["state"] == "done" and state["done"] == state["total"] and state["pdf"]
    assert client.get(state["pdf"]).content.startswith(b"%PDF")
    removed = client.delete(f"/api/v1/sittings/{site.sitting_id}/invigilators/{user_id}", headers=headers)
    assert removed.status_code == 200 and sql(clean_db, "SELECT count(*) AS n FROM room_staff")[0]["n"] == 0


def test_skill_and_review_assessments_are_scheduled_without_papers_or_seats(
    client: httpx.Client, clean_db: str, test_settings: Settings
) -> None:
    """Batch model: besides the theory sitting on the computer, a batch schedules its skill
    assessment (技能操作) and comprehensive review (综合评审); they get no computer paper."""
    site = scheduled_batch(clean_db, test_settings, approved_paid=1)
    admin(client, clean_db, test_settings)
    offering_id = sql(clean_db, "SELECT id FROM offerings")[0]["id"]
    form = {"offering_id": str(offering_id), "day": "2026-12-21", "start": "08:30", "duration": "120"}
    bad = form_post(client, f"/batches/{site.batch_id}/sittings", {**form, "kind": "party"})
    assert 'role="alert"' in bad.text
    for kind in ("skill", "review"):
        done = form_post(client, f"/batches/{site.batch_id}/sittings", {**form, "kind": kind})
        assert 'role="status"' in done.text, done.text
    kinds = [r["kind"] for r in sql(clean_db, "SELECT kind FROM sittings ORDER BY id")]
    assert kinds == ["theory", "skill", "review"]
    page = client.get(f"/batches/{site.batch_id}/schedule")
    assert page.text.count("/allocate") == 1  # seats only for the theory sitting
    skill_id = sql(clean_db, "SELECT id FROM sittings WHERE kind = 'skill'")[0]["id"]

    async def assemble(db: Database) -> str:
        from examhall.papers import service as papers_service

        try:
            async with db.session() as session:
                await papers_service.assemble_for_sitting(
                    session, test_settings, papers_service.AssemblyRequest(skill_id, 1, "single"), ACTOR
                )
        except papers_service.PaperError as exc:
            return exc.code
        return "assembled"

    assert run_db(clean_db, assemble) == "bad_mode"
