"""R-REG-3: ticket numbers and seat allocation — capacity, enrolled terminals, spares, grouping by
occupation and level, reproducible order, re-allocation that keeps printed seats."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from examhall.batches.allocation import Applicant, RoomSpec, allocate, next_ticket_numbers, ticket_prefix


def people(n: int, occupation: str = "化工总控工", level: int = 4, start: int = 1) -> list[Applicant]:
    return [Applicant(i, occupation, level, f"{i:05d}") for i in range(start, start + n)]


def test_ticket_numbers_continue_after_the_highest_and_never_repeat() -> None:
    assert ticket_prefix("demo-2026/12") == "DEMO202612"
    assert next_ticket_numbers("B-2026", [], 3) == ["B202600001", "B202600002", "B202600003"]
    assert next_ticket_numbers("B-2026", ["B202600001", "B202600007", "X1"], 2) == ["B202600008", "B202600009"]
    with pytest.raises(ValueError, match="used up"):
        next_ticket_numbers("B", ["B99999"], 1)


def test_sequential_fills_seats_in_order_keeping_spares_and_seats_without_terminal_empty() -> None:
    room = RoomSpec(1, "第一考场", capacity=30, seats=(1, 2, 3, 5, 6), spare=1)  # seat 4 has no terminal
    result = allocate(people(4), [room])
    assert [(p.applicant_id, p.seat_no) for p in result.placements] == [(1, 1), (2, 2), (3, 3), (4, 5)]
    assert result.problems == []
    short = allocate(people(6), [room])
    assert len(short.placements) == 4 and [str(p) for p in short.problems] == [
        "2 candidates of 化工总控工 level 4 have no seat: add a room or enroll more terminals"
    ]


def test_capacity_limits_a_room_and_the_next_room_takes_the_rest() -> None:
    rooms = [RoomSpec(1, "A", capacity=3, seats=tuple(range(1, 33))), RoomSpec(2, "B", capacity=30, seats=(1, 2, 3))]
    result = allocate(people(5), rooms)
    assert [(p.room_id, p.seat_no) for p in result.placements] == [(1, 1), (1, 2), (1, 3), (2, 1), (2, 2)]


def test_groups_never_share_a_room() -> None:
    rooms = [RoomSpec(r, f"R{r}", capacity=30, seats=tuple(range(1, 31))) for r in (1, 2)]
    result = allocate(people(3) + people(2, "电工", 5, start=10), rooms)
    by_room: dict[int, set[str]] = {}
    applicants = {a.id: a for a in people(3) + people(2, "电工", 5, start=10)}
    for p in result.placements:
        by_room.setdefault(p.room_id, set()).add(applicants[p.applicant_id].occupation)
    assert sorted(len(v) for v in by_room.values()) == [1, 1]
    one_room = allocate(people(3) + people(2, "电工", 5, start=10), rooms[:1])
    assert len(one_room.placements) == 3 and one_room.problems[0].missing == 2  # groups in code-point order


def test_re_allocation_keeps_printed_seats_and_fills_freed_ones() -> None:
    room = RoomSpec(1, "A", capacity=30, seats=tuple(range(1, 11)))
    first = allocate(people(6), [room], mode="random", seed=3)
    existing = {p.applicant_id: (p.room_id, p.seat_no) for p in first.placements}
    remaining = [a for a in people(6) if a.id != 2] + people(2, start=20)
    second = allocate(remaining, [room], mode="random", seed=3, existing=existing)
    again = {p.applicant_id: (p.room_id, p.seat_no) for p in second.placements}
    for applicant_id, place in existing.items():
        if applicant_id != 2:
            assert again[applicant_id] == place
    assert 2 not in again and {20, 21} <= set(again)
    assert existing[2][1] in {again[20][1], again[21][1]}  # the freed seat is used first (lowest free)


def test_a_kept_seat_that_lost_its_terminal_is_given_anew() -> None:
    before = RoomSpec(1, "A", capacity=30, seats=(1, 2, 3))
    after = RoomSpec(1, "A", capacity=30, seats=(1, 3, 4))
    result = allocate(people(2), [after], existing={1: (1, 1), 2: (1, 2)})
    assert {(p.applicant_id, p.seat_no) for p in result.placements} == {(1, 1), (2, 3)}
    assert before.usable_seats() == [1, 2, 3]


def test_unknown_mode_and_duplicates_are_refused() -> None:
    with pytest.raises(ValueError, match="sequential or random"):
        allocate(people(1), [], mode="alphabetical")
    with pytest.raises(ValueError, match="twice"):
        allocate(people(1) + people(1), [])


rooms_st = st.lists(
    st.builds(
        lambda i, cap, seats, spare: RoomSpec(i, f"R{i}", cap, tuple(sorted(seats)), spare),
        st.just(0),
        st.integers(0, 8),
        st.sets(st.integers(1, 12), max_size=12),
        st.integers(0, 3),
    ),
    max_size=4,
).map(lambda rs: [RoomSpec(n, r.name, r.capacity, r.seats, r.spare) for n, r in enumerate(rs, start=1)])
applicants_st = st.lists(st.tuples(st.sampled_from(["化工总控工", "电工"]), st.sampled_from([3, 4])), max_size=40).map(
    lambda gs: [Applicant(i, o, lv, f"{(i * 7919) % 101:03d}") for i, (o, lv) in enumerate(gs, start=1)]
)


@settings(max_examples=300, deadline=None)
@given(
    applicants=applicants_st, rooms=rooms_st, seed=st.integers(0, 10**6), mode=st.sampled_from(["sequential", "random"])
)
def test_allocation_properties(applicants: list[Applicant], rooms: list[RoomSpec], seed: int, mode: str) -> None:
    result = allocate(applicants, rooms, mode=mode, seed=seed)
    spec = {r.id: r for r in rooms}
    group = {a.id: (a.occupation, a.level) for a in applicants}
    ids = [p.applicant_id for p in result.placements]
    assert len(ids) == len(set(ids))  # everyone at most once
    seats = [(p.room_id, p.seat_no) for p in result.placements]
    assert len(seats) == len(set(seats))  # no seat twice
    for room in rooms:
        here = [p for p in result.placements if p.room_id == room.id]
        assert len(here) <= room.capacity  # never over capacity
        assert all(p.seat_no in room.usable_seats() for p in here)  # terminals only, spares empty
        assert len({group[p.applicant_id] for p in here}) <= 1  # one occupation-level per room
    assert all(p.room_id in spec for p in result.placements)
    # Nobody is dropped silently: each group's missing count is reported.
    for (occupation, level), size in _sizes(applicants).items():
        placed = sum(1 for p in result.placements if group[p.applicant_id] == (occupation, level))
        missing = sum(s.missing for s in result.problems if (s.occupation, s.level) == (occupation, level))
        assert placed + missing == size
    # Reproducible: the same inputs and seed give the same plan.
    assert allocate(applicants, rooms, mode=mode, seed=seed) == result
    # Re-allocating with the plan as existing keeps every placement.
    kept = allocate(
        applicants,
        rooms,
        mode=mode,
        seed=seed + 1,
        existing={p.applicant_id: (p.room_id, p.seat_no) for p in result.placements},
    )
    assert set(result.placements) <= set(kept.placements)


def _sizes(applicants: list[Applicant]) -> dict[tuple[str, int], int]:
    sizes: dict[tuple[str, int], int] = {}
    for a in applicants:
        sizes[(a.occupation, a.level)] = sizes.get((a.occupation, a.level), 0) + 1
    return sizes


def test_random_order_depends_on_the_seed() -> None:
    room = RoomSpec(1, "A", capacity=30, seats=tuple(range(1, 31)))
    plans = {
        tuple(p.applicant_id for p in allocate(people(20), [room], mode="random", seed=s).placements) for s in range(5)
    }
    assert len(plans) > 1
