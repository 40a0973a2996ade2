"""A batch's printable documents (R-REG-4): admission tickets, desk labels, door lists, sign-in
sheets and blank record forms, read back with pypdf (text: STSong-Light is a CID font with a
Unicode CMap, so the Chinese comes back as text) and rendered with PDFium (pixels: the QR code
drawn is the encoder's, module for module; photos and placeholders are where they belong)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import pypdfium2 as pdfium  # type: ignore[import-untyped]
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image
from pypdf import PdfReader
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth

from examhall.batches import documents
from examhall.batches.documents import (
    PHOTO_UNREADABLE,
    TICKET_NOT_ENCODABLE,
    NothingToPrint,
    Rendered,
    RoomInfo,
    SeatInfo,
    SittingInfo,
    mask_id_number,
    qr_rectangles,
    ticket_qr_matrix,
    ticket_qr_value,
)

PORTRAIT = (Path(__file__).resolve().parents[1] / "data" / "portrait.jpg").read_bytes()
SITTING = SittingInfo(
    batch="2025年第3批次职业技能等级认定",
    title="化工总控工四级理论知识考试",
    date="2025年6月14日（星期六）",
    time="09:00–10:30",
    printed_at="2025-06-10 14:30",
)
NAMES = ("张伟", "李秀英", "欧阳娜娜", "王芳", "刘洋", "陈静", "杨磊", "赵敏", "黄晓明", "周杰")


def seat(n: int, room: int = 1, photo: bytes | None = PORTRAIT, **changes: object) -> SeatInfo:
    values: dict[str, object] = {
        "seat": n,
        "ticket": f"2025030{room:02d}{n:03d}",
        "name": NAMES[(n - 1) % len(NAMES)],
        "id_number": f"37010219900101{n:03d}X",
        "occupation": "化工总控工",
        "level": "四级/中级工",
        "gender": "男" if n % 2 else "女",
        "photo": photo,
    }
    values.update(changes)
    return SeatInfo(**values)  # type: ignore[arg-type]


def room(number: int, seats: Sequence[SeatInfo], location: str = "") -> RoomInfo:
    return RoomInfo(f"第{number:02d}考场", "济南市技师学院考点", seats, location)


def pages_text(pdf: bytes) -> list[str]:
    assert pdf.startswith(b"%PDF")
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def page_count(pdf: bytes) -> int:
    return len(PdfReader(io.BytesIO(pdf)).pages)


SCALE = 3.0  # pixels per point (216 dpi): a QR module is about 10 pixels


def page_image(pdf: bytes, index: int = 0) -> Image.Image:
    document = pdfium.PdfDocument(pdf)
    try:
        image: Image.Image = document[index].render(scale=SCALE).to_pil().convert("L")
        return image
    finally:
        document.close()


def dark_share(image: Image.Image, box: tuple[float, float, float, float] | None = None) -> float:
    """The share of dark pixels (below 160 of 255), in a box given in points from the page's
    bottom-left corner (x, y, width, height)."""
    if box is not None:
        x, y, w, h = box
        top = image.height - (y + h) * SCALE
        image = image.crop((round(x * SCALE), round(top), round((x + w) * SCALE), round(top + h * SCALE)))
    histogram = image.histogram()
    return sum(histogram[:160]) / sum(histogram)


def luminance(image: Image.Image, x: float, y: float) -> int:
    value = image.getpixel((round(x), round(y)))
    assert isinstance(value, int | float)  # a grey-scale image has one value per pixel
    return int(value)


def progress_log() -> tuple[list[tuple[int, int]], documents.Progress]:
    calls: list[tuple[int, int]] = []
    return calls, lambda done, total: calls.append((done, total))


def assert_progress(calls: list[tuple[int, int]], total: int) -> None:
    assert calls, "progress was never reported"
    assert all(t == total for _, t in calls)
    done = [d for d, _ in calls]
    assert done == sorted(done) and done[-1] == total


# --- small helpers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given_number", "masked"),
    [
        ("370102199001011234", "370102********1234"),
        ("37010219900101123x", "370102********123X"),  # the check character is shown upper-case
        (" 370102 19900101 1234 ", "370102********1234"),
        ("370102900101123", "370102*****1123"),  # an old 15-digit number
        ("E12345678", "E1*****78"),  # a passport
        ("123456", "******"),
        ("", ""),
    ],
)
def test_id_numbers_are_masked_in_the_middle(given_number: str, masked: str) -> None:
    assert mask_id_number(given_number) == masked


@given(st.text(alphabet="0123456789X", min_size=15, max_size=18))
def test_a_masked_resident_id_keeps_its_length_region_and_last_four(number: str) -> None:
    masked = mask_id_number(number)
    assert len(masked) == len(number)
    assert masked[:6] == number[:6] and masked[-4:] == number[-4:]
    assert set(masked[6:-4]) == {"*"}


def test_the_qr_code_holds_the_ticket_number_as_a_scanner_types_it() -> None:
    assert ticket_qr_value(" 202503001007 ") == "202503001007"
    assert ticket_qr_value("D2026110001") == "D2026110001"
    for bad in ("", "   ", "准考证202503", "2025\t03", "2025\n03"):
        with pytest.raises(ValueError, match="cannot be typed"):
            ticket_qr_value(bad)


def test_the_qr_matrix_is_what_reportlabs_qr_widget_draws_for_the_ticket_number() -> None:
    """The matrix drawn is the one ``QrCodeWidget`` makes for the same value, module for module."""
    ticket = "202503001007"
    matrix = ticket_qr_matrix(ticket)
    count = len(matrix)
    assert count == 21  # version 1: a 12-digit ticket number at level M
    widget = QrCodeWidget(
        ticket_qr_value(ticket), barLevel=documents.QR_LEVEL, barBorder=0, barWidth=count, barHeight=count
    )
    drawn = [[False] * count for _ in range(count)]
    for shape in widget.draw().contents[1:]:  # type: ignore[no-untyped-call]  # the first is the white background
        row = count - round(shape.y) - 1
        for column in range(round(shape.x), round(shape.x + shape.width)):
            drawn[row][column] = True
    assert tuple(tuple(row) for row in drawn) == matrix
    finder = [row[:7] for row in matrix[:7]]  # the top-left finder pattern: a ring around a square
    assert finder[0] == (True,) * 7 and finder[1] == (True,) + (False,) * 5 + (True,)
    assert finder[3] == (True, False, True, True, True, False, True)


@given(st.lists(st.lists(st.booleans(), min_size=9, max_size=9), min_size=9, max_size=9))
def test_qr_rectangles_cover_the_dark_modules_exactly_once(matrix: list[list[bool]]) -> None:
    covered = [[0] * 9 for _ in range(9)]
    for column, row, width, height in qr_rectangles(matrix):
        for r in range(row, row + height):
            for c in range(column, column + width):
                covered[r][c] += 1
    assert covered == [[int(dark) for dark in row] for row in matrix]


def test_text_too_long_for_its_place_is_shrunk_then_cut() -> None:
    documents._register_fonts()
    long = "某某省某某市某某区职业技能等级认定中心第一考点（某某职业技术学院新校区实训楼）"
    text, size = documents._fitted(long, documents.FONT, 11, 60 * mm, 7)
    assert size == 7 and text.endswith("…") and len(text) < len(long)
    assert stringWidth(text, documents.FONT, size) <= 60 * mm
    assert documents._fitted("张伟", documents.FONT, 11, 60 * mm, 7) == ("张伟", 11)


# --- admission tickets --------------------------------------------------------------------------


def test_admission_tickets_two_a_page_with_every_candidates_details() -> None:
    rooms = [
        room(1, [seat(1), seat(2), seat(3)], location="实训楼3层302机房"),
        room(2, [seat(2, room=2), seat(1, room=2)]),  # any order: printed by seat
    ]
    calls, progress = progress_log()
    rendered = documents.render_admission_tickets(SITTING, rooms, progress)

    assert rendered.pages == 3 == page_count(rendered.pdf)  # 5 tickets, 2 a page
    assert rendered.problems == ()
    assert_progress(calls, 5)
    texts = pages_text(rendered.pdf)
    first = texts[0]
    for expected in (
        "准考证",
        SITTING.batch,
        "张伟",
        "李秀英",
        "202503001001",
        "202503001002",
        "37010219900101001X",  # the ticket shows the whole ID number
        "化工总控工",
        "四级/中级工",
        "理论知识考试（机考）",
        "2025年6月14日（星期六）",
        "09:00–10:30",
        "济南市技师学院考点",
        "第01考场（实训楼3层302机房）",
        "考生须知",
        "身份证",
        "30分钟",
        "沿虚线剪开",
    ):
        assert expected in first, expected
    assert "欧阳娜娜" in texts[1] and "第02考场" in texts[1] and "202503002001" in texts[1]
    assert "202503002002" in texts[2] and "李秀英" in texts[2]  # room 2 seat 2 comes last
    assert all(text.count("考生须知") == (1 if i == 2 else 2) for i, text in enumerate(texts))


def test_a_ticket_page_is_printed_with_the_photo_and_the_scannable_qr_code() -> None:
    ticket = seat(1)
    rendered = documents.render_admission_tickets(SITTING, [room(1, [ticket, seat(2, photo=None)])])
    image = page_image(rendered.pdf)

    assert 0.03 < dark_share(image) < 0.5  # text, rules, photo and QR: not blank, not a black page
    upper = (documents.TICKET_X, documents.TICKET_Y[0])
    lower = (documents.TICKET_X, documents.TICKET_Y[1])

    # The QR code read back from the pixels, module by module, is the ticket number's matrix.
    matrix = ticket_qr_matrix(ticket.ticket)
    x, y, side = documents.QR_BOX
    module = side / len(matrix)
    left, top = (upper[0] + x) * SCALE, image.height - (upper[1] + y + side) * SCALE
    read = tuple(
        tuple(
            luminance(image, left + (c + 0.5) * module * SCALE, top + (r + 0.5) * module * SCALE) < 128
            for c in range(len(matrix))
        )
        for r in range(len(matrix))
    )
    assert read == matrix
    quiet = (upper[0] + x - 4 * module, upper[1] + y - 4 * module, side + 8 * module, 4 * module)
    assert dark_share(image, quiet) < 0.01  # white paper below it for the scanner

    # The photo fills its frame on the first ticket; the second has an empty frame to paste one in.
    px, py, pw, ph = documents.PHOTO_BOX
    inner = (px + 2 * mm, py + 2 * mm, pw - 4 * mm, ph - 4 * mm)
    assert dark_share(image, (upper[0] + inner[0], upper[1] + inner[1], inner[2], inner[3])) > 0.3
    placeholder = dark_share(image, (lower[0] + inner[0], lower[1] + inner[1], inner[2], inner[3]))
    assert placeholder < 0.1
    frame_edge = (lower[0] + px - 0.2 * mm, lower[1] + py, 0.4 * mm, ph)
    assert dark_share(image, frame_edge) > 0.25
    assert "近期免冠一寸" in pages_text(rendered.pdf)[0]  # the placeholder says what goes there


def test_unreadable_photos_print_an_empty_frame_and_are_reported_without_stopping_the_batch() -> None:
    gif = io.BytesIO()
    Image.new("RGB", (30, 40), "red").save(gif, "GIF")
    seats = [
        seat(1),
        seat(2, photo=b"this is not an image"),
        seat(3, photo=PORTRAIT[: len(PORTRAIT) // 2]),  # truncated upload
        seat(4, photo=gif.getvalue()),  # not a JPEG or PNG
        seat(5, photo=None),  # no photo yet: a placeholder, not a problem
    ]
    rendered = documents.render_admission_tickets(SITTING, [room(1, seats)])

    assert rendered.pages == 3
    assert [(p.kind, p.ticket, p.name) for p in rendered.problems] == [
        (PHOTO_UNREADABLE, "202503001002", "李秀英"),
        (PHOTO_UNREADABLE, "202503001003", "欧阳娜娜"),
        (PHOTO_UNREADABLE, "202503001004", "王芳"),
    ]
    assert all(p.detail for p in rendered.problems)
    text = "".join(pages_text(rendered.pdf))
    assert all(s.ticket in text for s in seats)


def test_a_ticket_number_a_scanner_cannot_type_prints_without_a_qr_code_and_is_reported() -> None:
    rendered = documents.render_admission_tickets(SITTING, [room(1, [seat(1, ticket="临时001"), seat(2)])])
    assert [(p.kind, p.ticket) for p in rendered.problems] == [(TICKET_NOT_ENCODABLE, "临时001")]
    assert "临时001" in pages_text(rendered.pdf)[0]


def test_a_photo_is_decoded_and_embedded_once_however_many_tickets_show_it() -> None:
    seats = [seat(n, photo=bytes(PORTRAIT)) for n in range(1, 7)]  # equal bytes, distinct objects
    rendered = documents.render_admission_tickets(SITTING, [room(1, seats)])
    reader = PdfReader(io.BytesIO(rendered.pdf))
    names = {image.name for page in reader.pages for image in page.images}
    assert len(names) == 1
    assert len(rendered.pdf) < len(PORTRAIT) * 2 + 60_000  # not six copies of it


def test_large_turned_and_transparent_photos_are_fitted_for_print() -> None:
    big = io.BytesIO()
    Image.new("RGB", (2400, 3200), (60, 120, 200)).save(big, "JPEG", quality=80)
    turned = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # shot sideways: shown turned by 90°
    Image.new("RGB", (400, 300), (200, 60, 60)).save(turned, "JPEG", exif=exif)
    clear = io.BytesIO()
    Image.new("RGBA", (300, 400), (0, 0, 0, 0)).save(clear, "PNG")
    seats = [seat(1, photo=big.getvalue()), seat(2, photo=turned.getvalue()), seat(3, photo=clear.getvalue())]
    rendered = documents.render_admission_tickets(SITTING, [room(1, seats)])

    assert rendered.problems == ()
    sizes = [
        (image.image.width, image.image.height)
        for page in PdfReader(io.BytesIO(rendered.pdf)).pages
        for image in page.images
        if image.image
    ]
    assert (600, 800) in sizes  # shrunk to what a 30 × 40 mm frame can show
    assert (300, 400) in sizes  # turned upright
    third_photo = (  # the upper ticket of page 2
        documents.TICKET_X + documents.PHOTO_BOX[0] + 2 * mm,
        documents.TICKET_Y[0] + documents.PHOTO_BOX[1] + 2 * mm,
        documents.PHOTO_BOX[2] - 4 * mm,
        documents.PHOTO_BOX[3] - 4 * mm,
    )
    assert dark_share(page_image(rendered.pdf, 1), third_photo) < 0.05  # transparent stays paper-white


# --- desk labels, door lists, sign-in sheets ---------------------------------------------------------


def test_desk_labels_ten_a_page_each_room_on_its_own_pages() -> None:
    rooms = [room(1, [seat(n) for n in range(1, 13)]), room(2, [seat(1, room=2), seat(2, room=2)])]
    calls, progress = progress_log()
    rendered = documents.render_desk_labels(SITTING, rooms, progress)

    assert rendered.pages == 3 == page_count(rendered.pdf)  # 10 + 2 for room 1, 2 for room 2
    assert_progress(calls, 14)
    texts = pages_text(rendered.pdf)
    assert texts[0].count("第01考场") == 10 and texts[1].count("第01考场") == 2
    assert texts[2].count("第02考场") == 2 and "第01考场" not in texts[2]
    for expected in ("张伟", "欧阳娜娜", "202503001001", "202503001010", "化工总控工", "四级/中级工", "桌　号"):
        assert expected in texts[0], expected
    assert "202503001012" in texts[1] and "李秀英" in texts[2]
    assert dark_share(page_image(rendered.pdf)) > 0.02


def test_door_lists_one_page_a_room_and_a_larger_room_continues() -> None:
    big = [seat(n) for n in range(1, 32)]
    rooms = [room(1, big, location="实训楼3层302机房"), room(2, [seat(1, room=2)])]
    calls, progress = progress_log()
    rendered = documents.render_door_lists(SITTING, rooms, progress)

    assert rendered.pages == 3 == page_count(rendered.pdf)
    assert_progress(calls, 3)
    first, second, third = pages_text(rendered.pdf)
    for expected in (
        "第01考场",
        "济南市技师学院考点",
        "实训楼3层302机房",
        "09:00–10:30",
        "化工总控工　四级/中级工",
        "考生人数：31 人",
        "桌号",
        "准考证号",
        "姓名",
        "202503001001",
        "202503001030",
        "欧阳娜娜",
    ):
        assert expected in first, expected
    assert "202503001031" not in first and "202503001031" in second and "第01考场（续）" in second
    assert "第 1/2 页" in first and "第 2/2 页" in second
    assert "第02考场" in third and "202503002001" in third and "页" not in third
    assert dark_share(page_image(rendered.pdf)) > 0.02


def test_sign_in_sheets_mask_id_numbers_and_end_with_counts_and_signatures() -> None:
    seats = [seat(n, photo=None) for n in range(1, 31)]
    calls, progress = progress_log()
    rendered = documents.render_sign_in_sheets(SITTING, [room(1, seats)], progress)

    assert rendered.pages == 1  # 30 candidates fit a page without photos
    assert_progress(calls, 1)
    (text,) = pages_text(rendered.pdf)
    for expected in (
        "考生签到表",
        "考生签名",
        "370102********001X",
        "370102********030X",
        "张伟",
        "202503001030",
        "应到 30 人",
        "实到",
        "监考人员签名",
        "主考签名",
    ):
        assert expected in text, expected
    assert "19900101" not in text  # the middle of the ID numbers is not printed
    assert "照片" not in text  # no photo column when nobody has a photo
    assert dark_share(page_image(rendered.pdf)) > 0.02


def test_sign_in_sheets_with_photos_have_a_photo_column_and_take_more_pages() -> None:
    seats = [seat(n, photo=(PORTRAIT if n != 2 else b"broken")) for n in range(1, 31)]
    rendered = documents.render_sign_in_sheets(SITTING, [room(1, seats), room(2, [seat(1, room=2)])])

    per_page = int((documents.SIGN_TOP - 8 * mm - documents.SIGN_BOTTOM) // documents.SIGN_ROW_H_PHOTO)
    assert per_page == 12
    assert rendered.pages == 3 + 1 == page_count(rendered.pdf)
    texts = pages_text(rendered.pdf)
    assert "照片" in texts[0] and "（续下页）" in texts[0] and "应到" not in texts[0]
    assert "应到 30 人" in texts[2] and "应到 1 人" in texts[3]
    assert [(p.kind, p.ticket) for p in rendered.problems] == [(PHOTO_UNREADABLE, "202503001002")]
    columns = documents.SIGN_COLUMNS_PHOTO
    left = (documents.PAGE_W - sum(w for _, w in columns)) / 2
    photo_column = (left + sum(w for _, w in columns[:4]), documents.SIGN_TOP - 8 * mm - 16.5 * mm, 16 * mm, 16.5 * mm)
    assert dark_share(page_image(rendered.pdf), photo_column) > 0.2  # the first candidate's photo


# --- blank record forms ------------------------------------------------------------------------


def test_blank_record_forms_one_per_room_from_the_record_form_module() -> None:
    rooms = [room(1, [seat(n) for n in range(1, 4)], location="实训楼3层302机房"), room(2, [seat(1, room=2)])]
    calls, progress = progress_log()
    rendered = documents.render_blank_record_forms(SITTING, rooms, progress)

    assert rendered.pages == 2 == page_count(rendered.pdf)
    assert_progress(calls, 2)
    first, second = pages_text(rendered.pdf)
    for expected in ("考场记录表", "济南市技师学院考点", SITTING.title, "第01考场（实训楼3层302机房）", "监考人员签名"):
        assert expected in first, expected
    assert "应考 3 人" in first and "实考 ____ 人" in first  # written in by hand on the day
    assert "应考 1 人" in second and "第02考场" in second
    assert "第 1 页" in first and "第 1 页" in second  # each room's form numbers its own pages
    assert dark_share(page_image(rendered.pdf)) > 0.01


def test_a_filled_record_form_is_unchanged_by_the_multi_room_rendering() -> None:
    from examhall.console.record_form import FormRow, RecordForm, render_record_form

    rows = [FormRow(str(n), "09:12", "3", "张伟", "违纪", "使用手机" * 12, "王监考", "") for n in range(1, 26)]
    form = RecordForm("考点", "理论", "第01考场", "2025-06-14", "09:00–10:30", 30, 28, rows, "2025-06-14 11:00")
    texts = pages_text(render_record_form(form))
    assert len(texts) >= 2
    assert "应考 30 人" in texts[0] and "实考 28 人" in texts[0] and "缺考 2 人" in texts[0]
    assert [f"第 {n} 页" in text for n, text in enumerate(texts, start=1)] == [True] * len(texts)


# --- every document ------------------------------------------------------------------------------


@pytest.mark.parametrize("render", documents.RENDERERS.values(), ids=documents.RENDERERS)
def test_nothing_to_print_is_refused(render: documents.Renderer) -> None:
    with pytest.raises(NothingToPrint):
        render(SITTING, [], None)
    with pytest.raises(NothingToPrint):
        render(SITTING, [room(1, [])], None)


@pytest.mark.parametrize("render", documents.RENDERERS.values(), ids=documents.RENDERERS)
def test_rooms_without_candidates_are_left_out(render: documents.Renderer) -> None:
    alone = render(SITTING, [room(1, [seat(1)])], None)
    with_empty = render(SITTING, [room(3, []), room(1, [seat(1)]), room(4, [])], None)
    assert isinstance(with_empty, Rendered) and with_empty.pages == alone.pages
    assert "第03考场" not in "".join(pages_text(with_empty.pdf))
