"""R-REG-5 invigilator ratio and R-STAFF-3 declared conflicts."""

from __future__ import annotations

import pytest

from examhall.batches.staffing import Conflict, conflict_problems, invigilators_needed, staffing_problems


@pytest.mark.parametrize(
    ("candidates", "needed"), [(0, 2), (1, 2), (15, 2), (16, 2), (30, 2), (31, 3), (45, 3), (46, 4)]
)
def test_at_least_two_and_one_per_fifteen(candidates: int, needed: int) -> None:
    assert invigilators_needed(candidates) == needed
    assert staffing_problems("第一考场", candidates, ["甲"] * needed) == []
    short = staffing_problems("第一考场", candidates, ["甲"] * (needed - 1))
    assert short and f"needs {needed}" in short[0] and "第一考场" in short[0]


@pytest.mark.parametrize(
    ("kind", "words"), [("relative", "a relative"), ("own_student", "an own student"), ("apprentice", "an apprentice")]
)
def test_a_declared_conflict_blocks_with_the_reason(kind: str, words: str) -> None:
    seated = [("刘洋", "370102199503141236"), ("王芳", "37020319980722242x")]
    conflicts = [Conflict(7, "37020319980722242X", kind), Conflict(8, "370102199503141236", "relative")]
    problems = conflict_problems(7, "张敏", seated, conflicts)
    assert problems == [f"张敏 declared 王芳 (370203…) as {words}"]
    assert conflict_problems(9, "陈刚", seated, conflicts) == []
