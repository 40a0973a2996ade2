"""Pure rules of the question bank (题库): item types, levels, difficulty, keys, versions (R-BANK).

No I/O: the import code, the editor and the service all validate through here.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Final

# R-BANK-1 item types. Judge = true/false (判断).
SINGLE: Final = "single"
MULTIPLE: Final = "multiple"
JUDGE: Final = "judge"
ITEM_TYPES: Final = (JUDGE, SINGLE, MULTIPLE)
TYPE_NAMES_ZH: Final = {SINGLE: "单选题", MULTIPLE: "多选题", JUDGE: "判断题"}

# Spreadsheet spellings exam offices use for the type column.
TYPE_ALIASES: Final = {
    "single": SINGLE, "单选": SINGLE, "单选题": SINGLE, "单项选择题": SINGLE, "s": SINGLE,
    "multiple": MULTIPLE, "多选": MULTIPLE, "多选题": MULTIPLE, "多项选择题": MULTIPLE, "m": MULTIPLE,
    "judge": JUDGE, "判断": JUDGE, "判断题": JUDGE, "true/false": JUDGE, "tf": JUDGE, "j": JUDGE,
}  # fmt: skip

# Difficulty on the 易/中/难 scale.
DIFFICULTIES: Final = (1, 2, 3)
DIFFICULTY_ALIASES: Final = {"1": 1, "2": 2, "3": 3, "易": 1, "中": 2, "难": 3, "easy": 1, "medium": 2, "hard": 3}
DIFFICULTY_NAMES_ZH: Final = {1: "易", 2: "中", 3: "难"}

# Levels 5 (初级/五级) … 1 (高级技师/一级).
LEVEL_NAMES_ZH: Final = {5: "五级/初级工", 4: "四级/中级工", 3: "三级/高级工", 2: "二级/技师", 1: "一级/高级技师"}
LEVEL_NAMES_EN: Final = {5: "Level 5 (entry)", 4: "Level 4 (intermediate)", 3: "Level 3 (advanced)",
                         2: "Level 2 (technician)", 1: "Level 1 (senior technician)"}  # fmt: skip

# Judge keys: T (正确) / F (错误) and the spellings seen in spreadsheets.
JUDGE_TRUE: Final = frozenset({"T", "TRUE", "对", "正确", "√", "✓", "Y", "1"})
JUDGE_FALSE: Final = frozenset({"F", "FALSE", "错", "错误", "×", "✗", "X", "N", "0"})

OPTION_LETTERS: Final = "ABCDEFGH"
MIN_OPTIONS: Final = {SINGLE: 2, MULTIPLE: 3}
MAX_OPTIONS: Final = 8
STEM_MAX_CHARS: Final = 4000
OPTION_MAX_CHARS: Final = 1000

# Bank version life cycle (R-BANK-2/3).
DRAFT: Final = "draft"
TRIAL: Final = "trial"
LIVE: Final = "live"
RETIRED: Final = "retired"
VERSION_STATUSES: Final = (DRAFT, TRIAL, LIVE, RETIRED)

KP_CODE = re.compile(r"^\d{2}(\.\d{2}){0,3}$")
ITEM_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")


@dataclasses.dataclass(frozen=True)
class ItemDraft:
    """One item as written by a keeper or read from a file, before it is stored."""

    code: str
    level: int
    kp: str
    type: str
    difficulty: int
    stem: str
    options: tuple[tuple[str, str], ...]  # (letter, text) in letter order; empty for judge
    key: str  # "B", "ACD", or "T"/"F" for judge
    points: Decimal = Decimal(1)
    explanation: str = ""


@dataclasses.dataclass(frozen=True)
class ItemProblem:
    field: str
    message: str


def normalise_type(raw: str) -> str | None:
    return TYPE_ALIASES.get(raw.strip().lower()) or TYPE_ALIASES.get(raw.strip())


def normalise_difficulty(raw: object) -> int | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw if raw in DIFFICULTIES else None
    text = str(raw).strip().lower()
    if text.endswith(".0"):
        text = text[:-2]
    return DIFFICULTY_ALIASES.get(text)


def normalise_key(item_type: str, raw: str) -> str | None:
    """The canonical key ("B", "ACD", "T", "F"), or None when it cannot be read."""
    text = re.sub(r"[\s,，、;；]+", "", str(raw)).upper()
    if item_type == JUDGE:
        if text in JUDGE_TRUE:
            return "T"
        if text in JUDGE_FALSE:
            return "F"
        return None
    if not text or not all(c in OPTION_LETTERS for c in text):
        return None
    if len(set(text)) != len(text):
        return None
    return "".join(sorted(text))


def parse_points(raw: object) -> Decimal | None:
    try:
        value = Decimal(str(raw).strip())
    except (InvalidOperation, ValueError):
        return None
    if not value.is_finite() or value <= 0 or value > 100 or value != value.quantize(Decimal("0.01")):
        return None
    return value


def check_item(item: ItemDraft, known_kps: Mapping[str, bool], levels: Sequence[int]) -> list[ItemProblem]:
    """Every problem of one item. ``known_kps`` maps knowledge-point codes to "is a leaf"."""
    problems: list[ItemProblem] = []
    if not ITEM_CODE.match(item.code):
        problems.append(ItemProblem("id", "item id must be 1–40 letters, digits, '.', '_' or '-'"))
    if item.level not in levels:
        allowed = ", ".join(str(level) for level in levels)
        problems.append(ItemProblem("level", f"level {item.level} is not one of this bank's levels ({allowed})"))
    if item.kp not in known_kps:
        problems.append(ItemProblem("knowledge_point", f"unknown knowledge point {item.kp!r}"))
    elif not known_kps[item.kp]:
        problems.append(ItemProblem("knowledge_point", f"{item.kp!r} is not a leaf of the knowledge-point tree"))
    if item.difficulty not in DIFFICULTIES:
        problems.append(ItemProblem("difficulty", "difficulty must be 1, 2 or 3 (易/中/难)"))
    if not item.stem.strip():
        problems.append(ItemProblem("stem", "the question text is empty"))
    elif len(item.stem) > STEM_MAX_CHARS:
        problems.append(ItemProblem("stem", f"the question text is longer than {STEM_MAX_CHARS} characters"))
    if parse_points(item.points) is None:
        problems.append(
            ItemProblem("points", "points must be a number above 0 and at most 100, with 2 decimals at most")
        )
    if item.type not in ITEM_TYPES:
        problems.append(ItemProblem("type", f"unknown item type {item.type!r} (single, multiple, judge)"))
        return problems
    letters = [letter for letter, _ in item.options]
    if item.type == JUDGE:
        if item.options:
            problems.append(ItemProblem("options", "a true/false item has no options"))
        if item.key not in ("T", "F"):
            problems.append(ItemProblem("key", "the key of a true/false item must be T (正确) or F (错误)"))
        return problems
    if len(letters) < MIN_OPTIONS[item.type]:
        problems.append(ItemProblem("options", f"a {item.type} item needs at least {MIN_OPTIONS[item.type]} options"))
    if len(letters) > MAX_OPTIONS:
        problems.append(ItemProblem("options", f"at most {MAX_OPTIONS} options"))
    if letters != list(OPTION_LETTERS[: len(letters)]):
        problems.append(ItemProblem("options", "options must be lettered A, B, C … without gaps"))
    for letter, text in item.options:
        if not text.strip():
            problems.append(ItemProblem("options", f"option {letter} is empty"))
        elif len(text) > OPTION_MAX_CHARS:
            problems.append(ItemProblem("options", f"option {letter} is longer than {OPTION_MAX_CHARS} characters"))
    texts = [text.strip() for _, text in item.options]
    if len(set(texts)) != len(texts):
        problems.append(ItemProblem("options", "two options have the same text"))
    if not item.key:
        problems.append(ItemProblem("key", "the key is missing"))
    elif any(c not in letters for c in item.key):
        problems.append(ItemProblem("key", f"key {item.key!r} is not among the options {''.join(letters)}"))
    elif item.type == SINGLE and len(item.key) != 1:
        problems.append(ItemProblem("key", "a single-choice item has exactly one correct option"))
    elif item.type == MULTIPLE and len(item.key) < 2:
        problems.append(ItemProblem("key", "a multiple-choice item has at least two correct options"))
    return problems


def content_fingerprint(item: ItemDraft) -> str:
    """What makes two items duplicates: the same stem and the same options, whatever their ids."""
    stem = re.sub(r"\s+", "", item.stem)
    options = "|".join(re.sub(r"\s+", "", text) for _, text in item.options)
    return f"{item.type}:{stem}:{options}"


# --- bank version life cycle ---------------------------------------------------------------


class VersionTransitionRefused(ValueError):
    """The status change is not allowed; the message says which rule forbids it."""


def check_transition(current: str, target: str, *, mock_completed: bool) -> None:
    """draft → trial (after a completed mock exam, R-BANK-3) → live → retired."""
    allowed = {(DRAFT, TRIAL), (TRIAL, LIVE), (LIVE, RETIRED), (TRIAL, RETIRED), (DRAFT, RETIRED)}
    if (current, target) not in allowed:
        raise VersionTransitionRefused(f"a bank version cannot go from {current} to {target}")
    if target == TRIAL and not mock_completed:
        raise VersionTransitionRefused(
            "R-BANK-3: a mock exam (模拟考核) must be assembled from this version and completed first"
        )


def usable_for(status: str, real_sitting: bool) -> str | None:
    """Why a bank version cannot be used for a sitting, or None (R-BANK-2/3)."""
    if status == RETIRED:
        return "this bank version is retired; papers come from the live version of the new standard"
    if real_sitting and status != LIVE:
        return "R-BANK-3: a real sitting needs a live bank version, which needs a completed mock exam (模拟考核) first"
    return None
