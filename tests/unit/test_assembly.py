"""Paper assembly (组卷): blueprints, feasibility, drawing, forms and seats (R-PAPER-1/2/3/6).

Pure rules: no database. Property tests draw feasible blueprints and pools at random.
"""

from __future__ import annotations

import copy
import json
import math
import os
import random
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from examhall.papers.assembly import (
    Assembly,
    BlueprintError,
    BlueprintRow,
    BlueprintSpec,
    Exposure,
    InfeasibleBlueprint,
    PaperDraft,
    PaperItem,
    PoolItem,
    Section,
    Shortfall,
    assemble,
    assign_forms,
    blueprint_to_doc,
    check_feasibility,
    difficulty_quotas,
    draw_paper,
    parse_blueprint,
    personalise,
)

ROOT = Path(__file__).resolve().parents[2]
BANK_DIR = ROOT / "question_bank" / "hgzkg"
KINDS = ("judge", "single", "multiple")
TITLES = {"judge": "判断题", "single": "单项选择题", "multiple": "多项选择题"}

# The shape of question_bank/hgzkg/blueprint-L4.yaml / -L3.yaml, used when those files are not there yet.
SAMPLE_L4: dict[str, Any] = {
    "format": "examhall-blueprint/1",
    "name": "化工总控工 四级 理论知识",
    "level": 4,
    "duration_minutes": 90,
    "pass_mark": 60,
    "total_points": 100,
    "sections": [
        {"type": "judge", "title": "一、判断题", "points_each": 1},
        {"type": "single", "title": "二、单项选择题", "points_each": 1},
        {"type": "multiple", "title": "三、多项选择题", "points_each": 2},
    ],
    "rows": [
        {"kp": "01", "judge": 2, "single": 4, "multiple": 1},
        {"kp": "02", "judge": 2, "single": 6, "multiple": 1},
        {"kp": "03", "judge": 2, "single": 8, "multiple": 1},
        {"kp": "04", "judge": 2, "single": 6, "multiple": 1},
        {"kp": "05", "judge": 2, "single": 6, "multiple": 1},
        {"kp": "06", "judge": 2, "single": 6, "multiple": 1},
        {"kp": "07", "judge": 2, "single": 6, "multiple": 1},
        {"kp": "08", "judge": 2, "single": 6, "multiple": 1},
        {"kp": "09", "judge": 2, "single": 8, "multiple": 1},
        {"kp": "10", "judge": 2, "single": 4, "multiple": 1},
    ],
    "difficulty_mix": {1: 0.3, 2: 0.5, 3: 0.2},
}
SAMPLE_L3: dict[str, Any] = {
    "format": "examhall-blueprint/1",
    "name": "化工总控工 三级 理论知识",
    "level": 3,
    "duration_minutes": 120,
    "pass_mark": 60,
    "total_points": 100,
    "sections": [
        {"type": "judge", "title": "一、判断题", "points_each": 0.5},
        {"type": "single", "title": "二、单项选择题", "points_each": 1},
        {"type": "multiple", "title": "三、多项选择题", "points_each": 1.5, "scoring": "partial"},
    ],
    "rows": [
        {"kp": "01", "judge": 2, "single": 4, "multiple": 1},
        {"kp": "02.01", "judge": 1, "single": 2, "multiple": 1},
        {"kp": "02.02", "judge": 1, "single": 2, "multiple": 1},
        {"kp": "02.03", "judge": 0, "single": 2, "multiple": 0},
        {"kp": "03", "judge": 2, "single": 8, "multiple": 2},
        {"kp": "04", "judge": 2, "single": 6, "multiple": 2},
        {"kp": "05", "judge": 2, "single": 8, "multiple": 3},
        {"kp": "06", "judge": 2, "single": 6, "multiple": 2},
        {"kp": "07", "judge": 2, "single": 6, "multiple": 2},
        {"kp": "08", "judge": 2, "single": 6, "multiple": 2},
        {"kp": "09", "judge": 2, "single": 6, "multiple": 3},
        {"kp": "10", "judge": 2, "single": 4, "multiple": 1},
    ],
    "difficulty_mix": {1: 0.2, 2: 0.5, 3: 0.3},
}


def bank_kp_codes() -> set[str]:
    bank = yaml.safe_load((BANK_DIR / "bank.yaml").read_text(encoding="utf-8"))
    codes: set[str] = set()

    def walk(nodes: list[dict[str, Any]]) -> None:
        for node in nodes:
            codes.add(str(node["code"]))
            walk(node.get("children") or [])

    walk(bank["knowledge_points"])
    return codes


def sample_doc(level: int) -> dict[str, Any]:
    """The real sample file when it exists, else the equivalent document above."""
    path = BANK_DIR / f"blueprint-L{level}.yaml"
    if path.exists():
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert isinstance(doc, dict)
        return doc
    return copy.deepcopy(SAMPLE_L4 if level == 4 else SAMPLE_L3)


def refusals(doc: Any) -> list[str]:
    with pytest.raises(BlueprintError) as caught:
        parse_blueprint(doc)
    assert caught.value.problems, "a refusal names at least one problem"
    assert str(caught.value) == "; ".join(caught.value.problems)
    return caught.value.problems


# --- parsing the samples -------------------------------------------------------------------


@pytest.mark.parametrize("level", [4, 3])
def test_sample_blueprints_parse(level: int) -> None:
    spec = parse_blueprint(sample_doc(level))
    assert spec.level == level
    assert spec.total_points == sum(
        (count * next(s.points_each for s in spec.sections if s.type == kind))
        for row in spec.rows
        for kind, count in row.counts.items()
    )
    assert 0 < spec.pass_mark <= spec.total_points
    assert spec.duration_minutes > 0
    # Every knowledge point of the blueprint is in the sample bank's tree.
    assert {row.kp for row in spec.rows} <= bank_kp_codes()
    assert parse_blueprint(blueprint_to_doc(spec)) == spec


def test_sample_l4_fields() -> None:
    spec = parse_blueprint(copy.deepcopy(SAMPLE_L4))
    assert spec == BlueprintSpec(
        name="化工总控工 四级 理论知识",
        level=4,
        duration_minutes=90,
        pass_mark=Decimal(60),
        total_points=Decimal(100),
        sections=(
            Section("judge", "一、判断题", Decimal(1)),
            Section("single", "二、单项选择题", Decimal(1)),
            Section("multiple", "三、多项选择题", Decimal(2)),
        ),
        rows=tuple(
            BlueprintRow(str(r["kp"]), {k: int(v) for k, v in r.items() if k != "kp"}) for r in SAMPLE_L4["rows"]
        ),
        difficulty_mix={1: 0.3, 2: 0.5, 3: 0.2},
    )
    assert spec.item_count == 90


def test_sample_l3_partial_scoring_and_decimal_points() -> None:
    spec = parse_blueprint(copy.deepcopy(SAMPLE_L3))
    assert [s.scoring for s in spec.sections] == ["all_or_nothing", "all_or_nothing", "partial"]
    assert spec.sections[0].points_each == Decimal("0.5")
    assert spec.sections[2].points_each == Decimal("1.5")


def test_json_stored_blueprint_with_string_keys_and_text_numbers() -> None:
    """A blueprint read back from JSON(B) has string difficulty keys; numbers may be text."""
    doc = json.loads(json.dumps(SAMPLE_L3))
    doc["pass_mark"] = "60"
    doc["sections"][0]["points_each"] = "0.50"
    spec = parse_blueprint(doc)
    assert spec == parse_blueprint(copy.deepcopy(SAMPLE_L3))
    assert spec.difficulty_mix == {1: 0.2, 2: 0.5, 3: 0.3}


def test_difficulty_mix_is_optional_and_zh_keys_are_read() -> None:
    doc = copy.deepcopy(SAMPLE_L4)
    del doc["difficulty_mix"]
    assert parse_blueprint(doc).difficulty_mix is None
    doc["difficulty_mix"] = {"易": 0.25, "中": 0.5, "难": 0.25}
    assert parse_blueprint(doc).difficulty_mix == {1: 0.25, 2: 0.5, 3: 0.25}


# --- refusals ------------------------------------------------------------------------------

Mutation = Callable[[dict[str, Any]], None]


def _set(path: tuple[Any, ...], value: Any) -> Mutation:
    def apply(doc: dict[str, Any]) -> None:
        target: Any = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return apply


def _delete(key: str) -> Mutation:
    def apply(doc: dict[str, Any]) -> None:
        del doc[key]

    return apply


def _add_section(section: dict[str, Any]) -> Mutation:
    def apply(doc: dict[str, Any]) -> None:
        doc["sections"].append(section)

    return apply


REFUSALS: list[tuple[str, Mutation, str]] = [
    ("missing format", _delete("format"), "format: missing"),
    ("missing name", _delete("name"), "name: missing"),
    ("missing level", _delete("level"), "level: missing"),
    ("missing duration", _delete("duration_minutes"), "duration_minutes: missing"),
    ("missing pass mark", _delete("pass_mark"), "pass_mark: missing"),
    ("missing total", _delete("total_points"), "total_points: missing"),
    ("missing sections", _delete("sections"), "sections: missing"),
    ("missing rows", _delete("rows"), "rows: missing"),
    (
        "unknown format",
        _set(("format",), "examhall-blueprint/2"),
        "format: unknown format 'examhall-blueprint/2' (expected examhall-blueprint/1)",
    ),
    ("unknown key", _set(("difficulty-mix",), {1: 1}), "difficulty-mix: unknown key"),
    ("empty name", _set(("name",), "  "), "name: must be a non-empty text"),
    ("level 6", _set(("level",), 6), "level: must be a level from 5 (五级/初级工) to 1 (一级/高级技师)"),
    ("zero minutes", _set(("duration_minutes",), 0), "duration_minutes: must be a whole number of minutes > 0"),
    ("pass mark above total", _set(("pass_mark",), 120), "pass_mark: 120 is more than total_points 100"),
    ("negative pass mark", _set(("pass_mark",), -1), "pass_mark: must be a positive number"),
    (
        "unknown type in a row",
        _set(("rows", 9, "essay"), 1),
        "rows[9].essay: unknown item type (judge, single, multiple)",
    ),
    (
        "duplicate section type",
        _add_section({"type": "single", "title": "再来一次", "points_each": 1}),
        "sections[3].type: duplicate section type 'single' (also sections[1])",
    ),
    (
        "unknown section type",
        _set(("sections", 0, "type"), "essay"),
        "sections[0].type: unknown item type 'essay' (judge, single, multiple)",
    ),
    ("section without title", _set(("sections", 0, "title"), ""), "sections[0].title: must be a non-empty text"),
    (
        "zero points",
        _set(("sections", 1, "points_each"), 0),
        "sections[1].points_each: points must be a positive number with at most 2 decimals",
    ),
    (
        "negative points",
        _set(("sections", 2, "points_each"), -2),
        "sections[2].points_each: points must be a positive number with at most 2 decimals",
    ),
    (
        "partial scoring on single",
        _set(("sections", 1, "scoring"), "partial"),
        "sections[1].scoring: partial credit applies to multiple-choice sections only",
    ),
    (
        "unknown scoring",
        _set(("sections", 2, "scoring"), "half"),
        "sections[2].scoring: unknown scoring 'half' (all_or_nothing, partial)",
    ),
    ("negative count", _set(("rows", 3, "single"), -1), "rows[3].single: count must be a whole number ≥ 0"),
    ("fractional count", _set(("rows", 3, "single"), 2.5), "rows[3].single: count must be a whole number ≥ 0"),
    ("text count", _set(("rows", 3, "judge"), "two"), "rows[3].judge: count must be a whole number ≥ 0"),
    ("boolean count", _set(("rows", 0, "multiple"), True), "rows[0].multiple: count must be a whole number ≥ 0"),
    ("repeated kp", _set(("rows", 4, "kp"), "02"), "rows[4].kp: knowledge point 02 repeats rows[1]"),
    ("kp below another row", _set(("rows", 4, "kp"), "03.02"), "rows[4].kp: 03.02 lies inside 03 of rows[2]"),
    ("kp above another row", _set(("rows", 0, "kp"), "03.02"), "rows[2].kp: 03 contains 03.02 of rows[0]"),
    ("bad kp code", _set(("rows", 0, "kp"), "5"), "rows[0].kp: '5' is not a knowledge-point code like '05' or '05.02'"),
    ("row without counts", _set(("rows", 0), {"kp": "01"}), "rows[0]: no item counts (judge, single, multiple)"),
    (
        "difficulty 4",
        _set(("difficulty_mix",), {1: 0.3, 2: 0.5, 4: 0.2}),
        "difficulty_mix.4: difficulty must be 1, 2 or 3 (易/中/难)",
    ),
    (
        "difficulty 0",
        _set(("difficulty_mix",), {0: 0.3, 2: 0.7}),
        "difficulty_mix.0: difficulty must be 1, 2 or 3 (易/中/难)",
    ),
    (
        "shares below 1",
        _set(("difficulty_mix",), {1: 0.3, 2: 0.5, 3: 0.1}),
        "difficulty_mix: shares add up to 0.9, not 1",
    ),
    (
        "shares above 1",
        _set(("difficulty_mix",), {1: 0.3, 2: 0.5, 3: 0.202}),
        "difficulty_mix: shares add up to 1.002, not 1",
    ),
    (
        "negative share",
        _set(("difficulty_mix",), {1: -0.2, 2: 1.2}),
        "difficulty_mix.1: share must be a number between 0 and 1",
    ),
    (
        "difficulty twice",
        _set(("difficulty_mix",), {1: 0.5, "1": 0.5}),
        "difficulty_mix.1: difficulty 1 is given twice",
    ),
    (
        "total does not add up",
        _set(("total_points",), 98),
        "total_points: 98 given, but the rows add up to 100 (Σ count × points_each)",
    ),
    (
        "total does not add up after a points change",
        _set(("sections", 2, "points_each"), 2.5),
        "total_points: 100 given, but the rows add up to 105 (Σ count × points_each)",
    ),
]


@pytest.mark.parametrize(("mutation", "expected"), [(m, e) for _, m, e in REFUSALS], ids=[n for n, _, _ in REFUSALS])
def test_refusal(mutation: Mutation, expected: str) -> None:
    doc = copy.deepcopy(SAMPLE_L4)
    mutation(doc)
    assert expected in refusals(doc)


def test_type_in_rows_without_a_section() -> None:
    doc = copy.deepcopy(SAMPLE_L4)
    doc["sections"] = [s for s in doc["sections"] if s["type"] != "multiple"]
    problems = refusals(doc)
    assert problems[0] == "rows[0].multiple: no section for multiple items (add one to sections)"
    assert len(problems) == 10  # one per row that asks for multiple-choice items


def test_zero_count_of_a_type_without_section_is_fine() -> None:
    doc = copy.deepcopy(SAMPLE_L4)
    doc["sections"] = [s for s in doc["sections"] if s["type"] != "multiple"]
    for row in doc["rows"]:
        row["multiple"] = 0
    doc["total_points"] = 80
    assert parse_blueprint(doc).total_points == Decimal(80)


def test_shares_within_tolerance_are_accepted() -> None:
    doc = copy.deepcopy(SAMPLE_L4)
    doc["difficulty_mix"] = {1: 0.333, 2: 0.333, 3: 0.3339}
    assert parse_blueprint(doc).difficulty_mix == {1: 0.333, 2: 0.333, 3: 0.3339}


def test_every_problem_is_collected() -> None:
    doc = copy.deepcopy(SAMPLE_L4)
    doc["format"] = "other"
    del doc["name"]
    doc["sections"][0]["points_each"] = 0
    doc["rows"][1]["single"] = -3
    doc["difficulty_mix"] = {1: 0.5, 5: 0.5}
    assert refusals(doc) == [
        "name: missing",
        "format: unknown format 'other' (expected examhall-blueprint/1)",
        "sections[0].points_each: points must be a positive number with at most 2 decimals",
        "rows[1].single: count must be a whole number ≥ 0",
        "difficulty_mix.5: difficulty must be 1, 2 or 3 (易/中/难)",
    ]


@pytest.mark.parametrize("doc", [None, [], "blueprint", {}], ids=["none", "list", "text", "empty"])
def test_not_a_blueprint(doc: Any) -> None:
    problems = refusals(doc)
    if isinstance(doc, dict):
        assert problems == [f"{key}: missing" for key in (
            "format", "name", "level", "duration_minutes", "pass_mark", "total_points", "sections", "rows"
        )]  # fmt: skip
    else:
        assert problems == ["blueprint: must be a mapping (examhall-blueprint/1)"]


def test_empty_lists_are_refused() -> None:
    doc = copy.deepcopy(SAMPLE_L4)
    doc["sections"] = []
    doc["rows"] = []
    assert refusals(doc) == [
        "sections: must be a non-empty list of {type, title, points_each, scoring}",
        "rows: must be a non-empty list of {kp, judge, single, multiple}",
    ]


# --- round trip ----------------------------------------------------------------------------

points_values = st.sampled_from([Decimal("0.5"), Decimal(1), Decimal("1.5"), Decimal(2), Decimal("0.25"), Decimal(5)])
mixes = st.sampled_from(
    [
        None,
        {1: 0.3, 2: 0.5, 3: 0.2},
        {1: 0.2, 2: 0.6, 3: 0.2},
        {2: 1.0},
        {1: 0.5, 3: 0.5},
        {1: 0.333, 2: 0.333, 3: 0.334},
        {1: 0.0, 2: 0.75, 3: 0.25},
    ]
)


@st.composite
def blueprint_docs(draw: st.DrawFn) -> dict[str, Any]:
    kinds = draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=3, unique=True))
    sections = []
    for kind in kinds:
        section: dict[str, Any] = {"type": kind, "title": TITLES[kind], "points_each": str(draw(points_values))}
        if kind == "multiple" and draw(st.booleans()):
            section["scoring"] = "partial"
        sections.append(section)
    tops = draw(st.lists(st.integers(1, 20), min_size=1, max_size=6, unique=True))
    rows = []
    for top in tops:
        row: dict[str, Any] = {
            "kp": f"{top:02d}" if draw(st.booleans()) else f"{top:02d}.{draw(st.integers(1, 9)):02d}"
        }
        for kind in kinds:
            row[kind] = draw(st.integers(0, 8))
        rows.append(row)
    points = {s["type"]: Decimal(s["points_each"]) for s in sections}
    total = sum((Decimal(n) * points[k] for r in rows for k, n in r.items() if k != "kp"), Decimal(0))
    if total == 0:
        rows[0][kinds[0]] = 1
        total = points[kinds[0]]
    doc: dict[str, Any] = {
        "format": "examhall-blueprint/1",
        "name": draw(
            st.text(st.characters(exclude_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1, max_size=12).filter(
                str.strip
            )
        ),
        "level": draw(st.integers(1, 5)),
        "duration_minutes": draw(st.integers(1, 240)),
        "pass_mark": str((total * Decimal("0.6")).quantize(Decimal("0.01"))),
        "total_points": str(total),
        "sections": sections,
        "rows": rows,
    }
    mix = draw(mixes)
    if mix is not None:
        doc["difficulty_mix"] = mix
    return doc


@given(doc=blueprint_docs())
@settings(max_examples=100)
def test_round_trip(doc: dict[str, Any]) -> None:
    spec = parse_blueprint(doc)
    again = blueprint_to_doc(spec)
    assert again["format"] == "examhall-blueprint/1"
    assert parse_blueprint(again) == spec
    # … also after storing as JSON (string keys) or YAML.
    assert parse_blueprint(json.loads(json.dumps(again))) == spec
    assert parse_blueprint(yaml.safe_load(yaml.safe_dump(again, allow_unicode=True))) == spec


def test_blueprint_to_doc_numbers() -> None:
    doc = blueprint_to_doc(parse_blueprint(copy.deepcopy(SAMPLE_L3)))
    assert doc["total_points"] == 100 and isinstance(doc["total_points"], int)
    assert [s["points_each"] for s in doc["sections"]] == [0.5, 1, 1.5]
    assert doc["rows"][1] == {"kp": "02.01", "judge": 1, "single": 2, "multiple": 1}
    assert doc["difficulty_mix"] == {1: 0.2, 2: 0.5, 3: 0.3}
    assert "difficulty_mix" not in blueprint_to_doc(parse_blueprint({**SAMPLE_L4, "difficulty_mix": None}))


# --- feasibility (R-PAPER-6) ---------------------------------------------------------------


def item(rev: int, path: tuple[str, ...], kind: str, difficulty: int = 2, *, item_id: int | None = None) -> PoolItem:
    options = {"judge": 0, "single": 4, "multiple": 5}[kind]
    return PoolItem(rev, rev if item_id is None else item_id, path, kind, difficulty, options)


def small_spec(rows: list[dict[str, Any]], mix: dict[int, float] | None = None) -> BlueprintSpec:
    total = sum(n for r in rows for k, n in r.items() if k != "kp")
    doc: dict[str, Any] = {
        "format": "examhall-blueprint/1",
        "name": "t",
        "level": 4,
        "duration_minutes": 60,
        "pass_mark": 1,
        "total_points": total,
        "sections": [{"type": k, "title": TITLES[k], "points_each": 1} for k in KINDS],
        "rows": rows,
    }
    if mix is not None:
        doc["difficulty_mix"] = mix
    return parse_blueprint(doc)


def feasibility_case() -> tuple[BlueprintSpec, list[PoolItem], set[str]]:
    spec = small_spec(
        [
            {"kp": "01", "judge": 2, "single": 3},
            {"kp": "02.01", "single": 2, "multiple": 1},
            {"kp": "99", "judge": 1, "single": 1},
            {"kp": "03", "judge": 0, "multiple": 2},
        ]
    )
    pool = [
        item(1, ("01", "01.01"), "judge"),
        item(2, ("01", "01.01"), "judge", item_id=1),  # a second revision of item 1: counts once
        *(item(10 + i, ("01", "01.02"), "single", 1 + i % 3) for i in range(5)),
        item(20, ("02", "02.01"), "single"),
        item(21, ("02", "02.02"), "single"),  # another subtree: does not count for 02.01
        item(22, ("02", "02.01"), "multiple"),
        item(30, ("03", "03.01"), "multiple"),
        item(31, ("03", "03.02"), "judge"),
    ]
    known = {"01", "01.01", "01.02", "02", "02.01", "02.02", "03", "03.01", "03.02"}
    return spec, pool, known


def test_check_feasibility_exact_shortfalls() -> None:
    spec, pool, known = feasibility_case()
    assert check_feasibility(spec, pool, known) == [
        Shortfall("01", "judge", 2, 1),
        Shortfall("02.01", "single", 2, 1),
        Shortfall("99", "", 2, 0, unknown_kp=True),
        Shortfall("03", "multiple", 2, 1),
    ]


def test_shortfall_messages() -> None:
    spec, pool, known = feasibility_case()
    names = {"01": "职业道德与法律法规", "02.01": "无机化学"}
    assert [s.message(names) for s in check_feasibility(spec, pool, known)] == [
        "01 职业道德与法律法规 · judge: needs 2, the bank has 1 (1 missing)",
        "02.01 无机化学 · single: needs 2, the bank has 1 (1 missing)",
        "knowledge point 99 is not in the bank",
        "03 · multiple: needs 2, the bank has 1 (1 missing)",
    ]
    assert (
        Shortfall("05", "single", 6, 4).message({"05": "精馏"})
        == "05 精馏 · single: needs 6, the bank has 4 (2 missing)"
    )


def test_feasible_blueprint_has_no_shortfalls_whatever_the_difficulties() -> None:
    spec = small_spec([{"kp": "05", "single": 3}], mix={1: 0.0, 2: 0.0, 3: 1.0})
    pool = [item(i, ("05", "05.01"), "single", 1) for i in range(3)]
    assert check_feasibility(spec, pool, {"05", "05.01"}) == []
    draft = draw_paper(spec, pool, random.Random(1))  # hard items missing: filled from easy ones
    assert sorted(it.revision_id for it in draft.items) == [0, 1, 2]


def test_assemble_refuses_an_infeasible_blueprint() -> None:
    spec, pool, _known = feasibility_case()
    with pytest.raises(InfeasibleBlueprint) as caught:
        assemble(spec, pool, mode="single", count=1, seed=1)
    pool_codes = {code for it in pool for code in it.kp_path}
    assert caught.value.shortfalls == check_feasibility(spec, pool, pool_codes)
    assert "01 · judge: needs 2, the bank has 1 (1 missing)" in str(caught.value)
    with pytest.raises(InfeasibleBlueprint):
        draw_paper(spec, pool, random.Random(0))


# --- difficulty quotas ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "available", "expected"),
    [
        (10, {1: 10, 2: 10, 3: 10}, {1: 3, 2: 5, 3: 2}),
        (7, {1: 10, 2: 10, 3: 10}, {1: 2, 2: 4, 3: 1}),  # 2.1/3.5/1.4: the spare one to 中
        (1, {1: 10, 2: 10, 3: 10}, {1: 0, 2: 1, 3: 0}),
        (10, {1: 10, 2: 2, 3: 10}, {1: 6, 2: 2, 3: 2}),  # 中 short by 3: easier neighbour first
        (10, {1: 1, 2: 10, 3: 10}, {1: 1, 2: 7, 3: 2}),  # 易 short by 2: nearest is 中
        (10, {1: 10, 2: 10, 3: 0}, {1: 3, 2: 7, 3: 0}),  # 难 short by 2: nearest is 中
        (10, {1: 10, 2: 0, 3: 0}, {1: 10, 2: 0, 3: 0}),
        (10, {1: 3, 2: 5, 3: 2}, {1: 3, 2: 5, 3: 2}),
    ],
)
def test_difficulty_quotas(count: int, available: dict[int, int], expected: dict[int, int]) -> None:
    assert difficulty_quotas(count, {1: 0.3, 2: 0.5, 3: 0.2}, available) == expected


def reference_quotas(count: int, mix: dict[int, float]) -> dict[int, int]:
    """Largest remainder, written independently: ties to the easier difficulty."""
    shares = {d: Fraction(str(mix.get(d, 0.0))) for d in (1, 2, 3)}
    total = sum(shares.values())
    exact = {d: count * shares[d] / total for d in (1, 2, 3)}
    quotas = {d: math.floor(exact[d]) for d in (1, 2, 3)}
    by_remainder = sorted((1, 2, 3), key=lambda d: (quotas[d] - exact[d], d))
    for d in by_remainder[: count - sum(quotas.values())]:
        quotas[d] += 1
    return quotas


@given(
    count=st.integers(0, 60),
    mix=mixes.filter(lambda m: m is not None),
    available=st.fixed_dictionaries({d: st.integers(0, 40) for d in (1, 2, 3)}),
)
@settings(max_examples=300)
def test_difficulty_quotas_properties(count: int, mix: dict[int, float], available: dict[int, int]) -> None:
    quotas = difficulty_quotas(count, mix, available)
    if count <= sum(available.values()):
        assert sum(quotas.values()) == count
        assert all(0 <= quotas[d] <= available[d] for d in (1, 2, 3))
    ideal = reference_quotas(count, mix)
    if all(available[d] >= ideal[d] for d in (1, 2, 3)):
        assert quotas == ideal


# --- drawing papers: properties over random feasible pools and blueprints ------------------


@dataclass(frozen=True)
class Scenario:
    spec: BlueprintSpec
    pool: tuple[PoolItem, ...]


@st.composite
def scenarios(draw: st.DrawFn, *, with_mix: bool | None = None, ample: bool = False) -> Scenario:
    """A valid blueprint and a pool that can satisfy it.

    ``ample``: every row × type has at least ``count`` items of each difficulty, so a mix can
    be honoured exactly. ``with_mix``: force a difficulty mix (True) or none (False).
    """
    tops = draw(st.integers(1, 3))
    tree = {
        f"{t:02d}": [f"{t:02d}.{leaf:02d}" for leaf in range(1, draw(st.integers(1, 3)) + 1)]
        for t in range(1, tops + 1)
    }
    row_kps: list[str] = []
    for top, leaves in tree.items():
        mode = draw(st.sampled_from(["top", "leaves", "none"]))
        if mode == "top":
            row_kps.append(top)
        elif mode == "leaves":
            row_kps.extend(leaf for leaf in leaves if draw(st.booleans()))
    if not row_kps:
        row_kps.append(next(iter(tree)))
    kinds = draw(st.permutations(KINDS))
    rows: list[dict[str, Any]] = [{"kp": kp, **{kind: draw(st.integers(0, 4)) for kind in kinds}} for kp in row_kps]
    if all(row[kind] == 0 for row in rows for kind in kinds):
        rows[0][kinds[0]] = 1
    sections: list[dict[str, Any]] = [
        {"type": kind, "title": TITLES[kind], "points_each": str(draw(points_values))} for kind in kinds
    ]
    points = {s["type"]: Decimal(s["points_each"]) for s in sections}
    total = sum((Decimal(row[kind]) * points[kind] for row in rows for kind in kinds), Decimal(0))
    mix: dict[int, float] | None
    if with_mix is None:
        mix = draw(mixes)
    elif with_mix:
        mix = draw(mixes.filter(lambda m: m is not None))
    else:
        mix = None
    doc: dict[str, Any] = {
        "format": "examhall-blueprint/1",
        "name": "prop",
        "level": 4,
        "duration_minutes": 90,
        "pass_mark": str(total * Decimal("0.6")),
        "total_points": str(total),
        "sections": sections,
        "rows": rows,
        "difficulty_mix": mix,
    }
    spec = parse_blueprint(doc)

    leaves_of = {leaf: (top, leaf) for top, leaves in tree.items() for leaf in leaves}
    all_leaves = list(leaves_of)
    pool: list[PoolItem] = []
    rev = draw(st.integers(1, 10_000))

    def add(leaf: str, kind: str, difficulty: int) -> None:
        nonlocal rev
        options = 0 if kind == "judge" else draw(st.integers(2 if kind == "single" else 3, 8))
        pool.append(PoolItem(rev, rev * 3 + 1, leaves_of[leaf], kind, difficulty, options))
        rev += 1

    # Noise anywhere in the tree (also outside the rows' subtrees) …
    for _ in range(draw(st.integers(0, 12))):
        add(draw(st.sampled_from(all_leaves)), draw(st.sampled_from(KINDS)), draw(st.integers(1, 3)))
    # … then enough items for every row × type.
    for row in spec.rows:
        leaves = [leaf for leaf in all_leaves if leaf == row.kp or leaf.startswith(row.kp + ".")]
        for kind, count in row.counts.items():
            in_cell = [it for it in pool if it.type == kind and row.kp in it.kp_path]
            if ample:
                for d in (1, 2, 3):
                    for _ in range(count - sum(1 for it in in_cell if it.difficulty == d) + draw(st.integers(0, 2))):
                        add(draw(st.sampled_from(leaves)), kind, d)
            else:
                for _ in range(count - len(in_cell) + draw(st.integers(0, 2))):
                    add(draw(st.sampled_from(leaves)), kind, draw(st.integers(1, 3)))
    order = draw(st.permutations(range(len(pool))))
    return Scenario(spec, tuple(pool[i] for i in order))


def row_of(spec: BlueprintSpec, it: PoolItem) -> int:
    rows = [i for i, row in enumerate(spec.rows) if row.kp in it.kp_path]
    assert len(rows) == 1
    return rows[0]


def check_paper(spec: BlueprintSpec, pool: tuple[PoolItem, ...], paper: PaperDraft) -> None:
    """Everything a paper owes the blueprint (R-PAPER-1/3)."""
    by_rev = {it.revision_id: it for it in pool}
    revs = [pi.revision_id for pi in paper.items]
    assert len(set(revs)) == len(revs), "R-PAPER-3: no item twice"
    assert len({by_rev[r].item_id for r in revs}) == len(revs)
    counts = Counter((row_of(spec, by_rev[pi.revision_id]), by_rev[pi.revision_id].type) for pi in paper.items)
    wanted = Counter({(i, kind): n for i, row in enumerate(spec.rows) for kind, n in row.counts.items() if n})
    assert counts == wanted
    sections = [pi.section for pi in paper.items]
    assert sections == sorted(sections), "sections in spec order"
    for pi in paper.items:
        pool_item = by_rev[pi.revision_id]
        assert spec.sections[pi.section].type == pool_item.type
        assert pi.points == spec.sections[pi.section].points_each
        if pool_item.type == "judge":
            assert pi.option_order == ()
        else:
            assert sorted(pi.option_order) == list(range(pool_item.option_count))
    assert sum((pi.points for pi in paper.items), Decimal(0)) == spec.total_points


@given(
    scenario=scenarios(),
    seed=st.integers(0, 2**63),
    count=st.integers(1, 4),
    mode=st.sampled_from(["single", "forms", "per_candidate"]),
)
@settings(max_examples=80, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
def test_every_paper_meets_the_blueprint(scenario: Scenario, seed: int, count: int, mode: str) -> None:
    count = 1 if mode == "single" else count
    result = assemble(scenario.spec, scenario.pool, mode=mode, count=count, seed=seed)
    assert len(result.papers) == count
    for paper in result.papers:
        check_paper(scenario.spec, scenario.pool, paper)
    again = assemble(scenario.spec, scenario.pool, mode=mode, count=count, seed=seed)
    assert again == result, "R-PAPER-2: reproducible from the seed"
    uses = Counter(pi.revision_id for paper in result.papers for pi in paper.items)
    assert result.exposure == Exposure(
        papers=count,
        pool_size=len({it.item_id for it in scenario.pool}),
        items_used=len(uses),
        max_uses=max(uses.values()),
        mean_uses=sum(uses.values()) / len(uses),
    )


@given(
    scenario=scenarios(),
    seed=st.integers(0, 2**32),
    shuffle_items=st.booleans(),
    shuffle_options=st.booleans(),
    preused=st.dictionaries(st.integers(0, 60), st.integers(0, 3), max_size=20),
)
@settings(max_examples=80, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
def test_draw_paper_meets_the_blueprint(
    scenario: Scenario, seed: int, shuffle_items: bool, shuffle_options: bool, preused: dict[int, int]
) -> None:
    revs = [it.revision_id for it in scenario.pool]
    usage = {revs[i % len(revs)]: n for i, n in preused.items()}
    before = dict(usage)
    paper = draw_paper(
        scenario.spec,
        scenario.pool,
        random.Random(seed),
        usage,
        shuffle_items=shuffle_items,
        shuffle_options=shuffle_options,
    )
    check_paper(scenario.spec, scenario.pool, paper)
    chosen = {pi.revision_id for pi in paper.items}
    assert usage == {r: before.get(r, 0) + (1 if r in chosen else 0) for r in set(before) | chosen}
    same = draw_paper(
        scenario.spec,
        scenario.pool,
        random.Random(seed),
        dict(before),
        shuffle_items=shuffle_items,
        shuffle_options=shuffle_options,
    )
    assert same == paper
    if not shuffle_options:
        assert all(pi.option_order == tuple(range(len(pi.option_order))) for pi in paper.items)
    if not shuffle_items:
        # Within a section: rows in blueprint order, and the bank's order within a row.
        by_rev = {it.revision_id: it for it in scenario.pool}
        position = {it.revision_id: i for i, it in enumerate(scenario.pool)}
        keys = [
            (pi.section, row_of(scenario.spec, by_rev[pi.revision_id]), position[pi.revision_id]) for pi in paper.items
        ]
        assert keys == sorted(keys)


@given(scenario=scenarios(with_mix=True, ample=True), seed=st.integers(0, 2**32), count=st.integers(1, 3))
@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
def test_difficulty_mix_is_honoured_exactly(scenario: Scenario, seed: int, count: int) -> None:
    spec = scenario.spec
    assert spec.difficulty_mix is not None
    result = assemble(spec, scenario.pool, mode="per_candidate", count=count, seed=seed)
    by_rev = {it.revision_id: it for it in scenario.pool}
    for paper in result.papers:
        check_paper(spec, scenario.pool, paper)
        got = Counter(
            (row_of(spec, by_rev[pi.revision_id]), by_rev[pi.revision_id].type, by_rev[pi.revision_id].difficulty)
            for pi in paper.items
        )
        for i, row in enumerate(spec.rows):
            for kind, n in row.counts.items():
                quotas = reference_quotas(n, dict(spec.difficulty_mix))
                assert {d: got[(i, kind, d)] for d in (1, 2, 3)} == quotas


def test_difficulty_mix_example() -> None:
    spec = small_spec([{"kp": "05", "single": 10}], mix={1: 0.3, 2: 0.5, 3: 0.2})
    pool = [item(i, ("05", "05.01"), "single", 1 + i % 3) for i in range(60)]
    paper = draw_paper(spec, pool, random.Random(7))
    assert Counter(pool[pi.revision_id].difficulty for pi in paper.items) == {1: 3, 2: 5, 3: 2}


def test_shuffling_changes_the_order_but_not_the_items() -> None:
    spec = small_spec([{"kp": "01", "single": 20}])
    pool = [item(i, ("01", "01.01"), "single") for i in range(20)]
    plain = draw_paper(spec, pool, random.Random(3), shuffle_items=False, shuffle_options=False)
    mixed = draw_paper(spec, pool, random.Random(3))
    assert [pi.revision_id for pi in plain.items] == list(range(20))
    assert [pi.option_order for pi in plain.items] == [(0, 1, 2, 3)] * 20
    assert sorted(pi.revision_id for pi in mixed.items) == list(range(20))
    assert [pi.revision_id for pi in mixed.items] != list(range(20))
    assert any(pi.option_order != (0, 1, 2, 3) for pi in mixed.items)


def test_option_orders_are_uniform() -> None:
    """All 24 orders of 4 options appear, none much more often than the others."""
    spec = small_spec([{"kp": "01", "single": 1}])
    pool = [item(0, ("01",), "single")]
    result = assemble(spec, pool, mode="per_candidate", count=4800, seed=11)
    seen = Counter(paper.items[0].option_order for paper in result.papers)
    assert len(seen) == 24
    assert max(seen.values()) < 2 * min(seen.values())


def test_different_seeds_give_different_papers() -> None:
    spec = small_spec([{"kp": "01", "single": 5, "judge": 5}])
    pool = [item(i, ("01", "01.01"), "single" if i % 2 else "judge") for i in range(100)]
    a = assemble(spec, pool, mode="forms", count=2, seed=1)
    b = assemble(spec, pool, mode="forms", count=2, seed=2)
    assert a != b
    assert a == assemble(spec, pool, mode="forms", count=2, seed=1)


def test_parallel_forms_do_not_share_items_when_the_pool_allows() -> None:
    spec = small_spec([{"kp": "01", "single": 5}, {"kp": "02", "judge": 3}])
    pool = [item(i, ("01", "01.01"), "single") for i in range(15)] + [
        item(100 + i, ("02", "02.01"), "judge") for i in range(9)
    ]
    forms = assemble(spec, pool, mode="forms", count=3, seed=5).papers
    used = [{pi.revision_id for pi in form.items} for form in forms]
    assert all(not (used[i] & used[j]) for i in range(3) for j in range(i + 1, 3))
    assert set().union(*used) == {it.revision_id for it in pool}


def test_reproducible_across_processes() -> None:
    """R-PAPER-2: the recorded seed reproduces the papers in any process (no salted hash())."""
    script = (
        "import json, sys; sys.path.insert(0, sys.argv[1]);"
        "from examhall.papers.assembly import PoolItem, assemble, parse_blueprint, assign_forms;"
        "doc = json.loads(sys.argv[2]);"
        "spec = parse_blueprint(doc);"
        "pool = [PoolItem(i, i, ('01', '01.0%d' % (1 + i % 3)), ('judge', 'single', 'multiple')[i % 3], 1 + i % 3,"
        " (0, 4, 5)[i % 3]) for i in range(300)];"
        "r = assemble(spec, pool, mode='per_candidate', count=20, seed=42);"
        "print(repr(r), assign_forms([(r, c) for r in range(5) for c in range(6)], 3, 42))"
    )
    doc = {
        **SAMPLE_L4,
        "rows": [{"kp": "01", "judge": 20, "single": 60, "multiple": 10}],
        "difficulty_mix": {"1": 0.3, "2": 0.5, "3": 0.2},
    }
    outputs = []
    for hash_seed in ("0", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        done = subprocess.run(
            [sys.executable, "-c", script, str(ROOT), json.dumps(doc)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1]
    assert "PaperItem(revision_id=" in outputs[0]


def test_assemble_modes_and_counts() -> None:
    spec = small_spec([{"kp": "01", "single": 2}])
    pool = [item(i, ("01",), "single") for i in range(4)]
    assert len(assemble(spec, pool, mode="single", count=1, seed=0).papers) == 1
    with pytest.raises(ValueError, match="exactly one paper"):
        assemble(spec, pool, mode="single", count=2, seed=0)
    with pytest.raises(ValueError, match="unknown assembly mode"):
        assemble(spec, pool, mode="random", count=1, seed=0)
    with pytest.raises(ValueError, match="at least one paper"):
        assemble(spec, pool, mode="per_candidate", count=0, seed=0)


# --- exposure control ----------------------------------------------------------------------


@given(
    cells=st.lists(st.tuples(st.integers(1, 12), st.integers(0, 12)), min_size=1, max_size=4),
    papers=st.integers(1, 30),
    seed=st.integers(0, 2**32),
    via_draw_paper=st.booleans(),
)
@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
def test_exposure_spreads_evenly(cells: list[tuple[int, int]], papers: int, seed: int, via_draw_paper: bool) -> None:
    """Each cell has m items and each paper needs k of them: after P papers every item of the
    cell is used ⌊P·k/m⌋ or ⌈P·k/m⌉ times."""
    cells = [(m, min(k, m)) for m, k in cells]
    if all(k == 0 for _, k in cells):
        cells[0] = (cells[0][0], 1)
    rows = [{"kp": f"{i + 1:02d}", "single": k} for i, (_, k) in enumerate(cells)]
    spec = small_spec(rows)
    pool: list[PoolItem] = []
    for i, (m, _) in enumerate(cells):
        pool.extend(item(1000 * i + j, (f"{i + 1:02d}", f"{i + 1:02d}.01"), "single") for j in range(m))
    random.Random(seed).shuffle(pool)
    if via_draw_paper:
        usage: dict[int, int] = {}
        drafts = [draw_paper(spec, pool, random.Random(f"{seed}:{p}"), usage) for p in range(papers)]
        uses = Counter(pi.revision_id for d in drafts for pi in d.items)
        assert usage == dict(uses)
    else:
        result = assemble(spec, pool, mode="per_candidate", count=papers, seed=seed)
        uses = Counter(pi.revision_id for d in result.papers for pi in d.items)
        assert result.exposure.max_uses == max(uses.values())
    for i, (m, k) in enumerate(cells):
        low, high = (papers * k) // m, -((-papers * k) // m)
        for j in range(m):
            assert low <= uses.get(1000 * i + j, 0) <= high


def test_exposure_report() -> None:
    spec = small_spec([{"kp": "01", "single": 3}])
    pool = [item(i, ("01",), "single") for i in range(10)] + [item(50, ("02",), "judge")]
    result = assemble(spec, pool, mode="per_candidate", count=10, seed=9)
    assert result.exposure == Exposure(papers=10, pool_size=11, items_used=10, max_uses=3, mean_uses=3.0)
    one = assemble(spec, pool, mode="single", count=1, seed=9)
    assert one.exposure == Exposure(papers=1, pool_size=11, items_used=3, max_uses=1, mean_uses=1.0)


def test_usage_prefers_the_least_used_items() -> None:
    spec = small_spec([{"kp": "01", "single": 3}])
    pool = [item(i, ("01",), "single") for i in range(6)]
    usage = {0: 5, 1: 5, 2: 1, 3: 0, 4: 0}
    paper = draw_paper(spec, pool, random.Random(1), usage)
    assert {pi.revision_id for pi in paper.items} == {3, 4, 5}
    assert usage == {0: 5, 1: 5, 2: 1, 3: 1, 4: 1, 5: 1}
    paper = draw_paper(spec, pool, random.Random(2), usage)
    chosen = {pi.revision_id for pi in paper.items}
    assert len(chosen) == 3 and chosen <= {2, 3, 4, 5}  # all used once: 3 of these 4, at random
    assert usage == {0: 5, 1: 5, **{r: 2 if r in chosen else 1 for r in (2, 3, 4, 5)}}


# --- personalised copies of a form (R-PAPER-2) ---------------------------------------------


@given(
    scenario=scenarios(),
    seed=st.integers(0, 2**32),
    shuffle_items=st.booleans(),
    shuffle_options=st.booleans(),
)
@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
def test_personalise(scenario: Scenario, seed: int, shuffle_items: bool, shuffle_options: bool) -> None:
    form = assemble(scenario.spec, scenario.pool, mode="forms", count=2, seed=seed).papers[1]
    mine = personalise(
        form, scenario.spec, random.Random(seed), shuffle_items=shuffle_items, shuffle_options=shuffle_options
    )
    check_paper(scenario.spec, scenario.pool, mine)
    assert Counter((pi.revision_id, pi.section, pi.points) for pi in mine.items) == Counter(
        (pi.revision_id, pi.section, pi.points) for pi in form.items
    )
    if not shuffle_items:
        assert [pi.revision_id for pi in mine.items] == [pi.revision_id for pi in form.items]
    if not shuffle_options:
        assert {pi.revision_id: pi.option_order for pi in mine.items} == {
            pi.revision_id: pi.option_order for pi in form.items
        }
    if not shuffle_items and not shuffle_options:
        assert mine == form
    assert mine == personalise(
        form, scenario.spec, random.Random(seed), shuffle_items=shuffle_items, shuffle_options=shuffle_options
    )


def test_personalise_reshuffles() -> None:
    spec = small_spec([{"kp": "01", "single": 20, "judge": 5}])
    pool = [item(i, ("01",), "single" if i < 20 else "judge") for i in range(25)]
    form = assemble(spec, pool, mode="forms", count=2, seed=4).papers[0]
    copies = {personalise(form, spec, random.Random(c), shuffle_items=True, shuffle_options=True) for c in range(5)}
    assert len(copies) == 5
    for copy_ in copies:
        assert [pi.section for pi in copy_.items] == [0] * 5 + [1] * 20  # judge section first, as in spec


def test_personalise_refuses_an_item_outside_the_sections() -> None:
    spec = small_spec([{"kp": "01", "single": 1}])
    paper = PaperDraft((PaperItem(1, 7, Decimal(1), (0, 1, 2, 3)),))
    with pytest.raises(ValueError, match="section 7"):
        personalise(paper, spec, random.Random(0), shuffle_items=True, shuffle_options=True)


# --- forms and seats (R-PAPER-3) -----------------------------------------------------------


def neighbours_differ(seats: list[tuple[int, int]], forms_of: list[int], forms: int) -> None:
    at = dict(zip(seats, forms_of, strict=True))
    steps = [(0, 1), (1, 0)] + ([(1, 1), (1, -1)] if forms >= 4 else [])
    for (r, c), form in at.items():
        for dr, dc in steps:
            other = at.get((r + dr, c + dc))
            assert other != form, f"seats {(r, c)} and {(r + dr, c + dc)} share form {form}"


@given(rows=st.integers(1, 8), cols=st.integers(1, 8), forms=st.integers(2, 5), seed=st.integers(0, 2**32))
@settings(max_examples=300)
def test_assign_forms_on_full_grids(rows: int, cols: int, forms: int, seed: int) -> None:
    seats = [(r, c) for r in range(rows) for c in range(cols)]
    result = assign_forms(seats, forms, seed)
    assert len(result) == len(seats) and all(0 <= f < forms for f in result)
    neighbours_differ(seats, result, forms)
    if len(seats) >= forms:
        assert set(result) == set(range(forms)), "each form is used"
    assert assign_forms(seats, forms, seed) == result
    # The form of a seat depends on where it is, not on the order seats are listed in.
    order = list(range(len(seats)))
    random.Random(seed).shuffle(order)
    shuffled = assign_forms([seats[i] for i in order], forms, seed)
    assert all(shuffled[k] == result[i] for k, i in enumerate(order))


@given(
    seats=st.lists(st.tuples(st.integers(1, 9), st.integers(1, 9)), unique=True, max_size=60),
    forms=st.integers(2, 6),
    seed=st.integers(0, 2**32),
)
@settings(max_examples=300)
def test_assign_forms_on_irregular_rooms(seats: list[tuple[int, int]], forms: int, seed: int) -> None:
    result = assign_forms(seats, forms, seed)
    neighbours_differ(seats, result, forms)


def test_assign_forms_labels_rotate_with_the_seed() -> None:
    seats = [(r, c) for r in range(4) for c in range(5)]
    layouts = {tuple(assign_forms(seats, 3, seed)) for seed in range(20)}
    assert len(layouts) > 1
    assert {tuple(assign_forms(seats, 2, seed)) for seed in range(20)} == {
        tuple((r + c) % 2 for r, c in seats),
        tuple(1 - (r + c) % 2 for r, c in seats),
    }


def test_assign_forms_spreads_forms_evenly() -> None:
    seats = [(r, c) for r in range(6) for c in range(8)]
    for forms in (2, 3, 4, 6):
        counts = Counter(assign_forms(seats, forms, 1))
        assert max(counts.values()) - min(counts.values()) <= 1, (forms, counts)


def test_assign_forms_edge_cases() -> None:
    assert assign_forms([(0, 0), (0, 1)], 1, 3) == [0, 0]
    assert assign_forms([], 3, 3) == []
    with pytest.raises(ValueError, match="at least one form"):
        assign_forms([(0, 0)], 0, 3)


def test_assembly_objects_are_values() -> None:
    """Frozen dataclasses: an assembly cannot be changed after the fact."""
    spec = small_spec([{"kp": "01", "single": 1}])
    result: Assembly = assemble(spec, [item(1, ("01",), "single")], mode="single", count=1, seed=0)
    with pytest.raises(AttributeError):
        result.papers[0].items[0].points = Decimal(5)  # type: ignore[misc]
