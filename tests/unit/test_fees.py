"""R-REG-2: the provincial fee schedule as data, every cell, the surcharge, payments in full."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from examhall.batches import fees

# The table of 鲁价费函〔2016〕85号 as printed in the regulations: (category, level) -> (knowledge, skill).
PRINTED = {
    ("A", 5): (30, 160), ("A", 4): (30, 190), ("A", 3): (30, 240), ("A", 2): (50, 420), ("A", 1): (50, 450),
    ("B", 5): (30, 140), ("B", 4): (30, 160), ("B", 3): (30, 220), ("B", 2): (50, 400), ("B", 1): (50, 430),
    ("C", 5): (30, 120), ("C", 4): (30, 140), ("C", 3): (30, 200), ("C", 2): (50, 360), ("C", 1): (50, 410),
    ("D", 5): (30, 160), ("D", 4): (30, 300), ("D", 3): (30, 400), ("D", 2): (50, 480), ("D", 1): (50, 550),
}  # fmt: skip
SCHEDULE = fees.load_schedule()


@pytest.mark.parametrize(("cell", "printed"), sorted(PRINTED.items()))
def test_every_cell_of_the_shipped_schedule_matches_the_regulations(
    cell: tuple[str, int], printed: tuple[int, int]
) -> None:
    category, level = cell
    knowledge, skill = printed
    assert SCHEDULE.cells[cell] == printed
    assert fees.fee_for(SCHEDULE, category, level, knowledge=True, skill=False, computer_based=False).total == knowledge
    assert fees.fee_for(SCHEDULE, category, level, knowledge=False, skill=True, computer_based=False).total == skill
    assert fees.fee_for(SCHEDULE, category, level, knowledge=True, skill=True, computer_based=False).total == (
        knowledge + skill
    )
    on_computer = fees.fee_for(SCHEDULE, category, level, knowledge=True, skill=True, computer_based=True)
    assert on_computer.total == knowledge + skill + 10
    assert on_computer.parts() == {"knowledge": knowledge, "skill": skill, "computer_surcharge": 10}
    # The surcharge is for the knowledge exam on the computer only.
    skill_only = fees.fee_for(SCHEDULE, category, level, knowledge=False, skill=True, computer_based=True)
    assert skill_only.total == skill and skill_only.computer_surcharge == 0


def test_the_schedule_has_exactly_twenty_cells_and_the_ten_yuan_surcharge() -> None:
    assert len(SCHEDULE.cells) == 20 and SCHEDULE.computer_knowledge_surcharge == 10
    assert "85" in SCHEDULE.source


def test_category_is_read_case_insensitively_and_unknown_ones_are_refused() -> None:
    assert fees.fee_for(SCHEDULE, " b ", 4, knowledge=True, skill=False, computer_based=False).total == 30
    with pytest.raises(fees.FeeError, match="category 'E'"):
        fees.fee_for(SCHEDULE, "E", 4, knowledge=True, skill=True, computer_based=True)
    with pytest.raises(fees.FeeError, match="level 6"):
        fees.fee_for(SCHEDULE, "A", 6, knowledge=True, skill=True, computer_based=True)
    with pytest.raises(fees.FeeError, match="at least one exam"):
        fees.fee_for(SCHEDULE, "A", 4, knowledge=False, skill=False, computer_based=True)


SHIPPED = fees.SCHEDULE_FILE.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("  B: {5: [30, 140], 4: [30, 160],", "  B: {5: [30, 140],"), "category B, level 4"),
        (("4: [30, 300]", "4: [30, -300]"), "category D, level 4, skill: -300 is negative"),
        (("4: [30, 300]", "4: [30, 三百]"), "category D, level 4, skill"),
        (("4: [30, 300]", "4: [30.5, 300]"), "category D, level 4, knowledge"),
        (("  D: {", "  A: {5: [1, 1], 4: [1, 1], 3: [1, 1], 2: [1, 1], 1: [1, 1]}\n  D: {"), "'A' appears twice"),
        (("computer_knowledge_surcharge: 10", "computer_knowledge_surcharge: ten"), "computer_knowledge_surcharge"),
        (("  C: {", "  X: {5: [1, 1]}\n  C: {"), "unknown categories"),
    ],
)
def test_a_broken_schedule_file_is_refused_naming_the_place(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    old, new = change
    assert old in SHIPPED
    broken = tmp_path / "fee_schedule.yaml"
    broken.write_text(SHIPPED.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(fees.FeeScheduleError, match=message.replace("(", r"\(")):
        fees.load_schedule(broken)


def test_payments_must_be_exactly_what_is_owed() -> None:
    assert fees.outstanding(200, []) == 200
    assert fees.outstanding(200, [200]) == 0
    assert fees.outstanding(200, [250]) == 0
    assert fees.payment_problem(200, 200) is None
    assert "190" in (fees.payment_problem(200, 190) or "") and "200" in (fees.payment_problem(200, 190) or "")
    assert fees.payment_problem(200, 210) is not None
    assert "paid in full" in (fees.payment_problem(0, 10) or "")


@given(
    cell=st.sampled_from(sorted(PRINTED)),
    knowledge=st.booleans(),
    skill=st.booleans(),
    computer=st.booleans(),
)
def test_total_is_the_sum_of_its_parts_and_grows_with_each_exam(
    cell: tuple[str, int], knowledge: bool, skill: bool, computer: bool
) -> None:
    assume(knowledge or skill)
    quote = fees.fee_for(SCHEDULE, cell[0], cell[1], knowledge=knowledge, skill=skill, computer_based=computer)
    assert quote.total == sum(quote.parts().values())
    both = fees.fee_for(SCHEDULE, cell[0], cell[1], knowledge=True, skill=True, computer_based=computer)
    assert both.total >= quote.total
    assert fees.payment_problem(quote.total, quote.total) is None
