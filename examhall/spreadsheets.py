"""Reading and writing the spreadsheets exam offices keep their lists in (xlsx and csv).

Shared by the question-bank files (:mod:`examhall.bank.io`) and the candidate registration files
(:mod:`examhall.batches.registration_io`): cell values as text, header matching, formula and
error cells, csv decoding (UTF-8 with or without BOM, GBK/GB18030 as saved by Chinese Excel,
optionally UTF-16 with BOM as Excel's "Unicode text"), csv records as rows. Pure file handling: no
database, no web framework.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from io import StringIO
from typing import Final

from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.formula import ArrayFormula, DataTableFormula
from openpyxl.worksheet.worksheet import Worksheet

EXCEL_ERRORS: Final = frozenset({"#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A", "#GETTING_DATA"})

UTF8: Final = "utf-8"
UTF16: Final = "utf-16"
GB18030: Final = "gb18030"


def text(value: object) -> str:
    """A cell or YAML/JSON value as trimmed text ("" for nothing)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value).replace("\r\n", "\n").replace("\r", "\n").strip()


def header_key(raw: object) -> str:
    """A header cell (or alias) as compared: white space removed, lower case."""
    return re.sub(r"\s+", "", text(raw)).lower()


def header_lookup(spec: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """{field: (alias, …)} → {header key: field}."""
    return {header_key(alias): name for name, aliases in spec.items() for alias in aliases}


@dataclass(frozen=True)
class Cell:
    value: object
    ref: str  # "G12"
    formula: bool = False
    error: bool = False  # an error value such as #N/A

    @property
    def empty(self) -> bool:
        return not self.formula and text(self.value) == ""


Row = tuple[int, list[Cell]]  # (1-based row number, cells from column A)


def sheet_rows(ws: Worksheet) -> list[Row]:
    """Every row of a worksheet with its cells, formulas and error values flagged."""
    rows: list[Row] = []
    for cells in ws.iter_rows():
        if not cells:
            continue
        row = cells[0].row
        assert row is not None
        out = []
        for column, cell in enumerate(cells, start=1):
            value = cell.value
            formula = cell.data_type == "f" or isinstance(value, ArrayFormula | DataTableFormula)
            error = cell.data_type == "e" or (isinstance(value, str) and value in EXCEL_ERRORS)
            out.append(Cell(value, f"{get_column_letter(column)}{row}", formula, error))
        rows.append((row, out))
    return rows


def cell_problem(cell: Cell) -> str | None:
    """Why a cell's value cannot be used as it is (a formula or an error value), or None."""
    if cell.formula:
        return f"formula in cell {cell.ref}; paste the value instead"
    if cell.error:
        return f"cell {cell.ref} holds the error value {cell.value}; paste the value instead"
    return None


def map_columns(
    header: Sequence[Cell], lookup: Mapping[str, str], source: str, where: str, warnings_: list[str]
) -> tuple[dict[int, str], list[str]]:
    """Column index → field; problems (duplicates) of the header row. Unknown columns are warned about."""
    columns: dict[int, str] = {}
    seen: dict[str, str] = {}
    problems: list[str] = []
    for index, cell in enumerate(header):
        key = header_key(cell.value)
        if not key:
            continue
        name = lookup.get(key)
        column = re.sub(r"\d+", "", cell.ref)
        if name is None:
            warnings_.append(f"{source}: column {text(cell.value)!r} of {where} is not used")
            continue
        if name in seen:
            problems.append(f"column {text(cell.value)} appears twice ({seen[name]} and {column})")
            continue
        seen[name] = column
        columns[index] = name
    return columns, problems


def decode_csv(data: bytes, *, utf16: bool = False) -> tuple[str, str] | None:
    """The text of a csv file and the encoding it was read with: UTF-8 (with or without BOM), or
    GB18030 (which includes GBK); with ``utf16``, also UTF-16 with a BOM (Excel's "Unicode text",
    tab separated). None when it is none of them."""
    if utf16 and data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), UTF16
        except UnicodeDecodeError:
            return None
    try:
        return data.decode("utf-8-sig"), UTF8
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030"), GB18030
    except UnicodeDecodeError:
        return None


def csv_rows(text_: str) -> list[Row]:
    """The records of csv text as rows (comma, tab or semicolon separated, guessed from the first
    line). Raises csv.Error for text that is not csv."""
    first_line = text_.split("\n", 1)[0]
    delimiter = ","
    if "," not in first_line:
        delimiter = "\t" if "\t" in first_line else ";" if ";" in first_line else ","
    records = list(csv.reader(StringIO(text_, newline=""), delimiter=delimiter))
    return [
        (number, [Cell(value, f"{get_column_letter(col)}{number}") for col, value in enumerate(record, start=1)])
        for number, record in enumerate(records, start=1)
    ]


def put_row(ws: Worksheet, values: Sequence[object], *, bold: bool = False) -> None:
    """Append a row; text stays text (a value starting with "=" is not made a formula)."""
    ws.append(list(values))
    for cell in ws[ws.max_row]:
        if isinstance(cell.value, str):
            cell.data_type = "s"  # text that starts with "=" stays text, not a formula
            cell.number_format = "@"
        if bold:
            cell.font = Font(bold=True)


def xlsx_bytes(sheet_title: str, headers: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    """One sheet for an export: bold header row that stays visible, columns wide enough to read."""
    from io import BytesIO

    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = sheet_title[:31]
    put_row(sheet, headers, bold=True)
    widths = [len(str(h)) for h in headers]
    for row in rows:
        put_row(sheet, row)
        widths = [max(w, len(str(v))) for w, v in zip(widths, row, strict=False)] + widths[len(row) :]
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = min(60, 4 + width * 1.6)
    sheet.freeze_panes = "A2"
    buffer = BytesIO()
    book.save(buffer)
    return buffer.getvalue()
