"""Bank files (R-BANK-5): the canonical folder / JSON and the spreadsheet formats (xlsx, csv).

Every bad row is reported with its row number, item id, field and reason; the good items stay
in the document (for --skip-bad); export then import gives the same bank.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from openpyxl.worksheet.worksheet import Worksheet

from examhall.bank import io
from examhall.bank.io import BankDocument, KnowledgePointDoc, LevelDoc, ReadResult, RowError
from examhall.bank.rules import ItemDraft

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "question_bank" / "hgzkg"
OFFICE_CSV = ROOT / "tests" / "data" / "office_items.csv"

Writer = Callable[[BankDocument, Path], None]
ROUND_TRIPS: list[tuple[Writer, str]] = [
    (io.write_folder, "bank"),
    (io.write_json, "bank.json"),
    (io.write_xlsx, "bank.xlsx"),
]


# --- a small bank built in code ---------------------------------------------------------------


def _item(code: str, level: int, kp: str, kind: str, difficulty: int, stem: str, *opts: str, **kw: Any) -> ItemDraft:
    options = tuple(zip("ABCDEFGH", opts, strict=False))
    return ItemDraft(
        code=code,
        level=level,
        kp=kp,
        type=kind,
        difficulty=difficulty,
        stem=stem,
        options=options,
        key=kw.get("key", "A"),
        points=Decimal(kw.get("points", "1")),
        explanation=kw.get("explanation", ""),
    )


SMALL_ITEMS = (
    _item("S-001", 4, "01.01", "judge", 1, "水的化学式是H₂O。", key="T", explanation="常识。"),
    _item("S-002", 4, "01.01", "single", 2, "下列属于强酸的是（  ）。", "醋酸", "硫酸", "碳酸", "氢硫酸", key="B"),
    _item(
        "S-003", 4, "01.02", "multiple", 3, "进入受限空间前应（  ）。", "办票", "通风", "检测", "监护", "单人进入",
        key="ABCD", points="2",
    ),
    _item("S-004", 4, "02.01", "single", 1, "离心泵启动前应先（  ）。", "灌泵", "开出口阀", "停电", "加油", key="A"),
    _item("S-005", 4, "02.01", "judge", 2, "离心泵可以长时间关闭出口阀运行。", key="F"),
    _item("S-006", 3, "01.01", "single", 2, "第一行：\n第二行（  ）。", "甲", "乙", "丙", key="C"),
    _item("S-007", 3, "01.02", "single", 1, "数值题（  ）。", "0.10", "0.01", "1.0", "10", key="A", points="1.5"),
    _item(
        "S-008", 3, "02.01", "multiple", 3, "八个选项的多选题（  ）。", "一", "二", "三", "四", "五", "六", "七", "八",
        key="BDFH", points="0.25", explanation="多行\n解析",
    ),
    _item("S-009", 3, "02.01", "judge", 1, "=号在Excel中表示公式的开始。", key="T"),
    _item("1001", 4, "01.01", "single", 2, "编号是纯数字的题（  ）。", "A项", "B项", "C项", "D项", key="D"),
    _item("S-011", 4, "01.02", "judge", 1, "动火作业必须办理动火证。", key="T"),
    _item("S-012", 4, "02.01", "single", 3, "泵的汽蚀与（  ）有关。", "吸入压力", "颜色", "重量", "品牌", key="A"),
    _item("S-013", 4, "02.01", "single", 2, "出口压力表用于（  ）。", "测压", "测温", "测流量", "测液位", key="A"),
    _item("S-014", 4, "01.02", "judge", 2, "安全帽可以代替防毒面具。", key="F"),
)  # fmt: skip

SMALL_BLUEPRINT: dict[str, Any] = {
    "format": "examhall-blueprint/1",
    "name": "小题库 四级",
    "level": 4,
    "duration_minutes": 30,
    "pass_mark": 6,
    "total_points": 10,
    "sections": [
        {"type": "judge", "title": "一、判断题", "points_each": 1},
        {"type": "single", "title": "二、单项选择题", "points_each": 1},
        {"type": "multiple", "title": "三、多项选择题", "points_each": 1.5, "scoring": "partial"},
    ],
    "rows": [{"kp": "01", "judge": 1, "single": 2, "multiple": 1}, {"kp": "02", "judge": 1, "single": 2}],
    "difficulty_mix": {"1": 0.3, "2": 0.5, "3": 0.2},
}


def small_bank(**changes: Any) -> BankDocument:
    doc = BankDocument(
        occupation_name="化工总控工",
        occupation_name_en="Chemical process control operator",
        occupation_code="6-11-01-01",
        standard_title="化工总控工国家职业技能标准",
        standard_code="职业编码 6-11-01-01",
        standard_year=2019,
        version="test.1",
        levels=(LevelDoc(4, "四级/中级工", "Level 4 (intermediate)"), LevelDoc(3, "三级/高级工", "Level 3 (advanced)")),
        knowledge_points=(
            KnowledgePointDoc("01", "基础知识", None, 0),
            KnowledgePointDoc("01.01", "化学基础", "01", 1),
            KnowledgePointDoc("01.02", "安全规程", "01", 2),
            KnowledgePointDoc("02", "设备操作", None, 3),
            KnowledgePointDoc("02.01", "泵的操作", "02", 4),
        ),
        items=SMALL_ITEMS,
        blueprints=(SMALL_BLUEPRINT,),
    )
    return dataclasses.replace(doc, **changes)


def sample() -> BankDocument:
    result = io.read_bank(SAMPLE)
    assert result.document is not None, result.errors
    return result.document


def keys(result: ReadResult) -> set[tuple[int, str | None, str]]:
    return {(e.row, e.item_id, e.field) for e in result.errors}


def only_error(result: ReadResult) -> RowError:
    assert len(result.errors) == 1, result.errors
    return result.errors[0]


def sheet(book: openpyxl.Workbook, name: str) -> Worksheet:
    ws = book[name]
    assert isinstance(ws, Worksheet)
    return ws


# --- the sample bank -----------------------------------------------------------------------------


def test_the_sample_bank_reads_without_a_single_error() -> None:
    result = io.read_bank(SAMPLE)
    assert result.errors == ()
    assert result.warnings == ()
    doc = result.document
    assert doc is not None
    assert doc.occupation_name == "化工总控工"
    assert [level.level for level in doc.levels] == [4, 3]
    assert [kp.code for kp in doc.knowledge_points if kp.parent is None] == [f"{n:02d}" for n in range(1, 11)]
    assert result.rows_read == len(doc.items) > 0
    assert len({item.code for item in doc.items}) == len(doc.items)


def test_the_sample_bank_is_complete() -> None:
    """≥ 400 items of both levels and all three types, and a blueprint per level."""
    doc = sample()
    assert len(doc.items) >= 400
    by_level_type = Counter((item.level, item.type) for item in doc.items)
    assert {(level, kind) for level in (4, 3) for kind in ("judge", "single", "multiple")} <= set(by_level_type)
    assert sorted(bp["level"] for bp in doc.blueprints) == [3, 4]
    assert all(bp["total_points"] == 100 for bp in doc.blueprints)


# --- round trips -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("write", "name"), ROUND_TRIPS, ids=["folder", "json", "xlsx"])
def test_export_then_import_gives_the_same_sample_bank(write: Writer, name: str, tmp_path: Path) -> None:
    doc = sample()
    write(doc, tmp_path / name)
    again = io.read_bank(tmp_path / name)
    assert again.errors == ()
    assert again.document == doc


@pytest.mark.parametrize(("write", "name"), ROUND_TRIPS, ids=["folder", "json", "xlsx"])
def test_export_then_import_keeps_awkward_content(write: Writer, name: str, tmp_path: Path) -> None:
    """Multi-line text, a stem starting with '=', '0.10' options, a numeric id, 8 options, points 0.25,
    a blueprint with a difficulty mix, no occupation code."""
    doc = small_bank(occupation_code=None, standard_code="")
    if write is io.write_folder:
        # a folder holds one file per level and top knowledge point, read in file-name order
        doc = dataclasses.replace(doc, items=tuple(sorted(doc.items, key=lambda item: f"L{item.level}-{item.kp[:2]}")))
        assert [item.code for item in doc.items[:4]] == ["S-006", "S-007", "S-008", "S-009"]
    write(doc, tmp_path / name)
    again = io.read_bank(tmp_path / name)
    assert again.errors == ()
    assert again.document == doc
    assert ("A", "0.10") in again.document.items[6].options + again.document.items[1].options


def test_a_csv_export_reads_back_into_its_bank_version(tmp_path: Path) -> None:
    doc = sample()
    io.write_csv(doc, tmp_path / "items.csv")
    assert (tmp_path / "items.csv").read_bytes().startswith(b"\xef\xbb\xbf")  # BOM: Excel shows Chinese
    again = io.read_bank(tmp_path / "items.csv", existing=dataclasses.replace(doc, items=()))
    assert again.errors == ()
    assert again.warnings == ()
    assert again.document is not None
    assert again.document.items == doc.items
    small = small_bank()
    io.write_csv(small, tmp_path / "small.csv")
    back = io.read_bank(tmp_path / "small.csv", existing=small_bank(items=()))
    assert back.document is not None and back.document.items == SMALL_ITEMS


def test_a_folder_export_replaces_the_files_of_an_older_export(tmp_path: Path) -> None:
    io.write_folder(small_bank(), tmp_path / "bank")
    fewer = small_bank(items=SMALL_ITEMS[:3], blueprints=())
    io.write_folder(fewer, tmp_path / "bank")
    assert sorted(p.name for p in (tmp_path / "bank" / "items").iterdir()) == ["L4-01.yaml"]
    assert io.read_bank(tmp_path / "bank").document == fewer


# --- a corrupted workbook ------------------------------------------------------------------------------


def test_every_bad_row_of_a_workbook_is_reported_with_its_row_id_and_field(tmp_path: Path) -> None:
    path = tmp_path / "bank.xlsx"
    io.write_xlsx(small_bank(), path)
    book = openpyxl.load_workbook(path)
    ws = sheet(book, "试题")  # A 题号 … G 题干, H … O 选项A … 选项H, P 答案, Q 解析
    ws.insert_rows(6)  # an empty row: S-005 … S-014 move down to rows 7 … 16
    ws["P3"] = "E"  # S-002: key not among the options
    ws["P4"] = None  # S-003: key missing
    ws["C5"] = "09.09"  # S-004: unknown knowledge point
    ws["C7"] = "01"  # S-005: not a leaf
    ws["A8"] = "S-001"  # S-006: duplicate id
    for column in "DEFGHIJKLMNOPQ":  # S-007: the same question as S-001
        ws[f"{column}9"] = ws[f"{column}2"].value
    ws["E10"] = "很难"  # S-008: difficulty
    ws["D11"] = "填空"  # S-009: type
    ws["G12"] = "=A1&B1"  # 1001: a formula
    ws["G13"] = "  "  # S-011: empty stem
    ws["Q17"] = "备注：以上试题待审核"  # stray content, no id
    book.save(path)

    result = io.read_bank(path)

    assert keys(result) == {
        (3, "S-002", "key"),
        (4, "S-003", "key"),
        (5, "S-004", "knowledge_point"),
        (7, "S-005", "knowledge_point"),
        (8, "S-001", "id"),
        (9, "S-007", "stem"),
        (10, "S-008", "difficulty"),
        (11, "S-009", "type"),
        (12, "1001", "stem"),
        (13, "S-011", "stem"),
        (17, None, "id"),
    }
    assert len(result.errors) == 11
    assert {e.source for e in result.errors} == {"bank.xlsx"}
    messages = {(e.row, e.message) for e in result.errors}
    assert (3, "key 'E' is not among the options ABCD") in messages
    assert (4, "the key is missing") in messages
    assert (5, "unknown knowledge point '09.09'") in messages
    assert (7, "'01' is not a leaf of the knowledge-point tree") in messages
    assert (8, "duplicate id S-001 (first on row 2)") in messages
    assert (9, "same question and options as S-001 (row 2)") in messages
    assert (10, "difficulty '很难' is not 1, 2, 3 or 易/中/难") in messages
    assert (11, "unknown item type '填空' (single/单选, multiple/多选, judge/判断)") in messages
    assert (12, "formula in cell G12; paste the value instead") in messages
    assert (13, "the question text is empty") in messages
    assert str(result.errors[0]) == "bank.xlsx: row 3 (S-002) key: key 'E' is not among the options ABCD"
    # the good rows are kept, for an import that skips the bad ones
    assert result.document is not None
    assert [item.code for item in result.document.items] == ["S-001", "S-012", "S-013", "S-014"]
    assert result.document.items[0] == SMALL_ITEMS[0]
    assert result.rows_read == 15
    assert result.warnings == ()


def test_a_corrupted_folder_names_the_file_and_the_position_of_the_item(tmp_path: Path) -> None:
    io.write_folder(small_bank(), tmp_path / "bank")
    first = tmp_path / "bank" / "items" / "L4-01.yaml"  # S-001, S-002, S-003, 1001, S-011
    first.write_text(first.read_text(encoding="utf-8").replace("key: B", "key: E  # was B"), encoding="utf-8")
    second = tmp_path / "bank" / "items" / "L4-02.yaml"  # S-004, S-005, S-012, S-013
    second.write_text(second.read_text(encoding="utf-8").replace("id: S-012", "id: S-001"), encoding="utf-8")
    result = io.read_bank(tmp_path / "bank")
    assert result.errors == (
        RowError("L4-01.yaml", 2, "S-002", "key", "key 'E' is not among the options ABCD"),
        RowError("L4-02.yaml", 3, "S-001", "id", "duplicate id S-001 (first on L4-01.yaml row 1)"),
    )
    assert result.document is not None and len(result.document.items) == len(SMALL_ITEMS) - 2


def test_a_yaml_syntax_error_makes_the_folder_unreadable(tmp_path: Path) -> None:
    io.write_folder(small_bank(), tmp_path / "bank")
    (tmp_path / "bank" / "items" / "L3-02.yaml").write_text("items:\n  - id: [unclosed\n", encoding="utf-8")
    result = io.read_bank(tmp_path / "bank")
    assert result.document is None
    error = only_error(result)
    assert (error.source, error.row) == ("L3-02.yaml", 0)
    assert "YAML syntax error at line" in error.message


def test_knowledge_point_tree_problems_are_reported_by_row(tmp_path: Path) -> None:
    path = tmp_path / "bank.xlsx"
    io.write_xlsx(small_bank(), path)
    book = openpyxl.load_workbook(path)
    tree = sheet(book, "细目表")  # rows 2 … 6 hold the five nodes
    tree.append(["01.01", "重复", "01"])
    tree.append(["03.01", "无上级", "03"])
    tree.append(["1.1", "编码不对", ""])
    tree.append(["02.02", "挂错上级", "01"])
    book.save(path)
    result = io.read_bank(path)
    assert [(e.row, e.field) for e in result.errors] == [(7, "knowledge_points"), (8, "knowledge_points"),
                                                         (9, "knowledge_points"), (10, "knowledge_points")]  # fmt: skip
    assert [e.message for e in result.errors] == [
        "duplicate code 01.01 (first on row 3)",
        "the parent 03 of 03.01 is not defined above it",
        "code '1.1' is not a knowledge-point code like 05 or 05.02 (two digits per level)",
        "code 02.02 does not lie under its parent 01 (expected 01.xx)",
    ]
    assert result.document is not None
    assert result.document.knowledge_points == small_bank().knowledge_points


# --- spreadsheets from exam offices ------------------------------------------------------------------

OFFICE_ITEMS = (
    ItemDraft("GX-001", 4, "01.01", "judge", 1, "硫酸是强酸。", (), "T"),
    ItemDraft(
        "GX-002", 4, "01.02", "single", 2, "进入受限空间作业前首先应（  ）。",
        (("A", "办理作业票"), ("B", "直接进入"), ("C", "戴好手套"), ("D", "通知家属")), "A",
        explanation="先办票、后作业。",
    ),
    ItemDraft(
        "GX-003", 4, "02.01", "multiple", 3, "离心泵启动前应（  ）。",
        (("A", "灌泵排气"), ("B", "关闭出口阀"), ("C", "全开出口阀"), ("D", "盘车检查")), "ABD", Decimal(2),
    ),
    ItemDraft(
        "GX-004", 3, "02.01", "single", 2, "离心泵扬程的单位是（  ）。",
        (("A", "m"), ("B", "Pa"), ("C", "kW"), ("D", "N")), "A", Decimal("1.5"),
    ),
    ItemDraft(
        "GX-005", 3, "01.01", "judge", 3, "浓硫酸稀释时，\n应将水缓慢倒入浓硫酸中。", (), "F", Decimal("0.5"),
        "应将酸缓慢倒入水中。",
    ),
    ItemDraft(
        "GX-006", 3, "01.02", "multiple", 3, "动火作业前必须（  ）。",
        (("A", "办理动火证"), ("B", "分析可燃气体"), ("C", "清理周围可燃物"), ("D", "关闭照明"), ("E", "设监护人")),
        "ABCE",
    ),
)  # fmt: skip


def test_office_spellings_of_types_difficulties_keys_levels_and_knowledge_points_are_read() -> None:
    result = io.read_bank(OFFICE_CSV, existing=small_bank(items=()))
    assert result.errors == ()
    assert result.warnings == ()
    assert result.document is not None
    assert result.document.items == OFFICE_ITEMS
    assert result.document.blueprints == ()  # a .csv holds items only


def test_a_gbk_csv_is_read_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "gbk.csv"
    path.write_bytes(OFFICE_CSV.read_text(encoding="utf-8").encode("gbk"))
    result = io.read_bank(path, existing=small_bank(items=()))
    assert result.errors == ()
    assert result.warnings == ("file was read as GBK/GB18030",)
    assert result.document is not None and result.document.items == OFFICE_ITEMS


def test_a_csv_in_another_encoding_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "utf16.csv"
    path.write_bytes(OFFICE_CSV.read_text(encoding="utf-8").encode("utf-16"))
    result = io.read_bank(path, existing=small_bank(items=()))
    assert result.document is None
    error = only_error(result)
    assert error.row == 0
    assert "neither UTF-8 nor GBK/GB18030" in error.message


def test_a_csv_needs_the_bank_version_it_belongs_to() -> None:
    result = io.read_bank(OFFICE_CSV)
    assert result.document is None
    assert "--version-id" in only_error(result).message


def test_ids_and_questions_already_in_the_bank_version_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "more.csv"
    io.write_csv(small_bank(items=(SMALL_ITEMS[1], dataclasses.replace(SMALL_ITEMS[3], code="S-099"))), path)
    result = io.read_bank(path, existing=small_bank())
    assert [(e.row, e.item_id, e.field, e.message) for e in result.errors] == [
        (2, "S-002", "id", "id S-002 already exists in the bank version"),
        (3, "S-099", "stem", "same question and options as S-004, already in the bank version"),
    ]


def test_english_headers_with_spaces_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "english.csv"
    header = " id , level, kp ,type,difficulty,points,stem,option_a,Option B, C ,key,explanation"
    row = 'E-1,4,01.01,single,medium,1,"Which is a strong acid?",acetic,sulfuric,carbonic,"b",'
    path.write_text(header + "\n" + row + "\n", encoding="utf-8")
    result = io.read_bank(path, existing=small_bank(items=()))
    assert result.errors == ()
    assert result.document is not None
    assert result.document.items == (
        ItemDraft("E-1", 4, "01.01", "single", 2, "Which is a strong acid?",
                  (("A", "acetic"), ("B", "sulfuric"), ("C", "carbonic")), "B"),
    )  # fmt: skip


def test_missing_columns_are_all_named(tmp_path: Path) -> None:
    path = tmp_path / "bank.xlsx"
    io.write_xlsx(small_bank(), path)
    book = openpyxl.load_workbook(path)
    items = sheet(book, "试题")
    items.delete_cols(16)  # 答案
    items.delete_cols(5)  # 难度
    book.save(path)
    result = io.read_bank(path)
    assert result.document is None
    error = only_error(result)
    assert error.row == 0
    assert "难度 (difficulty)" in error.message and "答案 (key)" in error.message


def test_a_missing_sheet_is_named(tmp_path: Path) -> None:
    path = tmp_path / "bank.xlsx"
    io.write_xlsx(small_bank(), path)
    book = openpyxl.load_workbook(path)
    del book["细目表"]
    book.save(path)
    result = io.read_bank(path)
    assert result.document is None
    assert "missing sheet(s) 细目表" in only_error(result).message


def test_a_workbook_of_items_only_adds_to_an_existing_bank_version(tmp_path: Path) -> None:
    path = tmp_path / "items.xlsx"
    io.write_xlsx(small_bank(), path)
    book = openpyxl.load_workbook(path)
    for name in ("题库信息", "细目表", "组卷计划"):
        del book[name]
    book.save(path)
    result = io.read_bank(path, existing=small_bank(items=(), blueprints=()))
    assert result.errors == ()
    assert result.document == small_bank(blueprints=())


@pytest.mark.parametrize("content", [b"PK\x03\x04 not really a zip", "题号,题干\n1,x\n".encode(), b"\x00" * 64])
def test_a_file_that_is_not_a_workbook_is_refused(content: bytes, tmp_path: Path) -> None:
    path = tmp_path / "bank.xlsx"
    path.write_bytes(content)
    result = io.read_bank(path)
    assert result.document is None
    error = only_error(result)
    assert (error.source, error.row) == ("bank.xlsx", 0)
    assert "not an Excel workbook" in error.message


@pytest.mark.parametrize("name", ["bank.xlsx", "bank.csv", "bank.json"])
def test_an_empty_file_is_refused(name: str, tmp_path: Path) -> None:
    (tmp_path / name).write_bytes(b"")
    result = io.read_bank(tmp_path / name, existing=small_bank())
    assert result.document is None
    assert only_error(result).message == "the file is empty"


def test_progress_counts_up_to_the_number_of_rows(tmp_path: Path) -> None:
    path = tmp_path / "bank.xlsx"
    io.write_xlsx(sample(), path)
    calls: list[tuple[int, int]] = []
    result = io.read_bank(path, progress=lambda done, total: calls.append((done, total)))
    total = result.rows_read
    assert total > 0
    assert calls[-1] == (total, total)
    assert {t for _, t in calls} == {total}
    counts = [done for done, _ in calls]
    assert counts == sorted(set(counts))  # strictly increasing
