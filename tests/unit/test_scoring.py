"""Scoring of theory attempts (R-SCORE-1), voided items (R-INC-4) and the canonical response."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from examhall.sittings.scoring import (
    AnswerRefused,
    ScoringItem,
    answers_digest,
    normalise_response,
    score_attempt,
)

LETTERS = "ABCDEFGH"


# --- normalise_response ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("item_type", "options", "raw", "expected"),
    [
        ("single", 4, "b", "B"),
        ("single", 4, " C ", "C"),
        ("multiple", 5, "CA", "AC"),
        ("multiple", 5, "a, c，e", "ACE"),
        ("multiple", 5, "E", "E"),
        ("judge", 0, "t", "T"),
        ("judge", 0, "FALSE", "F"),
        ("judge", 0, "对", "T"),
        ("judge", 0, "错", "F"),
        ("single", 4, "", ""),
        ("multiple", 4, "   ", ""),
    ],
)
def test_responses_are_stored_canonical(item_type: str, options: int, raw: str, expected: str) -> None:
    assert normalise_response(item_type, options, raw) == expected


@pytest.mark.parametrize(
    ("item_type", "options", "raw", "code"),
    [
        ("single", 4, "AB", "one_option_only"),
        ("single", 4, "E", "not_an_option"),
        ("multiple", 4, "AE", "not_an_option"),
        ("multiple", 4, "AA", "repeated_option"),
        ("judge", 0, "X", "judge_true_false"),
        ("judge", 0, "A", "judge_true_false"),
        ("single", 4, "1", "not_an_option"),
        ("single", 4, "A" * 33, "too_long"),
    ],
)
def test_malformed_responses_are_refused_with_a_code(item_type: str, options: int, raw: str, code: str) -> None:
    with pytest.raises(AnswerRefused) as refused:
        normalise_response(item_type, options, raw)
    assert refused.value.code == code
    assert str(refused.value)


@given(st.sampled_from(["single", "multiple", "judge"]), st.integers(2, 8), st.text(max_size=12))
def test_normalising_is_idempotent(item_type: str, options: int, raw: str) -> None:
    try:
        once = normalise_response(item_type, options, raw)
    except AnswerRefused:
        return
    assert normalise_response(item_type, options, once) == once


@given(st.integers(2, 8), st.text(alphabet=LETTERS + "abcdefgh ,", max_size=6))
def test_an_accepted_single_choice_is_one_existing_letter(options: int, raw: str) -> None:
    try:
        result = normalise_response("single", options, raw)
    except AnswerRefused:
        return
    assert result == "" or (len(result) == 1 and result in LETTERS[:options])


@given(st.integers(3, 8), st.data())
def test_the_order_of_letters_never_matters(options: int, data: st.DataObject) -> None:
    chosen = data.draw(st.lists(st.sampled_from(LETTERS[:options]), min_size=1, max_size=options, unique=True))
    shuffled = data.draw(st.permutations(chosen))
    assert normalise_response("multiple", options, "".join(chosen)) == normalise_response(
        "multiple", options, "".join(shuffled)
    )


# --- score_attempt ----------------------------------------------------------------------------------


def paper(partial: bool = False) -> list[ScoringItem]:
    return [
        ScoringItem(1, "judge", "T", Decimal(1)),
        ScoringItem(2, "single", "B", Decimal(1)),
        ScoringItem(3, "multiple", "ACD", Decimal(2), scoring="partial" if partial else "all_or_nothing"),
    ]


def test_all_correct_gives_the_maximum() -> None:
    score = score_attempt(paper(), {1: "T", 2: "B", 3: "ACD"})
    assert (score.total, score.max_total, score.correct_count, score.answered) == (4, 4, 3, 3)


def test_single_and_judge_are_all_or_nothing() -> None:
    score = score_attempt(paper(), {1: "F", 2: "C", 3: ""})
    assert score.total == 0
    assert [i.correct for i in score.items] == [False, False, False]
    assert score.answered == 2


def test_multiple_is_all_or_nothing_by_default() -> None:
    assert score_attempt(paper(), {3: "AC"}).total == 0
    assert score_attempt(paper(), {3: "ABCD"}).total == 0
    assert score_attempt(paper(), {3: "ACD"}).total == 2


def test_partial_credit_gives_half_for_a_correct_subset_and_nothing_with_a_wrong_letter() -> None:
    """R-SCORE-1: the blueprint may configure partial credit (少选得一半分，错选不得分)."""
    assert score_attempt(paper(partial=True), {3: "AC"}).total == 1
    assert score_attempt(paper(partial=True), {3: "D"}).total == 1
    assert score_attempt(paper(partial=True), {3: "ACE"}).total == 0
    assert score_attempt(paper(partial=True), {3: "ACD"}).total == 2
    odd = [ScoringItem(1, "multiple", "AB", Decimal("1.5"), scoring="partial")]
    assert score_attempt(odd, {1: "A"}).total == Decimal("0.75")


def test_voided_items_for_nobody_and_for_everybody() -> None:
    """R-INC-4: a faulty item is scored for nobody (out of the maximum) or for everybody."""
    nobody = [*paper()[:2], ScoringItem(3, "multiple", "ACD", Decimal(2), voided="nobody")]
    score = score_attempt(nobody, {1: "T", 2: "B", 3: "ACD"})
    assert (score.total, score.max_total) == (2, 2)
    assert score.items[2].correct is None
    everybody = [*paper()[:2], ScoringItem(3, "multiple", "ACD", Decimal(2), voided="everybody")]
    score = score_attempt(everybody, {1: "T", 2: "B"})
    assert (score.total, score.max_total) == (4, 4)


def test_stored_garbage_is_scored_wrong_and_never_raises() -> None:
    score = score_attempt(paper(), {1: "X", 2: "bb", 3: "AAC", 99: "A"})
    assert score.total == 0


def test_a_paper_with_a_position_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="twice"):
        score_attempt([ScoringItem(1, "judge", "T", Decimal(1))] * 2, {})


ITEM = st.builds(
    lambda kind, key_bits, points, partial, voided: ScoringItem(
        0,
        kind,
        {"judge": "T" if key_bits % 2 else "F", "single": LETTERS[key_bits % 4]}.get(
            kind, "".join(sorted({LETTERS[key_bits % 5], LETTERS[(key_bits // 5) % 5]} | {"A"}))
        ),
        Decimal(points),
        "partial" if partial and kind == "multiple" else "all_or_nothing",
        voided,
    ),
    st.sampled_from(["judge", "single", "multiple"]),
    st.integers(0, 100),
    st.integers(1, 5),
    st.booleans(),
    st.sampled_from([None, None, None, "nobody", "everybody"]),
)


@given(st.lists(ITEM, min_size=1, max_size=20), st.lists(st.text(alphabet="ABCDETF", max_size=4), max_size=20))
def test_score_is_between_zero_and_the_maximum(items: list[ScoringItem], answers: list[str]) -> None:
    numbered = [ScoringItem(n, i.type, i.key, i.points, i.scoring, i.voided) for n, i in enumerate(items, start=1)]
    score = score_attempt(numbered, dict(enumerate(answers, start=1)))
    assert 0 <= score.total <= score.max_total
    assert score.max_total == sum((i.points for i in numbered if i.voided != "nobody"), Decimal(0))
    perfect = score_attempt(numbered, {i.position: i.key for i in numbered})
    assert perfect.total == perfect.max_total


@given(st.lists(ITEM, min_size=1, max_size=10), st.data())
def test_partial_never_beats_full_and_a_wrong_letter_gives_nothing(
    items: list[ScoringItem], data: st.DataObject
) -> None:
    numbered = [ScoringItem(n, i.type, i.key, i.points, i.scoring, None) for n, i in enumerate(items, start=1)]
    for item in numbered:
        if item.type != "multiple":
            continue
        wrong = next(letter for letter in "ABCDE" if letter not in item.key)
        subset = data.draw(st.lists(st.sampled_from(item.key), min_size=1, unique=True))
        with_wrong = "".join(sorted({*subset, wrong}))
        assert score_attempt([item], {item.position: with_wrong}).total == 0
        assert score_attempt([item], {item.position: "".join(sorted(subset))}).total <= item.points


def test_the_answers_digest_covers_every_non_empty_answer() -> None:
    """R-SCORE-7 signs this digest: any change of an answer changes it; cleared answers do not count."""
    base = answers_digest({1: "A", 2: "BC"})
    assert base == answers_digest({2: "BC", 1: "A", 3: ""})
    assert base != answers_digest({1: "A", 2: "BD"})
    assert base != answers_digest({1: "A", 2: "BC", 3: "T"})
    assert base != answers_digest({1: "A"})
    assert len(base) == 64
