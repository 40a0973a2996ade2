"""Scoring of theory attempts (R-SCORE-1), voided items (R-INC-4), the canonical response and
the answers digest signed by the receipt (R-SCORE-7): examples and hypothesis properties."""

from __future__ import annotations

import dataclasses
import hashlib
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from examhall.bank import rules as bank_rules
from examhall.sittings.scoring import (
    MAX_RESPONSE_CHARS,
    AnswerRefused,
    AttemptScore,
    ItemScore,
    ScoringItem,
    answers_digest,
    normalise_response,
    score_attempt,
)

LETTERS = "ABCDEFGH"
D = Decimal


# --- normalise_response ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("item_type", "options", "raw", "expected"),
    [
        ("single", 4, "B", "B"),
        ("single", 4, "b", "B"),
        ("single", 4, " C ", "C"),
        ("single", 4, "\tD\n", "D"),
        ("single", 4, "Ａ", "A"),  # full-width letter from a Chinese input method
        ("single", 2, "B", "B"),
        ("single", 8, "H", "H"),
        ("multiple", 5, "CA", "AC"),
        ("multiple", 5, "A, C", "AC"),
        ("multiple", 5, "a, c，e", "ACE"),
        ("multiple", 5, "C、A；B;D", "ABCD"),
        ("multiple", 5, "Ｃ　Ａ", "AC"),  # full-width space
        ("multiple", 5, "E", "E"),
        ("multiple", 5, "edcba", "ABCDE"),
        ("multiple", 8, "HGFEDCBA", "ABCDEFGH"),
        ("judge", 0, "T", "T"),
        ("judge", 0, "t", "T"),
        ("judge", 0, "true", "T"),
        ("judge", 0, "对", "T"),
        ("judge", 0, "正确", "T"),
        ("judge", 0, "√", "T"),
        ("judge", 0, "F", "F"),
        ("judge", 0, "f", "F"),
        ("judge", 0, "FALSE", "F"),
        ("judge", 0, "错", "F"),
        ("judge", 0, "错误", "F"),
        ("judge", 0, "×", "F"),
        ("judge", 0, " F ", "F"),
    ],
)
def test_responses_are_stored_canonical(item_type: str, options: int, raw: str, expected: str) -> None:
    assert normalise_response(item_type, options, raw) == expected


@pytest.mark.parametrize("item_type", ["single", "multiple", "judge"])
@pytest.mark.parametrize("raw", ["", " ", "\t\n", " , ，", "　"])
def test_an_empty_response_clears_the_answer(item_type: str, raw: str) -> None:
    """Clearing an answer is allowed: it is stored as "" and scores nothing."""
    assert normalise_response(item_type, 0 if item_type == "judge" else 4, raw) == ""


def test_judge_takes_every_spelling_the_bank_takes() -> None:
    for spelling in bank_rules.JUDGE_TRUE:
        assert normalise_response("judge", 0, spelling) == "T", spelling
        assert normalise_response("judge", 0, spelling.lower()) == "T", spelling
    for spelling in bank_rules.JUDGE_FALSE:
        assert normalise_response("judge", 0, spelling) == "F", spelling
        assert normalise_response("judge", 0, spelling.lower()) == "F", spelling


@pytest.mark.parametrize(
    ("item_type", "options", "raw", "code"),
    [
        ("single", 4, "AB", "one_option_only"),
        ("single", 4, "B, D", "one_option_only"),
        ("single", 4, "AA", "repeated_option"),
        ("single", 4, "E", "not_an_option"),
        ("single", 2, "C", "not_an_option"),
        ("single", 4, "1", "not_an_option"),
        ("single", 4, "?", "not_an_option"),
        ("single", 4, "I", "not_an_option"),
        ("multiple", 4, "AE", "not_an_option"),
        ("multiple", 8, "AI", "not_an_option"),
        ("multiple", 4, "AA", "repeated_option"),
        ("multiple", 4, "a, A", "repeated_option"),
        ("multiple", 4, "ABCA", "repeated_option"),
        ("judge", 0, "A", "judge_true_false"),
        ("judge", 0, "TF", "judge_true_false"),
        ("judge", 0, "TT", "judge_true_false"),
        ("judge", 0, "maybe", "judge_true_false"),
        ("judge", 0, "对错", "judge_true_false"),
        ("single", 4, "A" * (MAX_RESPONSE_CHARS + 1), "too_long"),
        ("multiple", 4, " " * (MAX_RESPONSE_CHARS + 1), "too_long"),
        ("judge", 0, "T" + " " * MAX_RESPONSE_CHARS, "too_long"),
    ],
)
def test_malformed_responses_are_refused_with_a_code(item_type: str, options: int, raw: str, code: str) -> None:
    with pytest.raises(AnswerRefused) as refused:
        normalise_response(item_type, options, raw)
    assert refused.value.code == code
    assert isinstance(refused.value, ValueError)
    assert str(refused.value)


def test_a_response_of_exactly_the_maximum_length_is_read() -> None:
    raw = "A" + " " * (MAX_RESPONSE_CHARS - 1)
    assert len(raw) == MAX_RESPONSE_CHARS
    assert normalise_response("single", 4, raw) == "A"


def test_an_unknown_item_type_is_a_programming_error_not_a_refusal() -> None:
    with pytest.raises(ValueError, match="unknown item type") as raised:
        normalise_response("essay", 4, "A")
    assert not isinstance(raised.value, AnswerRefused)


@given(st.sampled_from(["single", "multiple", "judge"]), st.integers(0, 8), st.text(max_size=40))
def test_normalising_is_idempotent(item_type: str, options: int, raw: str) -> None:
    try:
        once = normalise_response(item_type, options, raw)
    except AnswerRefused:
        return
    assert normalise_response(item_type, options, once) == once


@given(
    st.sampled_from(["single", "multiple", "judge"]),
    st.integers(2, 8),
    st.text(alphabet=LETTERS + "abcdefghTFtf ,，、对错", max_size=12),
)
def test_accepted_responses_are_canonical(item_type: str, options: int, raw: str) -> None:
    try:
        result = normalise_response(item_type, options, raw)
    except AnswerRefused:
        return
    if item_type == "judge":
        assert result in ("", "T", "F")
    else:
        assert set(result) <= set(LETTERS[:options])
        assert result == "".join(sorted(set(result)))


@given(st.integers(2, 8), st.text(alphabet=LETTERS + "abcdefgh ,", max_size=6))
def test_an_accepted_single_choice_is_one_existing_letter(options: int, raw: str) -> None:
    try:
        result = normalise_response("single", options, raw)
    except AnswerRefused:
        return
    assert result == "" or (len(result) == 1 and LETTERS.index(result) < options)


@given(st.integers(2, 8), st.data())
def test_every_existing_option_is_accepted_for_single_choice(options: int, data: st.DataObject) -> None:
    letter = data.draw(st.sampled_from(LETTERS[:options]))
    assert normalise_response("single", options, letter.lower()) == letter
    with pytest.raises(AnswerRefused) as refused:
        normalise_response("single", options - 1, LETTERS[options - 1])
    assert refused.value.code == "not_an_option"


@given(st.integers(3, 8), st.data())
def test_the_order_of_letters_never_matters(options: int, data: st.DataObject) -> None:
    chosen = data.draw(st.lists(st.sampled_from(LETTERS[:options]), min_size=1, max_size=options, unique=True))
    shuffled = data.draw(st.permutations(chosen))
    assert normalise_response("multiple", options, "".join(chosen)) == "".join(sorted(chosen))
    assert normalise_response("multiple", options, ", ".join(shuffled)) == "".join(sorted(chosen))


# --- ScoringItem ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"type": "essay", "key": "A"},
        {"type": "single", "key": "AB"},
        {"type": "single", "key": "a"},
        {"type": "single", "key": ""},
        {"type": "multiple", "key": "CA"},
        {"type": "multiple", "key": "AAC"},
        {"type": "multiple", "key": "AZ"},
        {"type": "multiple", "key": ""},
        {"type": "judge", "key": "true"},
        {"type": "judge", "key": "A"},
        {"type": "single", "key": "A", "points": D(-1)},
        {"type": "single", "key": "A", "points": D("NaN")},
        {"type": "single", "key": "A", "points": 1},
        {"type": "multiple", "key": "AB", "scoring": "half"},
        {"type": "multiple", "key": "AB", "voided": "all"},
    ],
)
def test_a_malformed_item_is_refused(kwargs: dict[str, object]) -> None:
    """Keys arrive canonical from the sealed paper; anything else is a bug to surface, not to score."""
    fields: dict[str, object] = {"position": 1, "points": D(1), **kwargs}
    with pytest.raises(ValueError, match="item 1"):
        ScoringItem(**fields)  # type: ignore[arg-type]


# --- score_attempt --------------------------------------------------------------------------------


def paper(partial: bool = False) -> list[ScoringItem]:
    return [
        ScoringItem(1, "judge", "T", D(1)),
        ScoringItem(2, "single", "B", D(1)),
        ScoringItem(3, "multiple", "ACD", D(2), scoring="partial" if partial else "all_or_nothing"),
    ]


def test_all_correct_gives_the_maximum() -> None:
    """R-SCORE-1."""
    score = score_attempt(paper(), {1: "T", 2: "B", 3: "ACD"})
    assert score == AttemptScore(
        total=D(4),
        max_total=D(4),
        items=(ItemScore(1, D(1), True, "T"), ItemScore(2, D(1), True, "B"), ItemScore(3, D(2), True, "ACD")),
        answered=3,
        correct_count=3,
    )


def test_no_answers_give_nothing() -> None:
    score = score_attempt(paper(), {})
    assert (score.total, score.max_total, score.answered, score.correct_count) == (D(0), D(4), 0, 0)
    assert [(i.awarded, i.correct, i.response) for i in score.items] == [(D(0), False, "")] * 3


def test_single_and_judge_are_all_or_nothing() -> None:
    """R-SCORE-1: single choice and true/false all or nothing."""
    score = score_attempt(paper(), {1: "F", 2: "C", 3: ""})
    assert score.total == 0
    assert [i.correct for i in score.items] == [False, False, False]
    assert score.answered == 2
    assert score_attempt(paper(), {1: "T", 2: "A"}).total == 1
    assert score_attempt(paper(), {1: "F", 2: "B"}).total == 1


def test_multiple_is_all_or_nothing_by_default() -> None:
    """R-SCORE-1: multiple choice all or nothing unless the blueprint configures partial credit."""
    assert score_attempt(paper(), {3: "AC"}).total == 0
    assert score_attempt(paper(), {3: "D"}).total == 0
    assert score_attempt(paper(), {3: "ABCD"}).total == 0
    assert score_attempt(paper(), {3: "ACD"}).total == 2


def test_partial_credit_gives_half_for_a_correct_subset_and_nothing_with_a_wrong_letter() -> None:
    """R-SCORE-1: the blueprint may configure partial credit (少选得一半分，错选不得分)."""
    assert score_attempt(paper(partial=True), {3: "AC"}).total == 1
    assert score_attempt(paper(partial=True), {3: "D"}).total == 1
    assert score_attempt(paper(partial=True), {3: "ACE"}).total == 0
    assert score_attempt(paper(partial=True), {3: "B"}).total == 0
    assert score_attempt(paper(partial=True), {3: "ABCD"}).total == 0
    assert score_attempt(paper(partial=True), {3: "ACD"}).total == 2
    half = score_attempt(paper(partial=True), {3: "AD"}).items[2]
    assert (half.awarded, half.correct) == (D(1), False)  # half credit is not "correct"
    assert score_attempt(paper(partial=True), {3: "AD"}).correct_count == 0


@pytest.mark.parametrize(
    ("points", "half"),
    [("1.5", "0.75"), ("1", "0.50"), ("1.55", "0.78"), ("0.05", "0.03"), ("0.01", "0.01"), ("3", "1.50")],
)
def test_half_points_are_rounded_to_the_cent_half_up(points: str, half: str) -> None:
    item = ScoringItem(1, "multiple", "AB", D(points), scoring="partial")
    awarded = score_attempt([item], {1: "A"}).total
    assert awarded == D(half)
    assert awarded.as_tuple().exponent == -2


def test_partial_applies_to_multiple_choice_only() -> None:
    single = ScoringItem(1, "single", "A", D(2), scoring="partial")
    assert score_attempt([single], {1: "B"}).total == 0


def test_voided_for_nobody_leaves_the_maximum() -> None:
    """R-INC-4: a faulty item scored for nobody is out of the total and of the maximum."""
    nobody = [*paper()[:2], ScoringItem(3, "multiple", "ACD", D(2), voided="nobody")]
    score = score_attempt(nobody, {1: "T", 2: "B", 3: "ACD"})
    assert (score.total, score.max_total, score.correct_count, score.answered) == (D(2), D(2), 2, 3)
    assert score.items[2] == ItemScore(3, D(0), None, "ACD")


def test_voided_for_everybody_gives_everyone_full_points() -> None:
    """R-INC-4: a faulty item scored for everybody gives full points whatever was answered."""
    for response in ("", "ACD", "B", "garbage"):
        everybody = [*paper()[:2], ScoringItem(3, "multiple", "ACD", D(2), voided="everybody")]
        score = score_attempt(everybody, {1: "T", 2: "B", 3: response})
        assert (score.total, score.max_total, score.correct_count) == (D(4), D(4), 2)
        assert score.items[2] == ItemScore(3, D(2), None, response)


@pytest.mark.parametrize(
    ("position", "stored"),
    [(1, "X"), (1, "t"), (1, "true"), (2, "b"), (2, "bb"), (2, " B"), (3, "AAC"), (3, "CAD"), (3, "acd"), (3, "A,C,D")],
)
def test_a_non_canonical_stored_response_is_wrong_and_never_raises(position: int, stored: str) -> None:
    """Scoring does not repair stored data: only canonical responses (normalise_response) count."""
    score = score_attempt(paper(partial=True), {position: stored})
    assert score.total == 0
    assert score.items[position - 1] == ItemScore(position, D(0), False, stored)


def test_responses_for_other_positions_are_ignored() -> None:
    score = score_attempt(paper(), {1: "T", 0: "B", 4: "A", 99: "ACD", -1: "T"})
    assert (score.total, score.answered, len(score.items)) == (D(1), 1, 3)


def test_a_stored_null_is_no_answer() -> None:
    score = score_attempt(paper(), {1: None, 2: "B"})  # type: ignore[dict-item]
    assert (score.total, score.answered, score.items[0].response) == (D(1), 1, "")


def test_a_paper_with_a_position_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="twice"):
        score_attempt([ScoringItem(1, "judge", "T", D(1)), ScoringItem(1, "single", "A", D(1))], {})


def test_items_are_reported_in_paper_order_and_an_empty_paper_scores_zero() -> None:
    reordered = [paper()[2], paper()[0], paper()[1]]
    assert [i.position for i in score_attempt(reordered, {}).items] == [3, 1, 2]
    assert score_attempt([], {1: "A"}) == AttemptScore(D(0), D(0), (), 0, 0)


# --- properties -----------------------------------------------------------------------------------


@st.composite
def scoring_items(draw: st.DrawFn, position: int = 1, voidable: bool = True) -> ScoringItem:
    kind = draw(st.sampled_from(["judge", "single", "multiple"]))
    options = 0 if kind == "judge" else draw(st.integers(3 if kind == "multiple" else 2, 8))
    if kind == "judge":
        key = draw(st.sampled_from("TF"))
    elif kind == "single":
        key = draw(st.sampled_from(LETTERS[:options]))
    else:
        key = "".join(sorted(draw(st.lists(st.sampled_from(LETTERS[:options]), min_size=2, unique=True))))
    points = draw(st.decimals(min_value=D("0.01"), max_value=D(100), places=2))
    scoring = draw(st.sampled_from(["all_or_nothing", "partial"])) if kind == "multiple" else "all_or_nothing"
    voided = draw(st.sampled_from([None, None, None, "nobody", "everybody"])) if voidable else None
    return ScoringItem(position, kind, key, points, scoring, voided)


@st.composite
def papers(draw: st.DrawFn, voidable: bool = True) -> list[ScoringItem]:
    count = draw(st.integers(1, 15))
    return [draw(scoring_items(position=n, voidable=voidable)) for n in range(1, count + 1)]


RESPONSE = st.one_of(
    st.just(""),
    st.sampled_from(["T", "F"]),
    st.lists(st.sampled_from(LETTERS), min_size=1, max_size=8, unique=True).map(lambda ls: "".join(sorted(ls))),
    st.text(alphabet="ABCDEFGHTFabc ,", max_size=6),
)


@given(papers(), st.dictionaries(st.integers(-2, 20), RESPONSE))
def test_the_score_is_between_zero_and_the_maximum(items: list[ScoringItem], responses: dict[int, str]) -> None:
    """R-SCORE-1: never negative, never above the maximum; each item within its own points."""
    score = score_attempt(items, responses)
    assert 0 <= score.total <= score.max_total
    assert score.total == sum((i.awarded for i in score.items), D(0))
    assert score.max_total == sum((i.points for i in items if i.voided != "nobody"), D(0))
    for item, item_score in zip(items, score.items, strict=True):
        assert 0 <= item_score.awarded <= item.points
    assert 0 <= score.correct_count <= score.answered <= len(items)


@given(papers())
def test_all_correct_responses_give_the_maximum(items: list[ScoringItem]) -> None:
    """R-SCORE-1 / R-INC-4: answering every key gives max_total, voided items included."""
    score = score_attempt(items, {i.position: i.key for i in items})
    assert score.total == score.max_total
    assert score.correct_count == sum(1 for i in items if i.voided is None)


@given(papers(), st.data())
def test_voiding_for_nobody_takes_exactly_the_item_points_off_the_maximum(
    items: list[ScoringItem], data: st.DataObject
) -> None:
    """R-INC-4."""
    candidates = [i for i in items if i.voided != "nobody"]
    if not candidates:
        return
    target = data.draw(st.sampled_from(candidates))
    responses = data.draw(st.dictionaries(st.sampled_from([i.position for i in items]), RESPONSE))
    before = score_attempt(items, responses)
    voided = [dataclasses.replace(i, voided="nobody") if i is target else i for i in items]
    after = score_attempt(voided, responses)
    assert after.max_total == before.max_total - target.points
    lost = before.items[items.index(target)].awarded
    assert after.total == before.total - lost


@given(papers(voidable=False), st.data())
def test_voiding_for_everybody_never_lowers_a_score(items: list[ScoringItem], data: st.DataObject) -> None:
    """R-INC-4: voiding for everybody gives full points and keeps the maximum."""
    target = data.draw(st.sampled_from(items))
    responses = data.draw(st.dictionaries(st.sampled_from([i.position for i in items]), RESPONSE))
    before = score_attempt(items, responses)
    after = score_attempt([dataclasses.replace(i, voided="everybody") if i is target else i for i in items], responses)
    assert after.max_total == before.max_total
    assert after.total == before.total - before.items[items.index(target)].awarded + target.points


@given(scoring_items(voidable=False).filter(lambda i: i.type == "multiple"), st.data())
def test_permuting_the_letters_of_a_multiple_answer_does_not_change_the_score(
    item: ScoringItem, data: st.DataObject
) -> None:
    """R-SCORE-1 via normalise_response: the candidate may tick options in any order."""
    options = data.draw(st.integers(LETTERS.index(item.key[-1]) + 1, 8))
    chosen = data.draw(st.lists(st.sampled_from(LETTERS[:options]), min_size=1, unique=True))
    shuffled = "".join(data.draw(st.permutations(chosen)))
    first = score_attempt([item], {1: normalise_response("multiple", options, "".join(chosen))})
    second = score_attempt([item], {1: normalise_response("multiple", options, shuffled.lower())})
    assert first.total == second.total
    assert first.items[0].correct == second.items[0].correct
    keyed = "".join(data.draw(st.permutations(item.key)))
    assert score_attempt([item], {1: normalise_response("multiple", options, keyed)}).total == item.points


@given(scoring_items(voidable=False).filter(lambda i: i.type == "multiple"), st.data())
def test_partial_never_beats_full_and_a_wrong_letter_gives_nothing(item: ScoringItem, data: st.DataObject) -> None:
    """R-SCORE-1: 少选得一半分，错选不得分 — and never more than the item's points."""
    subset = data.draw(st.lists(st.sampled_from(item.key), min_size=1, unique=True))
    others = [letter for letter in LETTERS if letter not in item.key]
    if others:  # a key of all eight letters leaves no wrong letter to add
        wrong = data.draw(st.lists(st.sampled_from(others), min_size=1, unique=True))
        with_wrong = "".join(sorted({*subset, *wrong}))
        assert score_attempt([item], {1: with_wrong}).total == 0
    got = score_attempt([item], {1: "".join(sorted(subset))}).total
    assert got <= item.points
    if set(subset) == set(item.key):
        assert got == item.points
    elif item.scoring == "partial":
        assert got == (item.points / 2).quantize(D("0.01"), rounding=ROUND_HALF_UP)
        assert 0 < got < item.points or item.points == D("0.01")
    else:
        assert got == 0


# --- answers_digest -------------------------------------------------------------------------------


def test_the_answers_digest_covers_every_non_empty_answer() -> None:
    """R-SCORE-7 signs this digest: any change of an answer changes it; cleared answers do not count."""
    base = answers_digest({1: "A", 2: "BC"})
    assert base == answers_digest({2: "BC", 1: "A", 3: ""})
    assert base != answers_digest({1: "A", 2: "BD"})
    assert base != answers_digest({1: "A", 2: "BC", 3: "T"})
    assert base != answers_digest({1: "A"})
    assert base != answers_digest({1: "BC", 2: "A"})
    assert len(base) == 64
    assert base == base.lower()


def test_the_answers_digest_serialisation_is_as_documented() -> None:
    """Positions sort as numbers (2 before 10), lines "pos=resp" joined by newlines."""
    expected = hashlib.sha256(b"2=A\n10=T\n11=BC").hexdigest()
    assert answers_digest({11: "BC", 10: "T", 2: "A", 5: ""}) == expected
    assert answers_digest({}) == hashlib.sha256(b"").hexdigest()


@given(st.dictionaries(st.integers(1, 200), RESPONSE), st.integers(1, 200), RESPONSE)
def test_the_digest_changes_exactly_when_a_non_empty_answer_changes(
    responses: dict[int, str], position: int, new: str
) -> None:
    changed = {**responses, position: new}
    same = (responses.get(position) or "") == new
    assert (answers_digest(changed) == answers_digest(responses)) == same
