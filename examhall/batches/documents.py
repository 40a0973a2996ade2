"""A batch's printable documents (R-REG-4) as PDF, in Chinese: admission tickets (准考证), desk
labels (桌贴), room door lists (考场门贴), sign-in sheets (签到表) and blank room record forms
(考场记录表, R-INC-1).

Pure: the caller gathers a ``SittingInfo`` and its ``RoomInfo``/``SeatInfo`` rows; every renderer
returns a ``Rendered`` (PDF bytes, page count, problems). Text uses ReportLab's built-in CID font
STSong-Light (no font file on the server; the PDF viewer supplies the glyphs), numbers Helvetica.
Pages are drawn straight on a canvas, so 1,000 tickets take a few seconds; a decoded photo is
kept per distinct bytes and embedded once (JPEG as it is, shrunk first when far larger than
printed).

Problems do not stop a batch: a photo that cannot be read prints as an empty photo frame and a
ticket number that a scanner could not type prints without its QR code; both are listed in
``Rendered.problems`` for the user to fix and print again. Rooms without seats print nothing; a
document with nothing to print raises ``NothingToPrint``.

Each renderer takes an optional ``progress(done, total)``, called as candidates (tickets, desk
labels), pages (door lists, sign-in sheets) or rooms (record forms) are done; the renderer runs
in a worker thread (``examhall.batches.printing``), so the callback must be thread-safe.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import itertools
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Final, Literal

from PIL import Image, ImageOps
from reportlab import rl_config
from reportlab.graphics.barcode import qrencoder
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas

from examhall.console.record_form import RecordForm, render_record_forms

Progress = Callable[[int, int], None]

FONT: Final = "STSong-Light"  # Chinese: a standard CJK font of ReportLab and PDF viewers, not embedded
LATIN: Final = "Helvetica"
LATIN_BOLD: Final = "Helvetica-Bold"
PAGE_W, PAGE_H = A4
QR_LEVEL: Final = "M"  # error correction: survives a crease or a smudge on a printed ticket
PHOTO_FORMATS: Final = frozenset({"JPEG", "PNG"})
PHOTO_MAX_PIXELS: Final = 40_000_000  # refuse to decode anything larger (a decompression bomb)
PHOTO_PRINT_PX: Final = (600, 800)  # larger photos are shrunk to this before embedding (≈ 500 dpi)
DOOR_ROWS_PER_PAGE: Final = 30

PHOTO_UNREADABLE: Final = "photo_unreadable"
TICKET_NOT_ENCODABLE: Final = "ticket_not_encodable"

_RENDER_LOCK = threading.Lock()

TICKET_TITLE: Final = "职业技能等级认定　准考证"
TICKET_NOTES: Final = (
    "一、凭本准考证和本人有效居民身份证原件参加考试，二者缺一不得入场。",
    "二、请于开考前30分钟到达考点，开考前20分钟凭证进入考场，按桌号就座。",
    "三、开考30分钟后不得入场；考试结束前30分钟内方可交卷离场。",
    "四、手机、智能手表等电子设备须关机并放在指定位置，不得带至座位。",
    "五、上机后核对屏幕上的姓名、照片和准考证号，有问题举手示意。",
    "六、遵守考场纪律，服从监考人员管理，违纪违规者按有关规定处理。",
)


class NothingToPrint(ValueError):
    """No room of the sitting has a candidate, so the document would be empty."""


@dataclasses.dataclass(frozen=True)
class SittingInfo:
    """The sitting the documents are for (one theory sitting of a batch)."""

    batch: str  # 批次, e.g. "2025年第3批次职业技能等级认定"
    title: str  # 场次, as on the record form, e.g. "化工总控工四级理论知识考试"
    date: str  # e.g. "2025年6月14日（星期六）"
    time: str  # e.g. "09:00–10:30"
    subject: str = "理论知识考试（机考）"
    printed_at: str = ""  # e.g. "2025-06-10 14:30"; printed small in footers


@dataclasses.dataclass(frozen=True)
class SeatInfo:
    """A candidate in their seat, with what the documents print about them."""

    seat: int  # 桌号
    ticket: str  # 准考证号
    name: str
    id_number: str
    occupation: str  # e.g. "化工总控工"
    level: str  # e.g. "四级/中级工"
    gender: str | None = None  # 男 / 女
    photo: bytes | None = None  # JPEG or PNG


@dataclasses.dataclass(frozen=True)
class RoomInfo:
    """An exam room (考场) of a site (考点) with its seated candidates (in any order)."""

    name: str  # e.g. "第01考场"
    site: str  # e.g. "济南市技师学院考点"
    seats: Sequence[SeatInfo]
    location: str = ""  # e.g. "实训楼3层302机房"


@dataclasses.dataclass(frozen=True)
class Problem:
    """Something printed incompletely, for one candidate. ``kind`` is ``PHOTO_UNREADABLE`` (an
    empty photo frame was printed) or ``TICKET_NOT_ENCODABLE`` (no QR code was printed);
    ``detail`` is technical, for the log."""

    kind: str
    ticket: str
    name: str
    detail: str


@dataclasses.dataclass(frozen=True)
class Rendered:
    pdf: bytes
    pages: int
    problems: tuple[Problem, ...] = ()


# --- small pure helpers ---------------------------------------------------------------------------


def mask_id_number(id_number: str) -> str:
    """An ID number for lists others can see: a resident ID (15 or 18 characters) keeps its first 6
    (the region) and last 4, e.g. 370102********1234; another document number keeps 2 + 2; a
    number of 6 characters or fewer is masked whole."""
    value = "".join(id_number.split()).upper()
    if len(value) >= 15:
        keep_head, keep_tail = 6, 4
    elif len(value) > 6:
        keep_head, keep_tail = 2, 2
    else:
        return "*" * len(value)
    return value[:keep_head] + "*" * (len(value) - keep_head - keep_tail) + value[-keep_tail:]


def ticket_qr_value(ticket: str) -> str:
    """What a ticket's QR code holds: the ticket number itself, so that a USB scanner (a keyboard
    to the computer) types it into the check-in field. Only printable ASCII can be typed that way."""
    value = ticket.strip()
    if not value or not value.isascii() or not value.isprintable():
        raise ValueError(f"ticket number {ticket!r} cannot be typed by a barcode scanner")
    return value


def ticket_qr_matrix(ticket: str) -> tuple[tuple[bool, ...], ...]:
    """The QR code of a ticket (rows of modules, True = dark), encoded by ReportLab's encoder,
    the one behind ``reportlab.graphics.barcode.qr.QrCodeWidget``."""
    code = qrencoder.QRCode(None, getattr(qrencoder.QRErrorCorrectLevel, QR_LEVEL))
    code.addData(ticket_qr_value(ticket))
    code.make()
    return tuple(tuple(bool(module) for module in row) for row in code.modules)


def occupation_and_level(seat: SeatInfo) -> str:
    return f"{seat.occupation}　{seat.level}".strip()


# --- photos ---------------------------------------------------------------------------------------


class _Photos:
    """Decoded photos of one rendering, one per distinct bytes; ``None`` for an unreadable one."""

    def __init__(self) -> None:
        self._readers: dict[bytes, ImageReader | None] = {}
        self._errors: dict[bytes, str] = {}
        self.problems: list[Problem] = []
        self._reported: set[str] = set()

    def get(self, seat: SeatInfo) -> ImageReader | None:
        data = seat.photo
        if not data:
            return None
        if data not in self._readers:
            try:
                self._readers[data] = _photo_reader(data)
            except Exception as exc:  # any decoder error: the frame stays empty, the batch goes on
                self._readers[data] = None
                self._errors[data] = f"{type(exc).__name__}: {exc}"
        reader = self._readers[data]
        if reader is None and seat.ticket not in self._reported:
            self._reported.add(seat.ticket)
            self.problems.append(Problem(PHOTO_UNREADABLE, seat.ticket, seat.name, self._errors[data]))
        return reader


def _photo_reader(data: bytes) -> ImageReader:
    """A checked, decoded photo. JPEGs are embedded as they are (no re-encoding) unless they must
    be turned upright or are far larger than printed."""
    with Image.open(io.BytesIO(data)) as probe:  # reads the header only
        if probe.format not in PHOTO_FORMATS:
            raise ValueError(f"not a JPEG or PNG image ({probe.format})")
        width, height = probe.size
        if width * height > PHOTO_MAX_PIXELS:
            raise ValueError(f"image too large ({width}×{height})")
        turned = probe.getexif().get(0x0112, 1) != 1  # EXIF orientation: shown turned
        if not turned and width <= PHOTO_PRINT_PX[0] and height <= PHOTO_PRINT_PX[1]:
            source = data  # JPEG embedded as it is; PNG keeps its transparency
        else:
            image = ImageOps.exif_transpose(probe)
            image.thumbnail(PHOTO_PRINT_PX)
            flat = Image.new("RGB", image.size, "white")
            flat.paste(image, mask=image.getchannel("A") if "A" in image.getbands() else None)
            out = io.BytesIO()
            flat.save(out, "JPEG", quality=88)
            source = out.getvalue()
    reader = ImageReader(io.BytesIO(source))
    # Decode it all now: a truncated or corrupt file fails here rather than halfway through a page,
    # and ReportLab, which names an image by its pixels, keeps them for every later use.
    reader.getRGBData()  # type: ignore[no-untyped-call]
    return reader


# --- drawing helpers ------------------------------------------------------------------------------


@contextlib.contextmanager
def _rendering() -> Iterator[None]:
    """One rendering at a time, with binary PDF streams. ReportLab's default wraps every stream in
    ASCII85 (a text-safe encoding no one needs here), which in pure Python costs more than all
    the drawing when photos are embedded, and makes the file a quarter larger. Its switch is
    global, hence the lock (rendering is CPU-bound, so serialising costs nothing)."""
    with _RENDER_LOCK:
        before = rl_config.useA85
        rl_config.useA85 = 0
        try:
            yield
        finally:
            rl_config.useA85 = before


def _register_fonts() -> None:
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))


def _canvas(buffer: io.BytesIO, title: str, author: str) -> Canvas:
    _register_fonts()
    canvas = Canvas(buffer, pagesize=A4, pageCompression=1)
    canvas.setTitle(title)
    canvas.setAuthor(author)
    canvas.setCreator("examhall")
    return canvas


def _font_for(text: str, bold: bool = False) -> str:
    if text.isascii():
        return LATIN_BOLD if bold else LATIN
    return FONT


def _fitted(text: str, font: str, size: float, width: float | None, smallest: float) -> tuple[str, float]:
    """The text and a font size at which it fits ``width``: shrunk down to ``smallest``, then cut
    with an ellipsis."""
    if width is None:
        return text, size
    actual = pdfmetrics.stringWidth(text, font, size)
    if actual <= width:
        return text, size
    size = max(smallest, size * width / actual)
    while text and pdfmetrics.stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return (text + "…" if text else text), size


def _text(
    canvas: Canvas,
    x: float,
    y: float,
    text: str,
    size: float,
    *,
    font: str = FONT,
    width: float | None = None,
    align: Literal["left", "centre", "right"] = "left",
    bold: bool = False,
    smallest: float = 6,
    colour: colors.Color = colors.black,
) -> None:
    """One line of text at baseline ``y``; ``x`` is its left end, centre or right end. Bold for the
    Chinese font (which has no bold face) is drawn by stroking the glyphs' outlines too."""
    if not text:
        return
    text, size = _fitted(text, font, size, width, smallest)
    shown = pdfmetrics.stringWidth(text, font, size)
    if align == "centre":
        x -= shown / 2
    elif align == "right":
        x -= shown
    if colour is not colors.black:
        canvas.setFillColor(colour)
    obj = canvas.beginText(x, y)
    obj.setFont(font, size)
    if bold and font == FONT:
        canvas.setStrokeColor(colour)
        canvas.setLineWidth(size * 0.035)
        obj.setTextRenderMode(2)
        obj.textOut(text)
        obj.setTextRenderMode(0)
    else:
        obj.textOut(text)
    canvas.drawText(obj)
    if colour is not colors.black:
        canvas.setFillColor(colors.black)
        canvas.setStrokeColor(colors.black)


def _cell_baseline(bottom: float, height: float, size: float) -> float:
    return bottom + height / 2 - size * 0.35


def _dark_runs(row: Sequence[bool]) -> list[tuple[int, int]]:
    """(first column, length) of each run of dark modules in a row."""
    runs, column = [], 0
    for dark, run in itertools.groupby(row):
        length = sum(1 for _ in run)
        if dark:
            runs.append((column, length))
        column += length
    return runs


def qr_rectangles(matrix: Sequence[Sequence[bool]]) -> list[tuple[int, int, int, int]]:
    """The dark modules as rectangles (column, row, width, height in modules): runs along a row,
    stacked with the same run of the rows below (about a third fewer to draw)."""
    rectangles: list[tuple[int, int, int, int]] = []
    open_since: dict[tuple[int, int], int] = {}  # run -> first row it is on
    for r, row in enumerate([*matrix, ()]):  # an empty row last closes every run
        runs = set(_dark_runs(row))
        for run in [run for run in open_since if run not in runs]:
            start = open_since.pop(run)
            rectangles.append((run[0], start, run[1], r - start))
        for run in runs:
            open_since.setdefault(run, r)
    return rectangles


def _qr(canvas: Canvas, matrix: Sequence[Sequence[bool]], x: float, y: float, side: float) -> None:
    """The QR code as one filled path (its quiet zone is the white paper around it: keep 4 modules
    clear)."""
    count = len(matrix)
    canvas.saveState()
    canvas.translate(x, y + side)
    canvas.scale(side / count, -side / count)  # one unit per module, rows downwards
    path = canvas.beginPath()
    for column, row, width, height in qr_rectangles(matrix):
        path.rect(column, row, width, height + 0.02)  # overlap a hair: no hairline gaps between rows
    canvas.setFillColor(colors.black)
    canvas.drawPath(path, stroke=0, fill=1)
    canvas.restoreState()


def _photo_frame(canvas: Canvas, reader: ImageReader | None, x: float, y: float, w: float, h: float, big: bool) -> None:
    """The photo fitted into its frame, or an empty frame to paste a photo in."""
    if reader is not None:
        canvas.drawImage(reader, x, y, w, h, preserveAspectRatio=True, anchor="c", mask="auto")
    elif big:
        _text(canvas, x + w / 2, y + h / 2 + 1 * mm, "照片", 14, align="centre", colour=colors.grey)
        _text(canvas, x + w / 2, y + h / 2 - 5 * mm, "（近期免冠一寸）", 7, align="centre", colour=colors.grey)
    canvas.setLineWidth(0.6)
    canvas.setStrokeColor(colors.black if big else colors.grey)
    canvas.rect(x, y, w, h, stroke=1, fill=0)
    canvas.setStrokeColor(colors.black)


def _rooms_with_seats(rooms: Sequence[RoomInfo]) -> list[tuple[RoomInfo, list[SeatInfo]]]:
    chosen = [(room, sorted(room.seats, key=lambda s: s.seat)) for room in rooms if room.seats]
    if not chosen:
        raise NothingToPrint("no room has a candidate")
    return chosen


def _chunks(seats: Sequence[SeatInfo], size: int) -> Iterator[Sequence[SeatInfo]]:
    for start in range(0, len(seats), size):
        yield seats[start : start + size]


def _room_line(room: RoomInfo) -> str:
    return f"{room.name}（{room.location}）" if room.location else room.name


def _page_footer(canvas: Canvas, left: str, page: int, pages: int, printed_at: str) -> None:
    if pages > 1:
        left = f"{left}　第 {page}/{pages} 页"
    _text(canvas, 15 * mm, 8 * mm, left, 8, colour=colors.grey, width=120 * mm)
    if printed_at:
        _text(canvas, PAGE_W - 15 * mm, 8 * mm, f"打印时间：{printed_at}", 8, align="right", colour=colors.grey)


class _Counter:
    def __init__(self, progress: Progress | None, total: int) -> None:
        self._progress, self.total, self.done = progress, total, 0
        self.tell()

    def step(self, count: int = 1) -> None:
        self.done += count
        self.tell()

    def tell(self) -> None:
        if self._progress is not None:
            self._progress(self.done, self.total)


# --- admission tickets (准考证) -------------------------------------------------------------------

TICKET_W: Final = 186 * mm
TICKET_H: Final = 134 * mm
TICKET_X: Final = (PAGE_W - TICKET_W) / 2
TICKET_Y: Final = (PAGE_H / 2 + 7 * mm, 7 * mm)  # the upper and the lower ticket of a page
TICKET_FORM: Final = "ticket"  # the parts every ticket of the document shares, drawn once
PHOTO_BOX: Final = (152.5 * mm, 66 * mm, 30 * mm, 40 * mm)  # x, y, w, h within a ticket
QR_BOX: Final = (154.5 * mm, 6 * mm, 26 * mm)  # x, y, side: white paper of 4 modules all round
# Fields: label x, value x, end x (mm within a ticket), by the row they are on.
FULL: Final = (5, 24, 146)
LEFT_HALF: Final = (5, 24, 90)
RIGHT_HALF: Final = (95, 114, 146)
LABEL_COLOUR: Final = colors.HexColor("#333333")
RULE_COLOUR: Final = colors.HexColor("#999999")


def render_admission_tickets(
    sitting: SittingInfo, rooms: Sequence[RoomInfo], progress: Progress | None = None
) -> Rendered:
    """Two tickets per A4 page with a cut line between them, room by room in seat order."""
    chosen = _rooms_with_seats(rooms)
    seats = [(room, seat) for room, room_seats in chosen for seat in room_seats]
    counter = _Counter(progress, len(seats))
    photos = _Photos()
    problems: list[Problem] = []
    buffer = io.BytesIO()
    with _rendering():
        canvas = _canvas(buffer, f"准考证 {sitting.batch} {sitting.title}", chosen[0][0].site)
        _ticket_form(canvas, sitting)
        pages = 0
        for start in range(0, len(seats), 2):
            for slot, (room, seat) in enumerate(seats[start : start + 2]):
                try:
                    matrix: tuple[tuple[bool, ...], ...] | None = ticket_qr_matrix(seat.ticket)
                except ValueError as exc:
                    matrix = None
                    problems.append(Problem(TICKET_NOT_ENCODABLE, seat.ticket, seat.name, str(exc)))
                canvas.saveState()
                canvas.translate(TICKET_X, TICKET_Y[slot])
                canvas.doForm(TICKET_FORM)
                _ticket_values(canvas, room, seat, photos.get(seat), matrix)
                canvas.restoreState()
                counter.step()
            _cut_line(canvas)
            canvas.showPage()
            pages += 1
        canvas.save()
    return Rendered(buffer.getvalue(), pages, tuple(photos.problems + problems))


def _field_label(canvas: Canvas, row: int, at: tuple[float, float, float], label: str) -> float:
    """A field's label and the rule to write its value on; returns the value's baseline."""
    baseline = TICKET_H - (31 + 7.4 * row) * mm
    label_x, value_x, end = (v * mm for v in at)
    _text(canvas, label_x, baseline, label, 10.5, colour=LABEL_COLOUR)
    canvas.setStrokeColor(RULE_COLOUR)
    canvas.setLineWidth(0.3)
    canvas.line(value_x - 1 * mm, baseline - 1.6 * mm, end, baseline - 1.6 * mm)
    canvas.setStrokeColor(colors.black)
    return baseline


def _field_value(
    canvas: Canvas, row: int, at: tuple[float, float, float], value: str, size: float = 11, bold: bool = False
) -> None:
    baseline = TICKET_H - (31 + 7.4 * row) * mm
    _, value_x, end = (v * mm for v in at)
    font = _font_for(value, bold=bold)
    _text(canvas, value_x, baseline, value, size, font=font, width=end - value_x - 1 * mm, bold=bold)


def _ticket_form(canvas: Canvas, sitting: SittingInfo) -> None:
    """What every ticket of the sitting shows: frame, title, labels, the sitting, the notes."""
    w, h = TICKET_W, TICKET_H
    canvas.beginForm(TICKET_FORM, 0, 0, w, h)
    canvas.setLineWidth(1.2)
    canvas.rect(0, 0, w, h, stroke=1, fill=0)
    _text(canvas, w / 2, h - 12 * mm, TICKET_TITLE, 20, align="centre", bold=True, width=w - 20 * mm)
    _text(canvas, w / 2, h - 19.5 * mm, sitting.batch, 10.5, align="centre", width=w - 20 * mm)
    canvas.setLineWidth(0.8)
    canvas.line(5 * mm, h - 23 * mm, w - 5 * mm, h - 23 * mm)
    for row, at, label in (
        (0, LEFT_HALF, "姓　　名"),
        (1, FULL, "身份证号"),
        (2, FULL, "准考证号"),
        (3, FULL, "职　　业"),
        (4, FULL, "等　　级"),
        (5, FULL, "考试科目"),
        (6, FULL, "考试时间"),
        (7, FULL, "考　　点"),
        (8, LEFT_HALF, "考　　场"),
        (8, RIGHT_HALF, "桌　　号"),
    ):
        _field_label(canvas, row, at, label)
    _field_value(canvas, 5, FULL, sitting.subject)
    _field_value(canvas, 6, FULL, f"{sitting.date}　{sitting.time}")

    notes_top = 36 * mm
    canvas.setLineWidth(0.5)
    canvas.rect(5 * mm, 4.5 * mm, 141 * mm, notes_top - 4.5 * mm, stroke=1, fill=0)
    _text(canvas, 8 * mm, notes_top - 4.8 * mm, "考生须知", 9.5, bold=True)
    for i, note in enumerate(TICKET_NOTES):
        _text(canvas, 8 * mm, notes_top - (8.9 + 3.9 * i) * mm, note, 8.2, width=135 * mm)
    canvas.endForm()


def _ticket_values(
    canvas: Canvas,
    room: RoomInfo,
    seat: SeatInfo,
    photo: ImageReader | None,
    matrix: tuple[tuple[bool, ...], ...] | None,
) -> None:
    """One candidate's part of a ticket, over the shared form (the canvas is at the ticket's corner)."""
    _field_value(canvas, 0, LEFT_HALF, seat.name, 14, bold=True)
    if seat.gender:
        _field_label(canvas, 0, RIGHT_HALF, "性　　别")
        _field_value(canvas, 0, RIGHT_HALF, seat.gender)
    _field_value(canvas, 1, FULL, seat.id_number)
    _field_value(canvas, 2, FULL, seat.ticket, 13, bold=True)
    _field_value(canvas, 3, FULL, seat.occupation)
    _field_value(canvas, 4, FULL, seat.level)
    _field_value(canvas, 7, FULL, room.site)
    _field_value(canvas, 8, LEFT_HALF, _room_line(room))
    _field_value(canvas, 8, RIGHT_HALF, str(seat.seat), 14, bold=True)
    _photo_frame(canvas, photo, *PHOTO_BOX, big=True)
    if matrix is not None:
        _qr(canvas, matrix, *QR_BOX)


def _cut_line(canvas: Canvas) -> None:
    canvas.saveState()
    canvas.setDash([4, 3])
    canvas.setStrokeColor(colors.grey)
    canvas.setLineWidth(0.5)
    canvas.line(6 * mm, PAGE_H / 2, PAGE_W - 6 * mm, PAGE_H / 2)
    canvas.restoreState()
    _text(canvas, PAGE_W - 8 * mm, PAGE_H / 2 + 1.2 * mm, "沿虚线剪开", 6.5, align="right", colour=colors.grey)


# --- desk labels (桌贴) ---------------------------------------------------------------------------

LABEL_COLUMNS, LABEL_ROWS = 2, 5
LABEL_CELL_W: Final = 95 * mm
LABEL_CELL_H: Final = 56 * mm
LABEL_INSET: Final = 2.5 * mm


def render_desk_labels(sitting: SittingInfo, rooms: Sequence[RoomInfo], progress: Progress | None = None) -> Rendered:
    """Ten labels per A4 page (2 × 5, cut along their frames); each room starts on a new page."""
    chosen = _rooms_with_seats(rooms)
    counter = _Counter(progress, sum(len(seats) for _, seats in chosen))
    buffer = io.BytesIO()
    with _rendering():
        canvas = _canvas(buffer, f"桌贴 {sitting.batch} {sitting.title}", chosen[0][0].site)
        per_page = LABEL_COLUMNS * LABEL_ROWS
        left = (PAGE_W - LABEL_COLUMNS * LABEL_CELL_W) / 2
        top = PAGE_H - (PAGE_H - LABEL_ROWS * LABEL_CELL_H) / 2
        pages = 0
        for room, seats in chosen:
            for page_seats in _chunks(seats, per_page):
                for i, seat in enumerate(page_seats):
                    column, row = i % LABEL_COLUMNS, i // LABEL_COLUMNS
                    x = left + column * LABEL_CELL_W + LABEL_INSET
                    y = top - (row + 1) * LABEL_CELL_H + LABEL_INSET
                    _draw_label(canvas, x, y, sitting, room, seat)
                counter.step(len(page_seats))
                canvas.showPage()
                pages += 1
        canvas.save()
    return Rendered(buffer.getvalue(), pages)


def _draw_label(canvas: Canvas, x: float, y: float, sitting: SittingInfo, room: RoomInfo, seat: SeatInfo) -> None:
    w, h = LABEL_CELL_W - 2 * LABEL_INSET, LABEL_CELL_H - 2 * LABEL_INSET
    canvas.setLineWidth(0.8)
    canvas.roundRect(x, y, w, h, 2 * mm, stroke=1, fill=0)
    _text(canvas, x + 4 * mm, y + h - 7.5 * mm, room.name, 12, bold=True, width=30 * mm)
    _text(
        canvas,
        x + w - 4 * mm,
        y + h - 7.5 * mm,
        f"{sitting.date} {sitting.time}",
        8,
        align="right",
        width=w - 40 * mm,
        colour=colors.HexColor("#444444"),
    )
    canvas.setLineWidth(0.5)
    canvas.line(x + 3 * mm, y + h - 10.5 * mm, x + w - 3 * mm, y + h - 10.5 * mm)
    canvas.line(x + 34 * mm, y + 4 * mm, x + 34 * mm, y + h - 13 * mm)

    _text(canvas, x + 17 * mm, y + h - 17 * mm, "桌　号", 9, align="centre", colour=colors.HexColor("#444444"))
    number = str(seat.seat)
    _text(
        canvas, x + 17 * mm, y + 10 * mm, number, 46, font=_font_for(number, bold=True), align="centre", width=30 * mm
    )

    right_x, right_w = x + 38 * mm, w - 41 * mm
    _text(canvas, right_x, y + h - 20 * mm, seat.name, 18, bold=True, width=right_w)
    _text(canvas, right_x, y + h - 26.5 * mm, "准考证号", 7.5, colour=colors.HexColor("#444444"))
    _text(canvas, right_x, y + h - 31.5 * mm, seat.ticket, 11.5, font=_font_for(seat.ticket, bold=True), width=right_w)
    _text(canvas, right_x, y + 9 * mm, seat.occupation, 9.5, width=right_w)
    _text(canvas, right_x, y + 4.5 * mm, seat.level, 9.5, width=right_w)


# --- room door lists (考场门贴) -------------------------------------------------------------------

DOOR_COLUMNS: Final = (("桌号", 18 * mm), ("准考证号", 50 * mm), ("姓名", 42 * mm), ("职业　等级", 70 * mm))


def render_door_lists(sitting: SittingInfo, rooms: Sequence[RoomInfo], progress: Progress | None = None) -> Rendered:
    """One page per room to post on its door (30 candidates a page; a larger room continues)."""
    chosen = _rooms_with_seats(rooms)
    plan = [(room, seats, list(_chunks(seats, DOOR_ROWS_PER_PAGE))) for room, seats in chosen]
    counter = _Counter(progress, sum(len(chunks) for _, _, chunks in plan))
    buffer = io.BytesIO()
    with _rendering():
        canvas = _canvas(buffer, f"考场门贴 {sitting.batch} {sitting.title}", chosen[0][0].site)
        for room, seats, chunks in plan:
            for page, chunk in enumerate(chunks, start=1):
                _draw_door_page(canvas, sitting, room, seats, chunk, page, len(chunks))
                canvas.showPage()
                counter.step()
        canvas.save()
    return Rendered(buffer.getvalue(), counter.total)


def _draw_door_page(
    canvas: Canvas,
    sitting: SittingInfo,
    room: RoomInfo,
    seats: Sequence[SeatInfo],
    chunk: Sequence[SeatInfo],
    page: int,
    pages: int,
) -> None:
    left, width = 15 * mm, PAGE_W - 30 * mm
    title = room.name if page == 1 else f"{room.name}（续）"
    _text(canvas, PAGE_W / 2, PAGE_H - 30 * mm, title, 36, align="centre", bold=True, width=width)
    _text(canvas, PAGE_W / 2, PAGE_H - 40 * mm, room.site, 13, align="centre", width=width)
    if room.location:
        _text(canvas, PAGE_W / 2, PAGE_H - 46.5 * mm, room.location, 11, align="centre", width=width)
    occupations = "；".join(dict.fromkeys(occupation_and_level(s) for s in seats))
    facts = (
        f"考试科目：{sitting.subject}",
        f"考试时间：{sitting.date}　{sitting.time}",
        f"职业等级：{occupations}",
        f"考生人数：{len(seats)} 人（桌号 {seats[0].seat}–{seats[-1].seat}）",
    )
    for i, fact in enumerate(facts):
        _text(canvas, left + 2 * mm, PAGE_H - (56 + 7 * i) * mm, fact, 11, width=width - 4 * mm)

    header_top = PAGE_H - 80 * mm
    rows = [[str(s.seat), s.ticket, s.name, occupation_and_level(s)] for s in chunk]
    _grid(canvas, left, header_top, DOOR_COLUMNS, 8 * mm, rows, 6.3 * mm, sizes=(11, 11, 12, 9.5))
    _page_footer(canvas, f"{sitting.batch}　{room.name}", page, pages, sitting.printed_at)


def _grid(
    canvas: Canvas,
    left: float,
    top: float,
    columns: Sequence[tuple[str, float]],
    header_h: float,
    rows: Sequence[Sequence[str]],
    row_h: float,
    sizes: Sequence[float],
    centred: Sequence[int] = (0,),
) -> float:
    """A ruled table with a shaded header; returns its bottom. Cells are one line each, shrunk or
    cut to fit."""
    widths = [w for _, w in columns]
    total_w = sum(widths)
    bottom = top - header_h - row_h * len(rows)
    canvas.setFillColor(colors.HexColor("#eeeeee"))
    canvas.rect(left, top - header_h, total_w, header_h, stroke=0, fill=1)
    canvas.setFillColor(colors.black)
    x = left
    for title, w in columns:
        _text(
            canvas, x + w / 2, _cell_baseline(top - header_h, header_h, 10), title, 10, align="centre", width=w - 2 * mm
        )
        x += w
    for r, cells in enumerate(rows):
        row_bottom = top - header_h - row_h * (r + 1)
        x = left
        for c, (cell, w, size) in enumerate(zip(cells, widths, sizes, strict=True)):
            font = _font_for(cell)
            baseline = _cell_baseline(row_bottom, row_h, size)
            if c in centred:
                _text(canvas, x + w / 2, baseline, cell, size, font=font, align="centre", width=w - 2 * mm)
            else:
                _text(canvas, x + 2 * mm, baseline, cell, size, font=font, width=w - 4 * mm)
            x += w
    canvas.setLineWidth(0.6)
    lines = [(left, top, left + total_w, top)]
    lines += [
        (left, top - header_h - row_h * r, left + total_w, top - header_h - row_h * r) for r in range(len(rows) + 1)
    ]
    x = left
    for w in [0.0, *widths]:
        x += w
        lines.append((x, top, x, bottom))
    canvas.lines(lines)
    return bottom


# --- sign-in sheets (签到表) ----------------------------------------------------------------------

SIGN_COLUMNS: Final = (
    ("桌号", 14 * mm),
    ("准考证号", 40 * mm),
    ("姓名", 28 * mm),
    ("身份证号", 44 * mm),
    ("考生签名", 40 * mm),
    ("备注", 20 * mm),
)
SIGN_COLUMNS_PHOTO: Final = (
    ("桌号", 13 * mm),
    ("准考证号", 37 * mm),
    ("姓名", 26 * mm),
    ("身份证号", 42 * mm),
    ("照片", 16 * mm),
    ("考生签名", 34 * mm),
    ("备注", 18 * mm),
)
SIGN_TOP: Final = PAGE_H - 42 * mm
SIGN_BOTTOM: Final = 44 * mm  # room below the table for counts and signatures
SIGN_ROW_H: Final = 6.6 * mm
SIGN_ROW_H_PHOTO: Final = 16.5 * mm


def render_sign_in_sheets(
    sitting: SittingInfo, rooms: Sequence[RoomInfo], progress: Progress | None = None
) -> Rendered:
    """Per room: seat, ticket, name, masked ID number and a column to sign (with a small photo
    column when any candidate has a photo); invigilators' signatures and counts at the end."""
    chosen = _rooms_with_seats(rooms)
    with_photos = any(seat.photo for _, seats in chosen for seat in seats)
    columns = SIGN_COLUMNS_PHOTO if with_photos else SIGN_COLUMNS
    row_h = SIGN_ROW_H_PHOTO if with_photos else SIGN_ROW_H
    per_page = int((SIGN_TOP - 8 * mm - SIGN_BOTTOM) // row_h)
    plan = [(room, seats, list(_chunks(seats, per_page))) for room, seats in chosen]
    counter = _Counter(progress, sum(len(chunks) for _, _, chunks in plan))
    photos = _Photos()
    buffer = io.BytesIO()
    with _rendering():
        canvas = _canvas(buffer, f"签到表 {sitting.batch} {sitting.title}", chosen[0][0].site)
        left = (PAGE_W - sum(w for _, w in columns)) / 2
        for room, seats, chunks in plan:
            for page, chunk in enumerate(chunks, start=1):
                _text(canvas, PAGE_W / 2, PAGE_H - 22 * mm, "考生签到表", 18, align="centre", bold=True)
                _text(
                    canvas,
                    left,
                    PAGE_H - 30 * mm,
                    f"考点：{room.site}　考场：{_room_line(room)}",
                    10,
                    width=PAGE_W - 2 * left,
                )
                _text(
                    canvas,
                    left,
                    PAGE_H - 36 * mm,
                    f"{sitting.batch}　{sitting.subject}　{sitting.date}　{sitting.time}",
                    10,
                    width=PAGE_W - 2 * left,
                )
                rows = [
                    [str(s.seat), s.ticket, s.name, mask_id_number(s.id_number)]
                    + ([""] if with_photos else [])
                    + ["", ""]
                    for s in chunk
                ]
                sizes = (10, 10, 11, 10, 8, 8, 8) if with_photos else (10, 10, 11, 10, 8, 8)
                bottom = _grid(canvas, left, SIGN_TOP, columns, 8 * mm, rows, row_h, sizes)
                if with_photos:
                    photo_x = left + sum(w for _, w in columns[:4])
                    for r, seat in enumerate(chunk):
                        row_bottom = SIGN_TOP - 8 * mm - row_h * (r + 1)
                        reader = photos.get(seat)
                        if reader is not None:
                            canvas.drawImage(
                                reader,
                                photo_x + 1.5 * mm,
                                row_bottom + 1 * mm,
                                13 * mm,
                                row_h - 2 * mm,
                                preserveAspectRatio=True,
                                anchor="c",
                                mask="auto",
                            )
                if page == len(chunks):
                    _sign_in_footer(canvas, left, bottom, len(seats))
                else:
                    _text(canvas, PAGE_W - left, bottom - 5 * mm, "（续下页）", 9, align="right")
                _page_footer(canvas, f"{sitting.title}　{room.name}", page, len(chunks), sitting.printed_at)
                canvas.showPage()
                counter.step()
        canvas.save()
    return Rendered(buffer.getvalue(), counter.total, tuple(photos.problems))


def _sign_in_footer(canvas: Canvas, left: float, bottom: float, seated: int) -> None:
    y = bottom - 9 * mm
    _text(canvas, left, y, f"应到 {seated} 人　　实到 ______ 人　　缺考 ______ 人", 11)
    _text(canvas, left, y - 9 * mm, "监考人员签名：______________　______________", 11)
    _text(canvas, left + 120 * mm, y - 9 * mm, "主考签名：____________", 11)
    _text(
        canvas,
        left,
        y - 17 * mm,
        "说明：考生核对本人信息后签名；缺考考生由监考人员在备注栏注明“缺考”。",
        8.5,
        colour=colors.grey,
    )


# --- blank room record forms (考场记录表) -----------------------------------------------------------


def render_blank_record_forms(
    sitting: SittingInfo, rooms: Sequence[RoomInfo], progress: Progress | None = None
) -> Rendered:
    """One blank record form per room (to fill in by hand during the exam), as one PDF."""
    chosen = _rooms_with_seats(rooms)
    forms = [
        RecordForm(
            site=room.site,
            sitting=sitting.title,
            room=_room_line(room),
            date=sitting.date,
            time=sitting.time,
            seated=len(seats),
            present=None,
            rows=(),
            printed_at=sitting.printed_at,
        )
        for room, seats in chosen
    ]
    if progress is not None:
        progress(0, len(forms))
    with _rendering():
        pdf = render_record_forms(forms, progress)
    return Rendered(pdf, _page_count(pdf))


def _page_count(pdf: bytes) -> int:
    """Pages of a PDF ReportLab wrote: its single page tree node counts them all."""
    found = re.search(rb"<<\s*/Count (\d+) /Kids \[[^]]*\] /Type /Pages\b", pdf)
    if found is None:
        raise ValueError("no page tree found in the PDF")
    return int(found.group(1))


Renderer = Callable[[SittingInfo, Sequence[RoomInfo], Progress | None], Rendered]
# By the print job's kind (the keys of ``examhall.batches.schedule_pages.DOCUMENTS``).
RENDERERS: Final[dict[str, Renderer]] = {
    "tickets": render_admission_tickets,
    "desk_labels": render_desk_labels,
    "door_lists": render_door_lists,
    "sign_in": render_sign_in_sheets,
    "record_forms": render_blank_record_forms,
}
