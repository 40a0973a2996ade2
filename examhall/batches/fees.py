"""Fees (R-REG-2): the provincial schedule as data, the fee of an application, payment checks.

The schedule lives in ``data/fee_schedule.yaml`` (categories A–D × five levels × knowledge/skill
exam, whole yuan per person and exam, plus the surcharge for a knowledge exam on the computer).
``load_schedule`` refuses a file with a missing, duplicate, negative or non-numeric cell, naming
the category, level and field. Fees are paid in full at registration, so a payment must equal
what is still owed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import yaml

SCHEDULE_FILE: Final = Path(__file__).parent / "data" / "fee_schedule.yaml"
CATEGORIES: Final = ("A", "B", "C", "D")
LEVELS: Final = (5, 4, 3, 2, 1)


class FeeScheduleError(ValueError):
    """The schedule file is not usable; the message names where."""


class FeeError(ValueError):
    """No fee can be computed for this request (unknown category or level, no exam)."""


@dataclasses.dataclass(frozen=True)
class FeeSchedule:
    source: str
    # (category, level) -> (knowledge exam, skill exam), whole yuan
    cells: Mapping[tuple[str, int], tuple[int, int]]
    computer_knowledge_surcharge: int


@dataclasses.dataclass(frozen=True)
class FeeQuote:
    knowledge: int
    skill: int
    computer_surcharge: int

    @property
    def total(self) -> int:
        return self.knowledge + self.skill + self.computer_surcharge

    def parts(self) -> dict[str, int]:
        return {"knowledge": self.knowledge, "skill": self.skill, "computer_surcharge": self.computer_surcharge}


def _amount(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise FeeScheduleError(f"{where}: {value!r} is not a whole number of yuan")
    if value < 0:
        raise FeeScheduleError(f"{where}: {value} is negative")
    return value


def parse_schedule(data: Any, source: str = "fee schedule") -> FeeSchedule:
    if not isinstance(data, Mapping):
        raise FeeScheduleError(f"{source}: expected a mapping with 'categories'")
    categories = data.get("categories")
    if not isinstance(categories, Mapping):
        raise FeeScheduleError(f"{source}: 'categories' is missing")
    cells: dict[tuple[str, int], tuple[int, int]] = {}
    for category in CATEGORIES:
        row = categories.get(category)
        if not isinstance(row, Mapping):
            raise FeeScheduleError(f"{source}: category {category} is missing")
        for level in LEVELS:
            pair = row.get(level)
            where = f"{source}: category {category}, level {level}"
            if not isinstance(pair, Sequence) or isinstance(pair, str) or len(pair) != 2:
                raise FeeScheduleError(f"{where}: expected [knowledge, skill]")
            cells[(category, level)] = (_amount(pair[0], f"{where}, knowledge"), _amount(pair[1], f"{where}, skill"))
        extra = set(row) - set(LEVELS)
        if extra:
            raise FeeScheduleError(f"{source}: category {category} has unknown levels {sorted(map(str, extra))}")
    unknown = set(categories) - set(CATEGORIES)
    if unknown:
        raise FeeScheduleError(f"{source}: unknown categories {sorted(map(str, unknown))}")
    surcharge = _amount(data.get("computer_knowledge_surcharge"), f"{source}: computer_knowledge_surcharge")
    return FeeSchedule(source=str(data.get("source", source)), cells=cells, computer_knowledge_surcharge=surcharge)


def load_schedule(path: Path | None = None) -> FeeSchedule:
    """Read the schedule file (the shipped one by default). Duplicate keys are refused: YAML would
    silently keep the last one."""
    file = path or SCHEDULE_FILE
    try:
        data = yaml.load(file.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as exc:
        raise FeeScheduleError(f"{file.name}: {exc}") from exc
    return parse_schedule(data, file.name)


class _UniqueKeyLoader(yaml.SafeLoader):
    pass


def _unique_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _value in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise FeeScheduleError(f"line {key_node.start_mark.line + 1}: {key!r} appears twice")
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def fee_for(
    schedule: FeeSchedule, category: str, level: int, *, knowledge: bool, skill: bool, computer_based: bool
) -> FeeQuote:
    """The fee of one application (R-REG-2): the schedule's cells for the exams taken, plus the
    surcharge when the knowledge exam is on the computer."""
    cell = schedule.cells.get((category.strip().upper(), level))
    if cell is None:
        raise FeeError(f"no fee for category {category!r} at level {level}")
    if not (knowledge or skill):
        raise FeeError("an application takes at least one exam")
    return FeeQuote(
        knowledge=cell[0] if knowledge else 0,
        skill=cell[1] if skill else 0,
        computer_surcharge=schedule.computer_knowledge_surcharge if knowledge and computer_based else 0,
    )


def outstanding(total: int, payments: Sequence[int]) -> int:
    """What is still owed (never below zero)."""
    return max(0, total - sum(payments))


def payment_problem(owed: int, paid: int) -> str | None:
    """Fees are paid in full: a payment must be exactly what is still owed."""
    if owed == 0:
        return "nothing is owed: the fee is paid in full"
    if paid != owed:
        return f"the payment is {paid} yuan but {owed} yuan is owed; fees are paid in full"
    return None
