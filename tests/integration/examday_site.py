"""Builds a real exam-day site in the test database: the sample bank made live through a
completed mock exam (R-BANK-3), a room with enrolled seat terminals (R-SEC-2), a theory sitting
starting at a chosen moment, per-candidate papers (unsealed when asked) and checked-in candidates.

Everything goes through the services the application uses; nothing is inserted by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select

from examhall.bank import io
from examhall.bank import service as bank_service
from examhall.bank.models import BankVersion
from examhall.batches import service as batch_service
from examhall.batches.models import Candidate
from examhall.batches.rules import id_check_char
from examhall.config import Settings
from examhall.db import Database
from examhall.papers import service as papers_service
from examhall.papers.models import Blueprint
from examhall.security import terminals
from examhall.security.audit import Actor
from examhall.sittings import examday
from examhall.sittings import service as sittings_service
from tests.conftest import REPO, csrf_token, run_db

SAMPLE = REPO / "question_bank" / "hgzkg"
ACTOR = Actor("test-chief")


def id_number(n: int) -> str:
    first17 = f"3701021990010{n:04d}"
    return first17 + id_check_char(first17)


@dataclass
class Seat:
    seat_no: int
    candidate_id: int
    name: str
    ticket: str
    id_number: str
    terminal_cookie: str  # value of the examhall_terminal cookie of this seat's PC


@dataclass
class ExamSite:
    sitting_id: int
    room_id: int
    starts_at: datetime
    duration_minutes: int
    seats: list[Seat]
    spare_cookies: list[str] = field(default_factory=list)


def build_site(
    url: str,
    settings: Settings,
    *,
    starts_in: timedelta = -timedelta(minutes=1),
    duration_minutes: int = 90,
    candidates: int = 3,
    spares: int = 1,
    unseal: bool = True,
    check_in: bool = True,
) -> ExamSite:
    """A theory sitting starting at now + ``starts_in`` with ``candidates`` seated candidates,
    each with an enrolled terminal at their seat; papers assembled per candidate."""
    document = io.read_bank(SAMPLE).document
    assert document is not None

    async def work(db: Database) -> ExamSite:
        now = datetime.now(UTC)
        async with db.session() as session:
            version_id = (await bank_service.import_bank(session, document, ACTOR)).bank_version_id
            version = await session.get(BankVersion, version_id)
            assert version is not None
            blueprint = await session.scalar(
                select(Blueprint).where(Blueprint.bank_version_id == version_id, Blueprint.level == 4)
            )
            assert blueprint is not None
            batch = await batch_service.create_batch(session, f"T-{now:%H%M%S%f}", "测试批次")
            room = await batch_service.create_room(session, "考点", f"考场{now:%H%M%S%f}", seat_count=30, columns=6)
            people = [
                Candidate(name=f"考生{n:02d}", id_number=id_number(n), ticket_number=f"T{n:04d}")
                for n in range(1, candidates + 1)
            ]
            session.add_all(people)
            await session.flush()
            # R-BANK-3: a mock exam first, then trial, then live.
            mock = await sittings_service.schedule_sitting(
                session,
                batch_id=batch.id,
                occupation_id=version.occupation_id,
                level=4,
                kind="mock",
                title="mock",
                starts_at=now - timedelta(hours=3),
                duration_minutes=90,
                actor=ACTOR,
            )
            await batch_service.seat_candidates(session, mock.id, room, [p.id for p in people])
            await papers_service.assemble_for_sitting(
                session, settings, papers_service.AssemblyRequest(mock.id, blueprint.id, "single"), ACTOR
            )
            await sittings_service.complete_mock(session, mock.id, ACTOR)
            await bank_service.set_version_status(session, version_id, "trial", ACTOR)
            await bank_service.set_version_status(session, version_id, "live", ACTOR)
            starts_at = now + starts_in
            sitting = await sittings_service.schedule_sitting(
                session,
                batch_id=batch.id,
                occupation_id=version.occupation_id,
                level=4,
                kind="theory",
                title="化工总控工四级 理论知识考试（测试）",
                starts_at=starts_at,
                duration_minutes=duration_minutes,
                actor=ACTOR,
            )
            await batch_service.seat_candidates(session, sitting.id, room, [p.id for p in people])
            await papers_service.assemble_for_sitting(
                session, settings, papers_service.AssemblyRequest(sitting.id, blueprint.id, "per_candidate"), ACTOR
            )
            if unseal:
                await papers_service.unseal(session, settings, sitting.id, ACTOR, now=now)
            seats: list[Seat] = []
            for seat_no, person in enumerate(people, start=1):
                code = await terminals.issue_code(session, room.id, seat_no, ACTOR, now)
                _terminal, cookie = await terminals.enroll(session, settings, code, "127.0.0.1", now)
                if check_in:
                    await examday.check_in(session, sitting.id, person.id, ACTOR, now)
                seats.append(
                    Seat(seat_no, person.id, person.name, person.ticket_number or "", person.id_number, cookie)
                )
            spare_cookies = []
            for _ in range(spares):
                code = await terminals.issue_code(session, room.id, None, ACTOR, now)
                spare_cookies.append((await terminals.enroll(session, settings, code, "127.0.0.1", now))[1])
            return ExamSite(sitting.id, room.id, starts_at, duration_minutes, seats, spare_cookies)

    return run_db(url, work)


def at_terminal(client: httpx.Client, cookie: str) -> None:
    """Make this HTTP client the PC holding ``cookie`` (an enrolled terminal)."""
    client.cookies.set(terminals.TERMINAL_COOKIE, cookie)


def candidate_login(client: httpx.Client, seat: Seat, cookie: str | None = None) -> httpx.Response:
    at_terminal(client, cookie or seat.terminal_cookie)
    return client.post(
        "/api/v1/candidate/login",
        json={"ticket_number": seat.ticket, "id_number": seat.id_number},
        headers={"x-csrftoken": csrf_token(client)},
    )


def api(client: httpx.Client, method: str, path: str, body: dict[str, object] | None = None) -> httpx.Response:
    headers = {"x-csrftoken": csrf_token(client)} if method != "GET" else {}
    return client.request(method, path, json=body, headers=headers)
