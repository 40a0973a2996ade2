"""Exam day for candidates (service layer): check-in, login at the enrolled seat, the clock of an
attempt, the candidate's own paper, submission with scoring and receipt, errata.

R-CLOCK-1…9, R-SEC-2, R-SCORE-1, R-SCORE-4, R-SCORE-7, R-INC-4. Time always comes from the
server (``now`` is passed in so tests can drive the clock); the terminal only displays it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from examhall.batches.models import Candidate, Room, SeatAssignment
from examhall.config import Settings
from examhall.db import Database
from examhall.events import publish_after_commit
from examhall.papers.models import Paper, PaperSet
from examhall.papers.service import open_paper
from examhall.security import audit
from examhall.security.audit import Actor
from examhall.security.models import Terminal
from examhall.sittings import clock as clk
from examhall.sittings.models import Answer, Attempt, AttemptEvent, Erratum, ErratumAck, RejectedAnswer, Sitting
from examhall.sittings.receipts import ReceiptFacts, check_receipt, sign_receipt, verify_key_of
from examhall.sittings.scoring import ScoringItem, answers_digest, score_attempt
from examhall.sittings.service import SittingError

RULES = clk.ClockRules()
log = logging.getLogger("examhall.sittings")


# --- the candidate's paper, cached per worker once unsealed ----------------------------------


@dataclasses.dataclass(frozen=True)
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
    view = await open_paper(session, settings, paper_set, paper)
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
                    options=tuple((letter, text) for letter, text in entry["options"]),
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
    rows = await session.scalars(
        select(AttemptEvent).where(AttemptEvent.attempt_id == attempt_id).order_by(AttemptEvent.at, AttemptEvent.id)
    )
    return [clk.AttemptEvent(kind=r.kind, at=r.at, ref=r.ref) for r in rows]


async def clock_of(session: AsyncSession, attempt: Attempt, sitting: Sitting, now: datetime) -> clk.ClockState:
    return clk.clock_at(schedule_of(sitting), await events_of(session, attempt.id), now, RULES)


def _cache_state(attempt: Attempt, state: clk.ClockState) -> None:
    """Refresh the hot path's view of the clock (R-CLOCK-5: no answer after E)."""
    if state.phase in clk.CLOSED_PHASES or state.phase == clk.Phase.BARRED:
        attempt.state = "closed"
    elif state.phase == clk.Phase.PAUSED:
        attempt.state = "paused" if attempt.started_at is not None else "checked_in"
    elif attempt.started_at is not None:
        attempt.state = "running"
    else:
        attempt.state = "checked_in"
    attempt.ends_at = state.end_time


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
    await session.flush()
    publish_after_commit(session, f"attempt:{attempt.id}", {"kind": kind})
    publish_after_commit(
        session, f"room:{attempt.room_id}", {"attempt": attempt.id, "seat": attempt.seat_no, "kind": kind}
    )
    return state


def clock_json(state: clk.ClockState, sitting: Sitting, now: datetime) -> dict[str, Any]:
    """What a terminal displays; it shows only this and resynchronises on every message."""

    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value is not None else None

    return {
        "server_now": now.isoformat(),
        "phase": str(state.phase),
        "starts_at": sitting.starts_at.isoformat(),
        "duration_minutes": sitting.duration_minutes,
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


def seat_matches(attempt: Attempt, terminal: Terminal) -> bool:
    """The terminal the candidate must use: the one they were moved to, else their seat's."""
    if attempt.terminal_id is not None:
        return attempt.terminal_id == terminal.id
    return terminal.room_id == attempt.room_id and terminal.seat_no == attempt.seat_no


async def open_attempt_of(session: AsyncSession, candidate_id: int, now: datetime) -> Attempt | None:
    """The candidate's attempt today: the newest one of a sitting that has not long ended."""
    return await session.scalar(
        select(Attempt)
        .join(Sitting, Sitting.id == Attempt.sitting_id)
        .where(Attempt.candidate_id == candidate_id, Sitting.starts_at > now - timedelta(hours=12))
        .order_by(Sitting.starts_at.desc())
        .limit(1)
    )


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
    state = await clock_of(session, attempt, sitting, now)
    if attempt.started_at is not None:
        return state
    if not state.may_start:
        codes = {clk.Phase.BARRED: "barred", clk.Phase.PAUSED: "paused"}
        code = codes.get(state.phase, "not_yet" if now < sitting.starts_at else "cannot_start")
        raise SittingError(f"the paper cannot be opened now ({state.phase})", code)
    await candidate_paper(session, settings, attempt.paper_id)  # refuses while sealed
    return await record_event(session, attempt, sitting, clk.EventKind.STARTED, now, "candidate")


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
    attempt = await session.get(Attempt, attempt_id, with_for_update=True)
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
    attempt.state, attempt.outcome, attempt.closed_at = (
        "closed",
        ("submitted" if how == "candidate" else "auto_submitted"),
        now,
    )
    # R-SCORE-1: score from the stored answers (the row lock above keeps late saves out).
    answers = await saved_answers(session, attempt.id)
    responses = {pos: a.response for pos, a in answers.items()}
    paper = await candidate_paper(session, settings, attempt.paper_id)
    score = score_attempt(scoring_items(paper, sitting), responses)
    attempt.score, attempt.max_score, attempt.scored_at = score.total, score.max_total, now
    attempt.answered_count = score.answered
    candidate = await session.get(Candidate, attempt.candidate_id)
    assert candidate is not None
    facts = ReceiptFacts(
        attempt_id=attempt.id,
        sitting_id=attempt.sitting_id,
        ticket_number=candidate.ticket_number or "",
        submitted_at=now,
        digest=answers_digest(responses),
    )
    signature, code = sign_receipt(settings.resolved_receipt_key(), facts)
    attempt.answers_digest, attempt.receipt_signature, attempt.receipt_code = facts.digest, signature, code
    await session.flush()
    await audit.record(
        session,
        actor=by,
        action="attempt_submitted",
        object_type="attempt",
        object_id=attempt.id,
        detail={"how": how, "answered": score.answered, "digest": facts.digest, "receipt": code},
        at=now,
    )
    return Submission(attempt, code, already=False)


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
    return [
        {"id": e.id, "text": e.text, "published_at": e.published_at.isoformat(), "acknowledged": acked is not None}
        for e, acked in rows
    ]


async def acknowledge_erratum(session: AsyncSession, attempt: Attempt, erratum_id: int, now: datetime) -> None:
    erratum = await session.get(Erratum, erratum_id)
    if erratum is None or erratum.sitting_id != attempt.sitting_id:
        raise SittingError("no such notice for your sitting", "no_erratum")
    if await session.get(ErratumAck, (erratum_id, attempt.id)) is None:
        session.add(ErratumAck(erratum_id=erratum_id, attempt_id=attempt.id, acknowledged_at=now))
        await session.flush()


# --- automatic submission at E (R-CLOCK-5), run by every worker ------------------------------------


async def auto_submit_round(db: Database, settings: Settings, now: datetime) -> int:
    """Submit every attempt whose end time has passed; workers skip each other's locked rows."""
    async with db.session() as session:
        due = await due_for_auto_submit(session, now)
        for attempt_id in due:
            await submit_attempt(session, settings, attempt_id, how="auto", now=now, by="system")
    return len(due)


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


async def auto_submit_loop(db: Database, settings: Settings, interval: float = 1.0) -> None:
    while True:
        try:
            now = datetime.now(UTC)
            await auto_submit_round(db, settings, now)
            async with db.session() as session:
                await close_barred(session, now)
        except asyncio.CancelledError:
            raise
        except Exception:  # keep the loop alive; the next round retries
            log.exception("automatic submission round failed")
        await asyncio.sleep(interval)


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
