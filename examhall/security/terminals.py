"""Enrolled seat terminals (R-SEC-2): one-time enrollment codes and the terminal cookie.

An admin issues a one-time code for "room R, seat N" (or a spare terminal of room R). The
exam-room PC that opens the enrollment page with that code becomes that seat: it receives a
long-lived cookie ``<terminal id>.<secret>.<signature>``, where the signature is an HMAC of the
first two parts with the site's secret key. Only the SHA-256 of the secret is stored, so a
database dump cannot forge a terminal, and revoking the row ends that PC's enrollment.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from examhall.batches.models import Room
from examhall.config import Settings
from examhall.db import Database
from examhall.security import audit
from examhall.security.audit import Actor
from examhall.security.models import EnrollmentCode, Terminal

TERMINAL_COOKIE: Final = "examhall_terminal"
TERMINAL_COOKIE_DAYS: Final = 400  # browsers cap cookie lifetime at about 400 days
CODE_VALID_HOURS: Final = 72
# No 0/O, 1/I/L, 5/S, 8/B: codes are read aloud and typed by hand at the exam PC.
CODE_ALPHABET: Final = "234679ACDEFGHJKMNPQRTUVWXYZ"
CODE_LENGTH: Final = 8


class TerminalError(ValueError):
    """An enrollment that cannot be done; ``code`` says why (translated by the page)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def normalise_code(raw: str) -> str:
    """Upper-case, without spaces and dashes (codes are shown as XXXX-XXXX)."""
    return "".join(ch for ch in raw.upper() if ch.isalnum())


def format_code(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"


def _sign(settings: Settings, body: str) -> str:
    key = settings.resolved_secret_key().encode()
    return hmac.new(key, f"terminal:{body}".encode(), hashlib.sha256).hexdigest()[:32]


def cookie_value(settings: Settings, terminal_id: int, secret: str) -> str:
    body = f"{terminal_id}.{secret}"
    return f"{body}.{_sign(settings, body)}"


def parse_cookie(settings: Settings, value: str | None) -> tuple[int, str] | None:
    """(terminal id, secret) of a well-signed terminal cookie, else None (nothing read yet)."""
    if not value or len(value) > 200:
        return None
    parts = value.split(".")
    if len(parts) != 3 or not parts[0].isdigit():
        return None
    body = f"{parts[0]}.{parts[1]}"
    if not hmac.compare_digest(_sign(settings, body), parts[2]):
        return None
    return int(parts[0]), parts[1]


async def _room(session: AsyncSession, room_id: int) -> Room:
    room = await session.get(Room, room_id)
    if room is None:
        raise TerminalError("no_room", f"room {room_id} does not exist")
    return room


async def issue_code(session: AsyncSession, room_id: int, seat_no: int | None, actor: Actor, now: datetime) -> str:
    """A one-time code for seat ``seat_no`` of the room, or for a spare terminal (``seat_no`` None)."""
    room = await _room(session, room_id)
    if seat_no is not None and not 1 <= seat_no <= room.seat_count:
        raise TerminalError("no_seat", f"seat_no: room {room.name} has seats 1 to {room.seat_count}")
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    session.add(
        EnrollmentCode(
            code_hash=_digest(code),
            room_id=room.id,
            seat_no=seat_no,
            is_spare=seat_no is None,
            issued_by=actor.name,
            issued_at=now,
            expires_at=now + timedelta(hours=CODE_VALID_HOURS),
        )
    )
    await session.flush()
    await audit.record(
        session,
        actor=actor.name,
        actor_user_id=actor.user_id,
        action="enrollment_code_issued",
        object_type="room",
        object_id=room.id,
        detail={"seat_no": seat_no, "spare": seat_no is None},
        ip=actor.ip,
    )
    return format_code(code)


async def enroll(
    session: AsyncSession, settings: Settings, raw_code: str, ip: str | None, now: datetime
) -> tuple[Terminal, str]:
    """Turn the calling PC into the seat the code was issued for; returns the terminal and its cookie."""
    code = normalise_code(raw_code)
    row = await session.get(EnrollmentCode, _digest(code), with_for_update=True) if len(code) == CODE_LENGTH else None
    if row is None or row.used_at is not None or row.expires_at <= now:
        reason = "unknown" if row is None else ("used" if row.used_at is not None else "expired")
        await audit.record(
            session, actor=f"terminal at {ip or '?'}", action="terminal_enroll_failed", detail={"reason": reason}, ip=ip
        )
        raise TerminalError(
            "bad_code", "this enrollment code is unknown, already used or expired; ask the exam office for a new one"
        )
    room = await _room(session, row.room_id)
    if row.seat_no is not None:
        # Re-enrolling a seat replaces its PC (e.g. after a hardware swap): the old one stops working.
        await session.execute(
            update(Terminal)
            .where(Terminal.room_id == room.id, Terminal.seat_no == row.seat_no, Terminal.revoked_at.is_(None))
            .values(revoked_at=now)
        )
    spares = await session.scalar(
        select(Terminal.id).where(Terminal.room_id == room.id, Terminal.is_spare).order_by(Terminal.id.desc()).limit(1)
    )
    label = f"{room.name} {row.seat_no}" if row.seat_no is not None else f"{room.name} spare {(spares or 0) % 1000}"
    secret = secrets.token_urlsafe(24)
    terminal = Terminal(
        room_id=room.id,
        seat_no=row.seat_no,
        is_spare=row.is_spare,
        label=label,
        secret_hash=_digest(secret),
        enrolled_at=now,
        enrolled_ip=ip,
        code_issued_by=row.issued_by,
    )
    session.add(terminal)
    await session.flush()
    if terminal.is_spare:
        terminal.label = f"{room.name} spare #{terminal.id}"
    row.used_at, row.terminal_id = now, terminal.id
    await audit.record(
        session,
        actor=f"terminal {terminal.label}",
        action="terminal_enrolled",
        object_type="terminal",
        object_id=terminal.id,
        detail={"room_id": room.id, "seat_no": row.seat_no, "spare": row.is_spare},
        ip=ip,
    )
    return terminal, cookie_value(settings, terminal.id, secret)


@dataclasses.dataclass(frozen=True)
class TerminalRow:
    """What a request needs of the terminal it comes from (read without the ORM)."""

    id: int
    room_id: int
    seat_no: int | None
    is_spare: bool
    label: str


# The columns a terminal's check needs (examday.seat_attempt_row reads them too, prefixed "t_").
_TERMINAL_ROW: Final = (
    "SELECT id, room_id, seat_no, is_spare, label, secret_hash, revoked_at FROM terminals WHERE id = $1"
)


def terminal_row_of(row: Any, secret: str, prefix: str = "") -> TerminalRow | None:
    """The terminal of a row holding its id, room_id, seat_no, is_spare, label, secret_hash and
    revoked_at (named ``prefix + column``) when it exists, is not revoked and the cookie's secret
    is its own; else None."""
    if row is None or row[prefix + "id"] is None or row[prefix + "revoked_at"] is not None:
        return None
    if not hmac.compare_digest(bytes(row[prefix + "secret_hash"]), _digest(secret)):
        return None
    column = [row[prefix + name] for name in ("id", "room_id", "seat_no", "is_spare", "label")]
    return TerminalRow(*column)


async def terminal_row_from_cookie(db: Database, settings: Settings, value: str | None) -> TerminalRow | None:
    """:func:`terminal_from_cookie` in one statement on the raw pool (every request of an exam PC)."""
    parsed = parse_cookie(settings, value)
    if parsed is None:
        return None
    pool = await db.raw_pool()
    async with pool.acquire() as conn:
        row = await conn.fetchrow(_TERMINAL_ROW, parsed[0])
    return terminal_row_of(row, parsed[1])


async def terminal_from_cookie(session: AsyncSession, settings: Settings, value: str | None) -> Terminal | None:
    """The enrolled, unrevoked terminal the cookie names, or None."""
    parsed = parse_cookie(settings, value)
    if parsed is None:
        return None
    terminal = await session.get(Terminal, parsed[0])
    if terminal is None or terminal.revoked_at is not None:
        return None
    if not hmac.compare_digest(terminal.secret_hash, _digest(parsed[1])):
        return None
    return terminal


async def room_terminals(session: AsyncSession, room_id: int) -> list[Terminal]:
    rows = await session.scalars(
        select(Terminal)
        .where(Terminal.room_id == room_id, Terminal.revoked_at.is_(None))
        .order_by(Terminal.is_spare, Terminal.seat_no, Terminal.id)
    )
    return list(rows)
