"""Scoring of theory attempts (R-SCORE-1), voided items (R-INC-4) and the canonical form of a
candidate's response, as pure logic: no database, no web, no I/O.

Responses are stored canonical (``normalise_response``): one letter for single choice, the
distinct letters sorted for multiple choice ("CA" → "AC"), "T"/"F" for true/false, and "" for a
cleared answer. Spaces (also the full-width 　), commas and 、/；separators are ignored, lower case
and full-width letters are read as upper case, and true/false takes the spellings the bank import
takes (T/F, true/false, 对/错, 正确/错误, √/×, Y/N, 1/0 — ``bank_rules.JUDGE_TRUE``/``JUDGE_FALSE``).

Scoring (``score_attempt``):

- single choice and true/false: all or nothing;
- multiple choice: all or nothing by default; with the blueprint's "partial" rule a response
  that is a non-empty proper subset of the key with no wrong letter earns half the points,
  rounded to the cent half-up (少选得一半分，错选不得分); the full key earns the full points;
- voided items (R-INC-4): "nobody" — scored for nobody and taken out of the maximum;
  "everybody" — full points to every candidate whatever they answered, counted in the maximum.
  A voided item is neither correct nor wrong (``ItemScore.correct is None``);
- a stored response that is not canonical ("CA", "a", "AA", "X" …) is scored wrong: scoring
  never raises on stored data, and never silently repairs it either.

``answers_digest`` is what the receipt signs (R-SCORE-7).
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

from examhall.bank import rules as bank_rules
from examhall.papers.assembly import ALL_OR_NOTHING, PARTIAL, SCORINGS

__all__ = [
    "ALL_OR_NOTHING",
    "MAX_RESPONSE_CHARS",
    "PARTIAL",
    "VOID_EVERYBODY",
    "VOID_NOBODY",
    "AnswerRefused",
    "AttemptScore",
    "ItemScore",
    "ScoringItem",
    "answers_digest",
    "normalise_response",
    "score_attempt",
]

VOID_NOBODY: Final = "nobody"
VOID_EVERYBODY: Final = "everybody"
VOIDINGS: Final = (None, VOID_NOBODY, VOID_EVERYBODY)
MAX_RESPONSE_CHARS: Final = 32
_CENT: Final = Decimal("0.01")
_ZERO: Final = Decimal(0)
_SEPARATORS: Final = frozenset(",，、;；")


class AnswerRefused(ValueError):
    """A response that cannot be stored; ``code`` names why (the terminal translates it).

    Codes: ``too_long``, ``judge_true_false``, ``not_an_option``, ``repeated_option``,
    ``one_option_only``. An empty response is not refused: it clears the answer.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def normalise_response(item_type: str, option_count: int, raw: str) -> str:
    """The canonical form of ``raw`` for an item of ``item_type`` with ``option_count`` options.

    Raises ``AnswerRefused`` for a response that cannot be stored and ``ValueError`` for an
    unknown item type (a programming error, not the candidate's).
    """
    if item_type not in bank_rules.ITEM_TYPES:
        raise ValueError(f"unknown item type {item_type!r}")
    if len(raw) > MAX_RESPONSE_CHARS:
        raise AnswerRefused("too_long", f"a response has at most {MAX_RESPONSE_CHARS} characters")
    text = "".join(ch for ch in unicodedata.normalize("NFKC", raw) if not ch.isspace() and ch not in _SEPARATORS)
    text = text.upper()
    if not text:
        return ""
    if item_type == bank_rules.JUDGE:
        if text in bank_rules.JUDGE_TRUE:
            return "T"
        if text in bank_rules.JUDGE_FALSE:
            return "F"
        raise AnswerRefused("judge_true_false", "a true/false question is answered T (true) or F (false)")
    letters = bank_rules.OPTION_LETTERS[: max(0, option_count)]
    for ch in text:
        if ch not in letters:
            raise AnswerRefused("not_an_option", f"{ch!r} is not an option of this question (options {letters})")
    if len(set(text)) != len(text):
        raise AnswerRefused("repeated_option", "an option was given twice")
    if item_type == bank_rules.SINGLE and len(text) != 1:
        raise AnswerRefused("one_option_only", "a single-choice question takes exactly one option")
    return "".join(sorted(text))


def _is_canonical_choice(text: str) -> bool:
    """Non-empty, letters of A–H only, each once, in order."""
    return bool(text) and all(c in bank_rules.OPTION_LETTERS for c in text) and text == "".join(sorted(set(text)))


@dataclass(frozen=True)
class ScoringItem:
    """One item of a candidate's paper as scored: ``position`` is its 1-based number in the
    paper, ``key`` is canonical and as displayed to this candidate (after option shuffling),
    ``scoring`` is the section's rule (partial credit applies to multiple choice only; it is
    ignored for other types) and ``voided`` the chief's decision for the sitting (R-INC-4)."""

    position: int
    type: str
    key: str
    points: Decimal
    scoring: str = ALL_OR_NOTHING
    voided: str | None = None

    def __post_init__(self) -> None:
        where = f"item {self.position}"
        if self.type not in bank_rules.ITEM_TYPES:
            raise ValueError(f"{where}: unknown item type {self.type!r}")
        if self.scoring not in SCORINGS:
            raise ValueError(f"{where}: unknown scoring {self.scoring!r} (all_or_nothing, partial)")
        if self.voided not in VOIDINGS:
            raise ValueError(f"{where}: voided must be None, 'nobody' or 'everybody', not {self.voided!r}")
        if not isinstance(self.points, Decimal) or not self.points.is_finite() or self.points < 0:
            raise ValueError(f"{where}: points must be a finite Decimal ≥ 0, not {self.points!r}")
        if self.type == bank_rules.JUDGE:
            valid_key = self.key in ("T", "F")
        else:
            valid_key = _is_canonical_choice(self.key) and (self.type != bank_rules.SINGLE or len(self.key) == 1)
        if not valid_key:
            raise ValueError(f"{where}: key {self.key!r} is not a canonical {self.type} key")


@dataclass(frozen=True)
class ItemScore:
    position: int
    awarded: Decimal
    correct: bool | None  # None for a voided item (R-INC-4); a half-credit response is not correct
    response: str  # as stored


@dataclass(frozen=True)
class AttemptScore:
    total: Decimal
    max_total: Decimal  # the paper's points less items voided for nobody
    items: tuple[ItemScore, ...]  # in the order of the items given
    answered: int  # items with a non-empty stored response (voided ones included)
    correct_count: int  # items answered exactly right (voided ones never count)


def _award(item: ScoringItem, response: str) -> tuple[Decimal, bool]:
    if response == item.key:
        return item.points, True
    if (
        item.type == bank_rules.MULTIPLE
        and item.scoring == PARTIAL
        and _is_canonical_choice(response)
        and set(response) < set(item.key)
    ):
        return (item.points / 2).quantize(_CENT, rounding=ROUND_HALF_UP), False
    return _ZERO, False


def score_attempt(items: Sequence[ScoringItem], responses: Mapping[int, str]) -> AttemptScore:
    """Score one attempt (R-SCORE-1, voided items R-INC-4).

    ``responses`` maps positions to stored (canonical) responses; positions that are not items
    of the paper are ignored, and a missing, empty or non-canonical response scores nothing.
    Never raises on a stored response; raises ``ValueError`` if a position appears twice.
    """
    positions = [item.position for item in items]
    if len(set(positions)) != len(positions):
        raise ValueError("an item position appears twice in the paper")
    total = max_total = _ZERO
    scored: list[ItemScore] = []
    answered = correct_count = 0
    for item in items:
        stored = responses.get(item.position)
        response = stored if isinstance(stored, str) else ""
        if response:
            answered += 1
        if item.voided == VOID_NOBODY:
            scored.append(ItemScore(item.position, _ZERO, None, response))
            continue
        max_total += item.points
        if item.voided == VOID_EVERYBODY:
            total += item.points
            scored.append(ItemScore(item.position, item.points, None, response))
            continue
        awarded, correct = _award(item, response)
        total += awarded
        correct_count += int(correct)
        scored.append(ItemScore(item.position, awarded, correct, response))
    return AttemptScore(total, max_total, tuple(scored), answered, correct_count)


def answers_digest(responses: Mapping[int, str]) -> str:
    """SHA-256 (lower-case hex) of the answers, signed by the receipt (R-SCORE-7).

    Serialisation: one line ``f"{position}={response}"`` per non-empty response, sorted by
    position (as integers), joined with "\\n" (no trailing newline), UTF-8. Cleared (empty)
    answers are left out, so clearing an answer and never answering give the same digest.
    Canonical responses contain neither "=" nor a newline, so the serialisation is unambiguous.
    """
    lines = [f"{position}={response}" for position, response in sorted(responses.items()) if response]
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()
