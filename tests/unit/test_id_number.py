"""Chinese resident ID numbers (GB 11643-1999), as checked at registration (R-REG-1)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from examhall.batches.rules import birth_date, check_id_number, id_check_char, normalise_id_number

# GB 11643-1999, written out here independently of the module under test.
WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
CHECK_TABLE = "10X98765432"
ALL_CHECK_CHARS = "0123456789X"
TODAY = date(2026, 5, 9)


def check_char(first17: str) -> str:
    assert len(first17) == 17 and first17.isascii() and first17.isdigit()
    return CHECK_TABLE[sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True)) % 11]


def make_id(region: str, born: str, sequence: str) -> str:
    first17 = region + born + sequence
    return first17 + check_char(first17)


def test_the_standard_example_is_valid() -> None:
    # The worked example printed in GB 11643-1999 itself.
    assert check_char("11010519491231002") == "X"
    assert check_id_number("11010519491231002X") is None


@pytest.mark.parametrize(
    ("region", "born", "sequence"),
    [
        ("110105", "19491231", "002"),  # 北京朝阳
        ("310104", "19850607", "123"),  # 上海徐汇
        ("440305", "20000229", "456"),  # 深圳南山, leap day
        ("510107", "19900101", "789"),  # 成都武侯
        ("330106", "19720815", "318"),  # 杭州西湖
        ("650102", "20080808", "001"),  # 乌鲁木齐天山
        ("420111", "19000101", "999"),  # 武汉洪山, earliest year allowed
        ("370202", "20260509", "040"),  # 青岛市南, born "today"
    ],
)
def test_real_format_numbers_are_accepted(region: str, born: str, sequence: str) -> None:
    number = make_id(region, born, sequence)
    assert check_id_number(number) is None
    assert check_id_number(number, today=TODAY) is None
    assert birth_date(number) == date(int(born[:4]), int(born[4:6]), int(born[6:]))
    assert id_check_char(number[:17]) == number[17]


def _prefix_with_check_x() -> str:
    for seq in range(1000):
        first17 = f"32010619880315{seq:03d}"
        if check_char(first17) == "X":
            return first17
    raise AssertionError("no sequence gives X")  # pragma: no cover


def test_lower_case_x_is_accepted() -> None:
    number = _prefix_with_check_x() + "x"
    assert check_id_number(number) is None
    assert normalise_id_number(number) == number.upper()
    assert birth_date(number) == date(1988, 3, 15)


@pytest.mark.parametrize(
    "typed",
    [
        "110105 19491231 002X",
        " 11010519491231002x ",
        "110 105 194 912 310 02X",
        "11010519491231002X\n",
        "\t11010519491231002X",
    ],
)
def test_spaces_are_stripped(typed: str) -> None:
    assert normalise_id_number(typed) == "11010519491231002X"
    assert check_id_number(typed) is None
    assert birth_date(typed) == date(1949, 12, 31)


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "1",
        "110105491231002",  # old 15-digit number
        "11010519491231002",  # check character missing
        "11010519491231002X1",
        "11010519491231002XX",
        "1101051949123100 2 X 9",
    ],
)
def test_wrong_length(raw: str) -> None:
    problem = check_id_number(raw)
    assert problem is not None
    assert problem.code == "length"
    assert problem.message


@pytest.mark.parametrize(
    "raw",
    [
        "11010519491231002Y",
        "1101051949123100XX",
        "X10105194912310021",
        "110105-19491231002",
        "11010519491231002-",
        "1101051949123I002X",
        "+1010519491231002X",
        "11010519491231002?",
    ],
)
def test_wrong_format(raw: str) -> None:
    assert len(normalise_id_number(raw)) == 18
    problem = check_id_number(raw)
    assert problem is not None
    assert problem.code == "format"


@pytest.mark.parametrize(
    "born",
    [
        "20230230",  # 30 February
        "19900230",
        "19901301",  # month 13
        "19900010",  # month 00
        "19900100",  # day 00
        "19900132",  # day 32
        "19850431",  # 31 April
        "19000229",  # 1900 was not a leap year
        "20010229",
        "18991231",  # before 1900
        "18500101",
        "00000101",  # year 0
        "99991399",
    ],
)
def test_impossible_birth_dates(born: str) -> None:
    # The check character is right, so only the date can be blamed.
    number = make_id("110105", born, "123")
    problem = check_id_number(number, today=TODAY)
    assert problem is not None
    assert problem.code == "birth_date"
    assert born in problem.message


@pytest.mark.parametrize(
    "born", [TODAY + timedelta(days=1), TODAY + timedelta(days=365), date(2099, 12, 31), date(2030, 2, 28)]
)
def test_birth_after_today(born: date) -> None:
    number = make_id("440305", born.strftime("%Y%m%d"), "777")
    problem = check_id_number(number, today=TODAY)
    assert problem is not None
    assert problem.code == "birth_date"


def test_birth_on_today_is_accepted() -> None:
    assert check_id_number(make_id("440305", TODAY.strftime("%Y%m%d"), "777"), today=TODAY) is None


def test_wrong_check_character() -> None:
    good = make_id("310104", "19850607", "123")
    for char in ALL_CHECK_CHARS.replace(good[17], ""):
        problem = check_id_number(good[:17] + char)
        assert problem is not None
        assert problem.code == "checksum"


born_dates = st.dates(min_value=date(1900, 1, 1), max_value=TODAY)
digits = st.text(alphabet="0123456789", min_size=1, max_size=1)


@st.composite
def valid_prefixes(draw: st.DrawFn) -> str:
    region = draw(st.text(alphabet="0123456789", min_size=6, max_size=6))
    sequence = draw(st.text(alphabet="0123456789", min_size=3, max_size=3))
    return region + draw(born_dates).strftime("%Y%m%d") + sequence


@given(prefix=valid_prefixes())
@settings(max_examples=300)
def test_exactly_one_check_character_passes(prefix: str) -> None:
    passing = [c for c in ALL_CHECK_CHARS if check_id_number(prefix + c, today=TODAY) is None]
    assert passing == [check_char(prefix)]
    for c in ALL_CHECK_CHARS:
        if c != passing[0]:
            problem = check_id_number(prefix + c, today=TODAY)
            assert problem is not None and problem.code == "checksum"
    assert id_check_char(prefix) == check_char(prefix)


def _date_is_valid(number: str) -> bool:
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    return date(1900, 1, 1) <= born <= TODAY


@given(prefix=valid_prefixes(), position=st.integers(0, 16), data=st.data())
@settings(max_examples=300)
def test_any_single_digit_typo_is_caught(prefix: str, position: int, data: st.DataObject) -> None:
    number = prefix + check_char(prefix)
    other = data.draw(st.sampled_from([d for d in "0123456789" if d != number[position]]), label="typo")
    typo = number[:position] + other + number[position + 1 :]
    problem = check_id_number(typo, today=TODAY)
    assert problem is not None
    assert problem.code == ("checksum" if _date_is_valid(typo) else "birth_date")


@given(prefix=valid_prefixes(), position=st.integers(0, 15))
@settings(max_examples=300)
def test_any_swap_of_neighbouring_digits_is_caught(prefix: str, position: int) -> None:
    number = prefix + check_char(prefix)
    a, b = number[position], number[position + 1]
    if a == b:
        return
    swapped = number[:position] + b + a + number[position + 2 :]
    problem = check_id_number(swapped, today=TODAY)
    assert problem is not None
    assert problem.code in {"checksum", "birth_date"}


@pytest.mark.parametrize(
    ("name", "table"),
    [
        ("fullwidth", str.maketrans("0123456789", "０１２３４５６７８９")),
        ("arabic-indic", str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")),
        ("superscript", str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")),
    ],
)
def test_non_ascii_digits_are_refused_or_normalised(name: str, table: dict[int, str]) -> None:
    """R-SEC-5: bad input gets a clear error; an ID accepted must be stored as the plain 18 ASCII chars."""
    good = "11010519491231002X"
    typed = good[:6].translate(table) + good[6:]  # e.g. typed with a full-width IME
    problem = check_id_number(typed, today=TODAY)  # must not raise
    if problem is None:
        assert normalise_id_number(typed) == good, f"{name} digits accepted but not normalised"
    else:
        assert problem.code == "format"
