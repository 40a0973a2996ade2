"""The exam-day clock (R-CLOCK-1…9): phase boundaries to the second, compensation of outages,
late starts, submission window, invalid records, and hypothesis properties."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from examhall.sittings.clock import (
    AttemptEvent,
    ClockRules,
    ClockState,
    Outage,
    Phase,
    Schedule,
    clock_at,
    outage_status,
    working_time,
)

CST = timezone(timedelta(hours=8), "CST")
S = datetime(2025, 6, 14, 9, 0, tzinfo=CST)
D = timedelta(minutes=90)
SCHEDULE = Schedule(S, D)
E0 = S + D
SEC = timedelta(seconds=1)
MICRO = timedelta(microseconds=1)
HALF = timedelta(milliseconds=500)
FAR = S + timedelta(days=2)


def m(minutes: float) -> timedelta:
    return timedelta(minutes=minutes)


def ev(kind: str, at: datetime, ref: str | None = None) -> AttemptEvent:
    return AttemptEvent(kind, at, ref)


CHECKED = [ev("checked_in", S - m(10))]
ON_TIME = [*CHECKED, ev("started", S)]


def at(events: list[AttemptEvent], now: datetime) -> ClockState:
    return clock_at(SCHEDULE, events, now)


# --- phase boundaries, to the second ---------------------------------------------------------


@pytest.mark.parametrize(
    ("events", "now", "phase", "may_start"),
    [
        ([], S - m(20) - SEC, Phase.NOT_OPEN, False),  # R-CLOCK-1
        ([], S - m(20), Phase.CHECK_IN, False),
        ([], S + m(30) - SEC, Phase.CHECK_IN, False),
        ([], S + m(30), Phase.BARRED, False),  # R-CLOCK-2: never arrived, 缺考
        (CHECKED, S - SEC, Phase.WAITING, False),  # not before S
        (CHECKED, S, Phase.WAITING, True),
        (CHECKED, S + m(30) - SEC, Phase.WAITING, True),
        (CHECKED, S + m(30) - MICRO, Phase.WAITING, True),
        (CHECKED, S + m(30), Phase.BARRED, False),  # 迟到30分钟不得入场: the instant itself is barred
        (ON_TIME, S, Phase.RUNNING, False),
        (ON_TIME, E0 - m(15) - SEC, Phase.RUNNING, False),
        (ON_TIME, E0 - m(15), Phase.FINAL_MINUTES, False),  # R-CLOCK-4
        (ON_TIME, E0 - SEC, Phase.FINAL_MINUTES, False),
        (ON_TIME, E0, Phase.ENDED, False),  # R-CLOCK-5
    ],
)
def test_phase_boundaries(events: list[AttemptEvent], now: datetime, phase: Phase, may_start: bool) -> None:
    state = at(events, now)
    assert state.phase == phase
    assert state.may_start is may_start


def test_check_in_opens_at_s_minus_20_exactly() -> None:
    with pytest.raises(ValueError, match=r"'checked_in'.*before check-in opens"):
        at([ev("checked_in", S - m(20) - SEC)], S)
    assert at([ev("checked_in", S - m(20))], S - m(20)).phase == Phase.WAITING


@pytest.mark.parametrize(
    ("now", "may_submit", "warning", "remaining"),
    [
        (E0 - m(30) - SEC, False, False, m(30) + SEC),
        (E0 - m(30), True, False, m(30)),  # R-CLOCK-3
        (E0 - m(15) - SEC, True, False, m(15) + SEC),
        (E0 - m(15), True, True, m(15)),  # R-CLOCK-4
        (E0 - SEC, True, True, SEC),
        (E0, False, False, timedelta(0)),
    ],
)
def test_submission_and_warning_boundaries(
    now: datetime, may_submit: bool, warning: bool, remaining: timedelta
) -> None:
    state = at(ON_TIME, now)
    assert state.end_time == E0
    assert state.submit_opens_at == E0 - m(30)
    assert state.may_submit is may_submit
    assert state.warning is warning
    assert state.remaining == remaining
    assert state.auto_submit_due is (now >= E0)


def test_before_start_nothing_is_known_of_e() -> None:
    for now in (S - m(20), S - SEC, S + m(5)):
        state = at(CHECKED, now)
        assert state.end_time is None
        assert state.submit_opens_at is None
        assert not state.may_submit
        assert state.late_by == timedelta(0)
    assert at(CHECKED, S - m(5)).remaining == D
    assert at(CHECKED, S + m(5)).remaining == D - m(5)  # the lateness already eats working time
    assert at(CHECKED, S + m(5)).start_deadline == S + m(30)
    assert at(CHECKED, S + m(30)).remaining == timedelta(0)


def test_start_at_29_59_allowed_and_at_30_00_refused() -> None:
    late = [*CHECKED, ev("started", S + m(30) - SEC)]
    state = at(late, S + m(30))
    assert state.phase == Phase.RUNNING
    assert state.late_by == m(30) - SEC
    assert state.end_time == E0  # R-CLOCK-2: lateness is not compensated
    with pytest.raises(ValueError, match=r"'started'.*late-start limit"):
        at([*CHECKED, ev("started", S + m(30))], S + m(31))
    with pytest.raises(ValueError, match=r"'checked_in'.*barred"):
        at([ev("checked_in", S + m(30))], S + m(31))


def test_a_late_starter_keeps_e_and_loses_the_lateness() -> None:
    late = [ev("checked_in", S + m(8)), ev("started", S + m(10))]
    assert at(late, S + m(10)).remaining == D - m(10)
    assert at(late, E0 - SEC).phase == Phase.FINAL_MINUTES
    assert at(late, E0).phase == Phase.ENDED
    assert working_time(SCHEDULE, late, FAR) == D - m(10)


def test_submission_then_closed() -> None:
    events = [*ON_TIME, ev("submitted", E0 - m(30))]
    before = at(events, E0 - m(30) - SEC)
    assert before.phase == Phase.RUNNING
    after = at(events, E0 - m(30))
    assert after.phase == Phase.SUBMITTED
    assert after.remaining == timedelta(0)
    assert not after.may_submit
    assert not after.auto_submit_due
    assert working_time(SCHEDULE, events, FAR) == D - m(30)
    auto = [*ON_TIME, ev("submitted", E0 + SEC)]  # the automatic submission, recorded a second late
    assert at(auto, E0).auto_submit_due
    assert at(auto, E0 + SEC).phase == Phase.SUBMITTED


def test_breaks_never_change_time() -> None:
    events = [*ON_TIME, ev("break_started", S + m(20)), ev("break_ended", S + m(28))]
    state = at(events, S + m(25))
    assert state.phase == Phase.RUNNING
    assert state.on_break
    assert state.remaining == D - m(25)
    assert not at(events, S + m(28)).on_break
    assert at(events, FAR).end_time == E0
    assert working_time(SCHEDULE, events, FAR) == D


def test_withdrawn_for_illness() -> None:
    events = [*ON_TIME, ev("withdrawn", S + m(40))]
    state = at(events, S + m(41))
    assert state.phase == Phase.WITHDRAWN
    assert state.remaining == timedelta(0)
    assert not state.auto_submit_due
    assert working_time(SCHEDULE, events, FAR) == m(40)


# --- pauses: outages, moves, paper replacement ---------------------------------------------


def test_a_pause_freezes_remaining_and_moves_e() -> None:
    events = [*ON_TIME, ev("paused", S + m(20), "o1"), ev("resumed", S + m(30), "o1")]
    for now in (S + m(20), S + m(25), S + m(30) - SEC):
        state = at(events, now)
        assert state.phase == Phase.PAUSED
        assert state.remaining == m(70)
        assert state.end_time == E0 + (now - (S + m(20)))
        assert state.compensation == now - (S + m(20))
        assert state.paused_by == ("o1",)
        assert not state.may_submit
        assert not state.may_start
    assert at(events, S + m(25)).outage_elapsed == m(5)
    done = at(events, S + m(30))
    assert done.phase == Phase.RUNNING
    assert done.end_time == E0 + m(10)
    assert done.remaining == m(70)
    assert done.submit_opens_at == E0 + m(10) - m(30)
    assert done.outage_elapsed == timedelta(0)
    assert at(events, E0 + m(10) - SEC).phase == Phase.FINAL_MINUTES
    assert at(events, E0 + m(10)).phase == Phase.ENDED
    assert working_time(SCHEDULE, events, FAR) == D


def test_overlapping_pauses_count_once() -> None:
    events = [
        *ON_TIME,
        ev("paused", S + m(20), "room"),
        ev("paused", S + m(30), "seat-7"),
        ev("resumed", S + m(40), "room"),
        ev("resumed", S + m(50), "seat-7"),
    ]
    mid = at(events, S + m(35))
    assert mid.paused_by == ("room", "seat-7")
    assert mid.outage_elapsed == m(15)
    assert at(events, S + m(45)).paused_by == ("seat-7",)
    assert at(events, S + m(45)).outage_elapsed == m(25)  # the candidate's continuous stretch
    assert at(events, FAR).compensation == m(30)
    assert at(events, FAR).end_time == E0 + m(30)
    assert working_time(SCHEDULE, events, FAR) == D


def test_a_move_to_a_spare_terminal_is_compensated_like_a_seat_outage() -> None:
    events = [
        *ON_TIME,
        ev("paused", S + m(40), "seat-3-failure"),
        ev("moved", S + m(44)),
        ev("resumed", S + m(47), "seat-3-failure"),
    ]
    assert at(events, S + m(44)).phase == Phase.PAUSED
    assert at(events, FAR).end_time == E0 + m(7)
    assert working_time(SCHEDULE, events, FAR) == D


def test_a_waiting_candidate_whose_terminal_is_dark_at_s_loses_nothing() -> None:
    events = [*CHECKED, ev("paused", S - m(5), "room"), ev("resumed", S + m(10), "room"), ev("started", S + m(10))]
    assert at(events, S - m(1)).phase == Phase.PAUSED
    assert at(events, S - m(1)).remaining == D
    assert at(events, S + m(5)).phase == Phase.PAUSED
    assert at(events, S + m(5)).remaining == D
    state = at(events, FAR)
    assert state.compensation == m(10)  # counted from S, not from the start of the outage
    assert state.end_time == E0 + m(10)
    assert state.late_by == m(10)
    assert working_time(SCHEDULE, events, FAR) == D


def test_a_pause_over_before_s_compensates_nothing() -> None:
    events = [*CHECKED, ev("paused", S - m(8), "room"), ev("resumed", S - m(2), "room"), ev("started", S)]
    assert at(events, FAR).compensation == timedelta(0)
    assert at(events, FAR).end_time == E0


def test_a_late_arrival_during_an_outage_loses_only_their_own_lateness() -> None:
    events = [
        ev("paused", S - m(5), "room"),
        ev("checked_in", S + m(10)),
        ev("resumed", S + m(20), "room"),
        ev("started", S + m(20)),
    ]
    assert at(events, S + m(5)).phase == Phase.CHECK_IN  # not in the room yet: the pause is not theirs
    assert at(events, S + m(15)).phase == Phase.PAUSED
    assert at(events, FAR).compensation == m(10)
    assert working_time(SCHEDULE, events, FAR) == D - m(10)


def test_an_outage_holds_the_late_start_limit() -> None:
    events = [*CHECKED, ev("paused", S + m(25), "room"), ev("resumed", S + m(40), "room")]
    assert at(events, S + m(35)).phase == Phase.PAUSED
    state = at(events, S + m(40))
    assert state.phase == Phase.WAITING
    assert state.may_start
    assert state.start_deadline == S + m(45)
    assert at(events, S + m(45) - SEC).may_start
    assert at(events, S + m(45)).phase == Phase.BARRED
    assert at([*events, ev("started", S + m(45) - SEC)], FAR).end_time == E0 + m(15)
    with pytest.raises(ValueError, match="late-start limit"):
        at([*events, ev("started", S + m(45))], FAR)


def test_a_pause_after_being_barred_does_not_unbar() -> None:
    events = [*CHECKED, ev("paused", S + m(35), "room"), ev("resumed", S + m(45), "room")]
    assert at(events, S + m(40)).phase == Phase.BARRED
    assert at(events, S + m(46)).phase == Phase.BARRED


def test_pauses_at_or_after_e_and_after_submission_are_ignored() -> None:
    after_e = [*ON_TIME, ev("paused", E0, "room"), ev("resumed", E0 + m(10), "room")]
    assert at(after_e, E0 + m(5)).phase == Phase.ENDED
    assert at(after_e, FAR).end_time == E0
    assert working_time(SCHEDULE, after_e, FAR) == D
    submitted = [
        *ON_TIME,
        ev("submitted", S + m(70)),
        ev("paused", S + m(75), "room"),
        ev("resumed", S + m(80), "room"),
    ]
    assert at(submitted, S + m(77)).phase == Phase.SUBMITTED
    assert at(submitted, FAR).end_time == E0
    assert at(submitted, FAR).compensation == timedelta(0)


def test_a_pause_in_the_final_minutes_keeps_the_warning_and_blocks_submission() -> None:
    events = [*ON_TIME, ev("paused", E0 - m(10), "power")]
    state = at(events, E0 + m(20))
    assert state.phase == Phase.PAUSED
    assert state.remaining == m(10)
    assert state.warning
    assert not state.may_submit
    assert not state.auto_submit_due
    with pytest.raises(ValueError, match=r"'submitted'.*paused"):
        at([*events, ev("submitted", E0 + m(20))], FAR)


@pytest.mark.parametrize(
    ("elapsed", "reached"),
    [(m(50) - SEC, False), (m(50) - MICRO, False), (m(50), True), (m(50) + SEC, True)],
)
def test_outage_limit_in_the_clock(elapsed: timedelta, reached: bool) -> None:
    events = [*ON_TIME, ev("paused", S + m(10), "room")]
    state = at(events, S + m(10) + elapsed)
    assert state.phase == Phase.PAUSED
    assert state.outage_elapsed == elapsed
    assert state.outage_limit_reached is reached


def test_rescheduled_after_the_limit_keeps_the_attempt_unscored() -> None:
    events = [*ON_TIME, ev("paused", S + m(10), "room"), ev("rescheduled", S + m(60))]
    state = at(events, S + m(61))
    assert state.phase == Phase.RESCHEDULED
    assert state.remaining == timedelta(0)
    assert state.end_time == E0 + m(50)  # E as it stood when the part was stopped
    assert not state.auto_submit_due
    assert working_time(SCHEDULE, events, FAR) == m(10)


def test_a_configured_limit_and_windows_are_used() -> None:
    rules = ClockRules(outage_limit=m(30), late_start_limit=m(15), earliest_submit_before_end=m(60))
    events = [*ON_TIME, ev("paused", S + m(10), "room")]
    assert clock_at(SCHEDULE, events, S + m(40), rules).outage_limit_reached
    assert clock_at(SCHEDULE, CHECKED, S + m(15), rules).phase == Phase.BARRED
    assert clock_at(SCHEDULE, ON_TIME, E0 - m(60), rules).may_submit
    assert not clock_at(SCHEDULE, ON_TIME, E0 - m(60) - SEC, rules).may_submit
    with pytest.raises(ValueError, match="outage_limit"):
        ClockRules(outage_limit=timedelta(0))
    with pytest.raises(ValueError, match="late_start_limit"):
        ClockRules(late_start_limit=-SEC)


def test_a_short_sitting_cannot_be_started_after_its_end() -> None:
    short = Schedule(S, m(20))
    assert clock_at(short, CHECKED, S + m(20) - SEC).may_start
    assert clock_at(short, CHECKED, S + m(20)).phase == Phase.BARRED


def test_any_timezone_is_the_same_instant() -> None:
    utc_events = [ev("checked_in", (S - m(10)).astimezone(UTC)), ev("started", S.astimezone(UTC))]
    assert at(utc_events, (E0 - m(15)).astimezone(UTC)).phase == Phase.FINAL_MINUTES


# --- outage_status ----------------------------------------------------------------------------


def test_outage_status_boundaries() -> None:
    outage = Outage("room-3", S + m(5))
    assert outage_status(outage, S + m(55) - SEC) == (m(50) - SEC, False)
    assert outage_status(outage, S + m(55)) == (m(50), True)
    resolved = Outage("room-3", S + m(5), S + m(35))
    assert outage_status(resolved, S + m(120)) == (m(30), False)
    assert outage_status(resolved, S + m(20)) == (m(15), False)
    assert outage_status(outage, S) == (timedelta(0), False)
    with pytest.raises(ValueError, match="ends before"):
        Outage("x", S, S - SEC)


@given(
    start=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(CST)),
    seconds=st.integers(min_value=0, max_value=6000),
    resolved=st.booleans(),
)
def test_outage_limit_is_reported_exactly_when_reached(start: datetime, seconds: int, resolved: bool) -> None:
    elapsed = timedelta(seconds=seconds)
    outage = Outage("o", start, start + elapsed if resolved else None)
    now = start + elapsed + (m(90) if resolved else timedelta(0))
    assert outage_status(outage, now) == (elapsed, seconds >= 50 * 60)


# --- refused input ----------------------------------------------------------------------------


NAIVE = datetime(2025, 6, 14, 9, 0)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Schedule(NAIVE, D)
    with pytest.raises(ValueError, match="timezone-aware"):
        AttemptEvent("started", NAIVE)
    with pytest.raises(ValueError, match="timezone-aware"):
        Outage("o", NAIVE)
    with pytest.raises(ValueError, match="timezone-aware"):
        at(ON_TIME, NAIVE)
    with pytest.raises(ValueError, match="timezone-aware"):
        working_time(SCHEDULE, ON_TIME, NAIVE)
    with pytest.raises(ValueError, match="timezone-aware"):
        outage_status(Outage("o", S), NAIVE)


def test_bad_schedule_and_unknown_kind() -> None:
    with pytest.raises(ValueError, match="duration"):
        Schedule(S, timedelta(0))
    with pytest.raises(ValueError, match="unknown attempt event kind 'teleported'"):
        AttemptEvent("teleported", S)


@pytest.mark.parametrize(
    ("events", "message"),
    [
        ([*ON_TIME, ev("resumed", S + m(5), "o1")], r"#2 'resumed' ref='o1'.*no open 'paused'"),
        (
            [*ON_TIME, ev("paused", S + m(5), "o1"), ev("resumed", S + m(6), "o2")],
            r"'resumed' ref='o2'.*no open 'paused'",
        ),
        ([*ON_TIME, ev("paused", S + m(5), "o1"), ev("paused", S + m(6), "o1")], r"'paused'.*already open"),
        ([*ON_TIME, ev("paused", S + m(5))], r"'paused'.*needs the ref"),
        ([ev("started", S)], r"'started'.*before check-in"),
        ([*CHECKED, ev("started", S - SEC)], r"'started'.*before the scheduled start"),
        ([*ON_TIME, ev("started", S + m(1))], r"#2 'started'.*duplicate start"),
        ([*ON_TIME, ev("checked_in", S + m(1))], r"'checked_in'.*duplicate check-in"),
        ([ev("paused", S - m(21), "o1")], r"'paused'.*before check-in opens"),
        ([ev("checked_in", S - m(30))], r"'checked_in'.*before check-in opens"),
        ([*CHECKED, ev("paused", S - m(1), "o1"), ev("started", S)], r"'started'.*while paused by o1"),
        ([*ON_TIME, ev("break_ended", S + m(3))], r"'break_ended'.*no open 'break_started'"),
        (
            [*ON_TIME, ev("break_started", S + m(3)), ev("break_started", S + m(4))],
            r"'break_started'.*already on a break",
        ),
        ([*ON_TIME, ev("submitted", E0 - m(30) - SEC)], r"'submitted'.*R-CLOCK-3"),
        ([*CHECKED, ev("submitted", S + m(70))], r"'submitted'.*before the paper was opened"),
        ([*ON_TIME, ev("submitted", E0), ev("started", E0 + SEC)], r"'started'.*already closed"),
        ([*ON_TIME, ev("submitted", E0), ev("submitted", E0 + SEC)], r"#3 'submitted'.*already closed"),
        ([*ON_TIME, ev("withdrawn", S + m(5)), ev("break_started", S + m(6))], r"'break_started'.*already closed"),
        ([ev("withdrawn", S)], r"'withdrawn'.*not checked in"),
        ([*ON_TIME, ev("withdrawn", E0)], r"'withdrawn'.*impossible in phase ended"),
        ([ev("rescheduled", S + m(31))], r"'rescheduled'.*phase barred"),
        ([*ON_TIME, ev("rescheduled", E0 + SEC)], r"'rescheduled'.*phase ended"),
    ],
)
def test_impossible_records_are_refused(events: list[AttemptEvent], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        at(events, S)  # the whole record is checked, whatever the instant asked
    unnumbered = message.split(" ", 1)[1] if message.startswith("#") else message
    with pytest.raises(ValueError, match=unnumbered):
        working_time(SCHEDULE, list(reversed(events)), FAR)  # the record is sorted first


def test_the_validity_check_does_not_hide_valid_records() -> None:
    # The counterparts of the refused records above, shifted to where they are allowed.
    valid = [
        *ON_TIME,
        ev("paused", S + m(5), "o1"),
        ev("resumed", S + m(6), "o1"),
        ev("paused", S + m(7), "o1"),  # a ref may be paused again once resumed
        ev("resumed", S + m(8), "o1"),
        ev("break_started", S + m(9)),
        ev("break_ended", S + m(12)),
        ev("submitted", E0 + m(2) - m(30)),
        ev("paused", E0, "late"),
        ev("break_started", E0 - m(28) - SEC),  # before the submission
    ]
    state = at(valid, FAR)
    assert state.phase == Phase.SUBMITTED
    assert state.end_time == E0 + m(2)
    assert at([*CHECKED, ev("withdrawn", S - m(5))], S).phase == Phase.WITHDRAWN
    assert at([ev("rescheduled", S + m(10))], S + m(11)).phase == Phase.RESCHEDULED


# --- properties --------------------------------------------------------------------------------

D_SECONDS = int(D.total_seconds())
UNDER_LIMIT = 50 * 60 - 1


@dataclass(frozen=True)
class Pause:
    offset: int  # seconds after S
    length: int  # seconds


def pauses_after(first: int, count: int = 5) -> st.SearchStrategy[list[Pause]]:
    return st.lists(
        st.builds(
            Pause,
            offset=st.integers(min_value=first, max_value=3 * D_SECONDS),
            length=st.integers(min_value=1, max_value=UNDER_LIMIT),
        ),
        max_size=count,
    )


def pause_events(pauses: list[Pause], prefix: str = "p") -> list[AttemptEvent]:
    out: list[AttemptEvent] = []
    for n, pause in enumerate(pauses):
        begins = S + timedelta(seconds=pause.offset)
        out += [
            ev("paused", begins, f"{prefix}{n}"),
            ev("resumed", begins + timedelta(seconds=pause.length), f"{prefix}{n}"),
        ]
    return out


@settings(max_examples=150)
@given(
    checkin=st.integers(min_value=1, max_value=20 * 60),
    pauses=pauses_after(1),
    order=st.randoms(use_true_random=False),
)
def test_an_on_time_candidate_gets_exactly_d_whatever_the_outages(
    checkin: int, pauses: list[Pause], order: random.Random
) -> None:
    events = [ev("checked_in", S - timedelta(seconds=checkin)), ev("started", S), *pause_events(pauses)]
    order.shuffle(events)
    assert working_time(SCHEDULE, events, FAR) == D
    state = clock_at(SCHEDULE, events, FAR)
    assert state.phase == Phase.ENDED
    assert state.end_time == E0 + state.compensation


@given(
    checkin=st.integers(min_value=1, max_value=20 * 60),
    dark_from=st.integers(min_value=-20 * 60, max_value=0),
    dark_for=st.integers(min_value=1, max_value=UNDER_LIMIT),
    pauses=pauses_after(1),
)
def test_a_waiting_candidate_dark_at_s_gets_exactly_d(
    checkin: int, dark_from: int, dark_for: int, pauses: list[Pause]
) -> None:
    resumed = S + timedelta(seconds=max(dark_for + dark_from, 1))
    later = [Pause(int((resumed - S).total_seconds()) + p.offset, p.length) for p in pauses]
    events = [
        ev("checked_in", S - timedelta(seconds=checkin)),
        ev("paused", S + timedelta(seconds=dark_from), "room"),
        ev("resumed", resumed, "room"),
        ev("started", resumed),
        *pause_events(later),
    ]
    assert working_time(SCHEDULE, events, FAR) == D


@settings(max_examples=150)
@given(
    data=st.data(),
    late=st.integers(min_value=0, max_value=30 * 60 - 1),
)
def test_a_late_starter_gets_d_minus_the_lateness(data: st.DataObject, late: int) -> None:
    checkin = data.draw(st.integers(min_value=-20 * 60, max_value=late - 1), label="checkin")
    started = S + timedelta(seconds=late)
    events = [
        ev("checked_in", S + timedelta(seconds=checkin)),
        ev("started", started),
        *pause_events(data.draw(pauses_after(late + 1), label="pauses")),
    ]
    assert working_time(SCHEDULE, events, FAR) == D - timedelta(seconds=late)
    assert clock_at(SCHEDULE, events, FAR).late_by == timedelta(seconds=late)


@st.composite
def attempts(draw: st.DrawFn) -> list[AttemptEvent]:
    """A valid record: check-in, start, overlapping pauses (some before S, some beyond E),
    maybe a break, and maybe a closing event. Closing events fall on half seconds, so no two
    events that must keep their order share an instant."""
    checkin = draw(st.integers(min_value=-20 * 60, max_value=30 * 60 - 2))
    start = draw(st.integers(min_value=max(checkin + 1, 0), max_value=30 * 60 - 1))
    events = [ev("checked_in", S + timedelta(seconds=checkin)), ev("started", S + timedelta(seconds=start))]
    if draw(st.booleans()) and start > 0:  # dark around S while waiting, resolved a second before the start
        events.append(ev("paused", S + timedelta(seconds=draw(st.integers(-20 * 60, start - 2))), "early"))
        events.append(ev("resumed", S + timedelta(seconds=start - 1), "early"))
    events += pause_events(draw(pauses_after(start + 1, 4)))
    earliest_close = start
    if draw(st.booleans()):
        b = draw(st.integers(min_value=start + 1, max_value=start + D_SECONDS // 2))
        events += [ev("break_started", S + timedelta(seconds=b)), ev("break_ended", S + timedelta(seconds=b + 300))]
        earliest_close = b
    ending = draw(st.sampled_from(["none", "auto", "early", "withdrawn"]))
    final = clock_at(SCHEDULE, events, FAR)
    assert final.end_time is not None
    if ending == "auto":
        return [*events, ev("submitted", final.end_time + timedelta(seconds=draw(st.integers(0, 60))) + HALF)]
    if ending in ("early", "withdrawn"):
        span = int((final.end_time - S).total_seconds())
        when = S + timedelta(seconds=draw(st.integers(earliest_close, span))) + HALF
        state = clock_at(SCHEDULE, events, when)
        if ending == "early" and state.may_submit:
            return [*events, ev("submitted", when)]
        if ending == "withdrawn" and state.phase in (Phase.RUNNING, Phase.FINAL_MINUTES, Phase.PAUSED):
            return [*events, ev("withdrawn", when)]
    return events


def sample_instants(events: list[AttemptEvent], extra: list[int]) -> list[datetime]:
    instants = {S - m(25), S - m(20), S, S + m(30), FAR}
    for e in events:
        instants |= {e.at - SEC, e.at, e.at + SEC}
    instants |= {S + timedelta(seconds=x) for x in extra}
    return sorted(instants)


@settings(max_examples=120, deadline=None)
@given(events=attempts(), extra=st.lists(st.integers(-30 * 60, 4 * D_SECONDS), max_size=15))
def test_remaining_never_increases_and_e_moves_only_by_compensation(
    events: list[AttemptEvent], extra: list[int]
) -> None:
    previous: ClockState | None = None
    for now in sample_instants(events, extra):
        state = clock_at(SCHEDULE, events, now)
        assert state.remaining >= timedelta(0)
        if previous is not None:
            assert state.remaining <= previous.remaining, (now, previous, state)
            if previous.phase == state.phase == Phase.PAUSED and previous.outage_elapsed < state.outage_elapsed:
                assert state.remaining == previous.remaining  # frozen during one stretch
        if state.end_time is not None:
            assert state.end_time - E0 == state.compensation
            assert state.submit_opens_at == state.end_time - m(30)
        assert state.compensation >= (previous.compensation if previous else timedelta(0))
        assert not (state.may_submit and state.phase == Phase.PAUSED)
        assert state.outage_limit_reached is (state.outage_elapsed >= m(50))
        if state.phase in (Phase.RUNNING, Phase.FINAL_MINUTES):
            assert state.end_time is not None and now < state.end_time
        previous = state


@settings(max_examples=80, deadline=None)
@given(events=attempts(), extra=st.lists(st.integers(-30 * 60, 4 * D_SECONDS), max_size=6), order=st.randoms())
def test_event_order_in_the_input_does_not_matter(
    events: list[AttemptEvent], extra: list[int], order: random.Random
) -> None:
    shuffled = list(events)
    order.shuffle(shuffled)
    for now in sample_instants(events, extra)[::3]:
        assert clock_at(SCHEDULE, shuffled, now) == clock_at(SCHEDULE, events, now)
    assert working_time(SCHEDULE, shuffled, FAR) == working_time(SCHEDULE, events, FAR)


@settings(max_examples=80, deadline=None)
@given(events=attempts(), until=st.integers(0, 3 * D_SECONDS))
def test_working_time_plus_remaining_is_the_candidates_share(events: list[AttemptEvent], until: int) -> None:
    now = S + timedelta(seconds=until)
    state = clock_at(SCHEDULE, events, now)
    if state.phase not in (Phase.RUNNING, Phase.FINAL_MINUTES, Phase.PAUSED) or state.end_time is None:
        return
    started = next(e.at for e in events if e.kind == "started")
    pre_start = clock_at(SCHEDULE, events, started).compensation  # pauses between S/check-in and the start
    assert working_time(SCHEDULE, events, now) + state.remaining == D - state.late_by + pre_start


@given(events=attempts())
def test_breaks_change_nothing(events: list[AttemptEvent]) -> None:
    without = [e for e in events if not e.kind.startswith("break_")]
    assert working_time(SCHEDULE, without, FAR) == working_time(SCHEDULE, events, FAR)
    assert clock_at(SCHEDULE, without, FAR).end_time == clock_at(SCHEDULE, events, FAR).end_time
