"""Benchmark of a batch's printable documents (R-REG-4): admission tickets with photos first.

Usage: .venv/bin/python ops/bench/documents.py [--tickets N] [--room-size N] [--distinct-photos] [--photo FILE]

Seats ``--tickets`` synthetic candidates (Chinese names, valid-looking ID numbers) in rooms of
``--room-size`` (default 30) and renders their admission tickets, each with a photo (by default
the same ~20 KB JPEG for all, tests/data/portrait.jpg; with ``--distinct-photos`` every
candidate's photo differs in its pixels, so each is decoded and embedded on its own), then the
desk labels, door lists, sign-in sheets and blank record forms of the same rooms. Wall-clock
seconds of one run each. Prints one JSON object; never a pass/fail test.
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from examhall.batches import documents  # after the path set-up, so a plain checkout runs too  # noqa: E402

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉兰萍红娥建国志强晓东海燕"


def candidates(count: int, room_size: int, photos: Sequence[bytes]) -> list[documents.RoomInfo]:
    rooms: list[documents.RoomInfo] = []
    for start in range(0, count, room_size):
        number = start // room_size + 1
        seats = []
        for i in range(start, min(count, start + room_size)):
            name = (
                SURNAMES[i % len(SURNAMES)]
                + GIVEN[(i * 7) % len(GIVEN)]
                + ("" if i % 3 else GIVEN[(i * 11) % len(GIVEN)])
            )
            seats.append(
                documents.SeatInfo(
                    seat=i - start + 1,
                    ticket=f"2025030{number:03d}{i - start + 1:02d}",
                    name=name,
                    id_number=f"370102{1970 + i % 35}{1 + i % 12:02d}{1 + i % 28:02d}{i % 1000:03d}{i % 10}",
                    occupation="化工总控工",
                    level="四级/中级工",
                    gender="男" if i % 2 else "女",
                    photo=photos[i % len(photos)],
                )
            )
        rooms.append(documents.RoomInfo(f"第{number:02d}考场", "济南市技师学院考点", seats, f"实训楼{number}层机房"))
    return rooms


def distinct_photos(base: bytes, count: int) -> list[bytes]:
    """``count`` JPEGs that differ in their pixels (a marked corner), as different candidates' do."""
    image = Image.open(io.BytesIO(base)).convert("RGB")
    out: list[bytes] = []
    for i in range(count):
        copy = image.copy()
        copy.putpixel((i % copy.width, 0), (i % 256, (i // 256) % 256, 0))
        buffer = io.BytesIO()
        copy.save(buffer, "JPEG", quality=82)
        out.append(buffer.getvalue())
    return out


def timed(render: Callable[[], documents.Rendered]) -> tuple[float, documents.Rendered]:
    start = time.perf_counter()
    rendered = render()
    return time.perf_counter() - start, rendered


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tickets", type=int, default=1000)
    parser.add_argument("--room-size", type=int, default=30)
    parser.add_argument("--distinct-photos", action="store_true")
    parser.add_argument("--photo", type=Path, default=ROOT / "tests" / "data" / "portrait.jpg")
    args = parser.parse_args()

    base = args.photo.read_bytes()
    photos = distinct_photos(base, args.tickets) if args.distinct_photos else [base]
    rooms = candidates(args.tickets, args.room_size, photos)
    sitting = documents.SittingInfo(
        batch="2025年第3批次职业技能等级认定",
        title="化工总控工四级理论知识考试",
        date="2025年6月14日（星期六）",
        time="09:00–10:30",
        printed_at="2025-06-10 14:30",
    )
    calls = [0]

    def progress(done: int, total: int) -> None:
        calls[0] += 1

    seconds, tickets = timed(lambda: documents.render_admission_tickets(sitting, rooms, progress))
    others: dict[str, dict[str, float | int]] = {}
    for name, render in (
        ("desk_labels", documents.render_desk_labels),
        ("door_lists", documents.render_door_lists),
        ("sign_in_sheets", documents.render_sign_in_sheets),
        ("record_forms", documents.render_blank_record_forms),
    ):
        spent, rendered = timed(lambda render=render: render(sitting, rooms, None))  # type: ignore[misc]
        others[name] = {"seconds": round(spent, 3), "pages": rendered.pages, "bytes": len(rendered.pdf)}
    print(
        json.dumps(
            {
                "benchmark": "documents",
                "tickets": args.tickets,
                "rooms": len(rooms),
                "photos": "distinct" if args.distinct_photos else "same",
                "photo_bytes": len(base),
                "seconds": round(seconds, 3),
                "ms_per_ticket": round(1000 * seconds / max(1, args.tickets), 3),
                "pages": tickets.pages,
                "bytes": len(tickets.pdf),
                "problems": len(tickets.problems),
                "progress_calls": calls[0],
                "others": others,
                "python": platform.python_version(),
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
