"""Registration files (R-REG-1): the template, reading xlsx/csv, every kind of bad row, photos.

Every bad row is reported with its row number and field; a file with errors keeps its good rows
apart so that nothing is imported unless the caller skips the bad ones.
"""

from __future__ import annotations

import csv
import dataclasses
import importlib.util
import io
import random
import re
import zipfile
from collections import Counter
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from types import ModuleType

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl.worksheet.worksheet import Worksheet
from PIL import Image

from examhall.batches import registration_io as rio
from examhall.batches.registration_io import RegistrationRead, RegistrationRow, RowError

DATA = Path(__file__).resolve().parents[1] / "data"
SAMPLES = ("candidates-300.xlsx", "candidates-300.csv", "candidates-300-gbk.csv")
EXAM_DAY = date(2026, 6, 13)
CODES = {
    "化工总控工": "6-11-01-03",
    "电工": "6-31-01-03",
    "焊工": "6-18-02-04",
    "化学检验员": "4-08-05-04",
    "仪器仪表维修工": "6-31-01-09",
}
KNOWN = {**CODES, **{code: code for code in CODES.values()}}  # name or code → code, as the service gives it
HEADERS = [
    "姓名 (name)",
    "身份证号 (id_number)",
    "性别 (gender)",
    "职业 (occupation)",
    "等级 (level)",
    "文化程度 (education)",
    "现持证书 (certificates)",
    "工作年限 (work_years)",
    "手机 (phone)",
    "单位 (employer)",
    "照片 (photo)",
]

# GB 11643-1999, written out here independently of the module under test.
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def make_id(area: str, born: str, sequence: str) -> str:
    first17 = area + born + sequence
    return first17 + "10X98765432"[sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True)) % 11]


MAN = make_id("370102", "19850307", "125")  # 17th digit 5: 男
ENDS_IN_X = make_id("370102", "19850307", "123")  # 37010219850307123X
WOMAN = make_id("370303", "19920611", "044")  # 17th digit 4: 女
OTHER = make_id("370602", "19780123", "017")


def line(**values: object) -> list[object]:
    """A row in the template's column order; the defaults are a good row."""
    row: dict[str, object] = {
        "name": "张伟",
        "id_number": MAN,
        "gender": "男",
        "occupation": "化工总控工",
        "level": "四级",
        "education": "高中",
        "certificates": "化工总控工 五级 2021",
        "work_years": "6",
        "phone": "13805311234",
        "employer": "淄博某某化工有限公司",
        "photo": f"{MAN}.jpg",
    }
    row.update(values)
    return list(row.values())


def csv_data(rows: Sequence[Sequence[object]], headers: Sequence[str] = HEADERS, encoding: str = "utf-8-sig") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(headers)
    writer.writerows([["" if v is None else str(v) for v in row] for row in rows])
    return out.getvalue().encode(encoding)


def xlsx_data(
    rows: Sequence[Sequence[object]], headers: Sequence[str] = HEADERS, *, above: Sequence[Sequence[object]] = ()
) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert isinstance(sheet, Worksheet)
    sheet.title = "报名表"
    for extra in above:
        sheet.append(list(extra))
    sheet.append(list(headers))
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def read(data: bytes, name: str = "list.csv", **kw: object) -> RegistrationRead:
    kw.setdefault("known_occupations", KNOWN)
    return rio.read_registrations(data, name, **kw)  # type: ignore[arg-type]


def only_error(result: RegistrationRead) -> RowError:
    assert len(result.errors) == 1, result.errors
    return result.errors[0]


# --- the sample files --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SAMPLES)
def test_the_sample_files_read_without_errors(name: str) -> None:
    progress: list[tuple[int, int]] = []
    result = read((DATA / name).read_bytes(), name, exam_date=EXAM_DAY, progress=lambda d, t: progress.append((d, t)))
    assert result.ok and result.errors == [] and not result.fatal
    assert len(result.rows) == 300 and result.rows_read == 300
    assert progress == [(100, 300), (200, 300), (300, 300)]
    assert len({row.id_number for row in result.rows}) == 300
    assert [row.row for row in result.rows] == list(range(2, 302))
    for row in result.rows:
        assert row.gender == ("男" if int(row.id_number[16]) % 2 else "女")
        assert rio.age_on(row.birth_date, EXAM_DAY) >= 16
        assert row.work_years is None or 0 <= row.work_years <= rio.age_on(row.birth_date, EXAM_DAY)
        assert " " not in row.name
    occupations = Counter(row.occupation for row in result.rows)
    assert occupations.most_common(1)[0] == ("6-11-01-03", occupations["6-11-01-03"])
    assert occupations["6-11-01-03"] > 200
    assert {row.level for row in result.rows} <= {5, 4, 3}


def test_the_three_sample_files_hold_the_same_rows() -> None:
    reads = [read((DATA / name).read_bytes(), name) for name in SAMPLES]
    assert reads[0].rows == reads[1].rows == reads[2].rows
    assert reads[1].encoding == "utf-8"
    assert reads[2].encoding == "gb18030"
    assert any("GBK" in warning for warning in reads[2].warnings)


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_candidates", DATA / "make_candidates.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_sample_files_are_what_the_generator_makes() -> None:
    generator = _generator()
    rows = generator.make_rows(random.Random(generator.SEED))
    assert generator.csv_bytes(rows, "utf-8-sig") == (DATA / "candidates-300.csv").read_bytes()
    assert generator.csv_bytes(rows, "gbk") == (DATA / "candidates-300-gbk.csv").read_bytes()
    assert generator.xlsx_bytes(rows) == (DATA / "candidates-300.xlsx").read_bytes()


# --- the template ----------------------------------------------------------------------------------------


def test_the_template_workbook_has_the_header_row_and_an_explanation_sheet(tmp_path: Path) -> None:
    path = tmp_path / "报名表模板.xlsx"
    rio.write_template(path)
    workbook = openpyxl.load_workbook(path)
    assert workbook.sheetnames == ["报名表", "说明"]
    sheet = workbook["报名表"]
    header = [cell.value for cell in sheet[1]]
    assert header == HEADERS
    assert sheet.max_row == 1
    assert sheet.column_dimensions["B"].number_format == "@"  # ID numbers stay text in Excel
    explained = "\n".join(str(cell.value) for row in workbook["说明"].iter_rows() for cell in row if cell.value)
    for column in HEADERS:
        assert column in explained
    assert "文本" in explained and "16" in explained


def test_the_template_reads_back_empty(tmp_path: Path) -> None:
    for suffix in (".xlsx", ".csv"):
        path = tmp_path / f"template{suffix}"
        rio.write_template(path)
        result = read(path.read_bytes(), path.name)
        assert result.ok and result.rows == [] and result.rows_read == 0 and result.warnings == []
    assert (tmp_path / "template.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    assert rio.template_csv().decode("utf-8-sig").strip() == ",".join(HEADERS)


def test_the_examples_of_the_explanation_sheet_make_a_good_row() -> None:
    examples = [column.example for column in rio.COLUMNS]
    result = read(csv_data([examples]), exam_date=EXAM_DAY)
    assert result.ok, result.errors
    row = result.rows[0]
    assert (row.name, row.gender, row.level, row.work_years) == ("张伟", "男", 4, 6)
    assert row.photo == f"{row.id_number}.jpg"


def test_the_template_is_written_as_xlsx_or_csv_only(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"xlsx or \.csv"):
        rio.write_template(tmp_path / "template.ods")


@pytest.mark.parametrize("kind", ["xlsx", "csv", "gbk"])
def test_rows_written_in_the_template_read_back_the_same(kind: str) -> None:
    rows = read((DATA / "candidates-300.csv").read_bytes()).rows
    if kind == "xlsx":
        data, name = rio.registrations_xlsx(rows), "export.xlsx"
    else:
        data, name = rio.registrations_csv(rows, encoding="gbk" if kind == "gbk" else "utf-8-sig"), "export.csv"
    assert read(data, name).rows == rows


# --- errors: every kind names the row and the field ------------------------------------------------------

ERRORS = [
    ({"name": ""}, "name", "missing"),
    ({"name": "张伟3"}, "name", "digits"),
    ({"id_number": ""}, "id_number", "missing"),
    ({"id_number": MAN[:-1] + ("0" if MAN[-1] != "0" else "1")}, "id_number", "check character"),
    ({"id_number": MAN[:17]}, "id_number", "18 characters"),
    ({"id_number": make_id("370102", "19850231", "123")}, "id_number", "impossible birth date"),
    ({"id_number": "37010219850307123A"}, "id_number", "17 digits"),
    ({"id_number": "3.70102E+17"}, "id_number", "as text"),
    ({"gender": "女"}, "gender", "does not agree"),
    ({"gender": "未知"}, "gender", "男 or 女"),
    ({"occupation": "厨师"}, "occupation", "unknown occupation"),
    ({"occupation": ""}, "occupation", "missing"),
    ({"level": "六级"}, "level", "not a level"),
    ({"level": ""}, "level", "missing"),
    ({"education": "小学"}, "education", "not on the list"),
    ({"work_years": "很多"}, "work_years", "not a number"),
    ({"work_years": "70"}, "work_years", "out of range"),
    ({"work_years": "-1"}, "work_years", "out of range"),
    ({"work_years": "2.5"}, "work_years", "whole years"),
    ({"phone": "0531-8888888"}, "phone", "mobile number"),
    ({"phone": "1380531123"}, "phone", "11 digits"),
    ({"photo": "张伟.gif"}, "photo", ".jpg or .png"),
    ({"employer": "=HYPERLINK(1)"}, "employer", "formula"),
    ({"employer": "某" * 201}, "employer", "200"),
    ({"id_number": make_id("370102", "20100614", "123"), "gender": ""}, "id_number", "at least 16"),
]


@pytest.mark.parametrize(("values", "field", "words"), ERRORS)
@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_each_bad_value_names_its_row_and_field(values: dict[str, object], field: str, words: str, kind: str) -> None:
    rows = [line(id_number=OTHER, gender="", photo=""), line(**values)]
    data = csv_data(rows) if kind == "csv" else xlsx_data(rows)
    result = read(data, f"list.{kind}", exam_date=EXAM_DAY)
    error = only_error(result)
    assert (error.row, error.field) == (3, field)
    assert words in error.message
    assert str(error).startswith("row 3, ")
    assert rio.COLUMN_BY_FIELD[field].header in str(error)
    assert not result.ok and result.bad_rows == {3}
    assert [row.row for row in result.rows] == [2]  # the good row is kept for --skip-bad


def test_a_row_with_several_problems_reports_each() -> None:
    result = read(csv_data([line(name="", id_number="12345", level="七级", phone="abc")]))
    assert [(e.row, e.field) for e in result.errors] == [(2, "name"), (2, "id_number"), (2, "level"), (2, "phone")]
    assert result.rows == []


def test_a_formula_cell_is_refused_with_its_cell() -> None:
    data = xlsx_data([line(work_years="=2026-2019")])
    error = only_error(read(data, "list.xlsx"))
    assert (error.row, error.field) == (2, "work_years")
    assert "formula in cell H2" in error.message


def test_an_excel_error_value_is_refused() -> None:
    error = only_error(read(xlsx_data([line(phone="#N/A")]), "list.xlsx"))
    assert (error.row, error.field) == (2, "phone")
    assert "#N/A" in error.message


# --- the file as a whole ------------------------------------------------------------------------------------


def test_missing_required_columns_are_named_in_one_error() -> None:
    headers = [h for h in HEADERS if not h.startswith(("身份证号", "等级"))]
    rows = [[v for v, h in zip(line(), HEADERS, strict=True) if h in headers]]
    for data, name in ((csv_data(rows, headers), "a.csv"), (xlsx_data(rows, headers), "a.xlsx")):
        result = read(data, name)
        error = only_error(result)
        assert result.fatal and result.rows == [] and error.row == 0
        assert "身份证号 (id_number)" in error.message and "等级 (level)" in error.message
        assert str(error).startswith("file, ")


def test_a_column_given_twice_is_refused() -> None:
    error = only_error(
        read(csv_data([["张伟", MAN, MAN, "电工", "4"]], ["姓名", "身份证号", "身份证号码", "职业", "等级"]))
    )
    assert error.row == 0 and "appears twice (B and C)" in error.message


def test_a_file_without_a_header_row_is_refused() -> None:
    result = read("\n".join(",".join(str(v) for v in line()) for _ in range(3)).encode())
    assert result.fatal and "no header row" in only_error(result).message


@pytest.mark.parametrize(
    ("data", "name", "words"),
    [
        (b"", "list.csv", "empty"),
        (b"   \r\n", "list.csv", "empty"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100), "list.xls", ".xls"),
        (b"this is not a workbook", "list.xlsx", "not an Excel workbook"),
        (b"PK\x03\x04 broken zip", "list.xlsx", "not an Excel workbook"),
        (b"\x80\xff\xfe\x81 binary", "list.csv", "neither UTF-8 nor GBK"),
    ],
)
def test_an_unreadable_file_is_refused(data: bytes, name: str, words: str) -> None:
    result = read(data, name)
    error = only_error(result)
    assert result.fatal and error.row == 0 and words in error.message


def test_headers_may_be_chinese_english_full_width_starred_and_in_any_order() -> None:
    headers = ["等级", "name", "身份证号码（id_number）", "*职业", "手机号", "序号"]
    result = read(csv_data([["中级工", "李娜", WOMAN, "焊工", "13912345678", "1"]], headers))
    assert result.ok
    (row,) = result.rows
    assert (row.name, row.id_number, row.gender, row.occupation, row.level) == ("李娜", WOMAN, "女", "6-18-02-04", 4)
    assert row.phone == "13912345678" and row.education is None and row.work_years is None
    assert result.warnings == ["list.csv: column '序号' is not used"]


def test_a_title_row_above_the_header_is_skipped_and_rows_keep_their_numbers() -> None:
    data = xlsx_data([line(), line(id_number="bad")], above=[["2026年第二批职业技能等级认定报名表"], []])
    result = read(data, "list.xlsx")
    assert [row.row for row in result.rows] == [4]
    assert [(e.row, e.field) for e in result.errors] == [(5, "id_number")]


def test_empty_rows_are_skipped() -> None:
    text = csv_data([line()]).decode("utf-8-sig") + ",,,,,,,,,,\r\n\r\n" + ",".join(line(id_number=WOMAN, gender=""))
    result = read(text.encode("utf-8"))
    assert result.ok and [row.row for row in result.rows] == [2, 5] and result.rows_read == 2


def test_the_registrations_sheet_is_found_among_others() -> None:
    workbook = openpyxl.Workbook()
    notes = workbook.active
    assert isinstance(notes, Worksheet)
    notes.title = "说明"
    notes.append(["姓名 (name)", "必填"])
    other = workbook.create_sheet("Sheet2")
    other.append(HEADERS)
    other.append(line())
    out = io.BytesIO()
    workbook.save(out)
    result = read(out.getvalue(), "list.xlsx")
    assert result.ok and len(result.rows) == 1


def test_progress_is_reported_every_hundred_rows() -> None:
    rows = [line(id_number=make_id("370702", "19900101", f"{i:03d}"), gender="") for i in range(250)]
    calls: list[tuple[int, int]] = []
    result = read(csv_data(rows), progress=lambda done, total: calls.append((done, total)))
    assert result.ok and calls == [(100, 250), (200, 250), (250, 250)]


# --- encodings -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [("utf-8-sig", "utf-8"), ("utf-8", "utf-8"), ("gbk", "gb18030"), ("gb18030", "gb18030")],
)
def test_csv_encodings_are_detected(encoding: str, expected: str) -> None:
    result = read(csv_data([line(name="欧阳·娜", id_number=WOMAN, gender="女")], encoding=encoding))
    assert result.ok and result.encoding == expected
    assert result.rows[0].name == "欧阳·娜" and result.rows[0].employer == "淄博某某化工有限公司"
    assert any("GBK" in w for w in result.warnings) == (expected == "gb18030")


def test_excel_unicode_text_is_read() -> None:
    text = "\t".join(HEADERS) + "\r\n" + "\t".join(str(v) for v in line()) + "\r\n"
    result = read(text.encode("utf-16"), "list.txt")
    assert result.ok and result.encoding == "utf-16" and result.rows[0].id_number == MAN


# --- ID numbers ------------------------------------------------------------------------------------------------


def test_an_id_number_typed_as_a_number_in_excel_is_refused() -> None:
    result = read(xlsx_data([line(id_number=float(MAN))]), "list.xlsx")
    error = only_error(result)
    assert error.field == "id_number" and error.row == 2
    assert "typed as a number" in error.message and "text" in error.message and "3.70102E+17" in error.message


def test_an_id_number_rounded_by_excel_gets_a_hint() -> None:
    rounded = MAN[:15] + "000"
    if rio.check_id_number(rounded) is None:  # pragma: no cover - one chance in eleven
        pytest.skip("this rounded number happens to be valid")
    error = only_error(read(csv_data([line(id_number=rounded)])))
    assert "ends in 000" in error.message and "text" in error.message


def test_an_id_number_stored_with_all_its_digits_is_taken() -> None:
    number = make_id("370303", "19920611", "047")
    assert number[-1] != "X"
    # openpyxl and Excel write such a number as a float (3.703031992061105e+17); a tool that writes
    # all its digits keeps them, and then the number is taken as it is.
    written = xlsx_data([line(id_number=int(number), gender="")])
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(written)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                content = re.sub(rb"<v>3\.70303[0-9]*e\+17</v>", f"<v>{number}</v>".encode(), content)
                assert number.encode() in content
            target.writestr(info, content)
    result = read(out.getvalue(), "list.xlsx")
    assert result.ok and result.rows[0].id_number == number
    assert "typed as a number" in only_error(read(written, "list.xlsx")).message


def test_full_width_digits_spaces_and_a_lower_case_x_are_normalised() -> None:
    number = ENDS_IN_X
    typed = " " + number[:6] + " " + number[6:14] + " " + number[14:].lower() + " "
    full_width = "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in typed)
    values = {
        "name": " 王  芳 ",
        "id_number": full_width,
        "gender": " 男 ",
        "level": " ４ ",
        "phone": "+86 138-0531-1234",
    }
    result = read(csv_data([line(**values)]))
    assert result.ok, result.errors
    row = result.rows[0]
    assert row.id_number == number and row.name == "王芳" and row.level == 4 and row.phone == "13805311234"


def test_the_age_is_at_least_sixteen_on_the_exam_date() -> None:
    sixteen = make_id("370102", "20100613", "123")  # 16 on 2026-06-13
    fifteen = make_id("370102", "20100614", "131")  # 16 one day later
    result = read(
        csv_data([line(id_number=sixteen, gender=""), line(id_number=fifteen, gender="")]), exam_date=EXAM_DAY
    )
    assert [row.row for row in result.rows] == [2]
    error = only_error(result)
    assert (error.row, error.field) == (3, "id_number") and "is 15 on the exam date 2026-06-13" in error.message
    assert read(csv_data([line(id_number=fifteen, gender="")])).ok  # no exam date: no age check


def test_a_birth_date_after_the_exam_is_impossible() -> None:
    unborn = make_id("370102", "20261001", "123")
    error = only_error(read(csv_data([line(id_number=unborn, gender="")]), exam_date=EXAM_DAY))
    assert error.field == "id_number" and "impossible birth date" in error.message


# --- duplicates --------------------------------------------------------------------------------------------------


def test_the_same_id_number_twice_for_one_occupation_names_both_rows() -> None:
    rows = [line(), line(id_number=WOMAN, gender="女"), line(level="三级")]
    result = read(csv_data(rows))
    assert [row.row for row in result.rows] == [3]
    assert [(e.row, e.field) for e in result.errors] == [(2, "id_number"), (4, "id_number")]
    for error in result.errors:
        assert "rows 2 and 4" in error.message and MAN in error.message


def test_one_person_may_apply_for_two_occupations() -> None:
    result = read(csv_data([line(), line(occupation="电工", level="3")]))
    assert result.ok and [(r.occupation, r.level) for r in result.rows] == [("6-11-01-03", 4), ("6-31-01-03", 3)]


def test_one_id_number_under_two_names_is_refused() -> None:
    result = read(csv_data([line(), line(name="张卫", occupation="电工")]))
    assert result.rows == [] and {e.row for e in result.errors} == {2, 3}
    assert all("different names" in e.message for e in result.errors)


def test_a_bad_row_is_not_counted_as_a_duplicate() -> None:
    result = read(csv_data([line(), line(level="九级")]))
    assert [row.row for row in result.rows] == [2] and only_error(result).field == "level"


# --- single values -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spelling", "level"),
    [
        ("5", 5), ("五级", 5), ("初级", 5), ("初级工", 5), ("五级/初级工", 5), ("5级", 5),
        ("4", 4), ("4.0", 4), ("四级", 4), ("中级", 4), ("中级工", 4), ("四级（中级工）", 4), ("４", 4), ("Level 4", 4),
        ("3", 3), ("三级", 3), ("高级", 3), ("高级工", 3), ("三级/高级工", 3),
        ("2", 2), ("二级", 2), ("技师", 2), ("二级/技师", 2),
        ("1", 1), ("一级", 1), ("高级技师", 1), ("一级/高级技师", 1), (" 高级 技师 ", 1),
    ],
)  # fmt: skip
def test_level_spellings(spelling: str, level: int) -> None:
    assert rio.level_of(spelling) == level
    result = read(csv_data([line(level=spelling)]))
    assert result.ok and result.rows[0].level == level


@pytest.mark.parametrize("spelling", ["6", "0", "六级", "四级/高级工", "专家", "中", ""])
def test_not_a_level(spelling: str) -> None:
    assert rio.level_of(spelling) is None


def test_levels_typed_as_numbers_in_excel() -> None:
    result = read(xlsx_data([line(level=4, work_years=6.0, phone=13805311234)]), "list.xlsx")
    row = result.rows[0]
    assert result.ok and (row.level, row.work_years, row.phone) == (4, 6, "13805311234")


@pytest.mark.parametrize(
    ("spelling", "education"),
    [("高中", "高中"), ("研究生", "研究生"), ("大学本科", "本科"), ("专科", "大专"), ("大专毕业", "大专"),
     ("硕士研究生", "硕士"), ("职高", "中职"), ("技工学校", "技校"), ("博士", "博士")],
)  # fmt: skip
def test_education_spellings(spelling: str, education: str) -> None:
    assert rio.education_of(spelling) == education


def test_work_years_may_say_years() -> None:
    assert read(csv_data([line(work_years="12年")])).rows[0].work_years == 12


@pytest.mark.parametrize(("number", "gender"), [(MAN, "男"), (WOMAN, "女"), (MAN.lower(), "男")])
def test_gender_of_the_id_number(number: str, gender: str) -> None:
    assert rio.gender_of(number) == gender


def test_gender_of_needs_a_seventeenth_digit() -> None:
    with pytest.raises(ValueError, match="17th digit"):
        rio.gender_of("3701021985")


def test_the_gender_is_taken_from_the_id_number_when_empty_and_may_be_spelt_out() -> None:
    result = read(csv_data([line(gender=""), line(id_number=WOMAN, gender="female")]))
    assert [row.gender for row in result.rows] == ["男", "女"]


def test_occupations_by_name_or_code_without_a_list_are_kept_as_typed() -> None:
    result = read(csv_data([line(occupation="6-11-01-03"), line(id_number=WOMAN, gender="", occupation="化工 总控工")]))
    assert [row.occupation for row in result.rows] == ["6-11-01-03", "6-11-01-03"]
    free = rio.read_registrations(csv_data([line(occupation=" 化工 总控工 ")]), "a.csv")
    assert free.rows[0].occupation == "化工总控工"


def test_an_unknown_occupation_lists_the_known_ones() -> None:
    error = only_error(read(csv_data([line(occupation="厨师")])))
    assert "化工总控工" in error.message and "电工" in error.message
    assert "6-11-01-03" not in error.message
    error = only_error(read(csv_data([line(occupation="厨师")]), known_occupations={}))
    assert "no occupation is set up" in error.message


def test_optional_columns_are_none_when_empty() -> None:
    row = read(csv_data([line(education="", certificates="", work_years="", phone="", employer="", photo="")])).rows[0]
    assert (row.education, row.certificates, row.work_years, row.phone, row.employer, row.photo) == (None,) * 6


def test_photo_names_lose_their_folders() -> None:
    assert read(csv_data([line(photo="D:\\照片\\张伟.JPG")])).rows[0].photo == "张伟.JPG"


# --- photos ------------------------------------------------------------------------------------------------------


def image(fmt: str = "JPEG", size: tuple[int, int] = (358, 441), **save: object) -> bytes:
    picture = Image.new("RGB", size, (200, 210, 230))
    for x in range(0, size[0], 7):  # some detail, so the file is not trivially small
        for y in range(0, size[1], 5):
            picture.putpixel((x, y), ((x * 3) % 256, (y * 5) % 256, (x + y) % 256))
    out = io.BytesIO()
    picture.save(out, fmt, **save)
    return out.getvalue()


@pytest.mark.parametrize(("fmt", "kind"), [("JPEG", "image/jpeg"), ("PNG", "image/png")])
def test_a_portrait_jpeg_or_png_is_accepted(fmt: str, kind: str) -> None:
    data = image(fmt)
    assert rio.photo_problem(data, "photo.jpg") is None
    assert rio.photo_content_type(data) == kind


def test_a_text_file_renamed_jpg_is_refused() -> None:
    assert "not a JPEG or PNG" in (rio.photo_problem("张伟 370102198503071234".encode(), "370102.jpg") or "")


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "empty"),
        (b"\xff\xd8\xff" + bytes(2 * 1024 * 1024), "at most 2 MB"),
        (image("GIF"), "not a JPEG or PNG"),
        (image("BMP"), "not a JPEG or PNG"),
        (image(size=(80, 100)), "at least 100×120"),
        (image(size=(441, 358)), "portrait"),
        (image(size=(120, 400)), "portrait"),
        (b"\x89PNG\r\n\x1a\n" + bytes(64), "damaged"),
    ],
)
def test_bad_photos_are_refused(data: bytes, words: str) -> None:
    problem = rio.photo_problem(data, "photo.jpg")
    assert problem is not None and words in problem


def test_a_truncated_jpeg_is_refused() -> None:
    data = image(size=(600, 800), quality=95)
    problem = rio.photo_problem(data[: len(data) // 2], "photo.jpg")
    assert problem is not None and "damaged or incomplete" in problem


def test_the_photo_size_limits_are_arguments() -> None:
    data = image()
    assert "at most" in (rio.photo_problem(data, "p.jpg", max_bytes=len(data) - 1) or "")
    assert "at least 400×500" in (rio.photo_problem(data, "p.jpg", min_width=400, min_height=500) or "")


def test_a_phone_photo_stored_sideways_counts_as_upright() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° when shown
    assert rio.photo_problem(image(size=(441, 358), exif=exif), "IMG_0001.jpg") is None


def test_photo_file_names_are_matched_to_id_numbers() -> None:
    lower_x = ENDS_IN_X
    files = [
        f"照片/{MAN}.jpg",
        f"{lower_x.lower()}.JPEG",
        f"王芳_{WOMAN}.png",
        f"{MAN}.png",
        f"{OTHER}.jpg",
        "张伟.jpg",
        f"{MAN[:-1]}{'1' if MAN[-1] != '1' else '2'}.jpg",
        "list.xlsx",
        "__MACOSX/._x.jpg",
        ".DS_Store",
        "照片/",
        "Thumbs.db",
    ]
    found = rio.match_photo_names(files, [MAN, WOMAN, lower_x, make_id("371602", "19700101", "011")])
    assert found.matched == {MAN: f"照片/{MAN}.jpg", lower_x: f"{lower_x.lower()}.JPEG", WOMAN: f"王芳_{WOMAN}.png"}
    reasons = dict(found.unmatched)
    assert "second photo" in reasons[f"{MAN}.png"]
    assert "no candidate" in reasons[f"{OTHER}.jpg"]
    assert "not named by an ID number" in reasons["张伟.jpg"]
    assert "check character" in reasons[files[6]]
    assert "not a .jpg or .png" in reasons["list.xlsx"]
    assert found.missing == [make_id("371602", "19700101", "011")]
    assert found.ignored == ["__MACOSX/._x.jpg", ".DS_Store", "照片/", "Thumbs.db"]
    assert not found.ok


def test_photo_names_given_in_the_file_are_used() -> None:
    found = rio.match_photo_names(["ZhangWei.JPG", f"{WOMAN}.jpg"], [MAN, WOMAN], listed={"zhangwei.jpg": MAN})
    assert found.ok and found.matched == {MAN: "ZhangWei.JPG", WOMAN: f"{WOMAN}.jpg"} and found.missing == []


def test_the_sample_photo_names_match_the_sample_candidates() -> None:
    rows = read((DATA / "candidates-300.csv").read_bytes()).rows
    names = [row.photo for row in rows if row.photo]
    found = rio.match_photo_names(names, [row.id_number for row in rows])
    assert found.ok and len(found.matched) == len(names) and len(found.missing) == 300 - len(names)


def test_a_zip_of_photos_can_be_listed_and_checked() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(f"photos/{MAN}.jpg", image())
        archive.writestr(f"photos/{WOMAN}.jpg", b"not a photo")
    with zipfile.ZipFile(io.BytesIO(out.getvalue())) as archive:
        found = rio.match_photo_names(archive.namelist(), [MAN, WOMAN])
        problems = {number: rio.photo_problem(archive.read(name), name) for number, name in found.matched.items()}
    assert found.ok and problems[MAN] is None and "not a JPEG or PNG" in (problems[WOMAN] or "")


# --- property: whatever is written in the template reads back the same ------------------------------------------

CJK = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗伟芳娜敏静丽强磊军洋艳勇杰娟涛明超秀霞平刚桂英华"
TEXT = CJK + "0123456789ABCabc（）()-,，;\"'·/ "
AREAS = ("370102", "370203", "370303", "370602", "370702", "110105", "440305")
OCCUPATION_CODES = sorted(set(KNOWN.values()))


def _normal(text: str) -> bool:
    return text != "" and text == " ".join(text.split()) and not text.startswith("=")


@st.composite
def registration_rows(draw: st.DrawFn) -> RegistrationRow:
    born = draw(st.dates(date(1940, 1, 1), date(2008, 12, 31)))
    number = make_id(draw(st.sampled_from(AREAS)), f"{born:%Y%m%d}", f"{draw(st.integers(0, 999)):03d}")
    optional_text = st.one_of(st.none(), st.text(TEXT, min_size=1, max_size=30).filter(_normal))
    return RegistrationRow(
        row=0,
        name=draw(st.text(CJK, min_size=2, max_size=4)),
        id_number=number,
        gender="男" if int(number[16]) % 2 else "女",
        occupation=draw(st.sampled_from(OCCUPATION_CODES)),
        level=draw(st.integers(1, 5)),
        education=draw(st.one_of(st.none(), st.sampled_from(rio.EDUCATION_LEVELS))),
        certificates=draw(optional_text),
        work_years=draw(st.one_of(st.none(), st.integers(0, 60))),
        phone=draw(st.one_of(st.none(), st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True))),
        employer=draw(optional_text),
        photo=draw(st.one_of(st.none(), st.just(f"{number}.jpg"), st.just(f"{number.lower()}.png"))),
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(registration_rows(), min_size=1, max_size=8, unique_by=lambda r: r.id_number), st.booleans())
def test_any_valid_row_written_to_csv_reads_back_the_same(rows: list[RegistrationRow], gbk: bool) -> None:
    rows = [dataclasses.replace(row, row=number) for number, row in enumerate(rows, start=2)]
    data = rio.registrations_csv(rows, encoding="gb18030" if gbk else "utf-8-sig")
    result = read(data, "export.csv")
    assert result.errors == []
    assert result.rows == rows
