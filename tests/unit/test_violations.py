"""Violations and their consequences (R-INC-2, R-CLOCK-3), the other log entries (R-CLOCK-8,
R-INC-5), entry validation and corrections (R-INC-1): examples and hypothesis properties."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from examhall.console import violations as vio
from examhall.console.violations import Consequence, Draft, consequence

DAY = date(2026, 6, 14)
days = st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 12, 31))
levels = st.sampled_from(vio.LEVELS)


# --- the categories as the regulations list them ---------------------------------------------------


def test_every_clause_of_the_regulations_is_a_category_at_its_level() -> None:
    by_level = {level: [c.clause for c in vio.violations_of_level(level)] for level in vio.LEVELS}
    assert by_level[1] == ["一、1", "一、2", "一、3", "一、4"]
    assert by_level[2] == ["二、1", "二、2", "二、3", "二、4", "二、5", "二、6", "二、7", "偶发事件十九"]
    assert by_level[3] == ["三、1", "三、2", "三、3", "三、4", "三、5"]
    assert by_level[4] == ["四、1", "四、2", "四、3", "四、4", "四、5", "四、6", "四、7"]


def test_codes_are_unique_and_every_category_has_both_labels() -> None:
    codes = [c.code for c in (*vio.VIOLATIONS, *vio.LOG_ENTRIES)]
    assert len(codes) == len(set(codes)) == len(vio.CATEGORIES)
    for cat in vio.CATEGORIES.values():
        assert cat.label_zh and cat.label_en
        assert any("\u4e00" <= ch <= "\u9fff" for ch in cat.label_zh), cat.code
        assert cat.label_en.isascii(), cat.code
        assert len(cat.code) <= 32
        assert (cat.level is not None) == cat.is_violation


def test_specific_categories_sit_where_the_regulations_put_them() -> None:
    assert vio.CATEGORIES["impersonation"].level == 4
    assert vio.CATEGORIES["electronic_device_use"].level == 3
    assert vio.CATEGORIES["whispering_signalling"].level == 2
    assert vio.CATEGORIES["left_seat"].level == 1
    # 手机未放在指定位置，疑似利用手机 … 按作弊处理; a phone ringing alone is not cheating.
    assert vio.CATEGORIES["phone_suspected_use"].level == 2
    assert vio.CATEGORIES[vio.PHONE_RINGING].level is None
    assert vio.consequence_of(vio.PHONE_RINGING, False, DAY).is_none


def test_log_entries_act_on_the_clock_as_r_clock_3_and_8_say() -> None:
    cats = vio.CATEGORIES
    assert cats[vio.TOILET_START].clock_event == "break_started"
    assert cats[vio.TOILET_END].clock_event == "break_ended"
    assert cats[vio.ILLNESS_CONTINUE].clock_event is None
    assert cats[vio.ILLNESS_WITHDRAWN].clock_event == "withdrawn"
    assert cats[vio.ILLNESS_WITHDRAWN].closes_as == "withdrawn"
    assert cats[vio.LEFT_EARLY].clock_event == "withdrawn"
    assert cats[vio.LEFT_EARLY].closes_as == "left_early"
    for code in (vio.TOILET_START, vio.TOILET_END, vio.ILLNESS_CONTINUE, vio.ILLNESS_WITHDRAWN):
        assert vio.consequence_of(code, False, DAY).is_none


# --- consequences ----------------------------------------------------------------------------------


def test_level_1_cancels_the_subject_only() -> None:
    assert consequence(1, False, DAY) == Consequence(cancel_subject=True)


def test_level_2_counts_the_subject_as_cheating() -> None:
    assert consequence(2, False, DAY) == Consequence(cancel_subject=True, counts_as_cheating=True)


def test_level_3_cancels_everything_and_bars_until_the_end_of_the_year() -> None:
    result = consequence(3, False, DAY)
    assert result.cancel_subject and result.counts_as_cheating and result.cancel_all_subjects_of_sitting
    assert (result.bar_from, result.bar_until) == (DAY, date(2026, 12, 31))
    assert not result.referral
    # On the last day of the year the bar is that one day.
    last = consequence(3, False, date(2026, 12, 31))
    assert (last.bar_from, last.bar_until) == (date(2026, 12, 31), date(2026, 12, 31))


def test_level_4_bars_2_years_or_5_when_serious_with_referral() -> None:
    light = consequence(4, False, DAY)
    assert (light.bar_from, light.bar_until) == (DAY, date(2028, 6, 13))
    assert light.cancel_all_subjects_of_sitting and light.counts_as_cheating and not light.referral
    serious = consequence(4, True, DAY)
    assert (serious.bar_from, serious.bar_until) == (DAY, date(2031, 6, 13))
    assert serious.referral


def test_a_bar_from_29_february_ends_on_28_february() -> None:
    assert vio.anniversary(date(2024, 2, 29), 2) == date(2026, 3, 1)
    assert consequence(4, False, date(2024, 2, 29)).bar_until == date(2026, 2, 28)
    assert consequence(4, True, date(2024, 2, 29)).bar_until == date(2029, 2, 28)
    assert consequence(4, False, date(2028, 2, 29)).bar_until == date(2030, 2, 28)
    # Into a leap year: 29 February is within the bar.
    assert consequence(4, False, date(2026, 3, 1)).bar_until == date(2028, 2, 29)


def test_early_forced_leave_cancels_the_score_but_is_not_cheating() -> None:
    result = vio.consequence_of(vio.LEFT_EARLY, False, DAY)
    assert result == Consequence(cancel_subject=True)


@pytest.mark.parametrize("level", [0, 5, -1])
def test_unknown_levels_are_refused(level: int) -> None:
    with pytest.raises(ValueError, match="level"):
        consequence(level, False, DAY)


@pytest.mark.parametrize("level", [1, 2, 3])
def test_only_level_4_can_be_serious(level: int) -> None:
    with pytest.raises(ValueError, match="serious"):
        consequence(level, True, DAY)
    with pytest.raises(ValueError, match="serious"):
        vio.consequence_of(vio.NOTE, True, DAY)


def test_unknown_category_has_no_consequence_but_an_error() -> None:
    with pytest.raises(ValueError, match="unknown"):
        vio.consequence_of("chatting", False, DAY)


def test_a_bar_needs_both_ends_in_order() -> None:
    with pytest.raises(ValueError, match="both"):
        Consequence(bar_until=DAY)
    with pytest.raises(ValueError, match="before"):
        Consequence(bar_from=DAY, bar_until=DAY - timedelta(days=1))


def test_barred_on_is_inclusive_at_both_ends() -> None:
    until = date(2026, 12, 31)
    assert vio.barred_on(DAY, until, DAY)
    assert vio.barred_on(DAY, until, until)
    assert not vio.barred_on(DAY, until, DAY - timedelta(days=1))
    assert not vio.barred_on(DAY, until, date(2027, 1, 1))


def test_combine_takes_the_strongest_of_each_respect() -> None:
    parts = [consequence(1, False, DAY), consequence(3, False, date(2026, 1, 5)), consequence(2, False, DAY)]
    total = vio.combine(parts)
    assert total.cancel_all_subjects_of_sitting and total.counts_as_cheating
    assert total.bar_until == date(2026, 12, 31)
    assert vio.combine([]) == vio.NO_CONSEQUENCE
    assert vio.combine([vio.NO_CONSEQUENCE, consequence(1, False, DAY)]) == Consequence(cancel_subject=True)


# --- properties ------------------------------------------------------------------------------------


@given(level=levels, serious=st.booleans(), day=days)
def test_bars_never_start_before_the_incident_nor_end_before_it(level: int, serious: bool, day: date) -> None:
    result = consequence(level, serious and level == 4, day)
    if result.bar_until is not None:
        assert result.bar_from == day
        assert result.bar_until >= day
        if level == 4:
            assert result.bar_until > day
            years = 5 if serious else 2
            assert result.bar_until + timedelta(days=1) == vio.anniversary(day, years)
            assert day.year + years - 1 <= result.bar_until.year <= day.year + years
        if level == 3:
            assert result.bar_until == date(day.year, 12, 31)
    else:
        assert level in (1, 2)


@given(low=levels, high=levels, serious_low=st.booleans(), serious_high=st.booleans(), day=days)
def test_a_higher_level_never_has_a_weaker_consequence(
    low: int, high: int, serious_low: bool, serious_high: bool, day: date
) -> None:
    if low > high:
        low, high = high, low
    weaker = consequence(low, serious_low and low == 4, day)
    stronger = consequence(high, serious_high and high == 4, day)
    if low == high == 4 and serious_low and not serious_high:
        assert weaker.at_least(stronger)  # serious is the stronger one
        return
    assert stronger.at_least(weaker)


@given(day=days)
def test_serious_is_never_weaker_than_light(day: date) -> None:
    light, serious = consequence(4, False, day), consequence(4, True, day)
    assert serious.at_least(light)
    assert not light.at_least(serious)
    assert serious.bar_until is not None and light.bar_until is not None
    assert serious.bar_until > light.bar_until


@given(day=days, level=levels)
def test_level_4_always_outlasts_level_3(day: date, level: int) -> None:
    three, four = consequence(3, False, day), consequence(4, False, day)
    assert four.bar_until is not None and three.bar_until is not None
    assert four.bar_until > three.bar_until


@given(day=days, later=st.integers(min_value=0, max_value=3650))
def test_a_later_incident_never_bars_shorter(day: date, later: int) -> None:
    then = day + timedelta(days=later)
    for level, serious in ((3, False), (4, False), (4, True)):
        a, b = consequence(level, serious, day), consequence(level, serious, then)
        assert a.bar_until is not None and b.bar_until is not None
        assert b.bar_until >= a.bar_until


@given(
    st.lists(
        st.tuples(levels, st.booleans(), days).map(lambda t: consequence(t[0], t[1] and t[0] == 4, t[2])),
        max_size=6,
    )
)
def test_combined_consequences_are_at_least_each_part(parts: list[Consequence]) -> None:
    total = vio.combine(parts)
    assert all(total.at_least(p) for p in parts)


@given(day=days)
def test_at_least_is_reflexive_and_everything_is_at_least_nothing(day: date) -> None:
    for level in vio.LEVELS:
        c = consequence(level, False, day)
        assert c.at_least(c)
        assert c.at_least(vio.NO_CONSEQUENCE)
        assert not vio.NO_CONSEQUENCE.at_least(c)


# --- validating entries ----------------------------------------------------------------------------

ME = ("王监考",)


def draft(category: str, **kw: object) -> Draft:
    base: dict[str, object] = {
        "text": "说明",
        "recorded_by": ME,
        "has_candidate": True,
        "attempt": "open",
    }
    base.update(kw)
    return Draft(category=category, **base)  # type: ignore[arg-type]


def test_a_plain_violation_entry_is_accepted() -> None:
    assert vio.entry_problem(draft("whispering_signalling")) is None


@pytest.mark.parametrize(
    ("d", "code"),
    [
        (draft("chatting"), "unknown_category"),
        (draft("copying_paper", has_candidate=False, attempt=None), "needs_candidate"),
        (draft("copying_paper", text="  "), "needs_text"),
        (draft("copying_paper", text="x" * 2001), "bad_text"),
        (draft("copying_paper", recorded_by=()), "bad_recorders"),
        (draft("copying_paper", recorded_by=tuple(f"n{i}" for i in range(7))), "bad_recorders"),
        (draft("copying_paper", recorded_by=("x" * 65,)), "bad_recorders"),
        (draft("copying_paper", serious=True), "serious_level_4_only"),
        (draft(vio.TOILET_START, escorts=("甲",)), "needs_escorts"),
        (draft(vio.TOILET_START, escorts=("甲", "乙"), attempt="closed"), "attempt_closed"),
        (draft(vio.TOILET_START, escorts=("甲", "乙"), attempt=None), "not_checked_in"),
        (draft(vio.TOILET_END, attempt=None), "not_checked_in"),
        (draft(vio.ILLNESS_WITHDRAWN, attempt="closed"), "attempt_closed"),
        (draft(vio.LEFT_EARLY, attempt="closed"), "attempt_closed"),
        (draft(vio.IMPERSONATION_SUSPECTED), "needs_admitted"),
        (draft(vio.IMPERSONATION_SUSPECTED, admitted=True), "needs_confirmation"),
        (draft(vio.NOTE, request_id="x" * 65), "bad_request_id"),
        (draft(vio.NOTE, request_id=""), "bad_request_id"),
    ],
)
def test_entries_are_refused_with_a_code(d: Draft, code: str) -> None:
    assert vio.entry_problem(d) == code


@pytest.mark.parametrize(
    "d",
    [
        draft(vio.TOILET_START, text="", escorts=("甲", "乙")),
        draft(vio.TOILET_END, text="", attempt="closed"),  # a break can end after the hand-in
        draft(vio.ILLNESS_CONTINUE, text=""),
        draft(vio.ILLNESS_WITHDRAWN, text=""),
        draft(vio.LEFT_EARLY, text=""),
        draft(vio.PHONE_RINGING, text="", attempt=None),
        draft(vio.NOTE, has_candidate=False, attempt=None),
        draft("identical_papers", attempt="closed"),  # R-INC-3: found after the exam
        draft("false_documents", attempt=None),  # found at check-in
        draft("impersonation", serious=True),
        draft(vio.IMPERSONATION_SUSPECTED, admitted=False),
        draft(vio.IMPERSONATION_SUSPECTED, admitted=True, impersonator="李四"),
    ],
)
def test_entries_that_are_accepted(d: Draft) -> None:
    assert vio.entry_problem(d) is None


def test_impersonation_admitted_is_level_4_and_denied_is_investigated() -> None:
    assert vio.resolve(vio.IMPERSONATION_SUSPECTED, True) == ("impersonation", False)
    assert vio.resolve(vio.IMPERSONATION_SUSPECTED, False) == (vio.IMPERSONATION_SUSPECTED, True)
    assert vio.resolve("copying_paper", None) == ("copying_paper", False)
    assert vio.consequence_of(vio.IMPERSONATION_SUSPECTED, False, DAY).is_none


def test_names_are_split_on_chinese_and_latin_separators_and_cleaned() -> None:
    assert vio.split_names("张三、李四，王五, 赵六;  ") == ("张三", "李四", "王五", "赵六")
    assert vio.split_names("") == ()
    assert vio.clean_names([" 张三 ", "张三", "", "李  四"]) == ("张三", "李 四")


@pytest.mark.parametrize(
    ("old", "new", "kw", "code"),
    [
        ("copying_paper", "copying_answers", {}, None),
        ("copying_paper", vio.NOTE, {}, None),  # recorded in error: no consequence any more
        ("impersonation", "impersonation", {"serious": True}, None),
        ("copying_paper", "copying_paper", {"serious": True}, "serious_level_4_only"),
        ("copying_paper", "chatting", {}, "unknown_category"),
        (vio.TOILET_START, vio.NOTE, {}, "cannot_recategorise"),
        (vio.NOTE, vio.LEFT_EARLY, {}, "cannot_recategorise"),
        (vio.ILLNESS_WITHDRAWN, vio.ILLNESS_WITHDRAWN, {}, None),
        (vio.NOTE, "copying_paper", {"has_candidate": False}, "needs_candidate"),
    ],
)
def test_corrections(old: str, new: str, kw: dict[str, bool], code: str | None) -> None:
    options = {"has_candidate": True, "serious": False} | kw
    assert vio.correction_problem(old, new, **options) == code


def test_effective_entries_are_those_nobody_corrected() -> None:
    assert vio.effective_ids([(1, None), (2, 1), (3, None), (4, 2)]) == {3, 4}
    assert vio.effective_ids([]) == set()


@given(st.integers(min_value=1, max_value=30))
def test_a_chain_of_corrections_leaves_exactly_its_last_entry(length: int) -> None:
    chain = [(1, None)] + [(i, i - 1) for i in range(2, length + 1)]
    assert vio.effective_ids(chain) == {length}


def test_level_names_exist_for_every_level() -> None:
    assert set(vio.LEVEL_NAMES) == set(vio.LEVEL_NAMES_ZH) == set(vio.LEVELS)
