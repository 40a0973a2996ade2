"""Admission ticket numbers and seat allocation (R-REG-3), pure.

Ticket numbers (准考证号): the batch code's letters and digits, upper-case, followed by a five-digit
serial in registration order — e.g. batch ``DEMO-2026-12`` gives ``DEMO20261200001``. A number once
given is never changed or given again: new numbers continue after the highest serial issued.

Allocation: each room takes at most ``capacity`` candidates, only on seats with an enrolled
terminal, and keeps its ``spare`` highest-numbered enrolled seats empty (for moves, R-CLOCK-7).
A room holds one occupation and level (a group); a group may fill several rooms. Order is by
``order_key`` (sequential) or a shuffle seeded with ``seed`` (random) — the same inputs and seed
give the same plan. Placements given earlier (``existing``) are kept while their seat is still
usable, so printed tickets stay valid; newcomers take free seats of their group's rooms first,
then empty rooms. Candidates who do not fit are reported, never dropped silently.
"""

from __future__ import annotations

import dataclasses
import random
import re
from collections.abc import Mapping, Sequence
from typing import Final

SERIAL_DIGITS: Final = 5
MODES: Final = ("sequential", "random")


def ticket_prefix(batch_code: str) -> str:
    return re.sub(r"[^0-9A-Z]", "", batch_code.upper())


def next_ticket_numbers(batch_code: str, issued: Sequence[str], count: int) -> list[str]:
    """``count`` new ticket numbers of the batch, after the highest serial already issued."""
    prefix = ticket_prefix(batch_code)
    serials = [
        int(number[len(prefix) :]) for number in issued if number.startswith(prefix) and number[len(prefix) :].isdigit()
    ]
    start = max(serials, default=0) + 1
    if start + count - 1 >= 10**SERIAL_DIGITS:
        raise ValueError(f"batch {batch_code} has used up its {10**SERIAL_DIGITS - 1} ticket numbers")
    return [f"{prefix}{serial:0{SERIAL_DIGITS}d}" for serial in range(start, start + count)]


@dataclasses.dataclass(frozen=True)
class Applicant:
    id: int
    occupation: str
    level: int
    order_key: str  # registration order (sequential mode sorts by it)

    @property
    def group(self) -> tuple[str, int]:
        return (self.occupation, self.level)


@dataclasses.dataclass(frozen=True)
class RoomSpec:
    id: int
    name: str
    capacity: int  # at most this many candidates (R-REG-3: 30 by default)
    seats: tuple[int, ...]  # seat numbers with an enrolled terminal
    spare: int = 0  # the highest-numbered enrolled seats kept empty

    def usable_seats(self) -> list[int]:
        ordered = sorted(set(self.seats))
        kept = ordered[: max(0, len(ordered) - self.spare)]
        return kept[: max(0, self.capacity)]


@dataclasses.dataclass(frozen=True)
class Placement:
    applicant_id: int
    room_id: int
    seat_no: int


@dataclasses.dataclass(frozen=True)
class Shortage:
    occupation: str
    level: int
    missing: int

    def __str__(self) -> str:
        return (
            f"{self.missing} candidates of {self.occupation} level {self.level} have no seat: "
            "add a room or enroll more terminals"
        )


@dataclasses.dataclass(frozen=True)
class Allocation:
    placements: list[Placement]
    problems: list[Shortage]


def _ordered(applicants: Sequence[Applicant], mode: str, seed: int) -> list[Applicant]:
    ordered = sorted(applicants, key=lambda a: (a.order_key, a.id))
    if mode == "random":
        random.Random(seed).shuffle(ordered)
    elif mode != "sequential":
        raise ValueError(f"unknown order {mode!r}: sequential or random")
    return ordered


def allocate(
    applicants: Sequence[Applicant],
    rooms: Sequence[RoomSpec],
    *,
    mode: str = "sequential",
    seed: int = 0,
    existing: Mapping[int, tuple[int, int]] | None = None,
) -> Allocation:
    if len({a.id for a in applicants}) != len(applicants):
        raise ValueError("an applicant is listed twice")
    usable = {room.id: room.usable_seats() for room in rooms}
    taken: dict[int, set[int]] = {room.id: set() for room in rooms}
    owner: dict[int, tuple[str, int]] = {}
    placements: list[Placement] = []
    by_id = {a.id: a for a in applicants}
    # Keep earlier placements whose seat is still usable and whose room is still the group's.
    for applicant_id, (room_id, seat_no) in sorted((existing or {}).items()):
        applicant = by_id.get(applicant_id)
        if applicant is None or seat_no not in usable.get(room_id, ()) or seat_no in taken[room_id]:
            continue
        if owner.setdefault(room_id, applicant.group) != applicant.group:
            continue
        taken[room_id].add(seat_no)
        placements.append(Placement(applicant_id, room_id, seat_no))
    placed = {p.applicant_id for p in placements}
    newcomers = [a for a in _ordered(applicants, mode, seed) if a.id not in placed]
    groups: dict[tuple[str, int], list[Applicant]] = {}
    for applicant in newcomers:
        groups.setdefault(applicant.group, []).append(applicant)
    problems: list[Shortage] = []
    for group in sorted(groups):
        waiting = list(groups[group])
        own = [r.id for r in rooms if owner.get(r.id) == group]
        free = [r.id for r in rooms if r.id not in owner]
        for room_id in own + free:
            if not waiting:
                break
            seats = [s for s in usable[room_id] if s not in taken[room_id]]
            if not seats:
                continue
            owner[room_id] = group
            for seat_no in seats:
                if not waiting:
                    break
                applicant = waiting.pop(0)
                taken[room_id].add(seat_no)
                placements.append(Placement(applicant.id, room_id, seat_no))
        if waiting:
            problems.append(Shortage(group[0], group[1], len(waiting)))
    placements.sort(key=lambda p: (p.room_id, p.seat_no))
    return Allocation(placements, problems)
