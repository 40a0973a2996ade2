"""Item statistics after a sitting (R-BANK-6): facility, corrected point-biserial, upper–lower 27 %,
distractor counts, flags, and the knowledge-point summary.

The reference numbers are computed here from the definitions, independently of the module:
statistics.correlation for r_pb, sorting by (−total, attempt id) for the 27 % groups.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from examhall.bank.rules import JUDGE, MULTIPLE, SINGLE
from examhall.bank.statistics import (
    FEW_RESPONSES,
    LOW_DISCRIMINATION,
    NEGATIVE_DISCRIMINATION,
    TOO_EASY,
    TOO_HARD,
    UNUSED_DISTRACTOR,
    ItemKey,
    ItemStats,
    KnowledgePointStats,
    Response,
    Thresholds,
    item_statistics,
    knowledge_point_summary,
)

# --- an independent reference implementation ---------------------------------------------------


@dataclass(frozen=True)
class Reference:
    n: int
    facility: float | None
    point_biserial: float | None
    upper_lower: float | None


def reference(responses: Iterable[Response], keys: Mapping[int, ItemKey]) -> dict[int, Reference]:
    rows = [r for r in responses if r.revision_id in keys]
    totals: dict[int, float] = {}
    for r in rows:
        totals[r.attempt_id] = totals.get(r.attempt_id, 0.0) + r.score
    ranked = sorted(totals, key=lambda a: (-totals[a], a))
    out: dict[int, Reference] = {}
    for revision_id in keys:
        mine = {r.attempt_id: r for r in rows if r.revision_id == revision_id}
        n = len(mine)
        fractions = [r.score / r.max_score for r in mine.values()]
        rests = [totals[a] - r.score for a, r in mine.items()]
        facility = statistics.fmean(fractions) if n else None
        try:
            r_pb: float | None = statistics.correlation(fractions, rests)
        except statistics.StatisticsError:  # fewer than two points, or a constant variable
            r_pb = None
        k = (27 * n + 50) // 100  # 27 % of n, rounded half up, in integers
        if k == 0:
            d = None
        else:
            order = [mine[a].score / mine[a].max_score for a in ranked if a in mine]
            d = sum(order[:k]) / k - sum(order[-k:]) / k
        out[revision_id] = Reference(n, facility, r_pb, d)
    return out


def assert_matches_reference(result: Mapping[int, ItemStats], expected: Mapping[int, Reference]) -> None:
    assert result.keys() == expected.keys()
    for revision_id, ref in expected.items():
        got = result[revision_id]
        assert got.n == ref.n
        for value, wanted in (
            (got.facility, ref.facility),
            (got.point_biserial, ref.point_biserial),
            (got.upper_lower, ref.upper_lower),
        ):
            if wanted is None:
                assert value is None
            else:
                assert value == pytest.approx(wanted, abs=1e-9)


# --- hand-computed: 5 attempts × 3 items -------------------------------------------------------

KEYS_3 = {
    1: ItemKey(1, SINGLE, "B", "ABCD"),
    2: ItemKey(2, MULTIPLE, "AC", "ABCD"),
    3: ItemKey(3, JUDGE, "T", ""),
}
# attempt: chosen for items 1, 2, 3 (one point each, all or nothing)
CHOICES_3 = {
    1: ("B", "AC", "T"),  # total 3
    2: ("B", "A", "T"),  # total 2
    3: ("C", "AC", "F"),  # total 1
    4: ("B", "", "F"),  # total 1
    5: ("A", "ABC", ""),  # total 0
}


def hand_responses() -> list[Response]:
    rows = []
    for attempt_id, chosen in CHOICES_3.items():
        for revision_id, answer in zip((1, 2, 3), chosen, strict=True):
            score = 1.0 if answer == KEYS_3[revision_id].key else 0.0
            rows.append(Response(attempt_id, revision_id, answer, score, 1.0))
    return rows


def test_hand_computed_facility_point_biserial_and_upper_lower() -> None:
    result = item_statistics(hand_responses(), KEYS_3)

    # Item 1: scores 1,1,0,1,0 → p = 0.6; rest-scores 2,1,1,0,0.
    # Centred: Sxy = 0.6, Sxx = 1.2, Syy = 2.8 → r = 0.6 / √3.36 = 3 / (2√21).
    # Ranking by total (3,2,1,1,0) with k = round(0.27·5) = 1: upper = attempt 1 (1), lower = attempt 5 (0) → D = 1.
    assert result[1].facility == pytest.approx(0.6)
    assert result[1].point_biserial == pytest.approx(3 / (2 * math.sqrt(21)))
    assert result[1].upper_lower == pytest.approx(1.0)
    # Item 2: scores 1,0,1,0,0 → p = 0.4; rests 2,2,0,1,0 → Sxy = 0 → r = 0.
    assert result[2].facility == pytest.approx(0.4)
    assert result[2].point_biserial == pytest.approx(0.0, abs=1e-12)
    assert result[2].upper_lower == pytest.approx(1.0)
    # Item 3: scores 1,1,0,0,0 → p = 0.4; rests 2,1,1,1,0 → Sxy = 1, Sxx = 1.2, Syy = 2 → r = 1/√2.4.
    assert result[3].facility == pytest.approx(0.4)
    assert result[3].point_biserial == pytest.approx(1 / math.sqrt(2.4))
    assert result[3].upper_lower == pytest.approx(1.0)

    assert all(s.n == 5 for s in result.values())
    assert all(s.flags == (FEW_RESPONSES,) for s in result.values())


def test_hand_computed_case_agrees_with_the_reference_formulas() -> None:
    responses = hand_responses()
    assert_matches_reference(item_statistics(responses, KEYS_3), reference(responses, KEYS_3))


def test_option_counts_count_every_chosen_letter_and_blanks_separately() -> None:
    result = item_statistics(hand_responses(), KEYS_3)
    assert dict(result[1].option_counts) == {"A": 1, "B": 3, "C": 1, "D": 0}
    assert result[1].blanks == 0
    # multiple choice: AC, A, AC, (blank), ABC
    assert dict(result[2].option_counts) == {"A": 4, "B": 1, "C": 3, "D": 0}
    assert result[2].blanks == 1
    assert dict(result[3].option_counts) == {"T": 2, "F": 2}
    assert result[3].blanks == 1


def test_ties_in_total_score_are_broken_by_attempt_id() -> None:
    keys = {1: ItemKey(1, JUDGE, "T", ""), 2: ItemKey(2, JUDGE, "T", "")}
    # attempts 3 and 7 tie on total 1; n = 4 → k = 1: the upper group is attempt 3 (lower id).
    scores = {7: (0.0, 1.0), 3: (1.0, 0.0), 9: (0.0, 0.0), 11: (0.0, 0.0)}
    responses = [
        Response(a, item, "T" if s else "F", s, 1.0)
        for a, pair in scores.items()
        for item, s in zip((1, 2), pair, strict=True)
    ]
    for order in (responses, responses[::-1]):
        result = item_statistics(order, keys)
        assert result[1].upper_lower == pytest.approx(1.0)
        assert result[2].upper_lower == pytest.approx(0.0)


def test_partial_credit_and_differing_maxima_use_score_fractions() -> None:
    keys = {1: ItemKey(1, MULTIPLE, "ABC", "ABCD")}
    responses = [
        Response(1, 1, "ABC", 2.0, 2.0),
        Response(2, 1, "AB", 0.5, 1.0),
        Response(3, 1, "D", 0.0, 4.0),
    ]
    assert item_statistics(responses, keys)[1].facility == pytest.approx(0.5)


# --- edge cases --------------------------------------------------------------------------------


def test_an_item_without_responses_has_no_statistics() -> None:
    keys = {**KEYS_3, 4: ItemKey(4, SINGLE, "A", "ABC")}
    stats = item_statistics(hand_responses(), keys)[4]
    assert stats.n == 0
    assert stats.facility is None and stats.point_biserial is None and stats.upper_lower is None
    assert dict(stats.option_counts) == {"A": 0, "B": 0, "C": 0}
    assert stats.blanks == 0
    assert stats.flags == (FEW_RESPONSES,)


def test_no_responses_at_all() -> None:
    result = item_statistics([], KEYS_3)
    assert {s.n for s in result.values()} == {0}
    assert all(s.facility is None for s in result.values())


def test_a_single_attempt() -> None:
    responses = [r for r in hand_responses() if r.attempt_id == 2]
    result = item_statistics(responses, KEYS_3)
    assert [result[i].facility for i in (1, 2, 3)] == [1.0, 0.0, 1.0]
    assert all(s.point_biserial is None and s.upper_lower is None for s in result.values())


def test_an_item_everyone_answers_correctly_has_no_point_biserial_and_no_discrimination_flag() -> None:
    keys = {1: ItemKey(1, JUDGE, "T", ""), 2: ItemKey(2, JUDGE, "T", "")}
    responses = []
    for a in range(40):
        responses.append(Response(a, 1, "T", 1.0, 1.0))
        responses.append(Response(a, 2, "T" if a % 3 else "F", 1.0 if a % 3 else 0.0, 1.0))
    stats = item_statistics(responses, keys)[1]
    assert stats.facility == 1.0
    assert stats.point_biserial is None
    assert stats.upper_lower == 0.0
    assert stats.flags == (TOO_EASY,)


def test_a_constant_rest_score_gives_no_point_biserial() -> None:
    keys = {1: ItemKey(1, SINGLE, "A", "AB")}  # a one-item paper: the rest-score is always 0
    responses = [Response(a, 1, "A" if a % 2 else "B", float(a % 2), 1.0) for a in range(10)]
    stats = item_statistics(responses, keys)[1]
    assert stats.point_biserial is None
    assert stats.facility == pytest.approx(0.5)


def test_floating_point_noise_does_not_make_a_constant_rest_score_vary() -> None:
    # Item 2 is worth 0.2 for everybody, so item 1's rest-score is 0.2 throughout; 0.1 + 0.2 − 0.1 ≠ 0.2 in floats.
    keys = {1: ItemKey(1, SINGLE, "A", "AB"), 2: ItemKey(2, JUDGE, "T", "")}
    responses = []
    for a, s in enumerate((0.1, 0.2, 0.3, 0.0, 0.1, 0.3)):
        responses.append(Response(a, 1, "A", s, 0.3))
        responses.append(Response(a, 2, "T", 0.2, 0.2))
    assert item_statistics(responses, keys)[1].point_biserial is None


def test_responses_to_items_outside_the_keys_are_ignored_also_in_totals() -> None:
    extra = Response(5, 99, "A", 5.0, 5.0)  # would make attempt 5 the strongest if it counted
    plain = item_statistics(hand_responses(), KEYS_3)
    assert item_statistics([*hand_responses(), extra], KEYS_3) == plain
    assert 99 not in plain


@pytest.mark.parametrize(
    ("score", "max_score"),
    [(1.5, 1.0), (-0.5, 1.0), (0.0, 0.0), (math.nan, 1.0), (1.0, math.nan), (1.0, math.inf)],
)
def test_impossible_scores_are_refused(score: float, max_score: float) -> None:
    with pytest.raises(ValueError, match="impossible"):
        item_statistics([Response(1, 1, "B", score, max_score)], KEYS_3)


def test_two_responses_of_one_attempt_to_one_item_are_refused() -> None:
    with pytest.raises(ValueError, match="two responses"):
        item_statistics([*hand_responses(), Response(3, 2, "AC", 1.0, 1.0)], KEYS_3)


def test_unknown_item_type_and_bad_thresholds_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown item type"):
        item_statistics([], {1: ItemKey(1, "essay", "", "")})
    with pytest.raises(ValueError, match="group_fraction"):
        Thresholds(group_fraction=0.6)


# --- flags -------------------------------------------------------------------------------------


def judge_item(n: int, correct: int) -> list[Response]:
    return [Response(a, 1, "T" if a < correct else "F", 1.0 if a < correct else 0.0, 1.0) for a in range(n)]


@pytest.mark.parametrize(
    ("correct", "flag"),
    [(10, TOO_EASY), (9, None), (2, None), (1, TOO_HARD)],
)
def test_facility_flags_are_strict_inequalities(correct: int, flag: str | None) -> None:
    flags = item_statistics(judge_item(10, correct), {1: ItemKey(1, JUDGE, "T", "")})[1].flags
    assert {f for f in flags if f != FEW_RESPONSES} == ({flag} if flag else set())


def test_few_responses_suppresses_discrimination_flags_and_thresholds_are_configurable() -> None:
    default = item_statistics(hand_responses(), KEYS_3)
    assert default[2].point_biserial == pytest.approx(0.0, abs=1e-12)
    assert default[2].flags == (FEW_RESPONSES,)

    relaxed = item_statistics(hand_responses(), KEYS_3, Thresholds(min_responses=5))
    assert relaxed[1].flags == ()  # r ≈ 0.327
    assert relaxed[2].flags == (LOW_DISCRIMINATION,)  # r = 0
    assert relaxed[3].flags == ()
    stricter = item_statistics(hand_responses(), KEYS_3, Thresholds(min_responses=5, low_discrimination_below=0.5))
    assert stricter[1].flags == (LOW_DISCRIMINATION,)
    easy = item_statistics(hand_responses(), KEYS_3, Thresholds(too_easy_above=0.5, too_hard_below=0.5))
    assert easy[1].flags == (TOO_EASY, FEW_RESPONSES)
    assert easy[2].flags == (TOO_HARD, FEW_RESPONSES)


def test_a_miskeyed_item_below_the_response_minimum_gets_only_few_responses() -> None:
    keys = {1: ItemKey(1, JUDGE, "T", ""), 2: ItemKey(2, JUDGE, "T", "")}
    responses = []
    for a in range(10):
        strong = a < 5
        responses.append(Response(a, 1, "T" if strong else "F", float(strong), 1.0))
        responses.append(Response(a, 2, "F" if strong else "T", float(not strong), 1.0))  # strong fail item 2
    responses.append(Response(0, 3, "T", 1.0, 1.0))  # not in keys
    item_2 = item_statistics(responses, keys)[2]
    assert item_2.point_biserial == pytest.approx(-1.0)
    assert item_2.flags == (FEW_RESPONSES,)
    assert item_statistics(responses, keys, Thresholds(min_responses=10))[2].flags == (NEGATIVE_DISCRIMINATION,)


def single_item(n: int, pattern: str, key: str = "B") -> list[Response]:
    """n responses to item 1 choosing the letters of ``pattern`` in turn."""
    chosen = [pattern[a % len(pattern)] for a in range(n)]
    return [Response(a, 1, c, float(c == key), 1.0) for a, c in enumerate(chosen)]


def test_an_unchosen_wrong_option_is_flagged_from_20_responses_on() -> None:
    keys = {1: ItemKey(1, SINGLE, "B", "ABC")}
    below = item_statistics(single_item(19, "AB"), keys)[1]
    at = item_statistics(single_item(20, "AB"), keys)[1]
    assert below.option_counts["C"] == 0 and UNUSED_DISTRACTOR not in below.flags
    assert at.option_counts["C"] == 0 and UNUSED_DISTRACTOR in at.flags
    every_option = item_statistics(single_item(20, "ABC"), keys)[1]
    assert UNUSED_DISTRACTOR not in every_option.flags


def test_an_unchosen_correct_option_is_not_an_unused_distractor() -> None:
    keys = {1: ItemKey(1, SINGLE, "C", "ABC")}
    stats = item_statistics(single_item(30, "AB", key="C"), keys)[1]
    assert stats.option_counts["C"] == 0
    assert UNUSED_DISTRACTOR not in stats.flags
    assert TOO_HARD in stats.flags


def test_unused_distractors_of_multiple_choice_and_never_of_judge_items() -> None:
    keys = {1: ItemKey(1, MULTIPLE, "AC", "ABCD"), 2: ItemKey(2, JUDGE, "T", "")}
    responses = []
    for a in range(30):
        chosen = ("AC", "AB", "BC")[a % 3]
        responses.append(Response(a, 1, chosen, float(chosen == "AC"), 1.0))
        responses.append(Response(a, 2, "T", 1.0, 1.0))  # nobody chose F
    result = item_statistics(responses, keys)
    assert dict(result[1].option_counts) == {"A": 20, "B": 20, "C": 20, "D": 0}
    assert UNUSED_DISTRACTOR in result[1].flags
    assert result[2].option_counts["F"] == 0
    assert UNUSED_DISTRACTOR not in result[2].flags


# --- a simulated sitting: ability/difficulty model ---------------------------------------------


@dataclass(frozen=True)
class SimItem:
    revision_id: int
    difficulty: float
    true_answer: str
    recorded_key: str  # differs from true_answer for a miskeyed item
    wrong_choices: str  # what candidates who do not know pick from


def simulate(seed: int, attempts: int, items: list[SimItem]) -> tuple[list[Response], dict[int, ItemKey]]:
    rng = random.Random(seed)
    keys = {i.revision_id: ItemKey(i.revision_id, SINGLE, i.recorded_key, "ABCD") for i in items}
    responses = []
    for attempt_id in range(attempts):
        ability = rng.gauss(0.0, 1.0)
        for item in items:
            knows = rng.random() < 1.0 / (1.0 + math.exp(-1.7 * (ability - item.difficulty)))
            chosen = item.true_answer if knows else rng.choice([*item.wrong_choices, ""])
            responses.append(Response(attempt_id, item.revision_id, chosen, float(chosen == item.recorded_key), 1.0))
    return responses, keys


EASY, HARD, MISKEYED, NARROW = 1, 2, 3, 4
SIM_ITEMS = [
    SimItem(EASY, -3.0, "B", "B", "ACD"),
    SimItem(HARD, 3.0, "C", "C", "ABD"),
    SimItem(MISKEYED, 0.0, "B", "C", "ACD"),  # the key says C; those who know answer B
    SimItem(NARROW, 0.0, "A", "A", "BC"),  # nobody who guesses picks D
    *(
        SimItem(10 + j, -1.0 + j / 5, "ABCD"[j % 4], "ABCD"[j % 4], "ABCD".replace("ABCD"[j % 4], ""))
        for j in range(11)
    ),
]


def test_simulated_sitting_easy_hard_miskeyed_and_unused_distractor() -> None:
    responses, keys = simulate(2024, 400, SIM_ITEMS)
    result = item_statistics(responses, keys)

    easy, hard = result[EASY].facility, result[HARD].facility
    assert easy is not None and hard is not None
    assert easy > 0.9 and hard < 0.2
    assert TOO_EASY in result[EASY].flags and TOO_HARD in result[HARD].flags

    miskeyed = result[MISKEYED]
    assert miskeyed.point_biserial is not None and miskeyed.point_biserial < 0
    assert miskeyed.upper_lower is not None and miskeyed.upper_lower < 0
    assert NEGATIVE_DISCRIMINATION in miskeyed.flags
    assert miskeyed.option_counts["B"] > miskeyed.option_counts["C"]  # the distractor count shows why

    assert result[NARROW].option_counts["D"] == 0
    assert UNUSED_DISTRACTOR in result[NARROW].flags

    for j in range(11):
        good = result[10 + j]
        assert good.point_biserial is not None and good.point_biserial > 0.2, good
        assert good.upper_lower is not None and good.upper_lower > 0.2
        assert not {NEGATIVE_DISCRIMINATION, LOW_DISCRIMINATION, UNUSED_DISTRACTOR} & set(good.flags)
    facilities = [result[10 + j].facility for j in range(11)]
    assert facilities[0] is not None and facilities[-1] is not None and facilities[0] > facilities[-1]
    assert all(s.n == 400 and FEW_RESPONSES not in s.flags for s in result.values())


def test_simulated_sitting_agrees_with_the_reference_formulas() -> None:
    responses, keys = simulate(7, 120, SIM_ITEMS)
    assert_matches_reference(item_statistics(responses, keys), reference(responses, keys))


# --- properties --------------------------------------------------------------------------------


@st.composite
def sittings(draw: st.DrawFn) -> tuple[list[Response], dict[int, ItemKey]]:
    keys: dict[int, ItemKey] = {}
    points: dict[int, float] = {}
    for revision_id in range(draw(st.integers(1, 5))):
        item_type = draw(st.sampled_from([SINGLE, MULTIPLE, JUDGE]))
        if item_type == JUDGE:
            keys[revision_id] = ItemKey(revision_id, JUDGE, draw(st.sampled_from("TF")), "")
        else:
            letters = "ABCDEFGH"[: draw(st.integers(2 if item_type == SINGLE else 3, 6))]
            size = 1 if item_type == SINGLE else draw(st.integers(2, len(letters)))
            answer = "".join(sorted(draw(st.permutations(letters))[:size]))
            keys[revision_id] = ItemKey(revision_id, item_type, answer, letters)
        points[revision_id] = draw(st.sampled_from([0.5, 1.0, 2.0]))
    responses = []
    for attempt_id in draw(st.lists(st.integers(0, 10_000), max_size=40, unique=True)):
        for revision_id, key in keys.items():
            if not draw(st.booleans()) and draw(st.booleans()):
                continue  # this attempt's paper had no such item
            if key.type == JUDGE:
                chosen = draw(st.sampled_from(["T", "F", ""]))
            elif key.type == SINGLE:
                chosen = draw(st.sampled_from([*key.option_letters, ""]))
            else:
                chosen = "".join(sorted(draw(st.sets(st.sampled_from(key.option_letters)))))
            score = points[revision_id] if chosen == key.key else 0.0
            if key.type == MULTIPLE and chosen and chosen != key.key and set(chosen) < set(key.key):
                score = points[revision_id] / 2  # a configured partial-credit rule
            responses.append(Response(attempt_id, revision_id, chosen, score, points[revision_id]))
    return responses, keys


@settings(max_examples=150, deadline=None)
@given(sittings())
def test_statistics_stay_in_range_and_count_every_response(sitting: tuple[list[Response], dict[int, ItemKey]]) -> None:
    responses, keys = sitting
    result = item_statistics(responses, keys)
    assert result.keys() == keys.keys()
    for revision_id, stats in result.items():
        assert stats.n == sum(1 for r in responses if r.revision_id == revision_id)
        assert (stats.facility is None) == (stats.n == 0)
        if stats.facility is not None:
            assert 0.0 <= stats.facility <= 1.0
        for value in (stats.point_biserial, stats.upper_lower):
            assert value is None or (math.isfinite(value) and -1.0 <= value <= 1.0)
        chosen_total = sum(stats.option_counts.values())
        assert stats.blanks == sum(1 for r in responses if r.revision_id == revision_id and not r.chosen)
        if keys[revision_id].type == MULTIPLE:
            assert chosen_total == sum(len(r.chosen) for r in responses if r.revision_id == revision_id)
        else:
            assert chosen_total + stats.blanks == stats.n
        assert (FEW_RESPONSES in stats.flags) == (stats.n < 30)
        if stats.n < 30:
            assert not {NEGATIVE_DISCRIMINATION, LOW_DISCRIMINATION} & set(stats.flags)


@settings(max_examples=150, deadline=None)
@given(sittings(), st.randoms(use_true_random=False))
def test_results_do_not_depend_on_the_order_of_responses(
    sitting: tuple[list[Response], dict[int, ItemKey]], rng: random.Random
) -> None:
    responses, keys = sitting
    shuffled = list(responses)
    rng.shuffle(shuffled)
    assert item_statistics(shuffled, keys) == item_statistics(responses, keys)


@settings(max_examples=150, deadline=None)
@given(sittings())
def test_statistics_agree_with_the_reference_formulas(sitting: tuple[list[Response], dict[int, ItemKey]]) -> None:
    responses, keys = sitting
    assert_matches_reference(item_statistics(responses, keys), reference(responses, keys))


# --- knowledge-point summary -------------------------------------------------------------------


def stats_of(revision_id: int, n: int, p: float | None, r: float | None, flags: tuple[str, ...]) -> ItemStats:
    return ItemStats(revision_id, n, p, r, None, {}, 0, flags)


def test_knowledge_point_summary_aggregates_per_kp_sorted_by_code() -> None:
    stats = {
        1: stats_of(1, 40, 0.5, 0.3, ()),
        2: stats_of(2, 40, 0.95, 0.1, (TOO_EASY, LOW_DISCRIMINATION)),
        3: stats_of(3, 40, 0.7, None, ()),
        4: stats_of(4, 0, None, None, (FEW_RESPONSES,)),
        5: stats_of(5, 12, 0.4, 0.8, (FEW_RESPONSES,)),  # r_pb from too few responses is left out
        6: stats_of(6, 12, 0.1, -0.2, (TOO_HARD, FEW_RESPONSES)),
    }
    kp_of = {1: "02.01", 2: "02.01", 3: "02.01", 4: "01.03", 5: "01.03", 6: "01.03", 7: "09.09"}
    rows = knowledge_point_summary(stats, kp_of)
    assert [(row.kp, row.items, row.flagged) for row in rows] == [("01.03", 3, 1), ("02.01", 3, 1)]
    assert rows[0].mean_facility == pytest.approx(0.25)  # item 4 has none
    assert rows[0].mean_point_biserial is None
    assert rows[1].mean_facility == pytest.approx((0.5 + 0.95 + 0.7) / 3)
    assert rows[1].mean_point_biserial == pytest.approx(0.2)
    assert all(isinstance(row, KnowledgePointStats) for row in rows)


def test_knowledge_point_summary_of_a_simulated_sitting() -> None:
    responses, keys = simulate(3, 200, SIM_ITEMS)
    stats = item_statistics(responses, keys)
    kp_of = {revision_id: ("01.01" if revision_id < 10 else "01.02") for revision_id in keys}
    rows = knowledge_point_summary(stats, kp_of)
    assert [row.kp for row in rows] == ["01.01", "01.02"]
    for row in rows:
        mine = [s for revision_id, s in stats.items() if kp_of[revision_id] == row.kp]
        assert row.items == len(mine)
        assert row.mean_facility == pytest.approx(statistics.fmean(s.facility for s in mine if s.facility is not None))
        rs = [s.point_biserial for s in mine if s.point_biserial is not None]
        assert row.mean_point_biserial == pytest.approx(statistics.fmean(rs))
        assert row.flagged == sum(1 for s in mine if s.flags)
    assert rows[0].flagged == 4  # easy, hard, miskeyed, narrow


def test_knowledge_point_summary_refuses_items_without_a_kp() -> None:
    with pytest.raises(ValueError, match=r"\[2\]"):
        knowledge_point_summary({1: stats_of(1, 1, 1.0, None, ()), 2: stats_of(2, 1, 1.0, None, ())}, {1: "01"})
