"""Item statistics after a real sitting (R-BANK-6): facility, discrimination, distractors, flags.

Pure: standard library and :mod:`examhall.bank.rules` only, no I/O, so the service, the reports
(R-SCORE-6) and the tests all compute the same numbers.

Definitions (per item, over the attempts that have a :class:`Response` row for it):

- ``n``: number of responses, blanks included.
- facility (p-value): mean of ``score / max_score``.
- corrected point-biserial ``r_pb``: Pearson correlation of the item's score fraction with the
  rest-score ``total − score`` of the same attempt, where ``total`` is the sum of that attempt's
  scores over all responses whose item is in ``keys``. ``None`` when fewer than two responses or
  when either variable does not vary (never a division by zero, never NaN).
- upper–lower index ``D = p_upper − p_lower``: the respondents are ranked by total score (highest
  first, ties broken by ascending ``attempt_id`` so the result never depends on input order); the
  upper and lower groups are the first and last ``k = ⌊0.27·n + ½⌋`` of that ranking. ``None`` when
  ``k == 0`` (fewer than two responses).
- option counts: for single choice and true/false the chosen answer is counted as a whole; for
  multiple choice every chosen letter is counted once. Unanswered responses (``chosen == ""``) are
  counted in ``blanks`` only. Every option letter of the key (``T``/``F`` for judge items) appears in
  ``option_counts``, with 0 when nobody chose it.

The caller must pass **one Response per item of each attempt's paper**, a blank one (``chosen=""``,
``score=0``) for an item the candidate left unanswered or never reached: an attempt without a row
for an item does not count for that item at all (it is treated as not having had the item, which is
right for per-candidate papers and wrong for skipped items).

Numerics: all sums use :func:`math.fsum`, so the results are exactly the same whatever the order of
the responses; the correlation uses the two-pass (centred) formula. Work is one pass to group the
responses by attempt, one sort of the attempts and one pass per item: O(N log N) for N responses.
"""

from __future__ import annotations

import dataclasses
import math
import operator
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Final

from examhall.bank.rules import ITEM_TYPES, JUDGE, MULTIPLE

# Flag names, in the order they appear in ItemStats.flags.
TOO_EASY: Final = "too_easy"
TOO_HARD: Final = "too_hard"
NEGATIVE_DISCRIMINATION: Final = "negative_discrimination"
LOW_DISCRIMINATION: Final = "low_discrimination"
UNUSED_DISTRACTOR: Final = "unused_distractor"
FEW_RESPONSES: Final = "few_responses"
FLAGS: Final = (TOO_EASY, TOO_HARD, NEGATIVE_DISCRIMINATION, LOW_DISCRIMINATION, UNUSED_DISTRACTOR, FEW_RESPONSES)
# Flags that say something is wrong with the item (few_responses only says the numbers are unreliable).
QUALITY_FLAGS: Final = frozenset(FLAGS) - {FEW_RESPONSES}

# Default thresholds.
TOO_EASY_ABOVE: Final = 0.90  # facility p > this → too_easy
TOO_HARD_BELOW: Final = 0.20  # facility p < this → too_hard
LOW_DISCRIMINATION_BELOW: Final = 0.20  # 0 ≤ r_pb < this → low_discrimination (r_pb < 0 → negative)
MIN_RESPONSES: Final = 30  # n < this → few_responses, and no discrimination flags
MIN_RESPONSES_FOR_DISTRACTORS: Final = 20  # an unchosen wrong option is flagged only from this n on
GROUP_FRACTION: Final = 0.27  # size of the upper and lower groups for D

JUDGE_OPTIONS: Final = ("T", "F")

# Values whose spread is below this (relative to their magnitude, at least 1 point) count as constant:
# scores are points with at most two decimals, so anything smaller is floating-point noise.
_CONSTANT_TOLERANCE: Final = 1e-9


@dataclasses.dataclass(frozen=True)
class Thresholds:
    too_easy_above: float = TOO_EASY_ABOVE
    too_hard_below: float = TOO_HARD_BELOW
    low_discrimination_below: float = LOW_DISCRIMINATION_BELOW
    min_responses: int = MIN_RESPONSES
    min_responses_for_distractors: int = MIN_RESPONSES_FOR_DISTRACTORS
    group_fraction: float = GROUP_FRACTION

    def __post_init__(self) -> None:
        if not 0.0 < self.group_fraction <= 0.5:
            raise ValueError("group_fraction must be in (0, 0.5]")
        if self.min_responses < 0 or self.min_responses_for_distractors < 0:
            raise ValueError("minimum response counts cannot be negative")


@dataclasses.dataclass(frozen=True)
class Response:
    """One item of one attempt. ``chosen`` is canonical: "B", "ACD", "T"/"F", or "" if unanswered."""

    attempt_id: int
    revision_id: int
    chosen: str
    score: float
    max_score: float


@dataclasses.dataclass(frozen=True)
class ItemKey:
    revision_id: int
    type: str  # rules.SINGLE / MULTIPLE / JUDGE
    key: str
    option_letters: str  # "ABCD"; "" for judge


@dataclasses.dataclass(frozen=True)
class ItemStats:
    revision_id: int
    n: int
    facility: float | None
    point_biserial: float | None
    upper_lower: float | None
    option_counts: Mapping[str, int]
    blanks: int
    flags: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class KnowledgePointStats:
    kp: str
    items: int
    mean_facility: float | None
    mean_point_biserial: float | None  # over items without few_responses whose r_pb is defined
    flagged: int  # items with at least one quality flag (few_responses alone does not count)


class _Item:
    __slots__ = ("blanks", "counts", "fractions", "multiple", "rests")

    def __init__(self, key: ItemKey) -> None:
        self.fractions: list[float] = []
        self.rests: list[float] = []
        self.blanks = 0
        self.multiple = key.type == MULTIPLE
        letters = JUDGE_OPTIONS if key.type == JUDGE else tuple(key.option_letters)
        self.counts: dict[str, int] = dict.fromkeys(letters, 0)


def _is_constant(values: list[float]) -> bool:
    low, high = min(values), max(values)
    return high - low <= _CONSTANT_TOLERANCE * max(1.0, abs(low), abs(high))


def _correlation(xs: list[float], ys: list[float]) -> float | None:
    """Pearson r by the centred two-pass formula; None when it is undefined."""
    n = len(xs)
    if n < 2 or _is_constant(xs) or _is_constant(ys):
        return None
    mean_x = math.fsum(xs) / n
    mean_y = math.fsum(ys) / n
    dx = [x - mean_x for x in xs]
    dy = [y - mean_y for y in ys]
    sxx = math.fsum(map(operator.mul, dx, dx))
    syy = math.fsum(map(operator.mul, dy, dy))
    sxy = math.fsum(map(operator.mul, dx, dy))
    denominator = math.sqrt(sxx) * math.sqrt(syy)
    if not denominator > 0.0 or not math.isfinite(denominator):
        return None
    r = sxy / denominator
    if not math.isfinite(r):
        return None
    return max(-1.0, min(1.0, r))


def _upper_lower(ranked_fractions: list[float], group_fraction: float) -> float | None:
    n = len(ranked_fractions)
    k = math.floor(group_fraction * n + 0.5)
    if k == 0 or n < 2:
        return None
    upper = math.fsum(ranked_fractions[:k]) / k
    lower = math.fsum(ranked_fractions[n - k :]) / k
    return max(-1.0, min(1.0, upper - lower))


def _flags(
    key: ItemKey,
    n: int,
    facility: float | None,
    r_pb: float | None,
    counts: Mapping[str, int],
    thresholds: Thresholds,
) -> tuple[str, ...]:
    found: set[str] = set()
    if facility is not None:
        if facility > thresholds.too_easy_above:
            found.add(TOO_EASY)
        if facility < thresholds.too_hard_below:
            found.add(TOO_HARD)
    if n < thresholds.min_responses:
        found.add(FEW_RESPONSES)
    elif r_pb is not None:
        if r_pb < 0.0:
            found.add(NEGATIVE_DISCRIMINATION)
        elif r_pb < thresholds.low_discrimination_below:
            found.add(LOW_DISCRIMINATION)
    unused = [letter for letter in key.option_letters if letter not in key.key and counts.get(letter, 0) == 0]
    if key.type != JUDGE and n >= thresholds.min_responses_for_distractors and unused:
        found.add(UNUSED_DISTRACTOR)
    return tuple(flag for flag in FLAGS if flag in found)


def item_statistics(
    responses: Iterable[Response],
    keys: Mapping[int, ItemKey],
    thresholds: Thresholds = Thresholds(),
) -> dict[int, ItemStats]:
    """Statistics of every item in ``keys`` (items without responses get n = 0 and None values).

    Responses for items not in ``keys`` are ignored, also for the attempt totals. The caller must
    pass one Response per item of each attempt's paper (a blank one for unanswered items).

    Raises ValueError for an unknown item type, a response whose score is not within
    ``0 ≤ score ≤ max_score`` with a finite ``max_score > 0``, or two responses of one attempt to one item.
    """
    for revision_id, key in keys.items():
        if key.type not in ITEM_TYPES:
            raise ValueError(f"item {revision_id}: unknown item type {key.type!r}")

    # Pass 1: group by attempt (revision → (score, fraction, chosen)).
    attempts: dict[int, dict[int, tuple[float, float, str]]] = {}
    for response in responses:
        revision_id = response.revision_id
        if revision_id not in keys:
            continue
        score, max_score = response.score, response.max_score
        if not (0.0 < max_score < math.inf and 0.0 <= score <= max_score):
            raise ValueError(
                f"attempt {response.attempt_id}, item {revision_id}: score {score!r} of {max_score!r} is impossible"
            )
        paper = attempts.get(response.attempt_id)
        if paper is None:
            paper = attempts[response.attempt_id] = {}
        elif revision_id in paper:
            raise ValueError(f"attempt {response.attempt_id} has two responses to item {revision_id}")
        paper[revision_id] = (score, score / max_score, response.chosen)

    # Rank attempts by total score (highest first), ties by attempt id: fsum makes totals order-free.
    totals = {attempt_id: math.fsum(v[0] for v in paper.values()) for attempt_id, paper in attempts.items()}
    ranking = sorted(totals, key=lambda attempt_id: (-totals[attempt_id], attempt_id))

    # Pass 2: per item, in ranking order.
    items = {revision_id: _Item(key) for revision_id, key in keys.items()}
    for attempt_id in ranking:
        total = totals[attempt_id]
        for revision_id, (score, fraction, chosen) in attempts[attempt_id].items():
            item = items[revision_id]
            item.fractions.append(fraction)
            item.rests.append(total - score)
            if not chosen:
                item.blanks += 1
            elif item.multiple:
                for letter in set(chosen):
                    item.counts[letter] = item.counts.get(letter, 0) + 1
            else:
                item.counts[chosen] = item.counts.get(chosen, 0) + 1

    result: dict[int, ItemStats] = {}
    for revision_id, key in keys.items():
        item = items[revision_id]
        n = len(item.fractions)
        facility = max(0.0, min(1.0, math.fsum(item.fractions) / n)) if n else None
        r_pb = _correlation(item.fractions, item.rests)
        d = _upper_lower(item.fractions, thresholds.group_fraction)
        known = JUDGE_OPTIONS if key.type == JUDGE else tuple(key.option_letters)
        extra = sorted(letter for letter in item.counts if letter not in known)
        counts = {letter: item.counts[letter] for letter in (*known, *extra)}
        result[revision_id] = ItemStats(
            revision_id=revision_id,
            n=n,
            facility=facility,
            point_biserial=r_pb,
            upper_lower=d,
            option_counts=MappingProxyType(counts),
            blanks=item.blanks,
            flags=_flags(key, n, facility, r_pb, counts, thresholds),
        )
    return result


def knowledge_point_summary(stats: Mapping[int, ItemStats], kp_of: Mapping[int, str]) -> list[KnowledgePointStats]:
    """One row per knowledge point of the items in ``stats``, sorted by kp code.

    Raises ValueError when an item of ``stats`` has no knowledge point in ``kp_of``.
    """
    missing = sorted(revision_id for revision_id in stats if revision_id not in kp_of)
    if missing:
        raise ValueError(f"no knowledge point for items {missing}")
    by_kp: dict[str, list[ItemStats]] = {}
    for revision_id, item in stats.items():
        by_kp.setdefault(kp_of[revision_id], []).append(item)
    rows: list[KnowledgePointStats] = []
    for kp in sorted(by_kp):
        group = by_kp[kp]
        facilities = [s.facility for s in group if s.facility is not None]
        r_values = [s.point_biserial for s in group if s.point_biserial is not None and FEW_RESPONSES not in s.flags]
        rows.append(
            KnowledgePointStats(
                kp=kp,
                items=len(group),
                mean_facility=math.fsum(facilities) / len(facilities) if facilities else None,
                mean_point_biserial=math.fsum(r_values) / len(r_values) if r_values else None,
                flagged=sum(1 for s in group if QUALITY_FLAGS.intersection(s.flags)),
            )
        )
    return rows
