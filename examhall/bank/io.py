"""Question-bank files (R-BANK-5): read, validate and write a bank version.

Formats (documented field by field in ``question_bank/README.md``):

- the canonical folder: ``bank.yaml`` (occupation, standard, levels, knowledge-point tree),
  ``items/L{level}-{top kp}.yaml`` and ``blueprint-L{level}.yaml``, for version control;
- the same content as one JSON file (``examhall-bank/1``);
- the spreadsheet exam offices keep their banks in: an ``.xlsx`` workbook (sheets 题库信息,
  细目表, 试题, 组卷计划) or a ``.csv`` of items only (the columns of the 试题 sheet).

Every item goes through :func:`examhall.bank.rules.check_item`; every bad row is reported as a
:class:`RowError` with its row number and reason, and :class:`ReadResult` keeps only the good
items, so a caller that was asked to skip bad rows can store it. Pure file handling: no
database, no web framework.
"""

from __future__ import annotations

import csv
import json
import re
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import yaml
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from examhall.bank import rules
from examhall.bank.rules import ItemDraft
from examhall.spreadsheets import GB18030, csv_rows, decode_csv
from examhall.spreadsheets import Cell as _Cell
from examhall.spreadsheets import Row as _Row
from examhall.spreadsheets import cell_problem as _cell_problem
from examhall.spreadsheets import header_key as _header_key
from examhall.spreadsheets import header_lookup as _header_lookup
from examhall.spreadsheets import map_columns as _map_columns
from examhall.spreadsheets import put_row as _put_row
from examhall.spreadsheets import sheet_rows as _sheet_rows
from examhall.spreadsheets import text as _text

FORMAT: Final = "examhall-bank/1"
BLUEPRINT_FORMAT: Final = "examhall-blueprint/1"

# --- the documents -----------------------------------------------------------------------------


@dataclass(frozen=True)
class KnowledgePointDoc:
    """A node of the knowledge-point tree (细目表). ``position`` is its index in document order
    (parents before children)."""

    code: str
    name: str
    parent: str | None
    position: int


@dataclass(frozen=True)
class LevelDoc:
    level: int
    name: str
    name_en: str


@dataclass(frozen=True)
class BankDocument:
    """One bank version as it is written to / read from a file."""

    occupation_name: str
    occupation_name_en: str
    occupation_code: str | None
    standard_title: str
    standard_code: str
    standard_year: int
    version: str
    levels: tuple[LevelDoc, ...]
    knowledge_points: tuple[KnowledgePointDoc, ...]
    items: tuple[ItemDraft, ...]
    blueprints: tuple[dict[str, Any], ...]  # raw documents (examhall-blueprint/1), parsed elsewhere


@dataclass(frozen=True)
class RowError:
    """One problem of one row. ``row`` is the 1-based spreadsheet row (the header is row 1) or,
    for YAML/JSON, the 1-based position of the item (or tree node) in its file; 0 means the
    file as a whole."""

    source: str
    row: int
    item_id: str | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"row {self.row}" if self.row else "file"
        ident = f" ({self.item_id})" if self.item_id else ""
        return f"{self.source}: {where}{ident} {self.field}: {self.message}"


@dataclass(frozen=True)
class ReadResult:
    """``document`` holds only the good items; it is None when the file as a whole cannot be read."""

    document: BankDocument | None
    errors: tuple[RowError, ...]
    warnings: tuple[str, ...]
    rows_read: int


Progress = Callable[[int, int], None]

# --- the spreadsheet layout ------------------------------------------------------------------------

SHEET_INFO: Final = "题库信息"
SHEET_TREE: Final = "细目表"
SHEET_ITEMS: Final = "试题"
SHEET_BLUEPRINTS: Final = "组卷计划"
_SHEET_ALIASES: Final = {
    SHEET_INFO: ("题库信息", "bank", "info"),
    SHEET_TREE: ("细目表", "knowledge_points", "kps"),
    SHEET_ITEMS: ("试题", "items"),
    SHEET_BLUEPRINTS: ("组卷计划", "blueprints"),
}

# 题库信息: (attribute, Chinese key, English key)
_INFO_ROWS: Final = (
    ("format", "格式", "format"),
    ("occupation_name", "职业", "occupation"),
    ("occupation_name_en", "职业英文名", "occupation_en"),
    ("occupation_code", "职业编码", "occupation_code"),
    ("standard_title", "标准名称", "standard_title"),
    ("standard_code", "标准编号", "standard_code"),
    ("standard_year", "标准年份", "standard_year"),
    ("version", "版本", "version"),
    ("levels", "级别", "levels"),
    ("levels_en", "级别英文名", "levels_en"),
)
_INFO_REQUIRED: Final = ("occupation_name", "standard_title", "standard_year", "version", "levels")

OPTION_COLUMNS: Final = tuple(f"选项{letter}" for letter in rules.OPTION_LETTERS)
ITEM_COLUMNS: Final = ("题号", "级别", "知识点", "题型", "难度", "分值", "题干", *OPTION_COLUMNS, "答案", "解析")
TREE_COLUMNS: Final = ("编码", "名称", "上级编码")
BLUEPRINT_COLUMNS: Final = ("名称", "级别", "JSON")

# Reported field of each item column, and the header spellings accepted for it (compared
# after removing white space and lower-casing).
_ITEM_HEADERS: Final[dict[str, tuple[str, ...]]] = {
    "id": ("题号", "id", "试题编号", "编号", "code"),
    "level": ("级别", "level", "等级"),
    "knowledge_point": ("知识点", "kp", "knowledge_point", "知识点编码"),
    "type": ("题型", "type", "试题类型"),
    "difficulty": ("难度", "difficulty"),
    "points": ("分值", "points", "分数", "score"),
    "stem": ("题干", "stem", "题目", "试题内容"),
    "key": ("答案", "key", "正确答案", "标准答案", "参考答案", "answer"),
    "explanation": ("解析", "explanation", "答案解析", "试题解析"),
}
_REQUIRED_ITEM_FIELDS: Final = ("id", "level", "knowledge_point", "type", "difficulty", "stem", "key")
_TREE_HEADERS: Final[dict[str, tuple[str, ...]]] = {
    "code": ("编码", "code", "知识点编码"),
    "name": ("名称", "name", "知识点名称"),
    "parent": ("上级编码", "parent", "上级"),
}
_BLUEPRINT_HEADERS: Final[dict[str, tuple[str, ...]]] = {
    "name": ("名称", "name"),
    "level": ("级别", "level"),
    "json": ("json", "内容", "内容(json)", "blueprint"),
}

_ITEM_FILE = re.compile(r"^L(\d)-(\d{2})\.ya?ml$")
_BLUEPRINT_FILE = re.compile(r"^blueprint-L(\d)(?:-(\d+))?\.ya?ml$")
_ITEM_KEYS: Final = frozenset(
    {"id", "level", "kp", "type", "difficulty", "points", "stem", "options", "key", "explanation"}
)
_JUDGE_KEY_OUT: Final = {"T": "对", "F": "错"}


_ITEM_LOOKUP: Final = {
    **_header_lookup(_ITEM_HEADERS),
    **{
        _header_key(alias): f"option:{letter}"
        for letter in rules.OPTION_LETTERS
        for alias in (f"选项{letter}", letter, f"option_{letter}", f"option{letter}")
    },
}
_HEADER_NAMES: Final = {name: f"{aliases[0]} ({aliases[1]})" for name, aliases in _ITEM_HEADERS.items()}


# --- small helpers ------------------------------------------------------------------------------


def _number(value: Decimal) -> int | float:
    """Points as a JSON/YAML/xlsx number: 1 rather than 1.00, 1.5 rather than "1.5"."""
    return int(value) if value == value.to_integral_value() else float(value)


def _points_text(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _jsonable(value: object, where: str) -> Any:
    """A blueprint in the shape JSON (and the database's JSONB) gives back: string keys, lists."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise ValueError(f"{where}: a {type(value).__name__} value cannot be stored; write it as text or a number")


def _refuse(source: str, field_: str, message: str, warnings_: Iterable[str] = ()) -> ReadResult:
    """The file as a whole cannot be read: no document, one error with row 0."""
    return ReadResult(None, (RowError(source, 0, None, field_, message),), tuple(warnings_), 0)


def _where(first: tuple[str, int], source: str) -> str:
    return f"row {first[1]}" if first[0] == source else f"{first[0]} row {first[1]}"


# --- the knowledge-point tree ----------------------------------------------------------------------


@dataclass
class _Tree:
    """Builds and checks the knowledge-point tree; keeps the good nodes in document order."""

    source: str
    nodes: list[KnowledgePointDoc] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    first_row: dict[str, int] = field(default_factory=dict)
    refused: set[str] = field(default_factory=set)

    def add(self, row: int, code: str, name: str, parent: str | None) -> str | None:
        """Add one node; returns its code when accepted."""

        def refuse(message: str) -> None:
            self.errors.append(RowError(self.source, row, None, "knowledge_points", message))
            if code:
                self.refused.add(code)

        if not code:
            refuse("the code is missing" + (f" (name {name!r})" if name else ""))
            return None
        if not rules.KP_CODE.match(code):
            refuse(f"code {code!r} is not a knowledge-point code like 05 or 05.02 (two digits per level)")
            return None
        if code in self.first_row:
            self.errors.append(
                RowError(
                    self.source,
                    row,
                    None,
                    "knowledge_points",
                    f"duplicate code {code} (first on row {self.first_row[code]})",
                )
            )
            return None
        expected = code.rsplit(".", 1)[0] if "." in code else None
        parent = parent or None
        if parent is None and expected is not None:
            parent = expected
        if parent is not None:
            if parent not in self.first_row:
                if parent in self.refused:
                    refuse(f"the parent {parent} of {code} has an error (see above)")
                else:
                    refuse(f"the parent {parent} of {code} is not defined above it")
                return None
            if parent != expected:
                refuse(f"code {code} does not lie under its parent {parent} (expected {parent}.xx)")
                return None
        if not name:
            refuse(f"the name of {code} is missing")
            return None
        self.first_row[code] = row
        self.nodes.append(KnowledgePointDoc(code=code, name=name, parent=parent, position=len(self.nodes)))
        return code

    def add_nested(self, raw: object, parent: str | None = None, counter: list[int] | None = None) -> None:
        """The nested form of bank.yaml / JSON: [{code, name, children: [...]}, ...]; rows count in pre-order."""
        counter = counter if counter is not None else [0]
        if raw is None or raw == "":
            return
        if not isinstance(raw, list):
            self.errors.append(
                RowError(self.source, 0, None, "knowledge_points", "must be a list of {code, name, children}")
            )
            return
        for node in raw:
            counter[0] += 1
            if not isinstance(node, Mapping):
                self.errors.append(
                    RowError(self.source, counter[0], None, "knowledge_points", "a node must be a mapping {code, name}")
                )
                continue
            code = _text(node.get("code"))
            if parent is None and "." in code and rules.KP_CODE.match(code):
                self.errors.append(
                    RowError(
                        self.source,
                        counter[0],
                        None,
                        "knowledge_points",
                        f"{code} must be nested in the children of {code.rsplit('.', 1)[0]}",
                    )
                )
                self.refused.add(code)
                accepted = None
            else:
                accepted = self.add(counter[0], code, _text(node.get("name")), parent)
            self.add_nested(node.get("children"), accepted or code or None, counter)

    @property
    def leaves(self) -> dict[str, bool]:
        parents = {node.parent for node in self.nodes}
        return {node.code: node.code not in parents for node in self.nodes}


def _nested_tree(nodes: Sequence[KnowledgePointDoc]) -> list[dict[str, Any]]:
    """The tree as nested {code, name, children} mappings (leaves without children)."""
    children: dict[str | None, list[KnowledgePointDoc]] = {}
    codes = {node.code for node in nodes}
    for node in nodes:
        parent = node.parent if node.parent in codes else None
        children.setdefault(parent, []).append(node)

    def build(parent: str | None) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for node in children.get(parent, []):
            below = build(node.code)
            if below:
                out.append({"code": node.code, "name": node.name, "children": below})
            else:
                out.append(_Flow(code=node.code, name=node.name))
        return out

    return build(None)


# --- bank metadata ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Meta:
    occupation_name: str
    occupation_name_en: str
    occupation_code: str | None
    standard_title: str
    standard_code: str
    standard_year: int
    version: str
    levels: tuple[LevelDoc, ...]


def _meta_of(doc: BankDocument) -> _Meta:
    return _Meta(
        doc.occupation_name,
        doc.occupation_name_en,
        doc.occupation_code,
        doc.standard_title,
        doc.standard_code,
        doc.standard_year,
        doc.version,
        doc.levels,
    )


def _year(text: str) -> int | None:
    return int(text) if re.fullmatch(r"(19|20|21)\d\d", text) else None


def _level_doc(level_text: str, name: str, name_en: str) -> LevelDoc | str:
    """A level, or the reason it cannot be read."""
    if not re.fullmatch(r"\d", level_text) or int(level_text) not in rules.LEVEL_NAMES_ZH:
        return f"level {level_text!r} is not a level from 5 (五级/初级工) to 1 (一级/高级技师)"
    level = int(level_text)
    return LevelDoc(level, name or rules.LEVEL_NAMES_ZH[level], name_en or rules.LEVEL_NAMES_EN[level])


def _meta_from_mapping(data: Mapping[str, Any], source: str) -> tuple[_Meta | None, list[RowError]]:
    """bank.yaml / the JSON file: format, occupation, standard, version, levels."""
    problems: list[tuple[str, str]] = []  # (field, message)
    fmt = _text(data.get("format"))
    if fmt and fmt != FORMAT:
        problems.append(("format", f"unknown format {fmt!r} (expected {FORMAT})"))

    def section(name: str) -> Mapping[str, Any]:
        value = data.get(name)
        if isinstance(value, Mapping):
            return value
        if value not in (None, ""):
            problems.append((name, "must be a mapping"))
        return {}

    occupation, standard = section("occupation"), section("standard")
    name = _text(occupation.get("name"))
    title = _text(standard.get("title"))
    year_text = _text(standard.get("year"))
    version = _text(data.get("version"))
    for value, where in ((name, "occupation.name"), (title, "standard.title"), (version, "version")):
        if not value:
            problems.append((where, "missing"))
    year = _year(year_text)
    if not year_text:
        problems.append(("standard.year", "missing"))
    elif year is None:
        problems.append(("standard.year", f"{year_text!r} is not a year"))
    levels: list[LevelDoc] = []
    raw_levels = data.get("levels")
    if not isinstance(raw_levels, list) or not raw_levels:
        problems.append(("levels", "must be a non-empty list like [{level: 4, name: 四级/中级工}]"))
    else:
        for i, entry in enumerate(raw_levels):
            if not isinstance(entry, Mapping):
                entry = {"level": entry}
            got = _level_doc(_text(entry.get("level")), _text(entry.get("name")), _text(entry.get("name_en")))
            if isinstance(got, str):
                problems.append((f"levels[{i}]", got))
            elif any(level.level == got.level for level in levels):
                problems.append((f"levels[{i}]", f"level {got.level} is given twice"))
            else:
                levels.append(got)
    if problems or year is None:
        return None, [RowError(source, 0, None, name, message) for name, message in problems]
    code = _text(occupation.get("code"))
    meta = _Meta(
        occupation_name=name,
        occupation_name_en=_text(occupation.get("name_en")),
        occupation_code=code or None,
        standard_title=title,
        standard_code=_text(standard.get("code")),
        standard_year=year,
        version=version,
        levels=tuple(levels),
    )
    return meta, []


def _meta_mapping(doc: BankDocument) -> dict[str, Any]:
    occupation: dict[str, Any] = {"name": doc.occupation_name, "name_en": doc.occupation_name_en}
    if doc.occupation_code:
        occupation["code"] = doc.occupation_code
    standard: dict[str, Any] = {"title": doc.standard_title}
    if doc.standard_code:
        standard["code"] = doc.standard_code
    standard["year"] = doc.standard_year
    return {
        "format": FORMAT,
        "occupation": occupation,
        "standard": standard,
        "version": doc.version,
        "levels": [{"level": lv.level, "name": lv.name, "name_en": lv.name_en} for lv in doc.levels],
        "knowledge_points": _nested_tree(doc.knowledge_points),
    }


# --- checking items ----------------------------------------------------------------------------------


@dataclass
class _RawItem:
    """One item as found in a file, before any parsing: raw values by reported field name."""

    source: str
    row: int
    values: dict[str, object]
    options: list[tuple[str, object]] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (field, message) found while reading
    spreadsheet: bool = False


class _Checker:
    """Turns raw items into ItemDrafts and collects every problem, duplicates included."""

    def __init__(self, tree: _Tree, levels: Sequence[LevelDoc], existing: BankDocument | None) -> None:
        self.known = tree.leaves
        self.levels = tuple(levels)
        self.level_numbers = [level.level for level in levels]
        self.names: dict[str, list[str]] = {}
        for node in tree.nodes:
            self.names.setdefault(node.name.strip(), []).append(node.code)
        self.level_names: dict[str, int] = {}
        for level, name in rules.LEVEL_NAMES_ZH.items():
            for part in (name, *name.split("/")):
                self.level_names.setdefault(part, level)
        for lv in self.levels:
            for part in (lv.name, *lv.name.split("/"), lv.name_en):
                self.level_names[part.strip().lower()] = lv.level
        self.existing_ids = {item.code for item in existing.items} if existing else set()
        self.existing_prints = (
            {rules.content_fingerprint(item): item.code for item in existing.items} if existing else {}
        )

    def level(self, text: str) -> int | None:
        if re.fullmatch(r"\d", text):
            return int(text)
        return self.level_names.get(text) or self.level_names.get(text.lower())

    def kp(self, text: str) -> str:
        """A code as written, "code name", or a name that belongs to one node only."""
        if text in self.known:
            return text
        head = text.split(maxsplit=1)[0]
        if head in self.known:
            return head
        codes = self.names.get(text, [])
        return codes[0] if len(codes) == 1 else text

    def parse(self, raw: _RawItem) -> tuple[ItemDraft | None, str, list[tuple[str, str]]]:
        problems = list(raw.problems)
        reported = {name for name, _ in problems}

        def problem(name: str, message: str) -> None:
            problems.append((name, message))
            reported.add(name)

        def value(name: str) -> str:
            return "" if name in reported else _text(raw.values.get(name))

        code = value("id")
        if not code:
            if "id" not in reported:
                problem("id", "the row has content but no id (题号)" if raw.spreadsheet else "the item has no id")
            return None, "", problems

        level = 0
        level_text = value("level")
        if "level" not in reported:
            if not level_text:
                if len(self.levels) == 1:
                    level = self.levels[0].level
                else:
                    problem("level", "the level is missing")
            elif (found := self.level(level_text)) is None:
                problem("level", f"level {level_text!r} is not a level number (5 … 1) or name such as 四级")
            else:
                level = found

        kp = ""
        kp_raw = raw.values.get("knowledge_point")
        if "knowledge_point" not in reported:
            if isinstance(kp_raw, int | float) and not isinstance(kp_raw, bool):
                problem(
                    "knowledge_point",
                    f"knowledge point {_text(kp_raw)} was stored as a number; enter the code as text, e.g. '01.01'",
                )
            elif not (kp_text := _text(kp_raw)):
                problem("knowledge_point", "the knowledge point is missing")
            else:
                kp = self.kp(kp_text)

        item_type = ""
        type_text = value("type")
        if "type" not in reported:
            if not type_text:
                problem("type", "the item type is missing")
            elif (normal := rules.normalise_type(type_text)) is None:
                problem("type", f"unknown item type {type_text!r} (single/单选, multiple/多选, judge/判断)")
            else:
                item_type = normal

        difficulty = 0
        difficulty_text = value("difficulty")
        if "difficulty" not in reported:
            if not difficulty_text:
                problem("difficulty", "the difficulty is missing")
            elif (level_of := rules.normalise_difficulty(difficulty_text)) is None:
                problem("difficulty", f"difficulty {difficulty_text!r} is not 1, 2, 3 or 易/中/难")
            else:
                difficulty = level_of

        points = Decimal(1)
        points_text = value("points")
        if points_text:
            if (parsed := rules.parse_points(points_text)) is None:
                problem("points", f"points {points_text!r} must be a number above 0 and up to 100, at most 2 decimals")
            else:
                points = parsed

        key = ""
        key_text = value("key")
        if item_type and "key" not in reported:
            if not key_text:
                problem("key", "the key is missing")
            elif (normal_key := rules.normalise_key(item_type, key_text)) is None:
                if item_type == rules.JUDGE:
                    problem("key", f"key {key_text!r} is not T or F (对/错, √/×)")
                else:
                    problem("key", f"key {key_text!r} cannot be read; write option letters such as B or ACD")
            else:
                key = normal_key

        options = tuple((letter, _text(text)) for letter, text in raw.options)
        draft = ItemDraft(
            code=code,
            level=level,
            kp=kp,
            type=item_type or type_text,
            difficulty=difficulty,
            stem=value("stem"),
            options=options,
            key=key,
            points=points,
            explanation=value("explanation"),
        )
        for found_problem in rules.check_item(draft, self.known, self.level_numbers):
            if found_problem.field not in reported:
                problems.append((found_problem.field, found_problem.message))
        return draft, code, problems

    def check(self, raws: Sequence[_RawItem], progress: Progress | None) -> tuple[list[ItemDraft], list[RowError]]:
        good: list[ItemDraft] = []
        errors: list[RowError] = []
        first_id: dict[str, tuple[str, int]] = {}
        first_print: dict[str, tuple[str, str, int]] = {}
        total = len(raws)
        step = max(1, total // 100)
        if progress:
            progress(0, total)
        for done, raw in enumerate(raws, start=1):
            draft, code, problems = self.parse(raw)
            duplicate_id = False
            if code:
                if code in first_id:
                    problems.append(("id", f"duplicate id {code} (first on {_where(first_id[code], raw.source)})"))
                    duplicate_id = True
                elif code in self.existing_ids:
                    problems.append(("id", f"id {code} already exists in the bank version"))
                    first_id[code] = (raw.source, raw.row)
                else:
                    first_id[code] = (raw.source, raw.row)
            if draft is not None and not duplicate_id and draft.stem.strip():
                fingerprint = rules.content_fingerprint(draft)
                if fingerprint in first_print:
                    other, source, row = first_print[fingerprint]
                    problems.append(
                        ("stem", f"same question and options as {other} ({_where((source, row), raw.source)})")
                    )
                elif self.existing_prints.get(fingerprint, code) != code:
                    other = self.existing_prints[fingerprint]
                    problems.append(("stem", f"same question and options as {other}, already in the bank version"))
                else:
                    first_print[fingerprint] = (code, raw.source, raw.row)
            for name, message in problems:
                errors.append(RowError(raw.source, raw.row, code or None, name, message))
            if draft is not None and not problems:
                good.append(draft)
            if progress and (done % step == 0 or done == total):
                progress(done, total)
        return good, errors


def _finish(
    meta: _Meta | None,
    tree: _Tree,
    raws: Sequence[_RawItem],
    blueprints: Sequence[dict[str, Any]],
    errors: list[RowError],
    warnings_: list[str],
    existing: BankDocument | None,
    progress: Progress | None,
) -> ReadResult:
    """Check the items against the tree and levels and assemble the result."""
    if meta is None:
        return ReadResult(None, tuple(errors), tuple(warnings_), len(raws))
    good, item_errors = _Checker(tree, meta.levels, existing).check(raws, progress)
    if not raws:
        warnings_.append("no items found")
    doc = BankDocument(
        occupation_name=meta.occupation_name,
        occupation_name_en=meta.occupation_name_en,
        occupation_code=meta.occupation_code,
        standard_title=meta.standard_title,
        standard_code=meta.standard_code,
        standard_year=meta.standard_year,
        version=meta.version,
        levels=meta.levels,
        knowledge_points=tuple(tree.nodes),
        items=tuple(good),
        blueprints=tuple(blueprints),
    )
    return ReadResult(doc, tuple(errors + item_errors), tuple(warnings_), len(raws))


# --- reading -----------------------------------------------------------------------------------------


def read_bank(path: Path, *, existing: BankDocument | None = None, progress: Progress | None = None) -> ReadResult:
    """Read and check a bank: a canonical folder, a .json file, an .xlsx workbook or a .csv of items.

    ``existing`` is the stored bank version the file is imported into: a .csv (items only) takes
    its metadata and knowledge-point tree from it, and ids already in ``existing.items`` are
    refused. ``progress(done, total)`` is called while the items are checked.
    """
    path = Path(path)
    source = path.name or str(path)
    if path.is_dir():
        return _read_folder(path, existing, progress)
    if not path.exists():
        return _refuse(source, "path", "no such file or folder")
    suffix = path.suffix.lower()
    if path.name in ("bank.yaml", "bank.yml"):
        return _read_folder(path.parent, existing, progress)
    if suffix == ".xls":
        return _refuse(source, "format", "the old Excel 97-2003 format (.xls) cannot be read; save it as .xlsx")
    if suffix not in (".json", ".xlsx", ".xlsm", ".csv"):
        return _refuse(
            source, "format", f"unknown file type {suffix or '(none)'!r}: give a bank folder, .json, .xlsx or .csv"
        )
    if path.stat().st_size == 0:
        return _refuse(source, "content", "the file is empty")
    if suffix == ".json":
        return _read_json(path, existing, progress)
    if suffix == ".csv":
        return _read_csv(path, existing, progress)
    return _read_xlsx(path, existing, progress)


def _load_yaml(path: Path, *, all_text: bool) -> tuple[Any, str | None]:
    """Load a YAML file. ``all_text``: every scalar stays text (so 01.01 stays '01.01' and an
    option 0.10 keeps its zero); the item fields are parsed by the rules afterwards."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        return None, "the file is not UTF-8 text"
    try:
        if all_text:
            return yaml.load(text, Loader=yaml.BaseLoader), None  # noqa: S506 - BaseLoader builds no objects
        return yaml.safe_load(text), None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        reason = getattr(exc, "problem", None) or str(exc)
        return None, f"YAML syntax error{where}: {reason}"


def _options_from_mapping(raw: object, problems: list[tuple[str, str]]) -> list[tuple[str, object]]:
    """YAML/JSON options: {A: text, B: text} (or a list of texts, lettered A, B, …)."""
    if raw is None or raw == "":
        return []
    if isinstance(raw, list):
        if len(raw) > rules.MAX_OPTIONS:
            problems.append(("options", f"at most {rules.MAX_OPTIONS} options"))
            return []
        return [(rules.OPTION_LETTERS[i], text) for i, text in enumerate(raw)]
    if not isinstance(raw, Mapping):
        problems.append(("options", "options must be a mapping like {A: …, B: …}"))
        return []
    options: dict[str, object] = {}
    for letter, text in raw.items():
        upper = _text(letter).upper()
        if len(upper) != 1 or upper not in rules.OPTION_LETTERS:
            problems.append(("options", f"option letter {_text(letter)!r} is not one of A–H"))
        elif upper in options:
            problems.append(("options", f"option {upper} is given twice"))
        else:
            options[upper] = text
    return sorted(options.items())


def _raw_from_mapping(entry: object, source: str, row: int, level: object, warnings_: list[str]) -> _RawItem:
    """One item of a YAML item file or of the JSON file."""
    if not isinstance(entry, Mapping):
        return _RawItem(source, row, {}, problems=[("id", "the item must be a mapping of id, kp, type, …")])
    problems: list[tuple[str, str]] = []
    unknown = sorted(_text(k) for k in entry if _text(k) not in _ITEM_KEYS)
    if unknown:
        ident = _text(entry.get("id"))
        warnings_.append(f"{source} row {row} ({ident}): unknown field(s) {', '.join(unknown)} ignored")
    own_level = entry.get("level")
    if level is not None and own_level not in (None, "") and _text(own_level) != _text(level):
        problems.append(("level", f"level {_text(own_level)} differs from the file name (level {_text(level)})"))
    values: dict[str, object] = {
        "id": entry.get("id"),
        "level": level if level is not None else own_level,
        "knowledge_point": entry.get("kp"),
        "type": entry.get("type"),
        "difficulty": entry.get("difficulty"),
        "points": entry.get("points"),
        "stem": entry.get("stem"),
        "key": entry.get("key"),
        "explanation": entry.get("explanation"),
    }
    for name in ("stem", "explanation", "id", "type", "key"):
        if isinstance(values[name], Mapping | list):
            problems.append((name, f"{name} must be text"))
    options = _options_from_mapping(entry.get("options"), problems)
    return _RawItem(source, row, values, options, problems)


def _blueprint_order(path: Path) -> tuple[int, int, int, str]:
    """Blueprints by level, highest first (the order a stored bank version lists them in)."""
    match = _BLUEPRINT_FILE.match(path.name)
    if match is None:
        return (1, 0, 0, path.name)
    return (0, -int(match.group(1)), int(match.group(2) or 1), path.name)


def _read_folder(path: Path, existing: BankDocument | None, progress: Progress | None) -> ReadResult:
    warnings_: list[str] = []
    bank_file = next((path / name for name in ("bank.yaml", "bank.yml") if (path / name).is_file()), None)
    if bank_file is None:
        return _refuse(path.name or str(path), "layout", "no bank.yaml in this folder (the canonical bank layout)")
    data, problem = _load_yaml(bank_file, all_text=True)
    if problem is not None:
        return _refuse(bank_file.name, "syntax", problem)
    if not isinstance(data, Mapping):
        return _refuse(bank_file.name, "syntax", "bank.yaml must be a mapping (format, occupation, standard, …)")
    meta, errors = _meta_from_mapping(data, bank_file.name)
    tree = _Tree(bank_file.name)
    tree.add_nested(data.get("knowledge_points"))
    errors.extend(tree.errors)
    if any(error.row == 0 for error in tree.errors):
        meta = None

    raws: list[_RawItem] = []
    folder = path / "items"
    item_files: list[Path] = []
    if folder.is_dir():
        item_files = sorted(
            (f for f in folder.iterdir() if f.is_file() and f.suffix.lower() in (".yaml", ".yml")), key=lambda f: f.name
        )
    else:
        warnings_.append("the folder has no items/ subfolder")
    for item_file in item_files:
        match = _ITEM_FILE.match(item_file.name)
        content, problem = _load_yaml(item_file, all_text=True)
        if match is None:
            problem = "an item file must be named L{level}-{top kp}.yaml, e.g. L4-01.yaml"
        entries: object = []
        if problem is None and content not in (None, ""):
            entries = content.get("items") if isinstance(content, Mapping) else None
            if entries == "":
                entries = []
            elif not isinstance(entries, list):
                problem = "expected 'items:' followed by a list of items"
        if problem is not None or match is None or not isinstance(entries, list):
            errors.append(
                RowError(item_file.name, 0, None, "file_name" if match is None else "syntax", problem or "unreadable")
            )
            meta = None
            continue
        level, top = match.group(1), match.group(2)
        for row, entry in enumerate(entries, start=1):
            raw = _raw_from_mapping(entry, item_file.name, row, level, warnings_)
            kp = _text(raw.values.get("knowledge_point"))
            if kp and kp.split(".")[0] != top and isinstance(entry, Mapping):
                warnings_.append(
                    f"{item_file.name} row {row} ({_text(entry.get('id'))}): knowledge point {kp} is outside {top}, "
                    "which the file name names"
                )
            raws.append(raw)

    blueprints: list[dict[str, Any]] = []
    for bp_file in sorted(path.glob("blueprint-*.y*ml"), key=_blueprint_order):
        content, problem = _load_yaml(bp_file, all_text=False)
        if problem is None and not isinstance(content, Mapping):
            problem = f"a blueprint must be a mapping ({BLUEPRINT_FORMAT})"
        if problem is None:
            try:
                blueprints.append(_jsonable(content, "blueprint"))
            except ValueError as exc:
                problem = str(exc)
        if problem is not None:
            errors.append(RowError(bp_file.name, 0, None, "blueprint", problem))
            meta = None
    return _finish(meta, tree, raws, blueprints, errors, warnings_, existing, progress)


def _read_json(path: Path, existing: BankDocument | None, progress: Progress | None) -> ReadResult:
    source = path.name
    try:
        data = json.loads(path.read_bytes().decode("utf-8-sig"))
    except UnicodeDecodeError:
        return _refuse(source, "encoding", "the file is not UTF-8 text")
    except json.JSONDecodeError as exc:
        return _refuse(source, "syntax", f"not valid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}")
    if not isinstance(data, Mapping):
        return _refuse(source, "syntax", f"the file must hold one JSON object ({FORMAT})")
    warnings_: list[str] = []
    meta, errors = _meta_from_mapping(data, source)
    tree = _Tree(source)
    tree.add_nested(data.get("knowledge_points"))
    errors.extend(tree.errors)
    if any(error.row == 0 for error in tree.errors):
        meta = None
    items = data.get("items", [])
    raws: list[_RawItem] = []
    if not isinstance(items, list):
        errors.append(RowError(source, 0, None, "items", "must be a list"))
        meta = None
    else:
        raws = [_raw_from_mapping(entry, source, row, None, warnings_) for row, entry in enumerate(items, start=1)]
    blueprints: list[dict[str, Any]] = []
    raw_blueprints = data.get("blueprints", [])
    if not isinstance(raw_blueprints, list):
        errors.append(RowError(source, 0, None, "blueprint", "blueprints must be a list"))
        meta = None
    else:
        for i, bp in enumerate(raw_blueprints, start=1):
            if isinstance(bp, Mapping):
                blueprints.append(_jsonable(bp, "blueprint"))
            else:
                errors.append(
                    RowError(source, 0, None, "blueprint", f"blueprint {i} must be a mapping ({BLUEPRINT_FORMAT})")
                )
                meta = None
    return _finish(meta, tree, raws, blueprints, errors, warnings_, existing, progress)


# --- spreadsheets ------------------------------------------------------------------------------------


def _item_rows(
    rows: Sequence[_Row], source: str, where: str, levels: Sequence[LevelDoc], warnings_: list[str]
) -> tuple[list[_RawItem], str | None]:
    """The raw items of the 试题 sheet or of a .csv (``where`` names which); or why it cannot be read."""
    header = rows[0][1] if rows else []
    columns, problems = _map_columns(header, _ITEM_LOOKUP, source, where, warnings_)
    if problems:
        return [], f"{where}: " + "; ".join(problems)
    present = set(columns.values())
    required = [name for name in _REQUIRED_ITEM_FIELDS if not (name == "level" and len(levels) == 1)]
    missing = [_HEADER_NAMES[name] for name in required if name not in present]
    if missing:
        return [], f"{where} lacks the column(s) {', '.join(missing)} (the first row must hold the column names)"
    raws: list[_RawItem] = []
    for row, cells in rows[1:]:
        if all(cell.empty for cell in cells):
            continue
        values: dict[str, object] = {}
        options: list[tuple[str, object]] = []
        problems_: list[tuple[str, str]] = []
        for index, name in columns.items():
            if index >= len(cells):
                continue
            cell = cells[index]
            reported = "options" if name.startswith("option:") else name
            if (problem := _cell_problem(cell)) is not None:
                problems_.append((reported, problem))
                continue
            if name.startswith("option:"):
                if not cell.empty:
                    options.append((name[-1], cell.value))
            else:
                values[name] = cell.value
        options.sort()
        raws.append(_RawItem(source, row, values, options, problems_, spreadsheet=True))
    return raws, None


def _read_csv(path: Path, existing: BankDocument | None, progress: Progress | None) -> ReadResult:
    source = path.name
    data = path.read_bytes()
    warnings_: list[str] = []
    decoded = decode_csv(data)
    if decoded is None:
        return _refuse(
            source,
            "encoding",
            "the file is neither UTF-8 nor GBK/GB18030 text; save it as 'CSV UTF-8 (comma delimited)'",
        )
    text, encoding = decoded
    if encoding == GB18030:
        warnings_.append("file was read as GBK/GB18030")
    if existing is None:
        return _refuse(
            source,
            "bank_version",
            "a .csv holds items only: import it into an existing bank version "
            "(examhall bank import FILE --version-id ID)",
            warnings_,
        )
    try:
        rows = csv_rows(text)
    except csv.Error as exc:
        return _refuse(source, "format", f"not a readable CSV file: {exc}", warnings_)
    raws, problem = _item_rows(rows, source, "the .csv", existing.levels, warnings_)
    if problem is not None:
        return _refuse(source, "columns", problem, warnings_)
    tree = _Tree(source)
    tree.nodes = list(existing.knowledge_points)
    return _finish(_meta_of(existing), tree, raws, (), [], warnings_, existing, progress)


def _find_sheet(sheets: Mapping[str, Worksheet], name: str) -> Worksheet | None:
    for alias in _SHEET_ALIASES[name]:
        if (found := sheets.get(_header_key(alias))) is not None:
            return found
    return None


def _read_info(rows: Sequence[_Row], source: str, warnings_: list[str]) -> tuple[_Meta | None, list[RowError]]:
    lookup = {_header_key(zh): attr for attr, zh, _ in _INFO_ROWS} | {
        _header_key(en): attr for attr, _, en in _INFO_ROWS
    }
    values: dict[str, str] = {}
    reported: set[str] = set()  # entries with a formula: not reported again as missing
    errors: list[RowError] = []
    for row, cells in rows:
        if all(cell.empty for cell in cells):
            continue
        key = _header_key(cells[0].value) if cells else ""
        attr = lookup.get(key)
        if attr is None:
            warnings_.append(f"{source}: row {row} of sheet {SHEET_INFO} ({_text(cells[0].value)!r}) is not used")
            continue
        cell = cells[1] if len(cells) > 1 else _Cell(None, f"B{row}")
        if (problem := _cell_problem(cell)) is not None:
            errors.append(RowError(source, row, None, attr, problem))
            reported.add(attr)
            continue
        values[attr] = _text(cell.value)
    if values.get("format") and values["format"] != FORMAT:
        warnings_.append(f"{source}: 格式 {values['format']!r} is not {FORMAT}; read as {FORMAT}")
    names = {attr: f"{zh} ({en})" for attr, zh, en in _INFO_ROWS}
    missing = [names[attr] for attr in _INFO_REQUIRED if not values.get(attr) and attr not in reported]
    if missing:
        errors.append(RowError(source, 0, None, "bank", f"sheet {SHEET_INFO} lacks {', '.join(missing)}"))
    year_text = values.get("standard_year", "")
    year = _year(year_text)
    if year_text and year is None:
        errors.append(RowError(source, 0, None, "standard_year", f"{SHEET_INFO} 标准年份 {year_text!r} is not a year"))
    english: dict[str, str] = {}
    for part in re.split(r"[;；\n]+", values.get("levels_en", "")):
        number, _, name = part.partition(":")
        if number.strip():
            english[number.strip()] = name.strip()
    levels: list[LevelDoc] = []
    for part in re.split(r"[;；\n]+", values.get("levels", "")):
        if not part.strip():
            continue
        number, _, name = re.sub("：", ":", part).partition(":")
        got = _level_doc(number.strip(), name.strip(), english.get(number.strip(), ""))
        if isinstance(got, str):
            errors.append(RowError(source, 0, None, "levels", f"{SHEET_INFO} 级别 {part.strip()!r}: {got}"))
        elif any(level.level == got.level for level in levels):
            errors.append(RowError(source, 0, None, "levels", f"{SHEET_INFO} 级别: level {got.level} is given twice"))
        else:
            levels.append(got)
    if values.get("levels") and not levels and not errors:
        errors.append(RowError(source, 0, None, "levels", f"{SHEET_INFO} 级别 names no level (e.g. 4:四级/中级工)"))
    if errors or year is None:
        return None, errors
    meta = _Meta(
        occupation_name=values["occupation_name"],
        occupation_name_en=values.get("occupation_name_en", ""),
        occupation_code=values.get("occupation_code") or None,
        standard_title=values["standard_title"],
        standard_code=values.get("standard_code", ""),
        standard_year=year,
        version=values["version"],
        levels=tuple(levels),
    )
    return meta, []


def _read_tree_sheet(rows: Sequence[_Row], source: str, warnings_: list[str]) -> tuple[_Tree, str | None]:
    tree = _Tree(source)
    if not rows:
        return tree, f"sheet {SHEET_TREE} is empty: the first row must hold the column names {', '.join(TREE_COLUMNS)}"
    columns, problems = _map_columns(
        rows[0][1], _header_lookup(_TREE_HEADERS), source, f"sheet {SHEET_TREE}", warnings_
    )
    missing = [
        f"{zh} ({en})" for en, (zh, *_) in _TREE_HEADERS.items() if en != "parent" and en not in columns.values()
    ]
    if missing:
        problems.append(f"lacks the column(s) {', '.join(missing)}")
    if problems:
        return tree, f"sheet {SHEET_TREE}: " + "; ".join(problems)
    for row, cells in rows[1:]:
        if all(cell.empty for cell in cells):
            continue
        values: dict[str, str] = {}
        bad = False
        for index, name in columns.items():
            if index < len(cells):
                if (problem := _cell_problem(cells[index])) is not None:
                    tree.errors.append(RowError(source, row, None, "knowledge_points", problem))
                    bad = True
                values[name] = _text(cells[index].value)
        if not bad:
            tree.add(row, values.get("code", ""), values.get("name", ""), values.get("parent") or None)
    return tree, None


def _read_blueprint_sheet(
    rows: Sequence[_Row], source: str, warnings_: list[str]
) -> tuple[list[dict[str, Any]], list[RowError]]:
    if not rows:
        return [], []
    columns, problems = _map_columns(
        rows[0][1], _header_lookup(_BLUEPRINT_HEADERS), source, f"sheet {SHEET_BLUEPRINTS}", warnings_
    )
    json_column = next((index for index, name in columns.items() if name == "json"), None)
    if problems or json_column is None:
        problems.append("lacks the column JSON")
        return [], [RowError(source, 0, None, "blueprint", f"sheet {SHEET_BLUEPRINTS}: " + "; ".join(problems))]
    blueprints: list[dict[str, Any]] = []
    errors: list[RowError] = []
    for row, cells in rows[1:]:
        if all(cell.empty for cell in cells):
            continue
        cell = cells[json_column] if json_column < len(cells) else _Cell(None, "")
        if (problem := _cell_problem(cell)) is not None:
            errors.append(RowError(source, row, None, "blueprint", problem))
            continue
        text = _text(cell.value)
        if not text:
            errors.append(RowError(source, row, None, "blueprint", "the JSON cell is empty"))
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            errors.append(
                RowError(source, row, None, "blueprint", f"not valid JSON ({exc.msg} at character {exc.pos})")
            )
            continue
        if not isinstance(value, dict):
            errors.append(RowError(source, row, None, "blueprint", f"the JSON must be one object ({BLUEPRINT_FORMAT})"))
            continue
        blueprints.append(value)
    return blueprints, errors


def _read_xlsx(path: Path, existing: BankDocument | None, progress: Progress | None) -> ReadResult:
    source = path.name
    warnings_: list[str] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            workbook = load_workbook(path, data_only=False)
    except Exception:  # openpyxl raises many kinds (BadZipFile, KeyError, XML errors) for a non-workbook
        return _refuse(
            source, "format", "not an Excel workbook (.xlsx); open it in Excel and save it as Excel Workbook"
        )
    warnings_.extend(f"{source}: {w.message}" for w in caught)
    try:
        sheets = {_header_key(ws.title): ws for ws in workbook.worksheets}
        items_sheet = _find_sheet(sheets, SHEET_ITEMS)
        found = ", ".join(ws.title for ws in workbook.worksheets)
        missing = [
            name
            for name in (SHEET_INFO, SHEET_TREE, SHEET_ITEMS)
            if _find_sheet(sheets, name) is None and (name == SHEET_ITEMS or existing is None)
        ]
        if missing:
            return _refuse(
                source, "sheets", f"missing sheet(s) {', '.join(missing)} (sheets found: {found})", warnings_
            )
        assert items_sheet is not None
        errors: list[RowError] = []
        info_sheet = _find_sheet(sheets, SHEET_INFO)
        meta: _Meta | None
        if info_sheet is None:
            assert existing is not None
            meta = _meta_of(existing)
        else:
            meta, errors = _read_info(_sheet_rows(info_sheet), source, warnings_)
            if meta is None:
                return ReadResult(None, tuple(errors), tuple(warnings_), 0)
        tree_sheet = _find_sheet(sheets, SHEET_TREE)
        if tree_sheet is None:
            assert existing is not None
            tree = _Tree(source)
            tree.nodes = list(existing.knowledge_points)
        else:
            tree, problem = _read_tree_sheet(_sheet_rows(tree_sheet), source, warnings_)
            if problem is not None:
                return _refuse(source, "columns", problem, warnings_)
            errors.extend(tree.errors)
        raws, problem = _item_rows(_sheet_rows(items_sheet), source, f"sheet {SHEET_ITEMS}", meta.levels, warnings_)
        if problem is not None:
            return _refuse(source, "columns", problem, warnings_)
        blueprints: list[dict[str, Any]] = []
        blueprint_sheet = _find_sheet(sheets, SHEET_BLUEPRINTS)
        if blueprint_sheet is not None:
            blueprints, bp_errors = _read_blueprint_sheet(_sheet_rows(blueprint_sheet), source, warnings_)
            errors.extend(bp_errors)
            if any(e.row == 0 for e in bp_errors):
                return ReadResult(None, tuple(errors), tuple(warnings_), 0)
    finally:
        workbook.close()
    return _finish(meta, tree, raws, blueprints, errors, warnings_, existing, progress)


# --- writing -----------------------------------------------------------------------------------------


class _Flow(dict[str, Any]):
    """A mapping written on one line in YAML ({code: "01.01", name: …})."""


class _Dumper(yaml.SafeDumper):
    """Block style as in the sample bank: indented lists, multi-line text as literal blocks."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)

    def choose_scalar_style(self) -> str:
        style = super().choose_scalar_style()
        return '"' if style == "'" else style  # "01.01" as the hand-written files quote it


_NUMBER_LIKE = re.compile(r"[-+]?[\d_]*\.?[\d_]+([eE][-+]?\d+)?")


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    if "\n" in data:
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
    if _NUMBER_LIKE.fullmatch(data):  # "08" is text to PyYAML but a number to YAML 1.2 tools: quote it
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style='"')
    return dumper.represent_str(data)


def _represent_flow(dumper: yaml.SafeDumper, data: _Flow) -> yaml.MappingNode:
    return dumper.represent_mapping("tag:yaml.org,2002:map", data, flow_style=True)


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(_Flow, _represent_flow)


def _yaml(data: object) -> str:
    return yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=10_000, default_flow_style=False)


def _item_mapping(item: ItemDraft, *, full: bool) -> dict[str, Any]:
    """An item as in the YAML item files (``full``: with level, points and explanation always, for JSON)."""
    out: dict[str, Any] = {"id": item.code}
    if full:
        out["level"] = item.level
    out.update(kp=item.kp, type=item.type, difficulty=item.difficulty)
    if full or item.points != 1:
        out["points"] = _number(item.points)
    out["stem"] = item.stem
    if item.options:
        out["options"] = dict(item.options)
    out["key"] = item.key
    if full or item.explanation:
        out["explanation"] = item.explanation
    return out


_BANK_HEADER: Final = """\
# examhall canonical bank format, version 1 (see question_bank/README.md).
# One folder per bank version: this file holds the occupation, the standard,
# the levels and the knowledge-point tree (细目表); items/ holds the items,
# one file per top-level knowledge point and level; blueprint-L*.yaml the
# paper blueprints (组卷计划).
"""


def write_folder(doc: BankDocument, path: Path) -> None:
    """The canonical folder: bank.yaml, items/L{level}-{top kp}.yaml, blueprint-L{level}.yaml.

    Writing into an existing bank folder replaces its bank.yaml, item files and blueprint files
    (files of that naming that the document no longer has are removed); other files stay.
    """
    path = Path(path)
    folder = path / "items"
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.iterdir():
        if stale.is_file() and _ITEM_FILE.match(stale.name):
            stale.unlink()
    for stale in path.glob("blueprint-*.y*ml"):  # every one of these would be read back as a blueprint
        stale.unlink()
    (path / "bank.yaml").write_text(_BANK_HEADER + _yaml(_meta_mapping(doc)), encoding="utf-8")

    names = {kp.code: kp.name for kp in doc.knowledge_points}
    level_names = {lv.level: lv.name.split("/")[0] for lv in doc.levels}
    groups: dict[tuple[int, str], list[ItemDraft]] = {}
    for item in doc.items:
        groups.setdefault((item.level, item.kp.split(".")[0]), []).append(item)
    for (level, top), items in groups.items():
        title = f"# {doc.occupation_name} {level_names.get(level, f'L{level}')} — {top} {names.get(top, '')}".rstrip()
        body = _yaml({"items": [_item_mapping(item, full=False) for item in items]})
        (folder / f"L{level}-{top}.yaml").write_text(title + "\n" + body, encoding="utf-8")

    counts: dict[str, int] = {}
    for blueprint in doc.blueprints:
        bp_level = str(blueprint.get("level", "x"))
        counts[bp_level] = counts.get(bp_level, 0) + 1
        suffix = "" if counts[bp_level] == 1 else f"-{counts[bp_level]}"
        (path / f"blueprint-L{bp_level}{suffix}.yaml").write_text(_yaml(blueprint), encoding="utf-8")


def write_json(doc: BankDocument, path: Path) -> None:
    """The whole bank as one JSON file (format examhall-bank/1)."""
    data = _meta_mapping(doc)
    data["items"] = [_item_mapping(item, full=True) for item in doc.items]
    data["blueprints"] = [dict(bp) for bp in doc.blueprints]
    Path(path).write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def _item_cells(item: ItemDraft) -> list[object]:
    """One row of the 试题 sheet / the .csv."""
    options = dict(item.options)
    key = _JUDGE_KEY_OUT.get(item.key, item.key) if item.type == rules.JUDGE else item.key
    return [
        item.code,
        item.level,
        item.kp,
        rules.TYPE_NAMES_ZH.get(item.type, item.type),
        rules.DIFFICULTY_NAMES_ZH.get(item.difficulty, item.difficulty),
        _number(item.points),
        item.stem,
        *(options.get(letter, "") for letter in rules.OPTION_LETTERS),
        key,
        item.explanation,
    ]


def write_csv(doc: BankDocument, path: Path) -> None:
    """The items only, with the columns of the 试题 sheet; UTF-8 with BOM so Excel shows Chinese."""
    with Path(path).open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(ITEM_COLUMNS)
        for item in doc.items:
            cells = _item_cells(item)
            cells[5] = _points_text(item.points)
            writer.writerow(["" if cell is None else str(cell) for cell in cells])


def write_xlsx(doc: BankDocument, path: Path) -> None:
    """The workbook exam offices use: 题库信息, 细目表, 试题 and 组卷计划 (one blueprint per row as JSON)."""
    workbook = Workbook()
    info = workbook.active
    assert isinstance(info, Worksheet)
    info.title = SHEET_INFO
    values = {
        "format": FORMAT,
        "occupation_name": doc.occupation_name,
        "occupation_name_en": doc.occupation_name_en,
        "occupation_code": doc.occupation_code or "",
        "standard_title": doc.standard_title,
        "standard_code": doc.standard_code,
        "standard_year": doc.standard_year,
        "version": doc.version,
        "levels": ";".join(f"{lv.level}:{lv.name}" for lv in doc.levels),
        "levels_en": ";".join(f"{lv.level}:{lv.name_en}" for lv in doc.levels),
    }
    for attr, zh, en in _INFO_ROWS:
        _put_row(info, [zh, values[attr], en])
        info.cell(info.max_row, 1).font = Font(bold=True)
    info.column_dimensions["A"].width = 14
    info.column_dimensions["B"].width = 48
    info.column_dimensions["C"].width = 18

    tree = workbook.create_sheet(SHEET_TREE)
    _put_row(tree, TREE_COLUMNS, bold=True)
    for kp in doc.knowledge_points:
        _put_row(tree, [kp.code, kp.name, kp.parent or ""])
    for column, width in zip("ABC", (10, 32, 10), strict=True):
        tree.column_dimensions[column].width = width
    tree.freeze_panes = "A2"

    items = workbook.create_sheet(SHEET_ITEMS)
    _put_row(items, ITEM_COLUMNS, bold=True)
    for item in doc.items:
        try:
            _put_row(items, _item_cells(item))
        except ValueError as exc:  # openpyxl refuses control characters
            raise ValueError(f"item {item.code}: {exc}") from exc
    widths = {"A": 14, "B": 6, "C": 8, "D": 8, "E": 6, "F": 6, "G": 60}
    for index, name in enumerate(ITEM_COLUMNS, start=1):
        letter = get_column_letter(index)
        items.column_dimensions[letter].width = widths.get(letter, 40 if name == "解析" else 24)
    for row in items.iter_rows(min_row=2, min_col=7, max_col=7):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    items.freeze_panes = "B2"

    plans = workbook.create_sheet(SHEET_BLUEPRINTS)
    _put_row(plans, BLUEPRINT_COLUMNS, bold=True)
    for blueprint in doc.blueprints:
        text = json.dumps(blueprint, ensure_ascii=False)
        _put_row(plans, [_text(blueprint.get("name")), _text(blueprint.get("level")), text])
    plans.column_dimensions["A"].width = 30
    plans.column_dimensions["C"].width = 100
    workbook.save(Path(path))
