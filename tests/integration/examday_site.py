"""Builds a real exam-day site in the test database: the sample bank made live through a
completed mock exam (R-BANK-3), a room with enrolled seat terminals (R-SEC-2), a theory sitting
starting at a chosen moment, per-candidate papers (unsealed when asked) and checked-in candidates.

Everything goes through the services the application uses; nothing is inserted by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx

from examhall.bank import io
from examhall.config import Settings
from examhall.db import Database
from examhall.demo import SeededSeat, seed_sitting
from examhall.security import terminals
from tests.conftest import REPO, csrf_token, run_db

SAMPLE = REPO / "question_bank" / "hgzkg"
_DOCUMENT: list[io.BankDocument] = []


def sample_document() -> io.BankDocument:
    if not _DOCUMENT:
        document = io.read_bank(SAMPLE).document
        assert document is not None
        _DOCUMENT.append(document)
    return _DOCUMENT[0]


# The tests' names for what examhall.demo.seed_sitting builds.
Seat = SeededSeat


@dataclass
class ExamSite:
    sitting_id: int
    room_id: int
    starts_at: datetime
    duration_minutes: int
    seats: list[SeededSeat]
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
    """A theory sitting starting at now + ``starts_in`` with ``candidates`` seated candidates in
    one room, each with an enrolled terminal at their seat; papers assembled per candidate."""

    async def work(db: Database) -> ExamSite:
        now = datetime.now(UTC)
        async with db.session() as session:
            seeded = await seed_sitting(
                session,
                settings,
                bank_document=sample_document(),
                label=f"T{now:%H%M%S%f}",
                starts_at=now + starts_in,
                duration_minutes=duration_minutes,
                candidates=candidates,
                spares_per_room=spares,
                unseal=unseal,
                check_in=check_in,
                now=now,
            )
        room_id = seeded.room_ids[0]
        return ExamSite(
            seeded.sitting_id, room_id, seeded.starts_at, duration_minutes, seeded.seats, seeded.spare_cookies[room_id]
        )

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
