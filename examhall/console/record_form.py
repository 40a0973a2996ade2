"""The room record form (考场记录表, R-INC-1, R-REG-4) as a PDF, in Chinese.

ReportLab's built-in CID font STSong-Light renders Chinese without any font file on the server
(the PDF viewer supplies the glyphs). The form lists the room's entries and ends with blank rows
to write on; without entries it is a blank form to print before the exam. The invigilators and the
chief sign at the bottom. No database here: the route gathers a ``RecordForm``. Several forms (one
per room, printed before the exam) make one PDF with ``render_record_forms``; each form keeps its
own footer and page numbers.
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Callable, Sequence
from typing import Any, Final

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    NextPageTemplate,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

FONT: Final = "STSong-Light"
MIN_ROWS: Final = 12  # a printed form has room to write at least this many entries
BLANK_AFTER: Final = 3  # blank rows after the last entry
HEADERS: Final = ("编号", "时间", "座号", "考生", "类别", "情况记录", "记录人", "主考处理意见")
WIDTHS_MM: Final = (14, 16, 12, 26, 48, 83, 28, 46)  # 273 mm: A4 landscape less the margins
PAGE: Final = landscape(A4)
MARGINS_MM: Final = (12, 12, 12, 14)  # left, right, top, bottom


@dataclasses.dataclass(frozen=True)
class FormRow:
    number: str
    time: str
    seat: str
    candidate: str
    category: str
    text: str
    recorded_by: str
    decision: str


@dataclasses.dataclass(frozen=True)
class RecordForm:
    site: str
    sitting: str
    room: str
    date: str
    time: str  # "09:00–10:30"
    seated: int  # 应考人数
    present: int | None  # 实考人数; None on a blank form printed before the exam (written in by hand)
    rows: Sequence[FormRow]
    printed_at: str


def _register_font() -> None:
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("cell", fontName=FONT, fontSize=9, leading=12, wordWrap="CJK")
    return {
        "title": ParagraphStyle("title", parent=base, fontSize=18, leading=24, alignment=1, spaceAfter=4 * mm),
        "info": ParagraphStyle("info", parent=base, fontSize=10.5, leading=15),
        "cell": base,
        "head": ParagraphStyle("head", parent=base, alignment=1),
        "note": ParagraphStyle("note", parent=base, fontSize=8, leading=11, textColor=colors.grey),
    }


def _escape(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\n", "<br/>")


def render_record_form(form: RecordForm) -> bytes:
    """The form as PDF bytes."""
    return render_record_forms([form])


def render_record_forms(forms: Sequence[RecordForm], progress: Callable[[int, int], None] | None = None) -> bytes:
    """Several forms (e.g. one blank form per room) as one PDF; each starts on a new page and has
    its own footer and page numbers. ``progress(done, total)`` is called as each form is laid out."""
    if not forms:
        raise ValueError("no record form to render")
    _register_font()
    buffer = io.BytesIO()
    left, right, top, bottom = (m * mm for m in MARGINS_MM)
    first = forms[0]
    doc = BaseDocTemplate(
        buffer,
        pagesize=PAGE,
        leftMargin=left,
        rightMargin=right,
        topMargin=top,
        bottomMargin=bottom,
        title=f"考场记录表 {first.sitting} {first.room}" if len(forms) == 1 else f"考场记录表 {first.sitting}",
        author=first.site,
    )
    frame_box = (doc.leftMargin, doc.bottomMargin, doc.width, doc.height)
    doc.addPageTemplates(
        [
            PageTemplate(id=f"form-{i}", frames=[Frame(*frame_box, id=f"body-{i}")], onPage=_footer(form))
            for i, form in enumerate(forms)
        ]
    )
    story: list[Flowable] = []
    for i, form in enumerate(forms):
        if i:
            story += [NextPageTemplate(f"form-{i}"), PageBreak()]
        story += record_form_story(form)
        if progress is not None:
            story.append(_Reached(progress, i + 1, len(forms)))
    doc.build(story)
    return buffer.getvalue()


class _Reached(Flowable):
    """Takes no room; tells ``progress`` when the layout gets past it."""

    def __init__(self, progress: Callable[[int, int], None], done: int, total: int) -> None:
        super().__init__()
        self._progress, self._done, self._total = progress, done, total

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        return 0, 0

    def draw(self) -> None:
        self._progress(self._done, self._total)


def _footer(form: RecordForm) -> Callable[[Any, Any], None]:
    """The footer of one form's pages, numbered from the form's first page."""
    first_page: list[int] = []

    def footer(canvas: Any, document: Any) -> None:
        if not first_page:
            first_page.append(document.page)
        canvas.saveState()
        canvas.setFont(FONT, 8)
        canvas.drawRightString(
            PAGE[0] - MARGINS_MM[1] * mm,
            7 * mm,
            f"{form.sitting} · {form.room} · 第 {document.page - first_page[0] + 1} 页",
        )
        canvas.restoreState()

    return footer


def record_form_story(form: RecordForm) -> list[Flowable]:
    """The flowables of one form: title, room facts, entries with blank rows, signatures."""
    st = _styles()
    if form.present is None:
        counts = f"应考 {form.seated} 人　实考 ____ 人　缺考 ____ 人"
    else:
        counts = f"应考 {form.seated} 人　实考 {form.present} 人　缺考 {max(0, form.seated - form.present)} 人"
    info = Table(
        [
            [
                Paragraph(f"考点：{_escape(form.site)}", st["info"]),
                Paragraph(f"考试场次：{_escape(form.sitting)}", st["info"]),
                Paragraph(f"考场：{_escape(form.room)}", st["info"]),
            ],
            [
                Paragraph(f"考试日期：{_escape(form.date)}", st["info"]),
                Paragraph(f"考试时间：{_escape(form.time)}", st["info"]),
                Paragraph(counts, st["info"]),
            ],
        ],
        colWidths=[88 * mm, 120 * mm, 65 * mm],
    )
    info.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "MIDDLE"), ("BOTTOMPADDING", (0, 0), (-1, -1), 3)]))

    body: list[list[Any]] = [[Paragraph(h, st["head"]) for h in HEADERS]]
    for row in form.rows:
        cells = (
            row.number,
            row.time,
            row.seat,
            row.candidate,
            row.category,
            row.text,
            row.recorded_by,
            row.decision,
        )
        body.append([Paragraph(_escape(value), st["cell"]) for value in cells])
    blanks = max(MIN_ROWS - len(form.rows), BLANK_AFTER)
    body.extend([[""] * len(HEADERS) for _ in range(blanks)])
    entries = Table(
        body,
        colWidths=[w * mm for w in WIDTHS_MM],
        repeatRows=1,
        rowHeights=[None] * (len(body) - blanks) + [9 * mm] * blanks,
    )
    entries.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), FONT, 9),
                ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    signatures = Table(
        [
            [
                Paragraph("监考人员签名：________________　________________", st["info"]),
                Paragraph("主考签名：________________", st["info"]),
                Paragraph("日期：____年____月____日", st["info"]),
            ]
        ],
        colWidths=[130 * mm, 80 * mm, 63 * mm],
    )
    return [
        Paragraph("考场记录表", st["title"]),
        info,
        Spacer(1, 3 * mm),
        entries,
        Spacer(1, 8 * mm),
        signatures,
        Spacer(1, 4 * mm),
        Paragraph(
            "说明：违纪违规按《职业技能等级认定考生违纪违规处理办法》处理；记录只增不改，更正另起一条并注明所更正的编号。"
            f"打印时间：{_escape(form.printed_at)}",
            st["note"],
        ),
    ]
