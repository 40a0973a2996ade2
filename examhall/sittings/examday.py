"""Exam day for candidates (service layer): check-in, login at the enrolled seat, the clock of an
attempt, the candidate's own paper, submission with scoring and receipt, errata.

R-CLOCK-1…9, R-SEC-2, R-SCORE-1, R-SCORE-4, R-SCORE-7, R-INC-4. Time always comes from the
server (``now`` is passed in so tests can drive the clock); the terminal only displays it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hmac
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Final, Protocol

import asyncpg
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from examhall.batches.models import Candidate, Room, SeatAssignment
from examhall.batches.rules import normalise_id_number
from examhall.config import Settings
from examhall.db import Database
from examhall.events import publish_after_commit
from examhall.papers.models import Paper, PaperSet
from examhall.papers.service import PaperView, open_paper, open_sealed
from examhall.security import audit
from examhall.security import service as security_service
from examhall.security.audit import Actor
from examhall.security.models import Terminal
from examhall.security.service import LoginResult
from examhall.sittings import clock as clk
from examhall.sittings.models import Answer, Attempt, AttemptEvent, Erratum, ErratumAck, RejectedAnswer, Sitting
from examhall.sittings.receipts import ReceiptFacts, check_receipt, sign_receipt, verify_key_of
from examhall.sittings.scoring import ScoringItem, answers_digest, score_attempt
from examhall.sittings.service import SittingError

RULES = clk.ClockRules()
log = logging.getLogger("examhall.sittings")


# --- the candidate's paper, cached per worker once unsealed ----------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class PaperItem:
    position: int
    section: int
    type: str
    stem: str
    options: tuple[tuple[str, str], ...]
    points: Decimal
    revision_id: int
    key: str
    scoring: str


@dataclasses.dataclass(frozen=True)
class CandidatePaper:
    """One candidate's unsealed paper: what the terminal shows (``for_candidate``) and, kept on
    the server only, the keys for scoring."""

    paper_id: int
    sections: tuple[dict[str, Any], ...]
    items: tuple[PaperItem, ...]

    @property
    def item_count(self) -> int:
        return len(self.items)

    def item(self, position: int) -> PaperItem | None:
        return self.items[position - 1] if 1 <= position <= len(self.items) else None

    def for_candidate(self) -> dict[str, Any]:
        """The paper without keys (a key never leaves the server)."""
        return {
            "sections": list(self.sections),
            "items": [
                {
                    "position": it.position,
                    "section": it.section,
                    "type": it.type,
                    "stem": it.stem,
                    "options": [{"letter": letter, "text": text} for letter, text in it.options],
                    "points": str(it.points),
                }
                for it in self.items
            ],
        }


_PAPERS: dict[int, CandidatePaper] = {}
_PAPER_CACHE_MAX = 20_000
# Thousands of papers stay in memory through a sitting: what they repeat (an item as shown in a
# given option order, point values) is kept once by papers.service and only referenced here.


async def candidate_paper(session: AsyncSession, settings: Settings, paper_id: int) -> CandidatePaper:
    """The paper of an attempt, decrypted once per worker (papers of running sittings stay in memory)."""
    cached = _PAPERS.get(paper_id)
    if cached is not None:
        return cached
    paper = await session.get(Paper, paper_id)
    if paper is None:
        raise SittingError(f"paper {paper_id} does not exist", "no_paper")
    paper_set = await session.get(PaperSet, paper.paper_set_id)
    assert paper_set is not None
    if paper_set.unsealed_at is None:
        raise SittingError("the chief examiner has not unsealed the papers yet", "sealed")
    return _keep(paper_id, await open_paper(session, settings, paper_set, paper))


@dataclasses.dataclass(frozen=True)
class _SealedRow:
    label: str
    ciphertext: bytes
    unsealed_at: datetime | None
    wrapped_key: bytes
    manifest: bytes


_SEALED_PAPER: Final = """
SELECT p.label, p.ciphertext, s.unsealed_at, s.wrapped_key, s.manifest
FROM papers p JOIN paper_sets s ON s.id = p.paper_set_id
WHERE p.id = $1
"""
_REVISION_ROWS: Final = "SELECT id, type, stem, options, key FROM item_revisions WHERE id = ANY($1::int[])"


async def candidate_paper_raw(db: Database, settings: Settings, paper_id: int) -> CandidatePaper:
    """:func:`candidate_paper` on the raw pool (the start storm opens every candidate's paper)."""
    cached = _PAPERS.get(paper_id)
    if cached is not None:
        return cached
    pool = await db.raw_pool()
    async with pool.acquire() as conn:
        row = await conn.fetchrow(_SEALED_PAPER, paper_id)
    if row is None:
        raise SittingError(f"paper {paper_id} does not exist", "no_paper")
    if row["unsealed_at"] is None:
        raise SittingError("the chief examiner has not unsealed the papers yet", "sealed")
    sealed = _SealedRow(
        row["label"], bytes(row["ciphertext"]), row["unsealed_at"], bytes(row["wrapped_key"]), bytes(row["manifest"])
    )

    async def revisions(ids: list[int]) -> list[Any]:
        async with pool.acquire() as conn:
            return list(await conn.fetch(_REVISION_ROWS, ids))

    return _keep(paper_id, await open_sealed(settings, sealed, sealed, revisions))


def _keep(paper_id: int, view: PaperView) -> CandidatePaper:
    """The candidate's paper from its opened view, kept in this worker's memory."""
    items: list[PaperItem] = []
    sections: list[dict[str, Any]] = []
    for index, section in enumerate(view.sections):
        sections.append(
            {
                "index": index,
                "title": section["title"],
                "type": section["type"],
                "points_each": str(section["points_each"]),
                "count": len(section["items"]),
            }
        )
        for entry in section["items"]:
            items.append(
                PaperItem(
                    position=entry["number"],
                    section=index,
                    type=entry["type"],
                    stem=entry["stem"],
                    options=tuple(entry["options"]),  # shared between papers (papers.service._presented)
                    points=entry["points"],
                    revision_id=entry["revision_id"],
                    key=entry["key"],
                    scoring=entry["scoring"],
                )
            )
    items.sort(key=lambda it: it.position)
    result = CandidatePaper(paper_id=paper_id, sections=tuple(sections), items=tuple(items))
    if len(_PAPERS) >= _PAPER_CACHE_MAX:
        _PAPERS.clear()
    _PAPERS[paper_id] = result
    return result


# --- the clock of an attempt -----------------------------------------------------------------


def schedule_of(sitting: Sitting) -> clk.Schedule:
    return clk.Schedule(starts_at=sitting.starts_at, duration=timedelta(minutes=sitting.duration_minutes))


async def events_of(session: AsyncSession, attempt_id: int) -> list[clk.AttemptEvent]:
    return (await events_of_many(session, [attempt_id])).get(attempt_id, [])


async def events_of_many(session: AsyncSession, attempt_ids: Sequence[int]) -> dict[int, list[clk.AttemptEvent]]:
    """The clock events of several attempts in one query (what the clock needs, nothing more)."""
    found: dict[int, list[clk.AttemptEvent]] = {a: [] for a in attempt_ids}
    if not attempt_ids:
        return found
    rows = await session.execute(
        select(AttemptEvent.attempt_id, AttemptEvent.kind, AttemptEvent.at, AttemptEvent.ref)
        .where(AttemptEvent.attempt_id.in_(list(attempt_ids)))
        .order_by(AttemptEvent.attempt_id, AttemptEvent.at, AttemptEvent.id)
    )
    for attempt_id, kind, at, ref in rows:
        found[attempt_id].append(clk.AttemptEvent(kind=kind, at=at, ref=ref))
    return found


async def clock_of(session: AsyncSession, attempt: Attempt, sitting: Sitting, now: datetime) -> clk.ClockState:
    return clk.clock_at(schedule_of(sitting), await events_of(session, attempt.id), now, RULES)


def _cache_state(attempt: Attempt, state: clk.ClockState) -> None:
    """Refresh the hot path's view of the clock (R-CLOCK-5: no answer after E)."""
    attempt.state = cached_state(attempt.started_at is not None, state)
    attempt.ends_at = state.end_time


def cached_state(started: bool, state: clk.ClockState) -> str:
    """``Attempt.state`` for a clock state: what the answer hot path checks."""
    if state.phase in clk.CLOSED_PHASES or state.phase == clk.Phase.BARRED:
        return "closed"
    if state.phase == clk.Phase.PAUSED:
        return "paused" if started else "checked_in"
    return "running" if started else "checked_in"


async def record_event(
    session: AsyncSession,
    attempt: Attempt,
    sitting: Sitting,
    kind: str,
    now: datetime,
    recorded_by: str,
    *,
    ref: str | None = None,
    detail: dict[str, Any] | None = None,
) -> clk.ClockState:
    """Append an event after the clock accepts it; refresh the cached state; tell the room."""
    events = await events_of(session, attempt.id)
    state = _append_event(session, attempt, sitting, kind, now, recorded_by, events, ref=ref, detail=detail)
    await session.flush()
    publish_after_commit(
        session, f"room:{attempt.room_id}", {"attempt": attempt.id, "seat": attempt.seat_no, "kind": kind}
    )
    return state


def _append_event(
    session: AsyncSession,
    attempt: Attempt,
    sitting: Sitting,
    kind: str,
    now: datetime,
    recorded_by: str,
    events: Sequence[clk.AttemptEvent],
    *,
    ref: str | None = None,
    detail: dict[str, Any] | None = None,
) -> clk.ClockState:
    """``record_event`` with the attempt's events already read; tells the attempt's terminal."""
    new = clk.AttemptEvent(kind=kind, at=now, ref=ref)
    try:
        state = clk.clock_at(schedule_of(sitting), [*events, new], now, RULES)
    except ValueError as exc:
        raise SittingError(str(exc), "clock_refused") from exc
    session.add(
        AttemptEvent(attempt_id=attempt.id, kind=kind, at=now, ref=ref, detail=detail or {}, recorded_by=recorded_by)
    )
    if kind == clk.EventKind.STARTED:
        attempt.started_at = now
    _cache_state(attempt, state)
    attempt.last_activity_at = now
    publish_after_commit(session, f"attempt:{attempt.id}", {"kind": kind})
    return state


def clock_json(state: clk.ClockState, sitting: Sitting, now: datetime) -> dict[str, Any]:
    """What a terminal displays; it shows only this and resynchronises on every message."""
    return _clock_json(state, sitting.starts_at, sitting.duration_minutes, now)


def _clock_json(state: clk.ClockState, starts_at: datetime, duration_minutes: int, now: datetime) -> dict[str, Any]:
    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value is not None else None

    return {
        "server_now": now.isoformat(),
        "phase": str(state.phase),
        "starts_at": starts_at.isoformat(),
        "duration_minutes": duration_minutes,
        "end_time": iso(state.end_time),
        "remaining_s": round(state.remaining.total_seconds(), 3),
        "may_start": state.may_start,
        "may_submit": state.may_submit,
        "submit_opens_at": iso(state.submit_opens_at),
        "warning": state.warning,
        "start_deadline": iso(state.start_deadline),
        "compensation_s": round(state.compensation.total_seconds(), 3),
        "late_by_s": round(state.late_by.total_seconds(), 3),
        "auto_submit_due": state.auto_submit_due,
    }


# --- the attempt as its terminal's live channel keeps it ---------------------------------------------


@dataclasses.dataclass(frozen=True)
class AttemptView:
    """An attempt with its sitting, clock events and errata, as of one read: the terminal's
    state message is computed from it at any later instant without the database (the clock is a
    pure function of the events), until an event of the attempt or the sitting says it changed."""

    attempt_id: int
    sitting_id: int
    sitting_title: str
    starts_at: datetime
    duration_minutes: int
    seat_no: int
    item_count: int
    state: str
    started_at: datetime | None
    paper_id: int
    receipt_code: str | None
    ends_at: datetime | None
    events: tuple[clk.AttemptEvent, ...]
    errata: tuple[dict[str, Any], ...]

    def clock(self, now: datetime) -> clk.ClockState:
        schedule = clk.Schedule(starts_at=self.starts_at, duration=timedelta(minutes=self.duration_minutes))
        return clk.clock_at(schedule, self.events, now, RULES)

    def as_json(self, now: datetime, name: str) -> dict[str, Any]:
        """The attempt as the terminal receives it (``GET /api/v1/attempt`` and the websocket)."""
        return {
            "attempt_id": self.attempt_id,
            "candidate": {"name": name},
            "sitting": {"id": self.sitting_id, "title": self.sitting_title},
            "seat_no": self.seat_no,
            "item_count": self.item_count,
            "state": self.state,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "paper_id": self.paper_id,
            "clock": _clock_json(self.clock(now), self.starts_at, self.duration_minutes, now),
            "errata": [dict(e) for e in self.errata],
            "receipt_code": self.receipt_code,
        }


def _erratum_json(erratum_id: int, text: str, published_at: datetime, acknowledged: bool) -> dict[str, Any]:
    return {"id": erratum_id, "text": text, "published_at": published_at.isoformat(), "acknowledged": acknowledged}


async def attempt_view(session: AsyncSession, attempt: Attempt, sitting: Sitting) -> AttemptView:
    """The view of an attempt already loaded in a request's session."""
    return AttemptView(
        attempt_id=attempt.id,
        sitting_id=sitting.id,
        sitting_title=sitting.title,
        starts_at=sitting.starts_at,
        duration_minutes=sitting.duration_minutes,
        seat_no=attempt.seat_no,
        item_count=attempt.item_count,
        state=attempt.state,
        started_at=attempt.started_at,
        paper_id=attempt.paper_id,
        receipt_code=attempt.receipt_code,
        ends_at=attempt.ends_at,
        events=tuple(await events_of(session, attempt.id)),
        errata=tuple(await errata_for(session, attempt)),
    )


_LIVE_VIEW: Final = """
SELECT a.id, a.sitting_id, a.state, a.started_at, a.paper_id, a.item_count, a.seat_no, a.receipt_code, a.ends_at,
       s.title, s.starts_at, s.duration_minutes,
       ev.kinds, ev.ats, ev.refs, er.ids, er.texts, er.published, er.acked
FROM attempts a
JOIN sittings s ON s.id = a.sitting_id
CROSS JOIN LATERAL (
    SELECT array_agg(e.kind ORDER BY e.at, e.id) AS kinds,
           array_agg(e.at ORDER BY e.at, e.id) AS ats,
           array_agg(e.ref ORDER BY e.at, e.id) AS refs
    FROM attempt_events e WHERE e.attempt_id = a.id
) ev
CROSS JOIN LATERAL (
    SELECT array_agg(r.id ORDER BY r.id) AS ids,
           array_agg(r.text ORDER BY r.id) AS texts,
           array_agg(r.published_at ORDER BY r.id) AS published,
           array_agg(k.acknowledged_at IS NOT NULL ORDER BY r.id) AS acked
    FROM errata r LEFT JOIN erratum_acks k ON k.erratum_id = r.id AND k.attempt_id = a.id
    WHERE r.sitting_id = a.sitting_id
) er
WHERE a.id = $1
"""


async def live_view(db: Database, attempt_id: int) -> AttemptView | None:
    """The same view in one statement on the raw pool (the terminal's websocket reads it on
    connect, on every event of its attempt or sitting, and now and then to be safe)."""
    pool = await db.raw_pool()
    async with pool.acquire() as conn:
        row = await conn.fetchrow(_LIVE_VIEW, attempt_id)
    if row is None:
        return None
    kinds, ats, refs = row["kinds"] or [], row["ats"] or [], row["refs"] or []
    ids, texts, published, acked = row["ids"] or [], row["texts"] or [], row["published"] or [], row["acked"] or []
    return AttemptView(
        attempt_id=row["id"],
        sitting_id=row["sitting_id"],
        sitting_title=row["title"],
        starts_at=row["starts_at"],
        duration_minutes=row["duration_minutes"],
        seat_no=row["seat_no"],
        item_count=row["item_count"],
        state=row["state"],
        started_at=row["started_at"],
        paper_id=row["paper_id"],
        receipt_code=row["receipt_code"],
        ends_at=row["ends_at"],
        events=tuple(clk.AttemptEvent(kind=k, at=at, ref=ref) for k, at, ref in zip(kinds, ats, refs, strict=True)),
        errata=tuple(
            _erratum_json(i, text, at, ack) for i, text, at, ack in zip(ids, texts, published, acked, strict=True)
        ),
    )


# --- the terminal's requests without the ORM (the start storm: every candidate at once) ---------------


@dataclasses.dataclass(frozen=True)
class AttemptRow:
    """An attempt with what its terminal's requests need of its sitting, read in one statement."""

    id: int
    sitting_id: int
    candidate_id: int
    paper_id: int
    room_id: int
    seat_no: int
    terminal_id: int | None
    state: str
    outcome: str | None
    started_at: datetime | None
    ends_at: datetime | None
    sitting_title: str
    starts_at: datetime
    duration_minutes: int

    def schedule(self) -> clk.Schedule:
        return clk.Schedule(starts_at=self.starts_at, duration=timedelta(minutes=self.duration_minutes))


_OPEN_ATTEMPT: Final = """
SELECT a.id, a.sitting_id, a.candidate_id, a.paper_id, a.room_id, a.seat_no, a.terminal_id, a.state, a.outcome,
       a.started_at, a.ends_at, s.title AS sitting_title, s.starts_at, s.duration_minutes
FROM attempts a JOIN sittings s ON s.id = a.sitting_id
WHERE a.candidate_id = $1 AND s.starts_at > $2
ORDER BY s.starts_at DESC
LIMIT 1
"""


_ATTEMPT_FIELDS: Final = tuple(f.name for f in dataclasses.fields(AttemptRow))
_SEAT_ATTEMPT: Final = """
SELECT a.*, t.id AS t_id, t.room_id AS t_room_id, t.seat_no AS t_seat_no, t.is_spare AS t_is_spare,
       t.label AS t_label, t.secret_hash AS t_secret_hash, t.revoked_at AS t_revoked_at
FROM (SELECT 1) AS one
LEFT JOIN LATERAL (
    SELECT a.id, a.sitting_id, a.candidate_id, a.paper_id, a.room_id, a.seat_no, a.terminal_id, a.state,
           a.outcome, a.started_at, a.ends_at, s.title AS sitting_title, s.starts_at, s.duration_minutes
    FROM attempts a JOIN sittings s ON s.id = a.sitting_id
    WHERE a.candidate_id = $1 AND s.starts_at > $2
    ORDER BY s.starts_at DESC
    LIMIT 1
) AS a ON true
LEFT JOIN terminals t ON t.id = $3
"""


async def seat_attempt_row(
    db: Database, candidate_id: int, terminal_id: int, now: datetime
) -> tuple[AttemptRow | None, asyncpg.Record | None]:
    """The candidate's open attempt (as :data:`_OPEN_ATTEMPT` finds it, with its sitting) and the
    terminal's row (``t_``-prefixed columns, for :func:`terminals.terminal_row_of`) in one
    statement: every request of a terminal needs both."""
    pool = await db.raw_pool()
    async with pool.acquire() as conn:
        row = await conn.fetchrow(_SEAT_ATTEMPT, candidate_id, now - timedelta(hours=12), terminal_id)
    assert row is not None
    attempt = AttemptRow(**{f: row[f] for f in _ATTEMPT_FIELDS}) if row["id"] is not None else None
    return attempt, row


async def _events_raw(conn: Any, attempt_id: int) -> list[clk.AttemptEvent]:
    rows = await conn.fetch(
        "SELECT kind, at, ref FROM attempt_events WHERE attempt_id = $1 ORDER BY at, id", attempt_id
    )
    return [clk.AttemptEvent(kind=r["kind"], at=r["at"], ref=r["ref"]) for r in rows]


_START: Final = """
WITH up AS (
    UPDATE attempts SET started_at = $2, state = $3, ends_at = $4, last_activity_at = $2
    WHERE id = $1 AND started_at IS NULL
    RETURNING id
)
INSERT INTO attempt_events (attempt_id, kind, at, ref, detail, recorded_by)
SELECT id, 'started', $2, NULL, '{}'::jsonb, 'candidate' FROM up
RETURNING attempt_id
"""


async def start_attempt_row(db: Database, settings: Settings, attempt: AttemptRow, now: datetime) -> bool:
    """:func:`start_attempt` in two statements on the raw pool, with the same rules: from S,
    before S + 30 min, not while paused (R-CLOCK-2), once unsealed (R-PAPER-5). Returns whether
    this call started it (False: it was started already). Tells the attempt and the room."""
    if attempt.started_at is not None:
        return False
    pool = await db.raw_pool()
    async with pool.acquire() as conn:
        events = await _events_raw(conn, attempt.id)
    state = clk.clock_at(attempt.schedule(), events, now, RULES)
    if not state.may_start:
        codes = {clk.Phase.BARRED: "barred", clk.Phase.PAUSED: "paused"}
        code = codes.get(state.phase, "not_yet" if now < attempt.starts_at else "cannot_start")
        raise SittingError(f"the paper cannot be opened now ({state.phase})", code)
    await candidate_paper_raw(db, settings, attempt.paper_id)  # refuses while sealed
    try:
        after = clk.clock_at(attempt.schedule(), [*events, clk.AttemptEvent(clk.EventKind.STARTED, now)], now, RULES)
    except ValueError as exc:
        raise SittingError(str(exc), "clock_refused") from exc
    async with pool.acquire() as conn:
        started = await conn.fetchval(_START, attempt.id, now, cached_state(True, after), after.end_time)
    if started is None:
        return False  # a second request of the same terminal was first
    if db.bus is not None:
        kind = clk.EventKind.STARTED.value
        await db.bus.publish_many(
            [
                (f"attempt:{attempt.id}", {"kind": kind}),
                (
                    f"room:{attempt.room_id}",
                    {
                        "attempt": attempt.id,
                        "seat": attempt.seat_no,
                        "kind": kind,
                        # what the start changed, so that a console redraws without reading it
                        "at": now.isoformat(),
                        "ends_at": after.end_time.isoformat() if after.end_time else None,
                        "state": cached_state(True, after),
                    },
                ),
            ]
        )
    return True


async def login_at_seat_raw(
    db: Database,
    settings: Settings,
    terminal: SeatTerminal | None,
    ticket_number: str,
    id_number: str,
    ip: str | None,
    now: datetime,
) -> LoginResult | None:
    """The usual candidate login — ticket and ID number match, checked in, the attempt open, at
    their own seat, never moved (R-SEC-2, R-CLOCK-1) — in one transaction on the raw pool: the
    session, the terminal's last sighting and the audit entry (R-SEC-3). None for anything else,
    which the full path (security.service.login_candidate) decides and audits."""
    if terminal is None:
        return None
    pool = await db.raw_pool()
    async with pool.acquire() as conn:
        candidate = await conn.fetchrow(
            "SELECT id, name, id_number FROM candidates WHERE ticket_number = $1 LIMIT 1", ticket_number.strip().upper()
        )
        if candidate is None or not hmac.compare_digest(
            normalise_id_number(id_number).encode(), candidate["id_number"].encode()
        ):
            return None
        row = await conn.fetchrow(_OPEN_ATTEMPT, candidate["id"], now - timedelta(hours=12))
        attempt = AttemptRow(**dict(row)) if row is not None else None
        if attempt is None or attempt.state == "closed" or attempt.terminal_id is not None:
            return None
        if not seat_matches(attempt, terminal):
            return None
        async with conn.transaction():
            token, principal = await security_service.start_candidate_session_raw(
                conn, settings, candidate["id"], candidate["name"], ip
            )
            await conn.execute("UPDATE terminals SET last_seen_at = $2 WHERE id = $1", terminal.id, now)
            login = audit.entry(
                actor=principal.actor,
                action="candidate_login",
                object_type="candidate",
                object_id=candidate["id"],
                ip=ip,
            )
            await audit.append_raw(conn, [login])  # the last statement: the chain's head is locked briefly
    return LoginResult(token=token, principal=principal)


async def started_paper(db: Database, attempt_id: int) -> tuple[bool, int]:
    """Whether the attempt's paper is open, and which paper it is (the attempt must exist)."""
    pool = await db.raw_pool()
    async with pool.acquire() as conn:
        row = await conn.fetchrow("SELECT started_at, paper_id FROM attempts WHERE id = $1", attempt_id)
    assert row is not None
    return row["started_at"] is not None, row["paper_id"]


async def saved_answers_raw(db: Database, attempt_id: int) -> list[tuple[int, str, bool, int]]:
    """(position, response, flagged, seq) of every stored answer of the attempt."""
    pool = await db.raw_pool()
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT position, response, flagged, seq FROM answers WHERE attempt_id = $1", attempt_id
        )
    return [(r["position"], r["response"], r["flagged"], r["seq"]) for r in rows]


# --- check-in (R-CLOCK-1); the console issue builds the invigilator's screen on this --------------


async def _seat_of(session: AsyncSession, sitting_id: int, candidate_id: int) -> SeatAssignment:
    seat = await session.scalar(
        select(SeatAssignment).where(
            SeatAssignment.sitting_id == sitting_id, SeatAssignment.candidate_id == candidate_id
        )
    )
    if seat is None:
        raise SittingError("the candidate has no seat in this sitting", "not_seated")
    return seat


async def check_in(session: AsyncSession, sitting_id: int, candidate_id: int, actor: Actor, now: datetime) -> Attempt:
    """An invigilator checks a candidate in after comparing ID card, ticket and photo (R-CLOCK-1).

    Checking in twice is harmless; checking in before S − 20 min or from S + 30 min is refused.
    """
    sitting = await session.get(Sitting, sitting_id)
    if sitting is None:
        raise SittingError(f"sitting {sitting_id} does not exist", "no_sitting")
    existing = await session.scalar(
        select(Attempt).where(Attempt.sitting_id == sitting_id, Attempt.candidate_id == candidate_id)
    )
    if existing is not None:
        return existing
    seat = await _seat_of(session, sitting_id, candidate_id)
    paper_id = await session.scalar(
        select(Paper.id)
        .join(PaperSet, PaperSet.id == Paper.paper_set_id)
        .where(PaperSet.sitting_id == sitting_id, Paper.candidate_id == candidate_id)
    )
    if paper_id is None:
        raise SittingError(
            "no paper was assembled for this candidate (seated after assembly?); tell the chief examiner", "no_paper"
        )
    try:
        clk.clock_at(schedule_of(sitting), [clk.AttemptEvent(clk.EventKind.CHECKED_IN, now)], now, RULES)
    except ValueError as exc:
        code = "checkin_not_open" if now < sitting.starts_at else "barred"
        raise SittingError(str(exc), code) from exc
    paper = await session.get(Paper, paper_id)
    assert paper is not None
    attempt = Attempt(
        sitting_id=sitting_id,
        candidate_id=candidate_id,
        paper_id=paper_id,
        room_id=seat.room_id,
        seat_no=seat.seat_no,
        checked_in_at=now,
        checked_in_by=actor.name,
        item_count=paper.item_count,
        state="checked_in",
    )
    session.add(attempt)
    await session.flush()
    await record_event(session, attempt, sitting, clk.EventKind.CHECKED_IN, now, actor.name)
    await audit.record(
        session,
        actor=actor.name,
        actor_user_id=actor.user_id,
        action="candidate_checked_in",
        object_type="attempt",
        object_id=attempt.id,
        detail={"sitting_id": sitting_id, "candidate_id": candidate_id, "seat": seat.seat_no},
        ip=actor.ip,
        at=now,
    )
    return attempt


async def find_candidate(session: AsyncSession, ticket_or_id: str, sitting_id: int) -> Candidate | None:
    """By admission ticket number (also what the ticket's QR code carries) or ID number; a person
    registered in several batches has several candidate rows, so the ID number is looked up among
    the sitting's seated candidates."""
    text = ticket_or_id.strip().upper()
    if not text:
        return None
    found = await session.scalar(select(Candidate).where(Candidate.ticket_number == text))
    if found is None and len(text) == 18:
        found = await session.scalar(
            select(Candidate)
            .join(SeatAssignment, SeatAssignment.candidate_id == Candidate.id)
            .where(Candidate.id_number == text, SeatAssignment.sitting_id == sitting_id)
        )
    return found


@dataclasses.dataclass(frozen=True)
class SeatRow:
    seat_no: int
    room_id: int
    candidate: Candidate
    attempt: Attempt | None


async def room_roster(session: AsyncSession, sitting_id: int, room_id: int | None = None) -> list[SeatRow]:
    """Every seated candidate of the sitting (optionally one room) with their attempt, if checked in."""
    query = (
        select(SeatAssignment, Candidate, Attempt)
        .join(Candidate, Candidate.id == SeatAssignment.candidate_id)
        .outerjoin(Attempt, (Attempt.sitting_id == SeatAssignment.sitting_id) & (Attempt.candidate_id == Candidate.id))
        .where(SeatAssignment.sitting_id == sitting_id)
        .order_by(SeatAssignment.room_id, SeatAssignment.seat_no)
    )
    if room_id is not None:
        query = query.where(SeatAssignment.room_id == room_id)
    return [SeatRow(s.seat_no, s.room_id, c, a) for s, c, a in await session.execute(query)]


# --- candidate login at the enrolled seat (R-SEC-2, R-CLOCK-1/7) --------------------------------


class SeatTerminal(Protocol):
    """A terminal as seat checks see it (security.models.Terminal or terminals.TerminalRow)."""

    @property
    def id(self) -> int: ...
    @property
    def room_id(self) -> int: ...
    @property
    def seat_no(self) -> int | None: ...


class SeatedAttempt(Protocol):
    """An attempt as seat checks see it (models.Attempt or AttemptRow)."""

    @property
    def terminal_id(self) -> int | None: ...
    @property
    def room_id(self) -> int: ...
    @property
    def seat_no(self) -> int: ...


def seat_matches(attempt: SeatedAttempt, terminal: SeatTerminal) -> bool:
    """The terminal the candidate must use: the one they were moved to, else their seat's."""
    if attempt.terminal_id is not None:
        return attempt.terminal_id == terminal.id
    return terminal.room_id == attempt.room_id and terminal.seat_no == attempt.seat_no


async def open_attempt_of(session: AsyncSession, candidate_id: int, now: datetime) -> Attempt | None:
    """The candidate's attempt today: the newest one of a sitting that has not long ended."""
    found = await open_attempt_and_sitting(session, candidate_id, now)
    return found[0] if found is not None else None


async def open_attempt_and_sitting(
    session: AsyncSession, candidate_id: int, now: datetime
) -> tuple[Attempt, Sitting] | None:
    """:func:`open_attempt_of` with its sitting, in one query (every request of a terminal)."""
    row = (
        await session.execute(
            select(Attempt, Sitting)
            .join(Sitting, Sitting.id == Attempt.sitting_id)
            .where(Attempt.candidate_id == candidate_id, Sitting.starts_at > now - timedelta(hours=12))
            .order_by(Sitting.starts_at.desc())
            .limit(1)
        )
    ).first()
    return (row[0], row[1]) if row is not None else None


async def admit_at_terminal(
    session: AsyncSession, candidate: Candidate, terminal: Terminal | None, now: datetime
) -> tuple[Attempt | None, str | None, dict[str, Any]]:
    """Whether ``candidate`` may log in at ``terminal`` now: (attempt, refusal code, facts)."""
    if terminal is None:
        return None, "not_a_terminal", {}
    attempt = await open_attempt_of(session, candidate.id, now)
    if attempt is None:
        seat = await session.scalar(
            select(SeatAssignment, Sitting)
            .join(Sitting, Sitting.id == SeatAssignment.sitting_id)
            .where(SeatAssignment.candidate_id == candidate.id, Sitting.starts_at > now - timedelta(hours=12))
            .order_by(Sitting.starts_at)
            .limit(1)
        )
        return None, ("not_checked_in" if seat is not None else "no_sitting"), {}
    if attempt.state == "closed":
        return attempt, ("barred" if attempt.outcome == "barred" else "closed"), {}
    if not seat_matches(attempt, terminal):
        return attempt, "wrong_seat", {"seat": await seat_label(session, attempt)}
    return attempt, None, {}


async def seat_label(session: AsyncSession, attempt: Attempt) -> str:
    """Where the candidate must sit: the spare terminal they were moved to, else their seat."""
    if attempt.terminal_id is not None:
        moved_to = await session.get(Terminal, attempt.terminal_id)
        if moved_to is not None:
            return moved_to.label
    room = await session.get(Room, attempt.room_id)
    return f"{room.name if room else '?'} {attempt.seat_no}"


async def after_login(session: AsyncSession, attempt: Attempt, terminal: Terminal, now: datetime) -> None:
    """A candidate moved to a spare terminal resumes there: the move's pause ends (R-CLOCK-7)."""
    terminal.last_seen_at = now
    if attempt.terminal_id is None:
        return  # never moved (a move sets the terminal): no move's pause to end
    sitting = await session.get(Sitting, attempt.sitting_id)
    assert sitting is not None
    events = await events_of(session, attempt.id)
    open_moves = {e.ref for e in events if e.kind == clk.EventKind.PAUSED and e.ref and e.ref.startswith("move-")}
    open_moves -= {e.ref for e in events if e.kind == clk.EventKind.RESUMED}
    for ref in sorted(r for r in open_moves if r):
        await record_event(session, attempt, sitting, clk.EventKind.RESUMED, now, f"terminal {terminal.label}", ref=ref)


async def move_to_spare(
    session: AsyncSession, attempt_id: int, spare_terminal_id: int, actor: Actor, now: datetime
) -> Attempt:
    """R-CLOCK-7: an invigilator moves a candidate to a spare terminal of the room. The clock
    stops now and restarts when the candidate has logged in there; the time is compensated."""
    attempt = await session.get(Attempt, attempt_id, with_for_update=True)
    if attempt is None:
        raise SittingError(f"attempt {attempt_id} does not exist", "no_attempt")
    spare = await session.get(Terminal, spare_terminal_id)
    if spare is None or spare.revoked_at is not None or not spare.is_spare:
        raise SittingError("choose an enrolled spare terminal", "not_spare")
    if spare.room_id != attempt.room_id:
        raise SittingError("the spare terminal is in another room", "other_room")
    taken = await session.scalar(
        select(Attempt.id).where(Attempt.terminal_id == spare.id, Attempt.state != "closed", Attempt.id != attempt.id)
    )
    if taken is not None:
        raise SittingError("another candidate works at that spare terminal", "spare_taken")
    sitting = await session.get(Sitting, attempt.sitting_id)
    assert sitting is not None
    moves = await session.scalar(
        select(func.count()).where(AttemptEvent.attempt_id == attempt.id, AttemptEvent.kind == clk.EventKind.MOVED)
    )
    await record_event(session, attempt, sitting, clk.EventKind.MOVED, now, actor.name, detail={"to": spare.label})
    if attempt.started_at is not None:
        await record_event(session, attempt, sitting, clk.EventKind.PAUSED, now, actor.name, ref=f"move-{moves or 0}")
    attempt.terminal_id = spare.id
    await audit.record(
        session,
        actor=actor.name,
        actor_user_id=actor.user_id,
        action="candidate_moved",
        object_type="attempt",
        object_id=attempt.id,
        detail={"to_terminal": spare.id, "label": spare.label},
        ip=actor.ip,
        at=now,
    )
    return attempt


# --- the attempt as the terminal sees it --------------------------------------------------------


async def start_attempt(session: AsyncSession, settings: Settings, attempt: Attempt, now: datetime) -> clk.ClockState:
    """The candidate opens the paper: from S, before S + 30 min (R-CLOCK-2), once unsealed (R-PAPER-5)."""
    sitting = await session.get(Sitting, attempt.sitting_id)
    assert sitting is not None
    events = await events_of(session, attempt.id)
    state = clk.clock_at(schedule_of(sitting), events, now, RULES)
    if attempt.started_at is not None:
        return state
    if not state.may_start:
        codes = {clk.Phase.BARRED: "barred", clk.Phase.PAUSED: "paused"}
        code = codes.get(state.phase, "not_yet" if now < sitting.starts_at else "cannot_start")
        raise SittingError(f"the paper cannot be opened now ({state.phase})", code)
    await candidate_paper(session, settings, attempt.paper_id)  # refuses while sealed
    state = _append_event(session, attempt, sitting, clk.EventKind.STARTED, now, "candidate", events)
    await session.flush()
    publish_after_commit(
        session,
        f"room:{attempt.room_id}",
        {"attempt": attempt.id, "seat": attempt.seat_no, "kind": clk.EventKind.STARTED.value},
    )
    return state


async def saved_answers(session: AsyncSession, attempt_id: int) -> dict[int, Answer]:
    rows = await session.scalars(select(Answer).where(Answer.attempt_id == attempt_id))
    return {row.position: row for row in rows}


@dataclasses.dataclass(frozen=True)
class Submission:
    attempt: Attempt
    receipt_code: str
    already: bool


async def submit_attempt(
    session: AsyncSession,
    settings: Settings,
    attempt_id: int,
    *,
    how: str,
    now: datetime,
    by: str,
) -> Submission:
    """Close the attempt, score it (R-SCORE-1) and sign the receipt (R-SCORE-7).

    ``how``: "candidate" (from E − 30 min, R-CLOCK-3) or "auto" (at E, R-CLOCK-5). Submitting a
    closed attempt again returns the same receipt. The score is stored, never shown (R-SCORE-4).
    """
    # populate_existing: the caller may hold this attempt from before the lock; another worker
    # (the automatic hand-in, the terminal's own channel) may have closed it since.
    attempt = await session.get(Attempt, attempt_id, with_for_update=True, populate_existing=True)
    if attempt is None:
        raise SittingError(f"attempt {attempt_id} does not exist", "no_attempt")
    if attempt.state == "closed":
        if attempt.receipt_code is None:
            raise SittingError(f"the attempt is closed ({attempt.outcome})", "closed")
        return Submission(attempt, attempt.receipt_code, already=True)
    sitting = await session.get(Sitting, attempt.sitting_id)
    assert sitting is not None
    state = await clock_of(session, attempt, sitting, now)
    if how == "candidate" and not state.may_submit:
        if state.phase == clk.Phase.ENDED:
            how = "auto"
        elif state.phase == clk.Phase.PAUSED:
            raise SittingError("the exam is paused; submit when it continues", "paused")
        else:
            raise SittingError(
                "hand-in opens 30 minutes before your end time (R-CLOCK-3)", "too_early", opens_at=state.submit_opens_at
            )
    if how == "auto" and not state.auto_submit_due:
        raise SittingError("the end time has not been reached", "not_due")
    await record_event(session, attempt, sitting, clk.EventKind.SUBMITTED, now, by, detail={"how": how})
    # R-SCORE-1: score from the stored answers (the row lock above keeps late saves out).
    answers = await saved_answers(session, attempt.id)
    paper = await candidate_paper(session, settings, attempt.paper_id)
    candidate = await session.get(Candidate, attempt.candidate_id)
    assert candidate is not None
    code = await _close_and_score(
        session,
        settings,
        attempt,
        sitting,
        paper,
        {pos: a.response for pos, a in answers.items()},
        candidate.ticket_number or "",
        how,
        now,
        by,
    )
    await session.flush()
    return Submission(attempt, code, already=False)


async def _close_and_score(
    session: AsyncSession,
    settings: Settings,
    attempt: Attempt,
    sitting: Sitting,
    paper: CandidatePaper,
    responses: dict[int, str],
    ticket_number: str,
    how: str,
    now: datetime,
    by: str,
) -> str:
    """Close the attempt (its submitted event is recorded), score it from ``responses`` — the
    stored answers, read under the attempt's row lock — sign the receipt and audit the hand-in.
    Returns the receipt code."""
    attempt.state, attempt.outcome, attempt.closed_at = (
        "closed",
        ("submitted" if how == "candidate" else "auto_submitted"),
        now,
    )
    score = score_attempt(scoring_items(paper, sitting), responses)
    attempt.score, attempt.max_score, attempt.scored_at = score.total, score.max_total, now
    attempt.answered_count = score.answered
    facts = ReceiptFacts(
        attempt_id=attempt.id,
        sitting_id=attempt.sitting_id,
        ticket_number=ticket_number,
        submitted_at=now,
        digest=answers_digest(responses),
    )
    signature, code = sign_receipt(settings.resolved_receipt_key(), facts)
    attempt.answers_digest, attempt.receipt_signature, attempt.receipt_code = facts.digest, signature, code
    await audit.record(
        session,
        actor=by,
        action="attempt_submitted",
        object_type="attempt",
        object_id=attempt.id,
        detail={"how": how, "answered": score.answered, "digest": facts.digest, "receipt": code},
        at=now,
    )
    return code


def scoring_items(paper: CandidatePaper, sitting: Sitting) -> list[ScoringItem]:
    """The paper as scored: keys, points, the blueprint's rule and the chief's voidings (R-INC-4)."""
    voided = sitting.voided_items or {}
    return [
        ScoringItem(
            position=it.position,
            type=it.type,
            key=it.key,
            points=it.points,
            scoring=it.scoring,
            voided=voided.get(str(it.revision_id)),
        )
        for it in paper.items
    ]


async def void_item(
    session: AsyncSession,
    settings: Settings,
    sitting_id: int,
    revision_id: int,
    policy: str,
    actor: Actor,
    now: datetime,
) -> int:
    """R-INC-4: the chief voids a faulty item for the sitting — scored for nobody or for everybody.
    Attempts already scored are scored again; returns how many. Voiding twice with the same
    policy changes nothing; a different policy replaces the first."""
    if policy not in ("nobody", "everybody"):
        raise SittingError("policy: nobody or everybody", "bad_policy")
    sitting = await session.get(Sitting, sitting_id, with_for_update=True)
    if sitting is None:
        raise SittingError(f"sitting {sitting_id} does not exist", "no_sitting")
    paper_ids = list(
        await session.scalars(
            select(Attempt.paper_id).where(Attempt.sitting_id == sitting_id, Attempt.started_at.is_not(None))
        )
    )
    papers = [await candidate_paper(session, settings, pid) for pid in sorted(set(paper_ids))]
    if papers and not any(it.revision_id == revision_id for p in papers for it in p.items):
        raise SittingError("no paper of this sitting contains that item", "not_in_papers")
    if (sitting.voided_items or {}).get(str(revision_id)) == policy:
        return 0
    sitting.voided_items = {**(sitting.voided_items or {}), str(revision_id): policy}
    await session.flush()
    rescored = 0
    for attempt in await session.scalars(
        select(Attempt).where(Attempt.sitting_id == sitting_id, Attempt.scored_at.is_not(None)).with_for_update()
    ):
        answers = await saved_answers(session, attempt.id)
        paper = await candidate_paper(session, settings, attempt.paper_id)
        score = score_attempt(scoring_items(paper, sitting), {pos: a.response for pos, a in answers.items()})
        attempt.score, attempt.max_score = score.total, score.max_total
        rescored += 1
    await audit.record(
        session,
        actor=actor.name,
        actor_user_id=actor.user_id,
        action="item_voided",
        object_type="sitting",
        object_id=sitting_id,
        detail={"revision_id": revision_id, "policy": policy, "rescored": rescored},
        ip=actor.ip,
        at=now,
    )
    return rescored


async def verify_receipt(session: AsyncSession, settings: Settings, code: str) -> tuple[str, Attempt | None]:
    """Check a receipt code against the stored answers (``examhall receipt verify``, R-SCORE-7)."""
    from examhall.sittings.receipts import normalise_code

    normal = normalise_code(code)
    if normal is None:
        return "malformed", None
    grouped = "-".join(normal[i : i + 4] for i in range(0, 16, 4))
    attempt = await session.scalar(select(Attempt).where(Attempt.receipt_code == grouped))
    if attempt is None or attempt.receipt_signature is None or attempt.closed_at is None:
        return "unknown", None
    candidate = await session.get(Candidate, attempt.candidate_id)
    assert candidate is not None
    answers = await saved_answers(session, attempt.id)
    facts = ReceiptFacts(
        attempt_id=attempt.id,
        sitting_id=attempt.sitting_id,
        ticket_number=candidate.ticket_number or "",
        submitted_at=attempt.closed_at,
        digest=answers_digest({pos: a.response for pos, a in answers.items()}),
    )
    verdict = check_receipt(verify_key_of(settings.resolved_receipt_key()), facts, attempt.receipt_signature, grouped)
    return str(verdict), attempt


async def due_for_auto_submit(session: AsyncSession, now: datetime, limit: int = 200) -> Sequence[int]:
    """Attempts whose E has passed (R-CLOCK-5), locked for this worker (others skip them)."""
    rows = await session.scalars(
        select(Attempt.id)
        .where(Attempt.state == "running", Attempt.ends_at <= now)
        .order_by(Attempt.ends_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(rows)


async def reject(
    session: AsyncSession,
    attempt_id: int,
    position: int | None,
    response: str,
    seq: int | None,
    reason: str,
    now: datetime,
) -> None:
    session.add(
        RejectedAnswer(
            attempt_id=attempt_id, position=position, response=response[:64], seq=seq, reason=reason, received_at=now
        )
    )
    await session.flush()


# --- errata (R-INC-4) -------------------------------------------------------------------------------


async def publish_erratum(session: AsyncSession, sitting_id: int, text: str, actor: Actor, now: datetime) -> Erratum:
    clean = text.strip()
    if not clean or len(clean) > 2000:
        raise SittingError("text: write the correction (up to 2,000 characters)", "bad_text")
    if await session.get(Sitting, sitting_id) is None:
        raise SittingError(f"sitting {sitting_id} does not exist", "no_sitting")
    erratum = Erratum(sitting_id=sitting_id, text=clean, published_at=now, published_by=actor.name)
    session.add(erratum)
    await session.flush()
    await audit.record(
        session,
        actor=actor.name,
        actor_user_id=actor.user_id,
        action="erratum_published",
        object_type="sitting",
        object_id=sitting_id,
        detail={"erratum_id": erratum.id},
        ip=actor.ip,
        at=now,
    )
    publish_after_commit(session, f"sitting:{sitting_id}", {"kind": "erratum", "id": erratum.id})
    return erratum


async def errata_for(session: AsyncSession, attempt: Attempt) -> list[dict[str, Any]]:
    rows = await session.execute(
        select(Erratum, ErratumAck.acknowledged_at)
        .outerjoin(ErratumAck, (ErratumAck.erratum_id == Erratum.id) & (ErratumAck.attempt_id == attempt.id))
        .where(Erratum.sitting_id == attempt.sitting_id)
        .order_by(Erratum.id)
    )
    return [_erratum_json(e.id, e.text, e.published_at, acked is not None) for e, acked in rows]


async def acknowledge_erratum(session: AsyncSession, attempt: Attempt, erratum_id: int, now: datetime) -> None:
    erratum = await session.get(Erratum, erratum_id)
    if erratum is None or erratum.sitting_id != attempt.sitting_id:
        raise SittingError("no such notice for your sitting", "no_erratum")
    if await session.get(ErratumAck, (erratum_id, attempt.id)) is None:
        session.add(ErratumAck(erratum_id=erratum_id, attempt_id=attempt.id, acknowledged_at=now))
        await session.flush()


# --- automatic submission at E (R-CLOCK-5), run by every worker ------------------------------------


async def auto_submit_round(db: Database, settings: Settings, now: datetime, limit: int = 500) -> int:
    """Submit every attempt whose end time has passed (R-CLOCK-5), up to ``limit`` in one
    transaction; workers skip each other's locked rows. Returns how many were handed in."""
    async with db.session() as session:
        due = await due_for_auto_submit(session, now, limit)
        if not due:
            return 0
        return await hand_in_due(session, settings, due, now)


async def hand_in_due(session: AsyncSession, settings: Settings, attempt_ids: Sequence[int], now: datetime) -> int:
    """The automatic hand-in of many attempts at once — all of a sitting reach E together — with
    the same rules as :func:`submit_attempt` (``how="auto"``), in a fixed number of queries: the
    attempts (locked by the caller), their sittings, clock events, stored answers and tickets."""
    ids = sorted(set(attempt_ids))
    attempts = list(
        await session.scalars(
            select(Attempt)
            .where(Attempt.id.in_(ids))
            .order_by(Attempt.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )
    sittings = {
        s.id: s for s in await session.scalars(select(Sitting).where(Sitting.id.in_({a.sitting_id for a in attempts})))
    }
    events = await events_of_many(session, ids)
    responses: dict[int, dict[int, str]] = {a: {} for a in ids}
    for attempt_id, position, response in await session.execute(
        select(Answer.attempt_id, Answer.position, Answer.response).where(Answer.attempt_id.in_(ids))
    ):
        responses[attempt_id][position] = response
    tickets: dict[int, str | None] = {
        candidate_id: ticket
        for candidate_id, ticket in await session.execute(
            select(Candidate.id, Candidate.ticket_number).where(Candidate.id.in_({a.candidate_id for a in attempts}))
        )
    }
    done = 0
    rooms: dict[int, list[int]] = {}
    for attempt in attempts:
        sitting = sittings[attempt.sitting_id]
        if attempt.state == "closed":
            continue
        try:
            state = clk.clock_at(schedule_of(sitting), events[attempt.id], now, RULES)
        except ValueError:
            log.exception("attempt %s: the clock refuses its recorded events", attempt.id)
            continue
        if not state.auto_submit_due:
            continue  # E moved (a pause) since the attempt was chosen
        paper = await candidate_paper(session, settings, attempt.paper_id)
        kind = clk.EventKind.SUBMITTED
        _append_event(session, attempt, sitting, kind, now, "system", events[attempt.id], detail={"how": "auto"})
        await _close_and_score(
            session,
            settings,
            attempt,
            sitting,
            paper,
            responses[attempt.id],
            tickets.get(attempt.candidate_id) or "",
            "auto",
            now,
            "system",
        )
        rooms.setdefault(attempt.room_id, []).append(attempt.id)
        done += 1
    await session.flush()
    for room_id, handed_in in rooms.items():
        publish_after_commit(session, f"room:{room_id}", {"kind": clk.EventKind.SUBMITTED.value, "attempts": handed_in})
    return done


async def close_barred(session: AsyncSession, now: datetime) -> int:
    """R-CLOCK-2: a checked-in candidate who has not opened the paper by the start deadline
    (S + 30 min, moved by pauses) is absent (缺考): the attempt closes as "barred". Idempotent."""
    due = list(
        await session.scalars(
            select(Attempt)
            .join(Sitting, Sitting.id == Attempt.sitting_id)
            .where(
                Attempt.state == "checked_in",
                Sitting.starts_at + RULES.late_start_limit <= now,
            )
            .with_for_update(of=Attempt, skip_locked=True)
        )
    )
    closed = 0
    for attempt in due:
        sitting = await session.get(Sitting, attempt.sitting_id)
        assert sitting is not None
        state = await clock_of(session, attempt, sitting, now)
        if state.phase != clk.Phase.BARRED:
            continue  # a pause moved the deadline
        attempt.state, attempt.outcome, attempt.closed_at = "closed", "barred", now
        publish_after_commit(
            session, f"room:{attempt.room_id}", {"attempt": attempt.id, "seat": attempt.seat_no, "kind": "barred"}
        )
        closed += 1
    return closed


AUTO_SUBMIT_BATCH = 500


async def auto_submit_loop(db: Database, settings: Settings, interval: float = 1.0) -> None:
    """Every worker, at least every ``interval`` seconds and right at the next end time."""
    while True:
        delay = interval
        try:
            now = datetime.now(UTC)
            handed_in = await auto_submit_round(db, settings, now, AUTO_SUBMIT_BATCH)
            async with db.session() as session:
                await close_barred(session, now)
                next_end = await session.scalar(select(func.min(Attempt.ends_at)).where(Attempt.state == "running"))
            if handed_in >= AUTO_SUBMIT_BATCH:
                delay = 0.0  # more are due
            elif next_end is not None and next_end > now:
                # Wake at E itself (a whole sitting ends at one instant), not up to a second later.
                delay = min(interval, max(0.0, (next_end - datetime.now(UTC)).total_seconds() + 0.001))
        except asyncio.CancelledError:
            raise
        except Exception:  # keep the loop alive; the next round retries
            log.exception("automatic submission round failed")
        await asyncio.sleep(delay)


@dataclasses.dataclass(frozen=True)
class RefusedSave:
    received_at: datetime
    seat_no: int
    name: str
    position: int | None
    response: str
    reason: str


async def refused_saves(session: AsyncSession, sitting_id: int, limit: int = 100) -> list[RefusedSave]:
    """Answers the server refused (after the close, while paused, malformed …), newest first,
    for the invigilators (issue "Exam day": kept in a rejected-answers log and shown)."""
    rows = await session.execute(
        select(RejectedAnswer, Attempt.seat_no, Candidate.name)
        .join(Attempt, Attempt.id == RejectedAnswer.attempt_id)
        .join(Candidate, Candidate.id == Attempt.candidate_id)
        .where(Attempt.sitting_id == sitting_id)
        .order_by(RejectedAnswer.id.desc())
        .limit(limit)
    )
    return [RefusedSave(r.received_at, seat, name, r.position, r.response, r.reason) for r, seat, name in rows]


@dataclasses.dataclass(frozen=True)
class RoomOverview:
    room_id: int
    room_name: str
    seated: int
    checked_in: int
    working: int
    paused: int
    submitted: int
    other_closed: int

    @property
    def not_arrived(self) -> int:
        return self.seated - self.checked_in


async def sitting_overview(session: AsyncSession, sitting_id: int) -> list[RoomOverview]:
    """Per room of the sitting: seated, checked in, working, paused, handed in (chief console)."""
    state = Attempt.state
    rows = await session.execute(
        select(
            Room.id,
            Room.name,
            func.count(SeatAssignment.id),
            func.count(Attempt.id),
            func.count(Attempt.id).filter(state == "running"),
            func.count(Attempt.id).filter(state == "paused"),
            func.count(Attempt.id).filter(Attempt.outcome.in_(("submitted", "auto_submitted"))),
            func.count(Attempt.id).filter(state == "closed", Attempt.outcome.not_in(("submitted", "auto_submitted"))),
        )
        .join(SeatAssignment, SeatAssignment.room_id == Room.id)
        .outerjoin(
            Attempt,
            (Attempt.sitting_id == SeatAssignment.sitting_id) & (Attempt.candidate_id == SeatAssignment.candidate_id),
        )
        .where(SeatAssignment.sitting_id == sitting_id)
        .group_by(Room.id, Room.name)
        .order_by(Room.name)
    )
    return [RoomOverview(*row) for row in rows]
