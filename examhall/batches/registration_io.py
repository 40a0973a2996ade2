"""Candidate registration files (R-REG-1): the template, reading and checking, candidate photos.

The exam office keeps its applications (报名表) in spreadsheets and imports hundreds to
thousands of rows per batch, from an ``.xlsx`` workbook or a ``.csv`` file. Pure file handling:
no database, no web framework; the service (:mod:`examhall.batches.registration`) checks what
needs the database (offerings of the batch, applications already made, bars of R-INC-2).

The template
============

:func:`write_template` writes it (``.xlsx``: sheet 报名表 with the header row and sheet 说明
explaining each column; ``.csv``: the header row only, UTF-8 with BOM so Excel shows Chinese).
One row is one application: a candidate for one occupation and level. The header row holds
``中文名 (field)``, e.g. ``姓名 (name)``; the Chinese name alone, the field alone and the
spellings listed in :data:`COLUMNS` are accepted too, in any order; a title row above the
header is skipped, unknown columns are ignored (with a warning).

==========  ============  ========  ================================================================
column      field         needed    content
==========  ============  ========  ================================================================
姓名        name          required  as on the ID card; spaces inside a Chinese name (``张  三``, for
                                    alignment) are removed; no digits (a sign of shifted columns)
身份证号    id_number     required  18-character resident ID number, checked by GB 11643 (birth date,
                                    check character); lower-case x, full-width digits and spaces are
                                    accepted. Format the column as TEXT in Excel: a number cell keeps
                                    15 digits only (3.70102E+17) and is refused.
性别        gender        optional  男 / 女 (also M/F, male/female); must agree with the 17th digit of
                                    the ID number (odd 男, even 女); when empty it is taken from there
职业        occupation    required  occupation (工种) name, e.g. 化工总控工, or its code; with
                                    ``known_occupations`` it must be one the centre offers
等级        level         required  5 4 3 2 1; 五级 … 一级; 初级 中级 高级 技师 高级技师; 初级工 中级工
                                    高级工; 四级/中级工 — read as the number 5 … 1
文化程度    education     optional  one of 初中 高中 中专 中职 技校 大专 高职 本科 研究生 硕士 博士
                                    (大学本科, 大学专科, 专科, 职高, 技工学校 … are understood)
现持证书    certificates  optional  certificates already held, free text
工作年限    work_years    optional  years worked in the occupation, a whole number 0–60 (``5年`` is fine)
手机        phone         optional  mobile number, 11 digits starting with 1 (+86, spaces, dashes removed)
单位        employer      optional  employer, free text
照片        photo         optional  file name of the photo, uploaded separately (.jpg/.jpeg/.png)
==========  ============  ========  ================================================================

Checks
======

Every bad row is reported as a :class:`RowError` naming the row (as Excel numbers it, header
included) and the field; a problem of the file as a whole (not a spreadsheet, missing columns)
is one error with row 0 and no rows at all (:attr:`RegistrationRead.fatal`). Besides each
column's own rule:

- the same ID number twice for the same occupation is refused on every row where it appears
  (each message names the other rows); one person may apply for two different occupations in
  one file, but then every row must carry the same name;
- age: a candidate must be at least :data:`MIN_AGE` (16) years old on the exam date, when the
  caller gives one. The regulations and R-REG-1 leave the age to the occupational standards'
  申报条件, which all presuppose a worker of legal working age; 16 is that age (劳动法 第十五条:
  禁止用人单位招用未满十六周岁的未成年人). An impossible birth date (after the exam date) is an
  ID number error.

:class:`RegistrationRead` keeps the good rows and every error, so nothing is imported from a
file with errors unless the caller asks to skip the bad rows (``read.ok`` tells).

Photos
======

:func:`photo_problem` checks one uploaded photo by its content (JPEG or PNG, not the file name),
its size (2 MB) and dimensions (at least 100×120 pixels, portrait); :func:`match_photo_names`
maps uploaded file names (``<ID number>.jpg``, or the names given in the 照片 column) to the
candidates and reports the names that match nobody.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path, PurePosixPath
from typing import Final

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet
from PIL import Image, UnidentifiedImageError

from examhall import spreadsheets
from examhall.batches.rules import birth_date as birth_date_of
from examhall.batches.rules import check_id_number, normalise_id_number
from examhall.spreadsheets import Cell, Row, cell_problem, header_key

Progress = Callable[[int, int], None]

MIN_AGE: Final = 16  # legal working age (劳动法 第十五条)
MAX_WORK_YEARS: Final = 60
PROGRESS_EVERY: Final = 100
HEADER_SEARCH_ROWS: Final = 10  # a title row or two may stand above the header

SHEET_REGISTRATIONS: Final = "报名表"
SHEET_HELP: Final = "说明"
_SHEET_PREFERRED: Final = ("报名表", "报名", "考生", "考生名单", "registrations", "candidates")
_SHEET_SKIPPED: Final = ("说明", "填表说明", "instructions", "help", "readme")

MALE: Final = "男"
FEMALE: Final = "女"

LEVEL_NAMES: Final = {5: "五级/初级工", 4: "四级/中级工", 3: "三级/高级工", 2: "二级/技师", 1: "一级/高级技师"}
_LEVEL_WORDS: Final[dict[int, tuple[str, ...]]] = {
    5: ("5", "5级", "五", "五级", "初级", "初级工", "level5", "l5", "entry"),
    4: ("4", "4级", "四", "四级", "中级", "中级工", "level4", "l4", "intermediate"),
    3: ("3", "3级", "三", "三级", "高级", "高级工", "level3", "l3", "advanced"),
    2: ("2", "2级", "二", "二级", "技师", "level2", "l2", "technician"),
    1: ("1", "1级", "一", "一级", "高级技师", "level1", "l1", "seniortechnician"),
}

EDUCATION_LEVELS: Final = ("初中", "高中", "中专", "中职", "技校", "大专", "高职", "本科", "研究生", "硕士", "博士")
_EDUCATION_ALIASES: Final = {
    "初级中学": "初中",
    "高级中学": "高中",
    "普通高中": "高中",
    "中等专业学校": "中专",
    "职高": "中职",
    "职业高中": "中职",
    "技工学校": "技校",
    "专科": "大专",
    "大学专科": "大专",
    "高职高专": "高职",
    "大学本科": "本科",
    "大学": "本科",
    "硕士研究生": "硕士",
    "博士研究生": "博士",
}

MAX_PHOTO_BYTES: Final = 2 * 1024 * 1024
MIN_PHOTO_WIDTH: Final = 100
MIN_PHOTO_HEIGHT: Final = 120
MAX_PHOTO_PIXELS: Final = 40_000_000  # beyond this a "photo" is a decompression bomb
PHOTO_EXTENSIONS: Final = (".jpg", ".jpeg", ".png")
_EXIF_ORIENTATION: Final = 0x0112
JPEG: Final = "image/jpeg"
PNG: Final = "image/png"


# --- the columns --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One column of the template: its field, Chinese name, accepted header spellings and help."""

    field: str
    zh: str
    required: bool
    aliases: tuple[str, ...]
    help_zh: str
    help_en: str
    example: str
    width: int

    @property
    def header(self) -> str:
        """The header as the template writes it: ``姓名 (name)``."""
        return f"{self.zh} ({self.field})"


COLUMNS: Final = (
    Column(
        "name",
        "姓名",
        True,
        ("考生姓名", "名字"),
        "与身份证一致。两个字的姓名中间为对齐留的空格读入时去掉。不得含数字。",
        "As on the ID card; spaces inside a Chinese name are removed; no digits.",
        "张  伟",
        10,
    ),
    Column(
        "id_number",
        "身份证号",
        True,
        ("身份证号码", "身份证", "公民身份号码", "证件号码", "身份证件号码", "idnumber", "id_no"),
        "18位居民身份证号码，按GB 11643核对出生日期和校验位；末位X大小写均可。"
        "本列必须设置为“文本”格式，否则Excel会把号码变成3.70102E+17并丢掉末尾几位。",
        "18-character resident ID number (GB 11643 check). Format the column as text in Excel.",
        "370102199003071238",
        22,
    ),
    Column(
        "gender",
        "性别",
        False,
        ("sex",),
        "选填：男或女。填写时须与身份证号第17位一致（奇数为男，偶数为女）；不填按身份证号确定。",
        "Optional: 男/女; must agree with the 17th digit of the ID number (odd 男, even 女).",
        "男",
        6,
    ),
    Column(
        "occupation",
        "职业",
        True,
        ("职业(工种)", "工种", "申报职业", "申报工种", "职业名称", "职业工种", "job"),
        "职业（工种）名称，如化工总控工，或职业编码；须为本批次开设的职业。",
        "Occupation name (e.g. 化工总控工) or its code; one the centre offers.",
        "化工总控工",
        14,
    ),
    Column(
        "level",
        "等级",
        True,
        ("级别", "申报等级", "申报级别", "技能等级", "职业技能等级"),
        "5、4、3、2、1，或五级…一级，或初级、中级、高级、技师、高级技师，或初级工、中级工、高级工。",
        "5 4 3 2 1; 五级…一级; 初级 中级 高级 技师 高级技师; 初级工 中级工 高级工.",
        "四级/中级工",
        12,
    ),
    Column(
        "education",
        "文化程度",
        False,
        ("学历", "最高学历"),
        "选填：" + "、".join(EDUCATION_LEVELS) + "之一。",
        "Optional: one of " + " ".join(EDUCATION_LEVELS) + ".",
        "高中",
        10,
    ),
    Column(
        "certificates",
        "现持证书",
        False,
        ("现有证书", "已取得证书", "持有证书", "已有证书", "现持有证书", "原证书", "certificate"),
        "选填：已取得的职业资格证书或职业技能等级证书，如“化工总控工 五级 2021”。",
        "Optional: certificates already held, free text.",
        "化工总控工 五级 2021",
        24,
    ),
    Column(
        "work_years",
        "工作年限",
        False,
        ("本职业工作年限", "从业年限", "工龄", "workyears", "years"),
        f"选填：本职业（工种）累计工作年限，0–{MAX_WORK_YEARS}的整数。",
        f"Optional: whole years worked in the occupation, 0–{MAX_WORK_YEARS}.",
        "6",
        10,
    ),
    Column(
        "phone",
        "手机",
        False,
        ("手机号", "手机号码", "联系电话", "电话", "联系方式", "mobile"),
        "选填：11位手机号码，以1开头。",
        "Optional: 11-digit mobile number starting with 1.",
        "13805311234",
        14,
    ),
    Column(
        "employer",
        "单位",
        False,
        ("工作单位", "单位名称", "所在单位", "company"),
        "选填：工作单位全称。",
        "Optional: employer, free text.",
        "济南某某化工有限公司",
        28,
    ),
    Column(
        "photo",
        "照片",
        False,
        ("照片文件", "照片文件名", "相片", "photo_file"),
        "选填：照片文件名，照片另行上传（JPEG或PNG，不超过2 MB，至少100×120像素，竖版），"
        "文件名宜用身份证号，如370102199003071238.jpg。",
        "Optional: photo file name; photos are uploaded separately (JPEG/PNG, ≤ 2 MB, ≥ 100×120, portrait).",
        "370102199003071238.jpg",
        26,
    ),
)
COLUMN_BY_FIELD: Final = {column.field: column for column in COLUMNS}
REQUIRED_FIELDS: Final = tuple(column.field for column in COLUMNS if column.required)
HEADERS: Final = tuple(column.header for column in COLUMNS)


def _nfkc(value: str) -> str:
    return unicodedata.normalize("NFKC", value)


def _lookup_keys() -> dict[str, str]:
    keys: dict[str, str] = {}
    for column in COLUMNS:
        for alias in (column.zh, column.field, column.header, *column.aliases):
            keys[header_key(_nfkc(alias))] = column.field
    return keys


_HEADER_LOOKUP: Final = _lookup_keys()


def _field_of_header(raw: object) -> str | None:
    """The field a header cell names: ``姓名 (name)``, ``姓名（name）``, ``姓名*``, ``姓名``, ``name``…"""
    key = header_key(_nfkc(spreadsheets.text(raw))).strip("*")
    if not key:
        return None
    if key in _HEADER_LOOKUP:
        return _HEADER_LOOKUP[key]
    bracketed = re.fullmatch(r"(.+?)\((.+)\)", key)
    if bracketed is not None:
        for part in bracketed.groups():
            part = part.strip("*")
            if part in _HEADER_LOOKUP:
                return _HEADER_LOOKUP[part]
    return None


# --- results ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowError:
    """One problem of one row. ``row`` is the row as the spreadsheet numbers it (the header is
    usually row 1) or the csv record number; 0 means the file as a whole. ``field`` is a field
    of :data:`COLUMNS` (``id_number`` …) or, for row 0, what is wrong (``format``, ``columns``…)."""

    row: int
    field: str
    message: str

    @property
    def column(self) -> str:
        """The column as the template heads it (``身份证号 (id_number)``), else the field."""
        column = COLUMN_BY_FIELD.get(self.field)
        return column.header if column is not None else self.field

    def __str__(self) -> str:
        where = f"row {self.row}" if self.row else "file"
        return f"{where}, {self.column}: {self.message}"


@dataclass(frozen=True)
class RegistrationRow:
    """One good application row, normalised: gender always set (from the ID number when the file
    has none), level 5…1, occupation the code of ``known_occupations`` (else the text as typed,
    spaces removed), optional fields None when empty."""

    row: int
    name: str
    id_number: str
    gender: str
    occupation: str
    level: int
    education: str | None = None
    certificates: str | None = None
    work_years: int | None = None
    phone: str | None = None
    employer: str | None = None
    photo: str | None = None

    @property
    def birth_date(self) -> date:
        return birth_date_of(self.id_number)


@dataclass(frozen=True)
class RegistrationRead:
    """What a file holds: the good rows (in file order) and every error (by row). ``fatal`` when
    the file as a whole could not be read; then there are no rows at all."""

    rows: list[RegistrationRow]
    errors: list[RowError]
    warnings: list[str]
    rows_read: int  # non-empty data rows found, good and bad
    fatal: bool = False
    encoding: str | None = None  # of a csv: utf-8, utf-16 or gb18030

    @property
    def ok(self) -> bool:
        """Nothing wrong: every row may be imported."""
        return not self.errors and not self.fatal

    @property
    def bad_rows(self) -> frozenset[int]:
        return frozenset(error.row for error in self.errors if error.row)


def _refuse(field: str, message: str, warnings_: Sequence[str] = (), encoding: str | None = None) -> RegistrationRead:
    return RegistrationRead([], [RowError(0, field, message)], list(warnings_), 0, fatal=True, encoding=encoding)


# --- single values ----------------------------------------------------------------------------------


def gender_of(id_number: str) -> str:
    """男 or 女 from the 17th character of a resident ID number (odd: 男, even: 女)."""
    number = normalise_id_number(id_number)
    if len(number) < 17 or not ("0" <= number[16] <= "9"):
        raise ValueError(f"{id_number!r} is not an ID number with a 17th digit")
    return MALE if int(number[16]) % 2 else FEMALE


def age_on(born: date, day: date) -> int:
    """Whole years of age on ``day`` (a birthday counts from that day)."""
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


_LEVEL_ALIASES: Final = {word: level for level, words in _LEVEL_WORDS.items() for word in words}


def level_of(raw: str) -> int | None:
    """The level 5…1 of any spelling the offices use (4, 四级, 中级, 中级工, 四级/中级工…), or None."""
    key = re.sub(r"\s+", "", _nfkc(raw)).lower()
    if key.endswith(".0"):
        key = key[:-2]
    found = _LEVEL_ALIASES.get(key)
    if found is not None:
        return found
    parts = [part for part in re.split(r"[/()、,;|\\-]+", key) if part]
    levels = {_LEVEL_ALIASES.get(part) for part in parts}
    if len(parts) > 1 and len(levels) == 1:
        return levels.pop()
    return None


def education_of(raw: str) -> str | None:
    """The canonical education (文化程度) of a spelling, or None when it is not on the list."""
    key = re.sub(r"\s+", "", _nfkc(raw))
    if key in EDUCATION_LEVELS:
        return key
    if key.endswith(("毕业", "学历")):
        key = key[:-2]
    if key in EDUCATION_LEVELS:
        return key
    return _EDUCATION_ALIASES.get(key)


_GENDERS: Final = {
    "男": MALE,
    "男性": MALE,
    "m": MALE,
    "male": MALE,
    "女": FEMALE,
    "女性": FEMALE,
    "f": FEMALE,
    "female": FEMALE,
}


def _free_text(raw: str) -> str:
    """Trimmed, runs of white space (line breaks and ideographic spaces included) made one space."""
    return " ".join(raw.split())


_NAME_DOTS: Final = str.maketrans(dict.fromkeys("•・‧∙⋅●.．", "·"))


def normalise_name(raw: str) -> str:
    """A name as stored: NFKC, one kind of middle dot (少数民族 names), no spaces next to Chinese
    characters (``张  三`` → ``张三``), other runs of spaces made one."""
    name = " ".join(_nfkc(raw).translate(_NAME_DOTS).split())
    return re.sub(r"(?<=[^\x00-\x7f]) | (?=[^\x00-\x7f])", "", name)


def normalise_phone(raw: str) -> str:
    phone = re.sub(r"[\s\-()]", "", _nfkc(raw))
    if phone.startswith("+86"):
        phone = phone[3:]
    elif phone.startswith("0086"):
        phone = phone[4:]
    elif phone.startswith("86") and len(phone) == 13:
        phone = phone[2:]
    return phone


def _occupation_key(raw: str) -> str:
    return re.sub(r"\s+", "", _nfkc(raw)).casefold()


_SCIENTIFIC: Final = re.compile(r"\d+(\.\d*)?E\+?\d+")


def _excel_number_problem(value: object, shown: str) -> str | None:
    """An ID number that Excel took for a number has lost its last digits; nothing can bring
    them back, so say how to keep the column as text."""
    hint = (
        "format the 身份证号 column as text (设置单元格格式 → 文本) and type or paste the numbers again "
        "(a number cell keeps 15 digits only)"
    )
    if isinstance(value, float):
        return f"the ID number was typed as a number ({value:.6G}) and has lost digits: {hint}"
    if _SCIENTIFIC.fullmatch(shown.upper()):
        return f"the ID number is written as the number {shown}, which has lost digits: {hint}"
    return None


# --- reading ----------------------------------------------------------------------------------------


@dataclass
class _Checked:
    """The problems of one row, as its values are checked."""

    row: int
    problems: list[RowError]

    def fail(self, field: str, message: str) -> None:
        self.problems.append(RowError(self.row, field, message))


class _Reader:
    """Checks and normalises rows, one at a time; duplicates are found afterwards over the good rows."""

    def __init__(
        self,
        known_occupations: Mapping[str, str] | None,
        exam_date: date | None,
        min_age: int,
    ) -> None:
        self.exam_date = exam_date
        self.min_age = min_age
        self.known: dict[str, str] | None = None
        self.known_names: list[str] = []
        if known_occupations is not None:
            self.known = {_occupation_key(key): value for key, value in known_occupations.items()}
            names = sorted(key for key in known_occupations if not key.isascii())
            self.known_names = names or sorted(known_occupations)

    def check(self, row: int, raw: Mapping[str, Cell]) -> tuple[RegistrationRow | None, list[RowError]]:
        checked = _Checked(row, [])
        texts: dict[str, str] = {}
        for field, cell in raw.items():
            problem = cell_problem(cell)
            if problem is not None:
                checked.fail(field, problem)
                continue
            shown = spreadsheets.text(cell.value)
            if shown.startswith("="):
                checked.fail(field, f"{shown[:20]!r} looks like a formula; type the value instead")
                continue
            texts[field] = shown
        failed = {p.field for p in checked.problems}
        number = self._id_number(checked, raw.get("id_number"), texts.get("id_number", ""), failed)
        name = self._name(checked, texts.get("name", ""), failed)
        gender = self._gender(checked, texts.get("gender", ""), number)
        occupation = self._occupation(checked, texts.get("occupation", ""), failed)
        level = self._level(checked, texts.get("level", ""), failed)
        education = self._education(checked, texts.get("education", ""))
        work_years = self._work_years(checked, texts.get("work_years", ""))
        phone = self._phone(checked, texts.get("phone", ""))
        photo = self._photo(checked, texts.get("photo", ""))
        certificates = _free_text(texts.get("certificates", "")) or None
        employer = _free_text(texts.get("employer", "")) or None
        if employer is not None and len(employer) > 200:
            checked.fail("employer", f"at most 200 characters, this has {len(employer)}")
        if checked.problems:
            return None, checked.problems
        assert number is not None and name is not None and gender is not None
        assert occupation is not None and level is not None
        return (
            RegistrationRow(
                row=row,
                name=name,
                id_number=number,
                gender=gender,
                occupation=occupation,
                level=level,
                education=education,
                certificates=certificates,
                work_years=work_years,
                phone=phone,
                employer=employer,
                photo=photo,
            ),
            [],
        )

    def _id_number(self, checked: _Checked, cell: Cell | None, shown: str, failed: set[str]) -> str | None:
        if "id_number" in failed:
            return None
        if not shown:
            checked.fail("id_number", "the ID number is missing")
            return None
        problem = _excel_number_problem(cell.value if cell is not None else None, shown)
        if problem is not None:
            checked.fail("id_number", problem)
            return None
        found = check_id_number(shown, today=self.exam_date)
        number = normalise_id_number(shown)
        if found is not None:
            message = f"{number}: {found.message}"
            if found.code == "checksum" and number.endswith("000"):
                message += (
                    "; it ends in 000, as when Excel turned it into a number: format the column as text "
                    "and type the number again"
                )
            checked.fail("id_number", message)
            return None
        if self.exam_date is not None:
            born = birth_date_of(number)
            age = age_on(born, self.exam_date)
            if age < self.min_age:
                checked.fail(
                    "id_number",
                    f"the candidate (born {born.isoformat()}) is {age} on the exam date "
                    f"{self.exam_date.isoformat()}; candidates must be at least {self.min_age} (legal working age)",
                )
                return None
        return number

    def _name(self, checked: _Checked, shown: str, failed: set[str]) -> str | None:
        if "name" in failed:
            return None
        name = normalise_name(shown)
        if not name:
            checked.fail("name", "the name is missing")
            return None
        if any(c.isdigit() for c in name):
            checked.fail("name", f"{name!r} contains digits; are the columns shifted?")
            return None
        if len(name) > 64:
            checked.fail("name", f"at most 64 characters, this has {len(name)}")
            return None
        return name

    def _gender(self, checked: _Checked, shown: str, number: str | None) -> str | None:
        given: str | None = None
        if shown:
            given = _GENDERS.get(re.sub(r"\s+", "", _nfkc(shown)).lower())
            if given is None:
                checked.fail("gender", f"{shown!r} is not a gender: write 男 or 女 (or leave it empty)")
                return None
        if number is None:
            return given
        derived = gender_of(number)
        if given is not None and given != derived:
            parity = "odd" if derived == MALE else "even"
            checked.fail(
                "gender",
                f"{given} does not agree with the ID number {number}: its 17th digit {number[16]} is {parity}, "
                f"which means {derived}",
            )
            return None
        return derived

    def _occupation(self, checked: _Checked, shown: str, failed: set[str]) -> str | None:
        if "occupation" in failed:
            return None
        typed = re.sub(r"\s+", "", _nfkc(shown))
        if not typed:
            checked.fail("occupation", "the occupation is missing")
            return None
        if self.known is None:
            return typed
        found = self.known.get(_occupation_key(typed))
        if found is None:
            names = "、".join(self.known_names[:12]) + (" …" if len(self.known_names) > 12 else "")
            offered = f"; known occupations: {names}" if names else "; no occupation is set up yet"
            checked.fail("occupation", f"unknown occupation {typed!r} (write its name or code){offered}")
        return found

    def _level(self, checked: _Checked, shown: str, failed: set[str]) -> int | None:
        if "level" in failed:
            return None
        if not shown:
            checked.fail("level", "the level is missing")
            return None
        level = level_of(shown)
        if level is None:
            checked.fail(
                "level", f"{shown!r} is not a level: write 5 to 1, 五级 to 一级, or 初级/中级/高级/技师/高级技师"
            )
        return level

    def _education(self, checked: _Checked, shown: str) -> str | None:
        if not shown:
            return None
        education = education_of(shown)
        if education is None:
            checked.fail("education", f"{shown!r} is not on the list: {'、'.join(EDUCATION_LEVELS)}")
        return education

    def _work_years(self, checked: _Checked, shown: str) -> int | None:
        if not shown:
            return None
        text = _nfkc(shown).strip()
        text = re.sub(r"\s*(年|years?|yrs?)$", "", text, flags=re.IGNORECASE)
        try:
            value = Decimal(text)
        except InvalidOperation:
            checked.fail("work_years", f"{shown!r} is not a number of years")
            return None
        if not value.is_finite() or value != value.to_integral_value():
            checked.fail("work_years", f"{shown!r}: write whole years (0 to {MAX_WORK_YEARS})")
            return None
        if not 0 <= value <= MAX_WORK_YEARS:
            checked.fail("work_years", f"{shown!r} is out of range: 0 to {MAX_WORK_YEARS} years")
            return None
        return int(value)

    def _phone(self, checked: _Checked, shown: str) -> str | None:
        if not shown:
            return None
        phone = normalise_phone(shown)
        if not re.fullmatch(r"1\d{10}", phone):
            checked.fail("phone", f"{shown!r} is not a mobile number (11 digits starting with 1)")
            return None
        return phone

    def _photo(self, checked: _Checked, shown: str) -> str | None:
        if not shown:
            return None
        name = re.split(r"[\\/]", shown.strip())[-1].strip()
        if not name.lower().endswith(PHOTO_EXTENSIONS):
            checked.fail("photo", f"{shown!r} is not the name of a .jpg or .png file")
            return None
        return name


def _header_row(rows: Sequence[Row]) -> tuple[int, dict[int, str], list[str]] | None:
    """(index into ``rows``, column index → field, problems) of the header row, found among the
    first rows as the first that names at least two known columns; None when there is none."""
    for index, (_, cells) in enumerate(rows[:HEADER_SEARCH_ROWS]):
        columns: dict[int, str] = {}
        seen: dict[str, str] = {}
        problems: list[str] = []
        for position, cell in enumerate(cells):
            field = _field_of_header(cell.value)
            if field is None:
                continue
            letter = re.sub(r"\d+", "", cell.ref)
            if field in seen:
                problems.append(
                    f"the column {COLUMN_BY_FIELD[field].header} appears twice ({seen[field]} and {letter})"
                )
                continue
            seen[field] = letter
            columns[position] = field
        if len(columns) >= 2:
            return index, columns, problems
    return None


def _read_rows(
    rows: Sequence[Row],
    source: str,
    reader: _Reader,
    warnings_: list[str],
    progress: Progress | None,
    encoding: str | None,
) -> RegistrationRead:
    found = _header_row(rows)
    expected = ", ".join(COLUMN_BY_FIELD[field].header for field in REQUIRED_FIELDS)
    if found is None:
        return _refuse(
            "columns",
            f"no header row found: the first row must hold the column names ({expected}, …)",
            warnings_,
            encoding,
        )
    index, columns, problems = found
    header_number, header = rows[index]
    if problems:
        return _refuse("columns", f"header row {header_number}: " + "; ".join(problems), warnings_, encoding)
    missing = [COLUMN_BY_FIELD[field].header for field in REQUIRED_FIELDS if field not in columns.values()]
    if missing:
        return _refuse(
            "columns",
            f"header row {header_number} lacks the required column(s) {', '.join(missing)}",
            warnings_,
            encoding,
        )
    for position, cell in enumerate(header):
        if position not in columns and not cell.empty:
            warnings_.append(f"{source}: column {spreadsheets.text(cell.value)!r} is not used")

    data: list[tuple[int, dict[str, Cell]]] = []
    for number, cells in rows[index + 1 :]:
        raw = {field: cells[position] for position, field in columns.items() if position < len(cells)}
        if all(cell.empty for cell in raw.values()):
            continue
        data.append((number, raw))

    total = len(data)
    good: list[RegistrationRow] = []
    errors: list[RowError] = []
    for done, (number, raw) in enumerate(data, start=1):
        row, problems_ = reader.check(number, raw)
        if row is not None:
            good.append(row)
        errors.extend(problems_)
        if progress is not None and (done % PROGRESS_EVERY == 0 or done == total):
            progress(done, total)
    good, duplicate_errors = _duplicates(good)
    errors.extend(duplicate_errors)
    errors.sort(key=lambda e: (e.row, list(COLUMN_BY_FIELD).index(e.field) if e.field in COLUMN_BY_FIELD else 99))
    return RegistrationRead(good, errors, warnings_, total, fatal=False, encoding=encoding)


def _rows_text(numbers: Sequence[int]) -> str:
    if len(numbers) == 1:
        return str(numbers[0])
    return ", ".join(str(n) for n in numbers[:-1]) + f" and {numbers[-1]}"


def _duplicates(rows: list[RegistrationRow]) -> tuple[list[RegistrationRow], list[RowError]]:
    """Refuse the same ID number for the same occupation on more than one row, and one ID number
    under different names; every row concerned is named."""
    by_number: dict[str, list[RegistrationRow]] = {}
    for row in rows:
        by_number.setdefault(row.id_number, []).append(row)
    errors: list[RowError] = []
    bad: set[int] = set()
    for number, same in by_number.items():
        if len(same) < 2:
            continue
        names = sorted({row.name for row in same})
        if len(names) > 1:
            where = _rows_text([row.row for row in same])
            for row in same:
                errors.append(
                    RowError(
                        row.row, "id_number", f"{number} is on rows {where} under different names: {'、'.join(names)}"
                    )
                )
                bad.add(row.row)
            continue
        by_occupation: dict[str, list[RegistrationRow]] = {}
        for row in same:
            by_occupation.setdefault(row.occupation, []).append(row)
        for occupation, twice in by_occupation.items():
            if len(twice) < 2:
                continue
            where = _rows_text([row.row for row in twice])
            for row in twice:
                errors.append(
                    RowError(row.row, "id_number", f"{number} applies for {occupation} more than once: rows {where}")
                )
                bad.add(row.row)
    return [row for row in rows if row.row not in bad], errors


def _file_kind(data: bytes, filename: str) -> str:
    suffix = Path(filename).suffix.lower()
    if data.startswith(b"PK\x03\x04"):
        return "xlsx"
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        return "xls"
    if suffix in (".xlsx", ".xlsm", ".xls"):
        return "not_xlsx"
    return "csv"


def read_registrations(
    data: bytes,
    filename: str,
    *,
    known_occupations: Mapping[str, str] | None = None,
    exam_date: date | None = None,
    progress: Progress | None = None,
    min_age: int = MIN_AGE,
) -> RegistrationRead:
    """Read and check a registration file (.xlsx or .csv, told apart by content).

    ``known_occupations`` maps an occupation name or code to the value stored in
    :attr:`RegistrationRow.occupation` (the code); when given, other occupations are errors.
    ``exam_date`` enables the age check (at least ``min_age`` on that day). ``progress(done,
    total)`` is called every 100 rows and at the end."""
    reader = _Reader(known_occupations, exam_date, min_age)
    if not data.strip():
        return _refuse("format", "the file is empty")
    kind = _file_kind(data, filename)
    if kind == "xls":
        return _refuse(
            "format",
            "this is an old Excel 97-2003 workbook (.xls) or a password-protected one: "
            "open it in Excel and save it as Excel Workbook (.xlsx) without a password, or as CSV UTF-8",
        )
    if kind == "not_xlsx":
        return _refuse("format", "not an Excel workbook (.xlsx); open it in Excel and save it as Excel Workbook")
    if kind == "xlsx":
        return _read_xlsx(data, filename, reader, progress)
    return _read_csv(data, filename, reader, progress)


def _read_csv(data: bytes, source: str, reader: _Reader, progress: Progress | None) -> RegistrationRead:
    warnings_: list[str] = []
    decoded = spreadsheets.decode_csv(data, utf16=True)
    if decoded is None:
        return _refuse(
            "encoding", "the file is neither UTF-8 nor GBK/GB18030 text; save it as 'CSV UTF-8 (comma delimited)'"
        )
    text, encoding = decoded
    if "\x00" in text:
        return _refuse("format", "not a text file: save the list as Excel Workbook (.xlsx) or CSV", (), encoding)
    if encoding == spreadsheets.GB18030:
        warnings_.append(f"{source}: read as GBK/GB18030 text")
    try:
        rows = spreadsheets.csv_rows(text)
    except csv.Error as exc:
        return _refuse("format", f"not a readable CSV file: {exc}", warnings_, encoding)
    return _read_rows(rows, source, reader, warnings_, progress, encoding)


def _read_xlsx(data: bytes, source: str, reader: _Reader, progress: Progress | None) -> RegistrationRead:
    warnings_: list[str] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            workbook = load_workbook(io.BytesIO(data), data_only=False)
    except Exception:  # openpyxl raises many kinds (BadZipFile, KeyError, XML errors) for a non-workbook
        return _refuse("format", "not an Excel workbook (.xlsx); open it in Excel and save it as Excel Workbook")
    warnings_.extend(f"{source}: {w.message}" for w in caught)
    try:
        sheets = list(workbook.worksheets)
        preferred = {header_key(name) for name in _SHEET_PREFERRED}
        skipped = {header_key(name) for name in _SHEET_SKIPPED}
        ordered = [ws for ws in sheets if header_key(ws.title) in preferred] + [
            ws for ws in sheets if header_key(ws.title) not in preferred | skipped
        ]
        if not ordered:
            return _refuse(
                "sheets", f"no sheet of registrations (sheets found: {', '.join(ws.title for ws in sheets)})"
            )
        chosen: tuple[Worksheet, list[Row]] | None = None
        for ws in ordered:
            rows = spreadsheets.sheet_rows(ws)
            if _header_row(rows) is not None:
                chosen = (ws, rows)
                break
        if chosen is None:
            chosen = (ordered[0], spreadsheets.sheet_rows(ordered[0]))
        elif len(ordered) > 1:
            warnings_.append(f"{source}: registrations read from sheet {chosen[0].title}")
        return _read_rows(chosen[1], source, reader, warnings_, progress, None)
    finally:
        workbook.close()


# --- writing ----------------------------------------------------------------------------------------

_GENERAL_HELP_ZH: Final = (
    "每行是一名考生申报一个职业（工种）的一个等级；同一人申报两个职业时写两行，姓名须相同。",
    "第一行是列名，请勿改动；可以只保留需要的选填列，列的顺序不限。",
    "“身份证号”和“手机”两列须为文本格式；从别处粘贴时请用“选择性粘贴 → 数值”。",
    f"考生在考试日须年满{MIN_AGE}周岁（劳动法第十五条）。",
    "有任何一行出错时整份文件不导入，系统列出每个出错的行和列；也可选择跳过出错的行。",
    "照片另行上传：JPEG或PNG，不超过2 MB，至少100×120像素，竖版；文件名用身份证号，如370102199003071238.jpg。",
)


def _template_workbook() -> Workbook:
    workbook = Workbook()
    sheet = workbook.active
    assert isinstance(sheet, Worksheet)
    sheet.title = SHEET_REGISTRATIONS
    spreadsheets.put_row(sheet, HEADERS, bold=True)
    for index, column in enumerate(COLUMNS, start=1):
        letter = get_column_letter(index)
        sheet.column_dimensions[letter].width = column.width
        if column.field in ("id_number", "phone", "name", "photo", "certificates", "employer"):
            sheet.column_dimensions[letter].number_format = "@"  # Excel keeps typed numbers as text
    sheet.freeze_panes = "A2"
    choices = {
        "gender": f"{MALE},{FEMALE}",
        "level": ",".join(LEVEL_NAMES[level] for level in (5, 4, 3, 2, 1)),
        "education": ",".join(EDUCATION_LEVELS),
    }
    for index, column in enumerate(COLUMNS, start=1):
        if column.field in choices:
            letter = get_column_letter(index)
            validation = DataValidation(
                type="list", formula1=f'"{choices[column.field]}"', allow_blank=True, showErrorMessage=False
            )
            validation.add(f"{letter}2:{letter}5000")
            sheet.add_data_validation(validation)

    helps = workbook.create_sheet(SHEET_HELP)
    spreadsheets.put_row(helps, ["考生报名表填写说明 (registration file: how to fill it in)"], bold=True)
    for line in _GENERAL_HELP_ZH:
        spreadsheets.put_row(helps, [line])
    spreadsheets.put_row(helps, [])
    spreadsheets.put_row(
        helps, ["列名 (column)", "必填 (required)", "说明", "Explanation", "示例 (example)"], bold=True
    )
    for column in COLUMNS:
        spreadsheets.put_row(
            helps,
            [column.header, "必填" if column.required else "选填", column.help_zh, column.help_en, column.example],
        )
    for letter, width in zip("ABCDE", (20, 14, 60, 50, 24), strict=True):
        helps.column_dimensions[letter].width = width
    for row in helps.iter_rows(min_row=len(_GENERAL_HELP_ZH) + 4, min_col=3, max_col=4):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    helps["A1"].font = Font(bold=True, size=13)
    return workbook


def _workbook_bytes(workbook: Workbook) -> bytes:
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def template_xlsx() -> bytes:
    """The empty template workbook: sheet 报名表 (header row) and sheet 说明."""
    return _workbook_bytes(_template_workbook())


def template_csv() -> bytes:
    """The header row as csv, UTF-8 with BOM (so Excel shows the Chinese)."""
    return _csv_bytes([list(HEADERS)])


def write_template(path: Path | str) -> None:
    """Write the template as ``.xlsx`` or ``.csv``, by the path's suffix."""
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix == ".xlsx":
        target.write_bytes(template_xlsx())
    elif suffix == ".csv":
        target.write_bytes(template_csv())
    else:
        raise ValueError(f"write the template as .xlsx or .csv, not {suffix or 'without a suffix'}")


def _cells_of(row: RegistrationRow) -> list[object]:
    values: dict[str, object] = {
        "name": row.name,
        "id_number": row.id_number,
        "gender": row.gender,
        "occupation": row.occupation,
        "level": row.level,
        "education": row.education or "",
        "certificates": row.certificates or "",
        "work_years": "" if row.work_years is None else row.work_years,
        "phone": row.phone or "",
        "employer": row.employer or "",
        "photo": row.photo or "",
    }
    return [values[column.field] for column in COLUMNS]


def _csv_bytes(records: Iterable[Sequence[object]], encoding: str = "utf-8-sig") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for record in records:
        writer.writerow(["" if value is None else str(value) for value in record])
    return out.getvalue().encode(encoding)


def registrations_csv(rows: Iterable[RegistrationRow], *, encoding: str = "utf-8-sig") -> bytes:
    """Rows in the template's columns as csv (UTF-8 with BOM unless told otherwise, e.g. gbk)."""
    return _csv_bytes([list(HEADERS), *(_cells_of(row) for row in rows)], encoding)


def registrations_xlsx(rows: Iterable[RegistrationRow]) -> bytes:
    """Rows in the template workbook (ID numbers and phones as text)."""
    workbook = _template_workbook()
    sheet = workbook[SHEET_REGISTRATIONS]
    for row in rows:
        spreadsheets.put_row(sheet, _cells_of(row))
    return _workbook_bytes(workbook)


# --- photos -----------------------------------------------------------------------------------------


def photo_content_type(data: bytes) -> str | None:
    """image/jpeg or image/png by the file's first bytes, else None."""
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    return None


def photo_problem(
    data: bytes,
    filename: str = "",
    *,
    max_bytes: int = MAX_PHOTO_BYTES,
    min_width: int = MIN_PHOTO_WIDTH,
    min_height: int = MIN_PHOTO_HEIGHT,
) -> str | None:
    """Why an uploaded photo cannot be a candidate's photo, or None. Judged by content, not by
    ``filename`` (used in no message: the caller names the file): a complete JPEG or PNG of at
    most ``max_bytes``, at least ``min_width`` × ``min_height`` pixels, portrait (height at least
    the width, at most twice it)."""
    del filename  # the type is told by content; kept for callers that have it
    if not data:
        return "the file is empty"
    if len(data) > max_bytes:
        return f"the file has {len(data) / 1024 / 1024:.1f} MB; at most {max_bytes / 1024 / 1024:g} MB is allowed"
    kind = photo_content_type(data)
    if kind is None:
        return "not a JPEG or PNG image (the type is told by the content, not the file name)"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                if width * height > MAX_PHOTO_PIXELS:
                    return f"the image is {width}×{height} pixels, far too large for a photo"
                image.verify()
            with Image.open(io.BytesIO(data)) as image:
                if image.getexif().get(_EXIF_ORIENTATION) in (5, 6, 7, 8):
                    width, height = height, width  # shown turned by a quarter (a phone held upright)
                if image.format == "JPEG":
                    image.draft("RGB", (min_width, min_height))  # decode at a reduced scale: faster
                image.load()  # verify() does not decode JPEG data: a truncated file fails here
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombWarning) as exc:
        return f"the image is damaged or incomplete ({type(exc).__name__})"
    except Image.DecompressionBombError:
        return "the image is far too large for a photo"
    if width < min_width or height < min_height:
        return f"the image is {width}×{height} pixels; at least {min_width}×{min_height} is needed"
    if not width <= height <= 2 * width:
        return f"the image is {width}×{height} pixels; a photo is upright (portrait), like 358×441"
    return None


@dataclass(frozen=True)
class PhotoNames:
    """Uploaded photo file names matched to candidates by ID number."""

    matched: dict[str, str]  # ID number → file name
    unmatched: list[tuple[str, str]]  # (file name, why it matches nobody)
    missing: list[str]  # ID numbers with no photo among the files
    ignored: list[str]  # folders and system files of a zip (__MACOSX, .DS_Store, Thumbs.db)

    @property
    def ok(self) -> bool:
        return not self.unmatched


_ID_IN_NAME: Final = re.compile(r"(?<![0-9])[0-9]{17}[0-9X](?![0-9])")
_SYSTEM_FILES: Final = frozenset({"thumbs.db", "desktop.ini"})


def _base_name(name: str) -> str:
    return PurePosixPath(name.replace("\\", "/")).name


def match_photo_names(
    filenames: Iterable[str],
    id_numbers: Iterable[str],
    *,
    listed: Mapping[str, str] | None = None,
) -> PhotoNames:
    """Map photo files to candidates: a file given in a row's 照片 column (``listed``: file name
    → ID number, compared without case) belongs to that row's candidate; otherwise the file must
    be named by the ID number (``370102199003071238.jpg``; text around it, e.g. the name, is
    allowed). Paths inside a zip are reduced to the file name."""
    wanted = [normalise_id_number(number) for number in id_numbers]
    known = set(wanted)
    by_listing = {_base_name(name).casefold(): normalise_id_number(number) for name, number in (listed or {}).items()}
    matched: dict[str, str] = {}
    unmatched: list[tuple[str, str]] = []
    ignored: list[str] = []
    for filename in filenames:
        base = _base_name(filename)
        parts = filename.replace("\\", "/").split("/")
        if not base or filename.endswith(("/", "\\")) or "__MACOSX" in parts:
            ignored.append(filename)
            continue
        if base.startswith(".") or base.casefold() in _SYSTEM_FILES:
            ignored.append(filename)
            continue
        if not base.lower().endswith(PHOTO_EXTENSIONS):
            unmatched.append((filename, "not a .jpg or .png file"))
            continue
        number = by_listing.get(base.casefold())
        if number is None:
            found = _ID_IN_NAME.findall(_nfkc(PurePosixPath(base).stem).upper())
            if len(found) != 1:
                unmatched.append((filename, "not named by an ID number (name it like 370102199003071238.jpg)"))
                continue
            number = found[0]
            problem = check_id_number(number)
            if problem is not None:
                unmatched.append((filename, f"{number}: {problem.message}"))
                continue
        if number not in known:
            unmatched.append((filename, f"no candidate has the ID number {number}"))
            continue
        if number in matched:
            unmatched.append((filename, f"a second photo for {number} (the first is {matched[number]})"))
            continue
        matched[number] = filename
    missing = [number for number in dict.fromkeys(wanted) if number not in matched]
    return PhotoNames(matched, unmatched, missing, ignored)
