"""The exam-day clock of one attempt (R-CLOCK-1…9) as pure logic: no database, no web, no I/O.

All times are the server's and timezone-aware; a terminal's clock is never trusted. S is the
scheduled start, D the duration, E a candidate's own end time: E = S + D + compensation.

The service records what happened to an attempt as a list of ``AttemptEvent``s; ``clock_at``
answers, for any instant, in which phase the attempt is and what the candidate may do. Nothing
is stored here: the same events and the same instant always give the same answer, so a
server restart, a reload or a move to a spare terminal cannot change anyone's time.

Decisions at the boundaries (each instant belongs to the later phase):

- check-in opens at exactly S − 20 min (R-CLOCK-1); the paper may be opened from exactly S;
- at exactly S + 30 min the candidate is barred (迟到30分钟不得入场, R-CLOCK-2): a start at
  S + 29:59.999999 is allowed, one at S + 30:00 is not. The same instant closes check-in;
- submission is allowed from exactly E − 30 min (R-CLOCK-3), the warning is on from exactly
  E − 15 min (R-CLOCK-4), and at exactly E the attempt has ended (R-CLOCK-5);
- the outage limit is reached when the pause has lasted exactly 50 min or more (R-CLOCK-6).

Pauses (outages R-CLOCK-6, moves to a spare terminal R-CLOCK-7, paper replacement R-CLOCK-9):

- while at least one pause is open the clock is stopped: remaining time is frozen and E moves
  forward by the paused time (补时/顺延). Overlapping pauses count once (union of intervals);
- a pause counts from the later of S and the candidate's check-in: a candidate who was
  checked in and waiting when their terminal went dark at (or before) S loses no time, and a
  candidate who arrived late during an outage loses only their own lateness. A pause that
  ended before S, or before the candidate was checked in, compensates nothing;
- a pause also holds the late-start limit: a waiting candidate cannot open the paper while
  paused, so S + 30 min moves forward by the paused time as E does (otherwise a 35-minute room
  outage at S would bar a whole room of candidates who were sitting at their seats);
- pauses beginning at or after E (or after the start limit, for a candidate who never started)
  and pauses after submission, withdrawal or rescheduling are ignored; a pause open at the
  moment the attempt closes counts up to that moment.

Lateness is not compensated (R-CLOCK-2): E = S + D + compensation whatever the start time, so a
candidate starting at L gets D − (L − S) of working time. Toilet breaks (R-CLOCK-8) never change
time. Events later than the asked instant have not happened yet and are ignored; the whole
list is validated anyway, so an impossible record fails at every instant.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

_ZERO = timedelta(0)


def _require_aware(value: datetime, what: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be a timezone-aware datetime, got naive {value.isoformat()}")


@dataclass(frozen=True)
class ClockRules:
    """The timing rules; the defaults are those of the regulations."""

    checkin_opens_before: timedelta = timedelta(minutes=20)  # R-CLOCK-1 开考前20分钟进场
    late_start_limit: timedelta = timedelta(minutes=30)  # R-CLOCK-2 迟到30分钟不得入场
    earliest_submit_before_end: timedelta = timedelta(minutes=30)  # R-CLOCK-3 不得早于结束前30分钟
    final_warning_before_end: timedelta = timedelta(minutes=15)  # R-CLOCK-4 结束前15分钟提醒
    outage_limit: timedelta = timedelta(minutes=50)  # R-CLOCK-6 原则上应当在50分钟内解决

    def __post_init__(self) -> None:
        for name in (
            "checkin_opens_before",
            "late_start_limit",
            "earliest_submit_before_end",
            "final_warning_before_end",
        ):
            if getattr(self, name) < _ZERO:
                raise ValueError(f"ClockRules.{name} must not be negative")
        if self.outage_limit <= _ZERO:
            raise ValueError("ClockRules.outage_limit must be positive")


@dataclass(frozen=True)
class Schedule:
    """A sitting's scheduled start S and duration D."""

    starts_at: datetime
    duration: timedelta

    def __post_init__(self) -> None:
        _require_aware(self.starts_at, "Schedule.starts_at")
        if self.duration <= _ZERO:
            raise ValueError("Schedule.duration must be positive")


class Phase(StrEnum):
    NOT_OPEN = "not_open"  # before S − 20 min
    CHECK_IN = "check_in"  # check-in open, candidate not yet checked in
    WAITING = "waiting"  # checked in, paper not yet opened
    RUNNING = "running"
    PAUSED = "paused"  # at least one outage / paper replacement / move open (checked-in candidates)
    FINAL_MINUTES = "final_minutes"  # the last 15 minutes before E (R-CLOCK-4)
    ENDED = "ended"  # E reached, automatic submission due (R-CLOCK-5)
    BARRED = "barred"  # not started by the late-start limit: absent, 缺考 (R-CLOCK-2)
    WITHDRAWN = "withdrawn"  # stopped for illness, 中止 (R-CLOCK-8)
    SUBMITTED = "submitted"
    RESCHEDULED = "rescheduled"  # part stopped after the outage limit, 另行安排考试 (R-CLOCK-6)


CLOSED_PHASES = frozenset({Phase.WITHDRAWN, Phase.SUBMITTED, Phase.RESCHEDULED})
# Phases in which the candidate is in the room with an attempt still open.
ACTIVE_PHASES = frozenset({Phase.WAITING, Phase.PAUSED, Phase.RUNNING, Phase.FINAL_MINUTES})


class EventKind(StrEnum):
    CHECKED_IN = "checked_in"  # R-CLOCK-1, by an invigilator
    STARTED = "started"  # the candidate opened the paper
    PAUSED = "paused"  # an outage / replacement / terminal failure affecting this candidate begins; ref = its id
    RESUMED = "resumed"  # ... and ends (same ref)
    MOVED = "moved"  # R-CLOCK-7: moved to a spare terminal; the lost time is a paused/resumed pair
    BREAK_STARTED = "break_started"  # R-CLOCK-8 toilet break with escort: the clock keeps running
    BREAK_ENDED = "break_ended"
    WITHDRAWN = "withdrawn"  # R-CLOCK-8 illness stop
    SUBMITTED = "submitted"  # by the candidate, or automatically at E
    RESCHEDULED = "rescheduled"  # R-CLOCK-6 limit reached, the part stopped


_KNOWN_KINDS = frozenset(kind.value for kind in EventKind)
_CLOSING_KINDS = {
    EventKind.WITHDRAWN: Phase.WITHDRAWN,
    EventKind.SUBMITTED: Phase.SUBMITTED,
    EventKind.RESCHEDULED: Phase.RESCHEDULED,
}


@dataclass(frozen=True)
class AttemptEvent:
    """One recorded event of an attempt; ``kind`` is one of ``EventKind``."""

    kind: str
    at: datetime
    ref: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in _KNOWN_KINDS:
            known = ", ".join(EventKind)
            raise ValueError(f"unknown attempt event kind {self.kind!r} (known: {known})")
        _require_aware(self.at, f"event {self.kind!r}: at")


@dataclass(frozen=True)
class ClockState:
    phase: Phase
    end_time: datetime | None  # the candidate's E = S + D + compensation so far (None before start)
    remaining: timedelta  # working time left (0 when over); frozen while paused
    compensation: timedelta  # time lost to pauses so far (closed and, while paused, running)
    late_by: timedelta  # start − S (0 before start); NOT compensated (R-CLOCK-2)
    may_start: bool  # may open the paper now (checked in, from S, before the late limit, not paused)
    may_submit: bool  # from E − 30 min while running or in the final minutes (R-CLOCK-3)
    submit_opens_at: datetime | None  # E − 30 min as E stands now (None before start)
    warning: bool  # started and inside the last 15 minutes of working time (R-CLOCK-4)
    auto_submit_due: bool  # E reached and the attempt still open (R-CLOCK-5)
    outage_elapsed: timedelta  # length of the current continuous paused stretch (0 when not paused)
    outage_limit_reached: bool  # that stretch has lasted >= the limit: tell the chief (R-CLOCK-6)
    start_deadline: datetime | None = None  # the paper must be opened before this (S + 30 min + pauses)
    on_break: bool = False  # a toilet break is open (R-CLOCK-8; informational)
    paused_by: tuple[str, ...] = ()  # refs of the pauses open now, sorted


@dataclass(frozen=True)
class Outage:
    """An outage as the chief declared it (R-CLOCK-6): ``ended_at`` None while it lasts."""

    id: str
    started_at: datetime
    ended_at: datetime | None = None

    def __post_init__(self) -> None:
        _require_aware(self.started_at, "Outage.started_at")
        if self.ended_at is not None:
            _require_aware(self.ended_at, "Outage.ended_at")
            if self.ended_at < self.started_at:
                raise ValueError(f"outage {self.id!r} ends before it starts")


# --- the timeline of one attempt ------------------------------------------------------------


@dataclass
class _Interval:
    start: datetime
    end: datetime | None = None
    ref: str = ""


@dataclass
class _Timeline:
    checked_in_at: datetime | None = None
    started_at: datetime | None = None
    closed_as: Phase | None = None
    closed_at: datetime | None = None
    pauses: list[_Interval] = field(default_factory=list)
    breaks: list[_Interval] = field(default_factory=list)

    def open_pause(self, ref: str | None) -> _Interval | None:
        return next((p for p in self.pauses if p.end is None and p.ref == ref), None)

    def open_break(self) -> _Interval | None:
        return next((b for b in self.breaks if b.end is None), None)

    def apply(self, event: AttemptEvent) -> None:
        kind, at = event.kind, event.at
        if kind == EventKind.CHECKED_IN:
            self.checked_in_at = at
        elif kind == EventKind.STARTED:
            self.started_at = at
        elif kind == EventKind.PAUSED:
            self.pauses.append(_Interval(at, None, event.ref or ""))
        elif kind == EventKind.RESUMED:
            pause = self.open_pause(event.ref)
            if pause is not None:
                pause.end = at
        elif kind == EventKind.BREAK_STARTED:
            self.breaks.append(_Interval(at))
        elif kind == EventKind.BREAK_ENDED:
            brk = self.open_break()
            if brk is not None:
                brk.end = at
        elif kind in _CLOSING_KINDS:
            self.closed_as = _CLOSING_KINDS[EventKind(kind)]
            self.closed_at = at
        # MOVED is logged only: its lost time is the paused/resumed pair (R-CLOCK-7).


def _union(pauses: Sequence[_Interval], since: datetime | None, until: datetime) -> list[tuple[datetime, datetime]]:
    """The union of the pauses clipped to [since, until], as sorted disjoint non-empty pieces."""
    pieces: list[tuple[datetime, datetime]] = []
    for pause in pauses:
        start = pause.start if since is None else max(pause.start, since)
        end = until if pause.end is None else min(pause.end, until)
        if start < end:
            pieces.append((start, end))
    pieces.sort()
    merged: list[tuple[datetime, datetime]] = []
    for start, end in pieces:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _stretch_start(pauses: Sequence[_Interval]) -> datetime:
    """Where the continuous paused stretch holding the open pauses began: the earliest open
    pause, reaching back through closed pauses that overlap or touch it (a seat outage that
    began inside a room outage continues the room's stretch)."""
    start = min(p.start for p in pauses if p.end is None)
    reached_back = True
    while reached_back:
        reached_back = False
        for pause in pauses:
            if pause.end is not None and pause.start < start <= pause.end:
                start, reached_back = pause.start, True
    return start


def _extend(base: datetime, pieces: Sequence[tuple[datetime, datetime]]) -> tuple[datetime, timedelta]:
    """A deadline that a stopped clock pushes forward: every paused piece that begins before
    the deadline (as already pushed) moves it by its length; later pieces are ignored."""
    end, added = base, _ZERO
    for start, stop in pieces:
        if start >= end:
            break
        added += stop - start
        end += stop - start
    return end, added


def _state(schedule: Schedule, tl: _Timeline, now: datetime, rules: ClockRules) -> ClockState:
    """The clock at ``now`` from a timeline holding only events at or before ``now``."""
    s, d = schedule.starts_at, schedule.duration
    horizon = tl.closed_at if tl.closed_at is not None else now
    # Pauses count from the later of S and check-in (see the module docstring).
    counted_from = None if tl.checked_in_at is None else max(s, tl.checked_in_at)
    pieces = [] if counted_from is None else _union(tl.pauses, counted_from, horizon)
    end, compensation = _extend(s + d, pieces)
    start_deadline = min(_extend(s + rules.late_start_limit, pieces)[0], end)
    open_refs = tuple(sorted(p.ref for p in tl.pauses if p.end is None))
    started = tl.started_at

    if now < s - rules.checkin_opens_before:
        phase = Phase.NOT_OPEN  # R-CLOCK-1
    elif tl.closed_as is not None:
        phase = tl.closed_as
    elif tl.checked_in_at is None:
        phase = Phase.BARRED if now >= start_deadline else Phase.CHECK_IN  # R-CLOCK-2
    elif started is None:
        if now >= start_deadline:
            phase = Phase.BARRED  # R-CLOCK-2: not started by S + 30 min (+ pauses)
        elif open_refs:
            phase = Phase.PAUSED
        else:
            phase = Phase.WAITING
    elif now >= end:
        phase = Phase.ENDED  # R-CLOCK-5
    elif open_refs:
        phase = Phase.PAUSED  # R-CLOCK-6/7/9: the clock is stopped
    elif now >= end - rules.final_warning_before_end:
        phase = Phase.FINAL_MINUTES  # R-CLOCK-4
    else:
        phase = Phase.RUNNING

    if phase in CLOSED_PHASES or phase in (Phase.BARRED, Phase.ENDED):
        remaining = _ZERO
    elif started is not None:
        remaining = end - now
    else:
        remaining = min(d, end - now)  # what the candidate would get by starting now

    outage_elapsed = _ZERO
    if phase == Phase.PAUSED:
        outage_elapsed = now - _stretch_start(tl.pauses)
    submit_opens_at = None if started is None else end - rules.earliest_submit_before_end
    working = phase in (Phase.RUNNING, Phase.FINAL_MINUTES)
    return ClockState(
        phase=phase,
        end_time=None if started is None else end,
        remaining=remaining,
        compensation=compensation,
        late_by=_ZERO if started is None else max(_ZERO, started - s),
        may_start=phase == Phase.WAITING and now >= s,
        may_submit=working and submit_opens_at is not None and now >= submit_opens_at,  # R-CLOCK-3
        submit_opens_at=submit_opens_at,
        warning=started is not None
        and phase in (Phase.FINAL_MINUTES, Phase.PAUSED)
        and remaining <= rules.final_warning_before_end,
        auto_submit_due=phase == Phase.ENDED,
        outage_elapsed=outage_elapsed,
        outage_limit_reached=phase == Phase.PAUSED and outage_elapsed >= rules.outage_limit,
        start_deadline=start_deadline if started is None and phase not in CLOSED_PHASES else None,
        on_break=tl.closed_as is None and tl.open_break() is not None,
        paused_by=open_refs if phase == Phase.PAUSED else (),
    )


def _problem(schedule: Schedule, tl: _Timeline, event: AttemptEvent, rules: ClockRules) -> str | None:
    """Why ``event`` cannot follow the events already in ``tl``, or None."""
    kind, at, s = event.kind, event.at, schedule.starts_at
    opens = s - rules.checkin_opens_before
    if at < opens:
        return f"before check-in opens at {opens.isoformat()} (S − {rules.checkin_opens_before}, R-CLOCK-1)"
    state = _state(schedule, tl, at, rules)
    phase = state.phase
    if kind == EventKind.PAUSED:
        if not event.ref:
            return "a pause needs the ref (id) of its outage"
        if tl.open_pause(event.ref) is not None:
            return f"pause {event.ref!r} is already open"
        return None  # also after the attempt closed or ended: recorded, ignored
    if kind == EventKind.RESUMED:
        if not event.ref or tl.open_pause(event.ref) is None:
            return f"no open 'paused' with ref {event.ref!r} to resume"
        return None
    if kind == EventKind.BREAK_ENDED:
        return None if tl.open_break() is not None else "no open 'break_started' to end"
    if tl.closed_as is not None:
        return f"the attempt was already closed ({tl.closed_as}) at {tl.closed_at.isoformat() if tl.closed_at else ''}"
    if kind == EventKind.CHECKED_IN:
        if tl.checked_in_at is not None:
            return "duplicate check-in"
        if phase == Phase.BARRED:
            return f"check-in at or after S + {rules.late_start_limit}: barred (R-CLOCK-2)"
        return None
    if kind == EventKind.STARTED:
        if tl.started_at is not None:
            return f"duplicate start (already started at {tl.started_at.isoformat()})"
        if tl.checked_in_at is None:
            return "started before check-in (R-CLOCK-1)"
        if at < s:
            return f"started before the scheduled start S = {s.isoformat()}"
        if phase == Phase.BARRED:
            deadline = state.start_deadline.isoformat() if state.start_deadline else "?"
            return f"started at or after the late-start limit {deadline} (R-CLOCK-2)"
        if phase == Phase.PAUSED:
            return f"started while paused by {', '.join(state.paused_by)}"
        return None
    if tl.checked_in_at is None and kind != EventKind.RESCHEDULED:
        return "the candidate was not checked in"
    if kind in (EventKind.MOVED, EventKind.BREAK_STARTED, EventKind.WITHDRAWN):
        if kind == EventKind.BREAK_STARTED and tl.open_break() is not None:
            return "already on a break"
        return None if phase in ACTIVE_PHASES else f"impossible in phase {phase}"
    if kind == EventKind.SUBMITTED:
        if tl.started_at is None:
            return "submitted before the paper was opened"
        if phase == Phase.PAUSED:
            return "submitted while the clock is paused"
        if phase in (Phase.RUNNING, Phase.FINAL_MINUTES) and not state.may_submit:
            opens_at = state.submit_opens_at.isoformat() if state.submit_opens_at else "?"
            return f"submitted before E − {rules.earliest_submit_before_end} = {opens_at} (R-CLOCK-3)"
        return None
    # RESCHEDULED: the part is stopped (R-CLOCK-6); an absent or finished attempt is not moved.
    if phase in ACTIVE_PHASES or phase == Phase.CHECK_IN:
        return None
    return f"cannot reschedule in phase {phase}"


def _timeline(schedule: Schedule, events: Sequence[AttemptEvent], now: datetime, rules: ClockRules) -> _Timeline:
    """Validate every event (ValueError naming the first impossible one) and return the
    timeline of those that happened at or before ``now``."""
    ordered = sorted(enumerate(events), key=lambda pair: pair[1].at)  # stable: ties keep input order
    full, until_now = _Timeline(), _Timeline()
    for index, event in ordered:
        problem = _problem(schedule, full, event, rules)
        if problem is not None:
            ref = f" ref={event.ref!r}" if event.ref else ""
            raise ValueError(f"event #{index} {event.kind!r}{ref} at {event.at.isoformat()}: {problem}")
        full.apply(event)
        if event.at <= now:
            until_now.apply(event)
    return until_now


# --- public API --------------------------------------------------------------------------------


def clock_at(
    schedule: Schedule, events: Sequence[AttemptEvent], now: datetime, rules: ClockRules = ClockRules()
) -> ClockState:
    """The clock of one attempt at ``now``: phase, E, remaining time and what is allowed."""
    _require_aware(now, "now")
    return _state(schedule, _timeline(schedule, events, now, rules), now, rules)


def working_time(
    schedule: Schedule, events: Sequence[AttemptEvent], until: datetime, rules: ClockRules = ClockRules()
) -> timedelta:
    """The time the candidate could work from their start up to ``until``: from the start to
    the earliest of ``until``, E and the closing of the attempt, minus the paused intervals.
    With ``until`` after everything: D − lateness for every candidate whose attempt ran out."""
    _require_aware(until, "until")
    tl = _timeline(schedule, events, until, rules)
    if tl.started_at is None or tl.checked_in_at is None:
        return _ZERO
    s = schedule.starts_at
    horizon = until if tl.closed_at is None else min(until, tl.closed_at)
    pieces = _union(tl.pauses, max(s, tl.checked_in_at), horizon)
    end, _ = _extend(s + schedule.duration, pieces)
    stop = min(horizon, end)
    if stop <= tl.started_at:
        return _ZERO
    paused = sum(
        (min(b, stop) - max(a, tl.started_at) for a, b in pieces if min(b, stop) > max(a, tl.started_at)),
        _ZERO,
    )
    return stop - tl.started_at - paused


def outage_status(outage: Outage, now: datetime, rules: ClockRules = ClockRules()) -> tuple[timedelta, bool]:
    """How long the outage has lasted at ``now`` (or lasted, once resolved) and whether the limit
    was reached — exactly when elapsed >= the limit (R-CLOCK-6: the chief must be told)."""
    _require_aware(now, "now")
    stop = now if outage.ended_at is None else min(outage.ended_at, now)
    elapsed = max(_ZERO, stop - outage.started_at)
    return elapsed, elapsed >= rules.outage_limit
