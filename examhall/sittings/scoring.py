"""Scoring of theory attempts (R-SCORE-1) and the canonical form of a candidate's response, as
pure logic: no database, no web.

- single choice and true/false: all or nothing;
- multiple choice: all or nothing by default; with the blueprint's "partial" rule a response
  that is a non-empty proper subset of the key with no wrong letter earns half the points
  (少选得一半分，错选不得分);
- voided items (R-INC-4): "nobody" — scored for nobody and taken out of the maximum;
  "everybody" — full points to every candidate, whatever they answered.

A response is stored canonical: one letter for single choice, the distinct letters sorted for
multiple choice ("CA" → "AC"), "T"/"F" for true/false, "" for a cleared answer.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

from examhall.bank import rules as bank_rules

ALL_OR_NOTHING: Final = "all_or_nothing"
PARTIAL: Final = "partial"
VOID_NOBODY: Final = "nobody"
VOID_EVERYBODY: Final = "everybody"
MAX_RESPONSE_CHARS: Final = 32
_CENT = Decimal("0.01")
_IGNORED = frozenset(" \t\r\n,，、;；")


class AnswerRefused(ValueError):
    """A response that cannot be stored; ``code`` names why (the terminal translates it)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def normalise_response(item_type: str, option_count: int, raw: str) -> str:
    """The canonical form of ``raw`` for an item of ``item_type`` with ``option_count`` options."""
    if len(raw) > MAX_RESPONSE_CHARS:
        raise AnswerRefused("too_long", f"a response has at most {MAX_RESPONSE_CHARS} characters")
    text = "".join(ch for ch in raw if ch not in _IGNORED).upper()
    if not text:
        return ""
    if item_type == bank_rules.JUDGE:
        # Terminals send T/F; the API also takes TRUE/FALSE and 对/错, nothing looser.
        if text in ("T", "TRUE", "对"):
            return "T"
        if text in ("F", "FALSE", "错"):
            return "F"
        raise AnswerRefused("judge_true_false", "a true/false question is answered T or F")
    letters = bank_rules.OPTION_LETTERS[:option_count]
    for ch in text:
        if ch not in letters:
            raise AnswerRefused("not_an_option", f"{ch!r} is not an option of this question (options {letters})")
    if len(set(text)) != len(text):
        raise AnswerRefused("repeated_option", "an option was given twice")
    if item_type == bank_rules.SINGLE and len(text) != 1:
        raise AnswerRefused("one_option_only", "a single-choice question takes exactly one option")
    return "".join(sorted(text))


@dataclass(frozen=True)
class ScoringItem:
    position: int
    type: str
    key: str  # canonical, as displayed to this candidate
    points: Decimal
    scoring: str = ALL_OR_NOTHING
    voided: str | None = None


@dataclass(frozen=True)
class ItemScore:
    position: int
    awarded: Decimal
    correct: bool | None  # None for a voided item
    response: str


@dataclass(frozen=True)
class AttemptScore:
    total: Decimal
    max_total: Decimal
    items: tuple[ItemScore, ...]
    answered: int
    correct_count: int


def _canonical_or_none(item: ScoringItem, response: str) -> str | None:
    """A stored response as scored: canonical, or None when it is not a valid response."""
    letters = set(response)
    if item.type == bank_rules.JUDGE:
        return response if response in ("T", "F") else None
    if not response or len(letters) != len(response) or not letters <= set(bank_rules.OPTION_LETTERS):
        return None
    return "".join(sorted(response))


def _award(item: ScoringItem, response: str) -> tuple[Decimal, bool]:
    given = _canonical_or_none(item, response)
    if given is None:
        return Decimal(0), False
    if given == item.key:
        return item.points, True
    if item.type == bank_rules.MULTIPLE and item.scoring == PARTIAL and set(given) < set(item.key):
        return (item.points / 2).quantize(_CENT, rounding=ROUND_HALF_UP), False
    return Decimal(0), False


def score_attempt(items: Sequence[ScoringItem], responses: Mapping[int, str]) -> AttemptScore:
    """Score one attempt (R-SCORE-1). Never raises on a stored response: an invalid one is wrong."""
    positions = [it.position for it in items]
    if len(set(positions)) != len(positions):
        raise ValueError("an item position appears twice in the paper")
    total = max_total = Decimal(0)
    scored: list[ItemScore] = []
    answered = correct_count = 0
    for item in items:
        response = responses.get(item.position, "") or ""
        if response:
            answered += 1
        if item.voided == VOID_NOBODY:
            scored.append(ItemScore(item.position, Decimal(0), None, response))
            continue
        max_total += item.points
        if item.voided == VOID_EVERYBODY:
            awarded, correct = item.points, None
        else:
            awarded, is_correct = _award(item, response)
            correct = is_correct
            correct_count += int(is_correct)
        total += awarded
        scored.append(ItemScore(item.position, awarded, correct, response))
    return AttemptScore(total, max_total, tuple(scored), answered, correct_count)


def answers_digest(responses: Mapping[int, str]) -> str:
    """SHA-256 (hex) of the answers: lines "position=response" sorted by position, joined by
    newlines, cleared (empty) answers left out. The receipt signs this (R-SCORE-7)."""
    lines = [f"{pos}={resp}" for pos, resp in sorted(responses.items()) if resp]
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()
