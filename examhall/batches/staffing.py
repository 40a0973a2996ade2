"""Staffing of theory rooms (R-REG-5) and declared conflicts (回避, R-STAFF-3), pure."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Final

MIN_INVIGILATORS: Final = 2
CANDIDATES_PER_INVIGILATOR: Final = 15
CONFLICT_KINDS: Final = ("relative", "own_student", "apprentice")
KIND_WORDS: Final = {"relative": "a relative", "own_student": "an own student", "apprentice": "an apprentice"}


def invigilators_needed(candidates: int) -> int:
    """R-REG-5: a theory room needs at least 2 invigilators and at least 1 per 15 candidates."""
    return max(MIN_INVIGILATORS, -(-candidates // CANDIDATES_PER_INVIGILATOR))


def staffing_problems(room_name: str, candidates: int, invigilators: Sequence[str]) -> list[str]:
    needed = invigilators_needed(candidates)
    if len(invigilators) < needed:
        return [
            f"room {room_name} has {candidates} candidates and needs {needed} invigilators; "
            f"{len(invigilators)} assigned"
        ]
    return []


@dataclasses.dataclass(frozen=True)
class Conflict:
    staff_id: int
    candidate_id_number: str
    kind: str  # relative, own_student, apprentice
    note: str = ""


def conflict_problems(
    staff_id: int, staff_name: str, candidates_in_room: Sequence[tuple[str, str]], conflicts: Sequence[Conflict]
) -> list[str]:
    """Why ``staff_name`` may not invigilate a room holding these (name, ID number) candidates."""
    declared = {c.candidate_id_number.upper(): c for c in conflicts if c.staff_id == staff_id}
    problems = []
    for name, id_number in candidates_in_room:
        conflict = declared.get(id_number.upper())
        if conflict is not None:
            problems.append(
                f"{staff_name} declared {name} ({id_number[:6]}…) as {KIND_WORDS.get(conflict.kind, conflict.kind)}"
            )
    return problems
