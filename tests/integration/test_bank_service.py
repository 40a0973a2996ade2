"""Bank versions and item revisions in the real database (R-BANK-2/3/4)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from examhall.bank import service
from examhall.bank.io import BankDocument, KnowledgePointDoc, LevelDoc
from examhall.bank.models import BankVersion, Item
from examhall.bank.rules import ItemDraft
from examhall.batches import service as batch_service
from examhall.config import Settings
from examhall.db import Database
from examhall.papers import service as papers_service
from examhall.papers.models import Blueprint
from examhall.security.audit import Actor
from examhall.sittings import service as sittings_service
from tests.conftest import run_db, sql

ACTOR = Actor("keeper")


def small_bank(version: str = "2019.1", stem_suffix: str = "") -> BankDocument:
    """Two knowledge points, enough items for a 6-item paper at level 4."""
    items = []
    for n in range(4):
        items.append(
            ItemDraft(
                code=f"J{n}",
                level=4,
                kp="01.01",
                type="judge",
                difficulty=1 + n % 3,
                stem=f"离心泵启动前应先灌泵排气，第{n}题{stem_suffix}",
                options=(),
                key="T" if n % 2 else "F",
            )
        )
        items.append(
            ItemDraft(
                code=f"S{n}",
                level=4,
                kp="01.02",
                type="single",
                difficulty=1 + n % 3,
                stem=f"精馏塔回流比增大时塔顶产品纯度（  ），第{n}题{stem_suffix}",
                options=(("A", "提高"), ("B", "降低"), ("C", "不变"), ("D", "无法判断")),
                key="A",
            )
        )
    return BankDocument(
        occupation_name="化工总控工",
        occupation_name_en="Chemical process control operator",
        occupation_code=None,
        standard_title="化工总控工国家职业技能标准",
        standard_code="",
        standard_year=2019,
        version=version,
        levels=(LevelDoc(4, "四级/中级工", "Level 4 (intermediate)"),),
        knowledge_points=(
            KnowledgePointDoc("01", "化工基础", None, 0),
            KnowledgePointDoc("01.01", "流体输送", "01", 1),
            KnowledgePointDoc("01.02", "精馏", "01", 2),
        ),
        items=tuple(items),
        blueprints=(
            {
                "format": "examhall-blueprint/1",
                "name": "小样卷",
                "level": 4,
                "duration_minutes": 30,
                "pass_mark": 6,
                "total_points": 10,
                "sections": [
                    {"type": "judge", "title": "判断题", "points_each": 2},
                    {"type": "single", "title": "单项选择题", "points_each": 2},
                ],
                "rows": [{"kp": "01", "judge": 2, "single": 3}],
            },
        ),
    )


def store(url: str, doc: BankDocument) -> service.ImportSummary:
    async def work(db: Database) -> service.ImportSummary:
        async with db.session() as session:
            return await service.import_bank(session, doc, ACTOR)

    return run_db(url, work)


def test_reimport_of_the_same_bank_changes_nothing(clean_db: str) -> None:
    first = store(clean_db, small_bank())
    assert (first.items_added, first.knowledge_points_added, first.blueprints_saved) == (8, 3, 1)
    again = store(clean_db, small_bank())
    assert again.bank_version_id == first.bank_version_id
    assert (again.items_added, again.items_revised, again.items_unchanged) == (0, 0, 8)
    assert sql(clean_db, "SELECT count(*) AS n FROM item_revisions")[0]["n"] == 8


def test_an_item_used_in_a_paper_is_never_changed_in_place(clean_db: str, test_settings: Settings) -> None:
    summary = store(clean_db, small_bank())

    async def use_in_mock(db: Database) -> None:
        async with db.session() as session:
            version = await session.get(BankVersion, summary.bank_version_id)
            assert version is not None
            batch = await batch_service.create_batch(session, "B1", "批次")
            mock = await sittings_service.schedule_sitting(
                session,
                batch_id=batch.id,
                occupation_id=version.occupation_id,
                level=4,
                kind="mock",
                title="模拟",
                starts_at=datetime.now(UTC) + timedelta(hours=1),
                duration_minutes=30,
                actor=ACTOR,
            )
            blueprint_id = await session.scalar(select(Blueprint.id))
            assert blueprint_id is not None
            await papers_service.assemble_for_sitting(
                session, test_settings, papers_service.AssemblyRequest(mock.id, blueprint_id, "single"), ACTOR
            )

    run_db(clean_db, use_in_mock)
    used = {
        r["code"]
        for r in sql(
            clean_db,
            "SELECT i.code FROM items i JOIN item_revisions r ON r.id = i.current_revision_id WHERE r.used_in_paper",
        )
    }
    unused = {f"J{n}" for n in range(4)} | {f"S{n}" for n in range(4)}
    unused -= used
    assert len(used) == 5
    revised = store(clean_db, small_bank(stem_suffix="（修订）"))
    # Used items get revision 2; unused ones are corrected in place (still revision 1).
    assert revised.items_revised == 8
    rows = sql(
        clean_db, "SELECT i.code, r.revision, r.stem FROM items i JOIN item_revisions r ON r.id = i.current_revision_id"
    )
    for row in rows:
        assert row["stem"].endswith("（修订）")
        assert row["revision"] == (2 if row["code"] in used else 1)
    old = sql(clean_db, "SELECT count(*) AS n FROM item_revisions WHERE used_in_paper AND stem NOT LIKE '%修订%'")
    assert old[0]["n"] == 5  # the revisions the mock paper points at are unchanged


def test_edit_through_the_service_is_validated_and_registered(clean_db: str) -> None:
    store(clean_db, small_bank())

    async def edit(db: Database, key: str) -> int:
        async with db.session() as session:
            item = await session.scalar(select(Item).where(Item.code == "S0"))
            assert item is not None
            draft = ItemDraft(
                code="S0",
                level=4,
                kp="01.02",
                type="single",
                difficulty=2,
                stem="改写后的题干（  ）",
                options=(("A", "甲"), ("B", "乙"), ("C", "丙")),
                key=key,
                points=Decimal(1),
            )
            return (await service.edit_item(session, item.id, draft, ACTOR)).revision

    with pytest.raises(service.BankError, match="not among the options"):
        run_db(clean_db, lambda db: edit(db, "D"))
    assert run_db(clean_db, lambda db: edit(db, "B")) == 1
    assert (
        sql(
            clean_db,
            "SELECT stem FROM item_revisions r JOIN items i ON i.current_revision_id = r.id WHERE i.code = 'S0'",
        )[0]["stem"]
        == "改写后的题干（  ）"
    )
    assert [r["action"] for r in sql(clean_db, "SELECT action FROM bank_usage ORDER BY id")] == ["import", "edit"]


def test_a_new_live_version_retires_the_previous_one(clean_db: str, test_settings: Settings) -> None:
    old = store(clean_db, small_bank("2019.1")).bank_version_id
    new = store(clean_db, dataclasses.replace(small_bank("2024.1"), standard_year=2024)).bank_version_id

    async def prove_and_go_live(db: Database, version_id: int, code: str) -> None:
        async with db.session() as session:
            version = await session.get(BankVersion, version_id)
            assert version is not None
            batch = await batch_service.create_batch(session, code, "批次")
            mock = await sittings_service.schedule_sitting(
                session,
                batch_id=batch.id,
                occupation_id=version.occupation_id,
                level=4,
                kind="mock",
                title="模拟",
                starts_at=datetime.now(UTC) - timedelta(hours=1),
                duration_minutes=30,
                actor=ACTOR,
            )
            blueprint_id = await session.scalar(select(Blueprint.id).where(Blueprint.bank_version_id == version_id))
            assert blueprint_id is not None
            await papers_service.assemble_for_sitting(
                session, test_settings, papers_service.AssemblyRequest(mock.id, blueprint_id, "single"), ACTOR
            )
            await sittings_service.complete_mock(session, mock.id, ACTOR)
            await service.set_version_status(session, version_id, "trial", ACTOR)
            await service.set_version_status(session, version_id, "live", ACTOR)

    run_db(clean_db, lambda db: prove_and_go_live(db, old, "B1"))
    run_db(clean_db, lambda db: prove_and_go_live(db, new, "B2"))
    statuses = {r["id"]: r["status"] for r in sql(clean_db, "SELECT id, status FROM bank_versions")}
    assert statuses == {old: "retired", new: "live"}

    async def back_to_draft(db: Database) -> None:
        async with db.session() as session:
            await service.set_version_status(session, old, "live", ACTOR)

    with pytest.raises(service.BankError, match="retired"):
        run_db(clean_db, back_to_draft)
