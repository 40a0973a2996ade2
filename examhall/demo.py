"""The demo site behind ``examhall serve --demo``: staff of every role and a few candidates.

Idempotent: running it again leaves what exists. Grows with every issue (batch, sitting,
room, bank …) so that anyone can try the system as candidate, invigilator or admin.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from examhall.bank import io
from examhall.bank import service as bank_service
from examhall.bank.models import BankVersion, Occupation
from examhall.batches import registration, seating
from examhall.batches import service as batch_service
from examhall.batches.models import Application, Batch, Candidate, Room
from examhall.batches.rules import id_check_char
from examhall.config import REPO_ROOT, Settings
from examhall.db import Database
from examhall.i18n import site_time
from examhall.papers import service as papers_service
from examhall.papers.models import Blueprint
from examhall.security import service, terminals
from examhall.security.audit import Actor
from examhall.security.models import User
from examhall.security.passwords import Passwords
from examhall.sittings import examday
from examhall.sittings import service as sittings_service
from examhall.sittings.models import Sitting

DEMO_PASSWORD = "examhall-demo"  # noqa: S105 - printed at start; demo sites only

DEMO_STAFF = [
    ("admin", "考务管理员 王静", ["admin"]),
    ("chief", "主考 李国华", ["chief"]),
    ("invigilator1", "监考员 张敏", ["invigilator"]),
    ("invigilator2", "监考员 陈刚", ["invigilator"]),
    ("bankkeeper", "题库专员 赵磊", ["bank_keeper"]),
    ("supervisor", "质量督导员 孙丽", ["supervisor"]),
    ("assessor", "考评员 周强", ["assessor"]),
]

# (name, first 17 digits of a fictitious ID number, ticket number)
DEMO_CANDIDATES = [
    ("刘洋", "37010219950314123", "D2026110001"),
    ("王芳", "37020319980722242", "D2026110002"),
    ("张伟", "37030419920105351", "D2026110003"),
    ("李娜", "37040520000918462", "D2026110004"),
]


def demo_id_number(first17: str) -> str:
    return first17 + id_check_char(first17)


SAMPLE_BANK = REPO_ROOT / "question_bank" / "hgzkg"
DEMO_BATCH = "DEMO-2026-4"
DEMO_ACTOR = Actor("demo")


@dataclasses.dataclass
class DemoSite:
    logins: list[tuple[str, str, str]]
    facts: list[str]


async def seed_demo(db: Database, settings: Settings) -> DemoSite:
    """Create the demo site; return the logins (role, login, password or ID) and facts to print."""
    logins = await _seed_people(db, settings)
    facts = await _seed_exam(db, settings)
    facts += await _seed_practice_sitting(db, settings)
    facts += await _seed_registration_batch(db, settings)
    return DemoSite(logins=logins, facts=facts)


async def _seed_people(db: Database, settings: Settings) -> list[tuple[str, str, str]]:
    passwords = Passwords(settings)
    logins: list[tuple[str, str, str]] = []
    async with db.session() as session:
        for username, display, roles in DEMO_STAFF:
            if await service.find_user(session, username) is None:
                await service.create_user(
                    session,
                    passwords,
                    username=username,
                    display_name=display,
                    password=DEMO_PASSWORD,
                    roles=roles,
                    actor="demo",
                )
            logins.append((", ".join(roles), username, DEMO_PASSWORD))
        for name, first17, ticket in DEMO_CANDIDATES:
            id_number = demo_id_number(first17)
            if await session.scalar(select(Candidate).where(Candidate.ticket_number == ticket)) is None:
                session.add(Candidate(name=name, id_number=id_number, ticket_number=ticket))
            logins.append((f"candidate {name}", ticket, id_number))
    return logins


async def _import_sample_bank(db: Database, bank_dir: Path) -> int:
    """The 化工总控工 sample bank, proven by a completed mock exam and live (R-BANK-3)."""
    result = io.read_bank(bank_dir)
    if result.document is None or result.errors:
        problems = "; ".join(f"{e.source} row {e.row}: {e.message}" for e in result.errors[:5])
        raise RuntimeError(f"the sample bank in {bank_dir} does not import cleanly: {problems}")
    async with db.session() as session:
        summary = await bank_service.import_bank(session, result.document, DEMO_ACTOR)
    return summary.bank_version_id


async def _seed_exam(db: Database, settings: Settings) -> list[str]:
    """A batch, a room, a completed mock exam and a theory sitting with sealed per-candidate papers."""
    async with db.session() as session:
        batch = await session.scalar(select(Batch).where(Batch.code == DEMO_BATCH))
        if batch is not None:
            return await _describe(session, batch)
    version_id = await _import_sample_bank(db, SAMPLE_BANK)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    async with db.session() as session:
        version = await session.get(BankVersion, version_id)
        assert version is not None
        occupation = await session.get(Occupation, version.occupation_id)
        assert occupation is not None
        blueprint = await session.scalar(
            select(Blueprint).where(Blueprint.bank_version_id == version_id, Blueprint.level == 4)
        )
        assert blueprint is not None, "the sample bank has no level-4 blueprint"
        batch = await batch_service.create_batch(session, DEMO_BATCH, "2026年第四批职业技能等级认定（演示）")
        room = await batch_service.create_room(session, "本中心考点", "第一考场", seat_count=30, columns=6)
        theory = await sittings_service.schedule_sitting(
            session,
            batch_id=batch.id,
            occupation_id=occupation.id,
            level=4,
            kind="theory",
            title="化工总控工四级 理论知识考试",
            starts_at=now + timedelta(minutes=20),
            duration_minutes=90,
            actor=DEMO_ACTOR,
        )
        candidates = await _demo_candidates(session)
        await batch_service.seat_candidates(session, theory.id, room, [c.id for c in candidates])
        await prove_through_mock(
            session,
            settings,
            batch_id=batch.id,
            blueprint=blueprint,
            seating=[(room, [c.id for c in candidates])],
            title="化工总控工四级 模拟考核",
            at=now - timedelta(hours=3),
            actor=DEMO_ACTOR,
        )
        await papers_service.assemble_for_sitting(
            session, settings, papers_service.AssemblyRequest(theory.id, blueprint.id, "per_candidate"), DEMO_ACTOR
        )
        return await _describe(session, batch)


async def prove_through_mock(
    session: AsyncSession,
    settings: Settings,
    *,
    batch_id: int,
    blueprint: Blueprint,
    seating: list[tuple[Room, list[int]]],
    title: str,
    at: datetime,
    actor: Actor,
) -> None:
    """R-BANK-3 done honestly: a mock exam from the blueprint's bank version is assembled and
    completed, then the version goes to trial and live."""
    version = await session.get(BankVersion, blueprint.bank_version_id)
    assert version is not None
    mock = await sittings_service.schedule_sitting(
        session,
        batch_id=batch_id,
        occupation_id=version.occupation_id,
        level=blueprint.level,
        kind="mock",
        title=title,
        starts_at=at,
        duration_minutes=90,
        actor=actor,
    )
    for room, ids in seating:
        await batch_service.seat_candidates(session, mock.id, room, ids)
    await papers_service.assemble_for_sitting(
        session, settings, papers_service.AssemblyRequest(mock.id, blueprint.id, "single"), actor
    )
    await sittings_service.complete_mock(session, mock.id, actor)
    await bank_service.set_version_status(session, version.id, "trial", actor)
    await bank_service.set_version_status(session, version.id, "live", actor)


async def _seed_practice_sitting(db: Database, settings: Settings) -> list[str]:
    """A sitting one can sit right away, made fresh at every start: it begins in 3 minutes, its
    papers are unsealed, three candidates are checked in (the fourth is left for the invigilator),
    and one-time codes enroll this browser as a seat or a spare terminal (R-SEC-2)."""
    now = datetime.now(UTC)
    starts = (now + timedelta(minutes=3)).replace(microsecond=0)
    async with db.session() as session:
        batch = await session.scalar(select(Batch).where(Batch.code == DEMO_BATCH))
        room = await session.scalar(select(Room).order_by(Room.id).limit(1))
        assert batch is not None and room is not None
        theory = await session.scalar(
            select(Sitting).where(Sitting.batch_id == batch.id, Sitting.kind == "theory").order_by(Sitting.id).limit(1)
        )
        assert theory is not None
        blueprint = await session.scalar(
            select(Blueprint).where(Blueprint.level == theory.level).order_by(Blueprint.id.desc()).limit(1)
        )
        assert blueprint is not None
        practice = await sittings_service.schedule_sitting(
            session,
            batch_id=batch.id,
            occupation_id=theory.occupation_id,
            level=theory.level,
            kind="theory",
            title=f"化工总控工四级 理论知识考试（演示场次 {site_time(starts, '%H:%M')}）",
            starts_at=starts,
            duration_minutes=90,
            actor=DEMO_ACTOR,
        )
        candidates = await _demo_candidates(session)
        await batch_service.seat_candidates(session, practice.id, room, [c.id for c in candidates])
        await papers_service.assemble_for_sitting(
            session, settings, papers_service.AssemblyRequest(practice.id, blueprint.id, "per_candidate"), DEMO_ACTOR
        )
        await papers_service.unseal(session, settings, practice.id, Actor("chief"), now=now)
        for candidate in candidates[:3]:
            await examday.check_in(session, practice.id, candidate.id, Actor("invigilator1"), now)
        facts = [
            f"practice sitting {practice.id} starts {site_time(starts)}: papers unsealed, "
            f"{', '.join(c.name for c in candidates[:3])} checked in at seats 1-3; "
            f"{candidates[3].name} waits for check-in at /sittings/{practice.id}/checkin"
        ]
        facts.append(
            f"consoles: invigilator /console/sittings/{practice.id}/rooms/{room.id}, "
            f"chief /console/sittings/{practice.id}/chief, "
            f"incident log /console/sittings/{practice.id}/rooms/{room.id}/incidents"
        )
        admin = Actor("admin")
        for seat_no in range(1, len(candidates) + 1):
            code = await terminals.issue_code(session, room.id, seat_no, admin, now)
            facts.append(
                f"terminal code {code}: open /terminal and type it to make this browser {room.name} seat {seat_no}"
            )
        code = await terminals.issue_code(session, room.id, None, admin, now)
        facts.append(f"terminal code {code}: a spare terminal of {room.name} (R-CLOCK-7 moves)")
    return facts


async def _demo_candidates(session: AsyncSession) -> list[Candidate]:
    """The four demo candidates (not the registration batch's 300)."""
    tickets = [ticket for _name, _first17, ticket in DEMO_CANDIDATES]
    return list(
        await session.scalars(select(Candidate).where(Candidate.ticket_number.in_(tickets)).order_by(Candidate.id))
    )


REGISTRATION_BATCH = "DEMO-2026-12"
SAMPLE_REGISTRATIONS = REPO_ROOT / "tests" / "data" / "candidates-300.xlsx"


async def _seed_registration_batch(db: Database, settings: Settings) -> list[str]:
    """A batch in registration (issue 6): the 300-candidate sample file imported (rows of occupations
    the batch does not offer are skipped and reported), most applications approved and paid, a
    theory sitting in two weeks seated in two rooms with enrolled terminals, invigilators assigned."""
    async with db.session() as session:
        batch = await session.scalar(select(Batch).where(Batch.code == REGISTRATION_BATCH))
        if batch is not None:
            return [f"registration batch {batch.code}: /batches/{batch.id} (schedule: /batches/{batch.id}/schedule)"]
    now = datetime.now(UTC)
    async with db.session() as session:
        occupation = await session.scalar(select(Occupation).where(Occupation.name == "化工总控工"))
        assert occupation is not None
        occupation.fee_category = occupation.fee_category or "B"
        batch = await batch_service.create_batch(
            session, REGISTRATION_BATCH, "2026年第十二批职业技能等级认定（演示报名）"
        )
        batch.notice = (
            "报名时间：即日起至12月10日。理论知识考试采用计算机考试，请携带身份证和准考证提前30分钟到达考点。"
        )
        batch.exam_from = (now + timedelta(days=14)).date()
        batch.exam_to = batch.exam_from
        await batch_service.set_status(session, batch.id, "registration", DEMO_ACTOR)
        for level in (4, 3):
            await batch_service.add_offering(session, batch.id, occupation.id, level, DEMO_ACTOR)
        report = await registration.import_registrations(
            session, batch.id, SAMPLE_REGISTRATIONS.read_bytes(), SAMPLE_REGISTRATIONS.name, DEMO_ACTOR, skip_bad=True
        )
        applications = list(
            await session.scalars(select(Application).where(Application.batch_id == batch.id).order_by(Application.id))
        )
        for number, application in enumerate(applications):
            if number % 17 == 5:
                continue  # left for the reviewer
            if number % 23 == 7:
                await registration.decide(session, application.id, "rejected", "工作年限不足申报条件", DEMO_ACTOR)
                continue
            await registration.decide(session, application.id, "approved", "", DEMO_ACTOR)
            if number % 11 != 3:  # a few have not paid yet
                await registration.record_payment(
                    session,
                    application.id,
                    amount=application.fee_total,
                    method=("wechat", "alipay", "cash", "transfer")[number % 4],
                    receipt_no=f"DEMO-{application.id:05d}",
                    actor=DEMO_ACTOR,
                )
        sitting = await sittings_service.schedule_sitting(
            session,
            batch_id=batch.id,
            occupation_id=occupation.id,
            level=4,
            kind="theory",
            title="化工总控工四级 理论知识考试（第十二批）",
            starts_at=datetime.combine(batch.exam_from, time(1, 0), UTC),  # 09:00 in China
            duration_minutes=90,
            actor=DEMO_ACTOR,
        )
        room_ids = []
        for name in ("第五考场", "第六考场", "第七考场", "第八考场"):
            room = await batch_service.create_room(session, "本中心考点", name, seat_count=32, columns=8)
            room.capacity, room.spare_seats = 30, 2
            room_ids.append(room.id)
            for seat_no in range(1, 33):
                code = await terminals.issue_code(session, room.id, seat_no, DEMO_ACTOR, now)
                await terminals.enroll(session, settings, code, "127.0.0.1", now)
        outcome = await seating.allocate(session, sitting.id, room_ids, DEMO_ACTOR, mode="random", seed=2026)
        staff = {u.username: u.id for u in await session.scalars(select(User))}
        first_room = room_ids[0]
        for username in ("invigilator1", "invigilator2"):
            if username in staff:
                await seating.assign_invigilator(session, sitting.id, first_room, staff[username], DEMO_ACTOR)
    return [
        f"registration batch {REGISTRATION_BATCH}: /batches/{batch.id} — {report.imported} applications imported "
        f"from {SAMPLE_REGISTRATIONS.name} ({report.skipped} rows skipped: occupations not offered), "
        f"{outcome.placed} seated in /batches/{batch.id}/schedule"
    ]


async def _describe(session: AsyncSession, batch: Batch) -> list[str]:
    facts = [f"batch {batch.code}: {batch.name}"]
    for room in await session.scalars(select(Room).order_by(Room.id)):
        facts.append(f"room  {room.site} {room.name} ({room.seat_count} seats)")
    for sitting in await session.scalars(select(Sitting).where(Sitting.batch_id == batch.id).order_by(Sitting.id)):
        facts.append(
            f"sitting {sitting.id}: {sitting.title}, starts {site_time(sitting.starts_at)} "
            f"({sitting.duration_minutes} min), {sitting.status}"
        )
    return facts


# --- a whole exam site in one call: tests, benchmarks and the demo use it ------------------------


@dataclasses.dataclass
class SeededSeat:
    seat_no: int
    room_id: int
    candidate_id: int
    name: str
    ticket: str
    id_number: str
    terminal_cookie: str  # value of the examhall_terminal cookie of this seat's PC


@dataclasses.dataclass
class SeededSitting:
    sitting_id: int
    room_ids: list[int]
    starts_at: datetime
    duration_minutes: int
    seats: list[SeededSeat]
    spare_cookies: dict[int, list[str]]  # room id → cookies of its spare terminals


def numbered_id_number(n: int) -> str:
    """A fictitious but valid (GB 11643 check character) ID number for candidate ``n``."""
    first17 = f"37010219900{n:06d}"
    return first17 + id_check_char(first17)


async def seed_sitting(
    session: AsyncSession,
    settings: Settings,
    *,
    bank_document: io.BankDocument,
    label: str,
    starts_at: datetime,
    duration_minutes: int,
    candidates: int,
    room_size: int = 30,
    spares_per_room: int = 1,
    unseal: bool = True,
    check_in: bool = True,
    now: datetime | None = None,
) -> SeededSitting:
    """The sample bank made live through a completed mock exam (R-BANK-3), rooms of ``room_size``
    with an enrolled terminal per seat and spares (R-SEC-2), a level-4 theory sitting with
    per-candidate papers (R-PAPER-3), unsealed and checked in when asked. Everything goes
    through the services the application uses."""
    moment = now or datetime.now(UTC)
    actor = Actor("seed")
    version_id = (await bank_service.import_bank(session, bank_document, actor)).bank_version_id
    version = await session.get(BankVersion, version_id)
    assert version is not None
    blueprint = await session.scalar(
        select(Blueprint).where(Blueprint.bank_version_id == version_id, Blueprint.level == 4)
    )
    assert blueprint is not None, "the bank has no level-4 blueprint"
    batch = await batch_service.create_batch(session, f"S-{label}"[:32], f"seeded batch {label}")
    people = [
        Candidate(name=f"考生{n:04d}", id_number=numbered_id_number(n), ticket_number=f"{label[:8]}{n:05d}")
        for n in range(1, candidates + 1)
    ]
    session.add_all(people)
    await session.flush()
    rooms: list[Room] = []
    for index in range(0, candidates, room_size):
        rooms.append(
            await batch_service.create_room(
                session,
                "考点",
                f"{label} 第{index // room_size + 1}考场",
                seat_count=room_size,
                columns=min(6, room_size),
            )
        )
    sitting = await sittings_service.schedule_sitting(
        session,
        batch_id=batch.id,
        occupation_id=version.occupation_id,
        level=4,
        kind="theory",
        title=f"化工总控工四级 理论知识考试（{label}）",
        starts_at=starts_at,
        duration_minutes=duration_minutes,
        actor=actor,
    )
    seating = [(room, [p.id for p in people[n * room_size : (n + 1) * room_size]]) for n, room in enumerate(rooms)]
    for room, ids in seating:
        await batch_service.seat_candidates(session, sitting.id, room, ids)
    await prove_through_mock(
        session,
        settings,
        batch_id=batch.id,
        blueprint=blueprint,
        seating=seating,
        title=f"{label} mock",
        at=moment - timedelta(hours=3),
        actor=actor,
    )
    await papers_service.assemble_for_sitting(
        session, settings, papers_service.AssemblyRequest(sitting.id, blueprint.id, "per_candidate"), actor
    )
    if unseal:
        await papers_service.unseal(session, settings, sitting.id, actor, now=moment)
    seats: list[SeededSeat] = []
    spares: dict[int, list[str]] = {}
    for number, room in enumerate(rooms):
        group = people[number * room_size : (number + 1) * room_size]
        for seat_no, person in enumerate(group, start=1):
            code = await terminals.issue_code(session, room.id, seat_no, actor, moment)
            _terminal, cookie = await terminals.enroll(session, settings, code, "127.0.0.1", moment)
            if check_in:
                await examday.check_in(session, sitting.id, person.id, actor, moment)
            seats.append(
                SeededSeat(
                    seat_no, room.id, person.id, person.name, person.ticket_number or "", person.id_number, cookie
                )
            )
        spares[room.id] = []
        for _ in range(spares_per_room):
            code = await terminals.issue_code(session, room.id, None, actor, moment)
            spares[room.id].append((await terminals.enroll(session, settings, code, "127.0.0.1", moment))[1])
    return SeededSitting(sitting.id, [r.id for r in rooms], starts_at, duration_minutes, seats, spares)
