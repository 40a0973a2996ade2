"""Make the sample registration files: 300 invented candidates of one certification batch.

    .venv/bin/python tests/data/make_candidates.py

writes ``candidates-300.xlsx``, ``candidates-300.csv`` (UTF-8 with BOM) and
``candidates-300-gbk.csv`` (GBK, as Chinese Excel saves "CSV (逗号分隔)") next to this script.
The three hold the same rows. Everything is drawn from a seeded generator, so running it again
gives the same files byte for byte. The people are invented: names from common surnames and
given-name characters, ID numbers with real Shandong area codes, birth dates 1965–2006 and valid
GB 11643 check characters, companies that exist nowhere.

The files are written the way exam offices write them, independently of examhall's own writer:
the template's header row, levels spelled in the several ways offices use (4, 四级, 中级工,
四级/中级工), some genders left empty, some two-character names padded with spaces.
"""

from __future__ import annotations

import csv
import io
import random
import re
import zipfile
from datetime import date, timedelta
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Font

HERE = Path(__file__).resolve().parent
SEED = 20260613
COUNT = 300
EXAM_DAY = date(2026, 6, 13)
FIXED_STAMP = "2026-01-05T08:00:00Z"

HEADERS = (
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
)

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦"
    "付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN_MALE = "伟强磊军洋勇杰涛明超刚平辉鹏华飞鑫波斌宇浩凯健俊帆帅旭宁龙林欢佳阳建国峰成亮东文斌海岩志新晨博坤振家荣庆"
GIVEN_FEMALE = "芳娜敏静丽艳娟霞秀英华慧巧美玲桂兰红梅琳素云莲真雪荣爱妹霞香月媛瑞凡佳嘉琼勤珍贞莉萍燕倩婷雯晶颖蕾璐洁"

# Area codes (县级行政区划代码) of Shandong: 济南, 青岛, 淄博, 枣庄, 东营, 烟台, 潍坊, 济宁, 泰安, 威海,
# 日照, 临沂, 德州, 聊城, 滨州, 菏泽. Weighted towards the chemical-industry cities.
AREAS = (
    ("370102", 3),  # 济南 历下
    ("370103", 2),  # 济南 市中
    ("370104", 2),  # 济南 槐荫
    ("370112", 2),  # 济南 历城
    ("370202", 1),  # 青岛 市南
    ("370203", 2),  # 青岛 市北
    ("370211", 2),  # 青岛 黄岛
    ("370302", 3),  # 淄博 淄川
    ("370303", 5),  # 淄博 张店
    ("370305", 5),  # 淄博 临淄
    ("370402", 1),  # 枣庄 市中
    ("370502", 3),  # 东营 东营区
    ("370602", 2),  # 烟台 芝罘
    ("370702", 3),  # 潍坊 潍城
    ("370705", 2),  # 潍坊 奎文
    ("370786", 2),  # 潍坊 昌邑
    ("370811", 1),  # 济宁 任城
    ("370902", 1),  # 泰安 泰山
    ("371002", 1),  # 威海 环翠
    ("371102", 1),  # 日照 东港
    ("371302", 1),  # 临沂 兰山
    ("371402", 1),  # 德州 德城
    ("371502", 1),  # 聊城 东昌府
    ("371602", 2),  # 滨州 滨城
    ("371702", 1),  # 菏泽 牡丹
)
CITIES = ("济南", "青岛", "淄博", "东营", "潍坊", "滨州", "烟台", "临沂")
FIRM_WORDS = (
    "鲁润", "齐泰", "恒晟", "华岳", "泉信", "海科", "联盛", "金诚", "瑞丰", "东岳源", "新澳", "宏达", "汇川", "清源",
    "博远", "长河", "正和", "安泰",
)  # fmt: skip
FIRM_KINDS = ("化工有限公司", "石化有限公司", "新材料有限公司", "精细化工有限公司", "化学有限公司", "热电有限公司")

# (occupation, weight, levels with weights)
OCCUPATIONS = (
    ("化工总控工", 78, ((4, 55), (3, 40), (5, 5))),
    ("电工", 8, ((5, 3), (4, 4), (3, 3))),
    ("焊工", 6, ((4, 3), (3, 2))),
    ("化学检验员", 5, ((4, 3), (3, 2))),
    ("仪器仪表维修工", 3, ((4, 1), (3, 1))),
)
LEVEL_SPELLINGS = {
    5: ("五级/初级工", "5", "初级工", "五级"),
    4: ("四级/中级工", "4", "中级工", "四级", "中级"),
    3: ("三级/高级工", "3", "高级工", "三级", "高级"),
}
PHONE_PREFIXES = ("130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "155", "156",
                  "157", "158", "159", "166", "176", "177", "178", "180", "181", "182", "183", "186", "187", "188",
                  "189", "191", "199")  # fmt: skip
CERT_LOWER = {4: "五级", 3: "四级"}

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECKS = "10X98765432"


def check_char(first17: str) -> str:
    return CHECKS[sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True)) % 11]


def pick(rng: random.Random, weighted: tuple[tuple[object, int], ...]) -> object:
    values = [v for v, _ in weighted]
    return rng.choices(values, weights=[w for _, w in weighted])[0]


def education_for(rng: random.Random, born: date) -> str:
    if born.year < 1975:
        choices = (("初中", 4), ("高中", 4), ("技校", 3), ("中专", 3), ("大专", 1))
    elif born.year < 1990:
        choices = (("初中", 2), ("高中", 3), ("技校", 3), ("中专", 3), ("大专", 4), ("本科", 2))
    else:
        choices = (("高中", 2), ("中职", 3), ("技校", 2), ("大专", 5), ("高职", 3), ("本科", 3), ("硕士", 1))
    return str(pick(rng, choices))


def make_rows(rng: random.Random) -> list[list[str]]:
    rows: list[list[str]] = []
    numbers: set[str] = set()
    first_day, last_day = date(1965, 1, 1), date(2006, 12, 31)
    while len(rows) < COUNT:
        male = rng.random() < 0.72  # the chemical plants' operators are mostly men
        born = first_day + timedelta(days=rng.randrange((last_day - first_day).days + 1))
        area = str(pick(rng, AREAS))
        sequence = f"{rng.randrange(100):02d}{rng.choice('13579' if male else '02468')}"
        first17 = f"{area}{born:%Y%m%d}{sequence}"
        number = first17 + check_char(first17)
        if number in numbers:
            continue
        numbers.add(number)

        given_chars = GIVEN_MALE if male else GIVEN_FEMALE
        given = "".join(rng.choice(given_chars) for _ in range(rng.choice((1, 2, 2))))
        name = rng.choice(SURNAMES) + given
        if len(name) == 2 and rng.random() < 0.3:
            name = f"{name[0]}  {name[1]}"  # padded for alignment, as offices do

        occupation, _, levels = OCCUPATIONS[
            rng.choices(range(len(OCCUPATIONS)), weights=[o[1] for o in OCCUPATIONS])[0]
        ]
        level = int(str(pick(rng, levels)))
        age = EXAM_DAY.year - born.year - ((EXAM_DAY.month, EXAM_DAY.day) < (born.month, born.day))
        if level == 3 and age < 25:
            level = 4  # 高级工 takes years of work at 中级工 first
        most = max(0, min(age - 18, 40))
        least = {5: 0, 4: 2, 3: 5}[level]
        years = rng.randint(min(least, most), most)
        certificates = ""
        if level in CERT_LOWER and years >= 3 and rng.random() < 0.6:
            got = EXAM_DAY.year - rng.randint(1, min(years, 8))
            certificates = f"{occupation} {CERT_LOWER[level]} {got}"
        phone = rng.choice(PHONE_PREFIXES) + f"{rng.randrange(10**8):08d}"
        employer = f"{rng.choice(CITIES)}{rng.choice(FIRM_WORDS)}{rng.choice(FIRM_KINDS)}"
        rows.append(
            [
                name,
                number,
                ("男" if male else "女") if rng.random() < 0.85 else "",
                occupation,
                rng.choice(LEVEL_SPELLINGS[level]),
                education_for(rng, born) if rng.random() < 0.95 else "",
                certificates,
                str(years) if rng.random() < 0.95 else "",
                phone if rng.random() < 0.97 else "",
                employer if rng.random() < 0.93 else "",
                f"{number}.jpg" if rng.random() < 0.9 else "",
            ]
        )
    return rows


def csv_bytes(rows: list[list[str]], encoding: str) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADERS)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def stable_zip(data: bytes) -> bytes:
    """The workbook with fixed timestamps (zip entries and document properties), so that running
    the script again changes nothing."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                text = re.sub(
                    r"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:)",
                    rf"\g<1>{FIXED_STAMP}\g<3>",
                    content.decode(),
                )
                content = text.encode()
            entry = zipfile.ZipInfo(info.filename, date_time=(2026, 1, 5, 8, 0, 0))
            entry.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(entry, content)
    return out.getvalue()


def xlsx_bytes(rows: list[list[str]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "报名表"
    sheet.append(HEADERS)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        values: list[object] = list(row)
        for index in (7,):  # work years typed as numbers, as offices do
            if row[index]:
                values[index] = int(row[index])
        level = row[4]
        if level.isdigit():
            values[4] = int(level)
        sheet.append(values)
    for column in ("B", "I", "K"):  # ID numbers, phones and photo names as text
        for cell in sheet[column]:
            cell.number_format = "@"
    for column, width in zip("ABCDEFGHIJK", (10, 22, 6, 16, 14, 10, 24, 10, 14, 30, 26), strict=True):
        sheet.column_dimensions[column].width = width
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    workbook.save(out)
    return stable_zip(out.getvalue())


def main() -> None:
    rows = make_rows(random.Random(SEED))
    (HERE / "candidates-300.csv").write_bytes(csv_bytes(rows, "utf-8-sig"))
    (HERE / "candidates-300-gbk.csv").write_bytes(csv_bytes(rows, "gbk"))
    (HERE / "candidates-300.xlsx").write_bytes(xlsx_bytes(rows))
    print(f"wrote {len(rows)} candidates to {HERE}/candidates-300.xlsx, .csv and -gbk.csv")


if __name__ == "__main__":
    main()
