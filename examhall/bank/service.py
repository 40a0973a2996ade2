"""Use cases of the question bank: import, export, browse, edit, version life cycle, usage register.

Every read of item content, export, import, assembly, unsealing, archiving or destruction is
registered in the bank usage register (R-BANK-4) and the audit chain (R-SEC-3).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from examhall.bank import rules
from examhall.bank.io import BankDocument, KnowledgePointDoc, LevelDoc
from examhall.bank.models import BankUsage, BankVersion, Item, ItemRevision, KnowledgePoint, Occupation
from examhall.papers.models import Blueprint, PaperSet
from examhall.security import audit
from examhall.security.audit import Actor
from examhall.sittings.models import Sitting

USAGE_ACTIONS = ("read", "export", "import", "edit", "assemble", "unseal", "status", "archive", "destroy")


class BankError(ValueError):
    """A bank operation that cannot be done; the message says why."""


async def register_use(
    session: AsyncSession,
    actor: Actor,
    action: str,
    bank_version_id: int | None,
    *,
    sitting_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """One line of the bank usage register (R-BANK-4), mirrored in the audit chain."""
    assert action in USAGE_ACTIONS, action
    session.add(
        BankUsage(
            user_id=actor.user_id,
            actor=actor.name,
            action=action,
            bank_version_id=bank_version_id,
            sitting_id=sitting_id,
            detail=detail or {},
        )
    )
    await session.flush()
    await audit.record(
        session,
        actor=actor.name,
        actor_user_id=actor.user_id,
        action=f"bank_{action}",
        object_type="bank_version",
        object_id=bank_version_id,
        detail={"sitting_id": sitting_id, **(detail or {})},
        ip=actor.ip,
    )


# --- import ------------------------------------------------------------------------------


@dataclasses.dataclass
class ImportSummary:
    bank_version_id: int
    created_version: bool
    knowledge_points_added: int = 0
    items_added: int = 0
    items_revised: int = 0
    items_unchanged: int = 0
    blueprints_saved: int = 0


def _revision_content(draft: rules.ItemDraft) -> tuple[Any, ...]:
    return (
        draft.type,
        draft.difficulty,
        Decimal(draft.points).quantize(Decimal("0.01")),
        draft.stem,
        [list(pair) for pair in draft.options],
        draft.key,
        draft.explanation,
    )


def _stored_content(rev: ItemRevision) -> tuple[Any, ...]:
    return (
        rev.type,
        rev.difficulty,
        Decimal(rev.points).quantize(Decimal("0.01")),
        rev.stem,
        rev.options,
        rev.key,
        rev.explanation,
    )


def _new_revision(item_id: int, number: int, draft: rules.ItemDraft, actor: Actor) -> ItemRevision:
    return ItemRevision(
        item_id=item_id,
        revision=number,
        type=draft.type,
        difficulty=draft.difficulty,
        points=draft.points,
        stem=draft.stem,
        options=[list(pair) for pair in draft.options],
        key=draft.key,
        explanation=draft.explanation,
        images=[],
        fingerprint=rules.content_fingerprint(draft),
        created_by=actor.name,
    )


async def import_bank(session: AsyncSession, doc: BankDocument, actor: Actor) -> ImportSummary:
    """Store a validated bank document: new items are added, changed items get a new revision
    when their current one was used in a paper (else they are updated), blueprints are saved."""
    from examhall.papers.assembly import BlueprintError, parse_blueprint

    occupation = await session.scalar(select(Occupation).where(Occupation.name == doc.occupation_name))
    if occupation is None:
        occupation = Occupation(
            name=doc.occupation_name, name_en=doc.occupation_name_en, code=doc.occupation_code or None
        )
        session.add(occupation)
        await session.flush()
    version = await session.scalar(
        select(BankVersion).where(BankVersion.occupation_id == occupation.id, BankVersion.version == doc.version)
    )
    created = version is None
    if version is None:
        version = BankVersion(
            occupation_id=occupation.id,
            version=doc.version,
            standard_title=doc.standard_title,
            standard_code=doc.standard_code,
            standard_year=doc.standard_year,
            levels=[level.level for level in doc.levels],
            status=rules.DRAFT,
        )
        session.add(version)
        await session.flush()
    elif version.status == rules.RETIRED:
        raise BankError(f"bank version {doc.version} of {doc.occupation_name} is retired; import a new version")
    else:
        version.levels = sorted({*version.levels, *(level.level for level in doc.levels)}, reverse=True)
    summary = ImportSummary(bank_version_id=version.id, created_version=created)

    kps = {
        kp.code: kp
        for kp in await session.scalars(select(KnowledgePoint).where(KnowledgePoint.bank_version_id == version.id))
    }
    for node in doc.knowledge_points:  # parents come before children in the document
        existing = kps.get(node.code)
        parent_id = kps[node.parent].id if node.parent else None
        if existing is None:
            existing = KnowledgePoint(
                bank_version_id=version.id, code=node.code, name=node.name, parent_id=parent_id, position=node.position
            )
            session.add(existing)
            await session.flush()
            kps[node.code] = existing
            summary.knowledge_points_added += 1
        else:
            existing.name, existing.parent_id, existing.position = node.name, parent_id, node.position

    items = {item.code: item for item in await session.scalars(select(Item).where(Item.bank_version_id == version.id))}
    for draft in doc.items:
        item = items.get(draft.code)
        kp_id = kps[draft.kp].id
        if item is None:
            item = Item(bank_version_id=version.id, code=draft.code, level=draft.level, knowledge_point_id=kp_id)
            session.add(item)
            await session.flush()
            revision = _new_revision(item.id, 1, draft, actor)
            session.add(revision)
            await session.flush()
            item.current_revision_id = revision.id
            items[draft.code] = item
            summary.items_added += 1
            continue
        current = await session.get(ItemRevision, item.current_revision_id) if item.current_revision_id else None
        item.level, item.knowledge_point_id = draft.level, kp_id
        if current is not None and _stored_content(current) == _revision_content(draft):
            summary.items_unchanged += 1
            continue
        await _revise(session, item, current, draft, actor)
        summary.items_revised += 1

    for raw in doc.blueprints:
        try:
            spec = parse_blueprint(raw)
        except BlueprintError as exc:
            raise BankError("blueprint: " + "; ".join(exc.problems)) from exc
        stored = await session.scalar(
            select(Blueprint).where(Blueprint.bank_version_id == version.id, Blueprint.name == spec.name)
        )
        if stored is None:
            session.add(
                Blueprint(
                    bank_version_id=version.id, level=spec.level, name=spec.name, spec=dict(raw), created_by=actor.name
                )
            )
        else:
            stored.spec, stored.level = dict(raw), spec.level
        summary.blueprints_saved += 1
    await session.flush()
    await register_use(
        session,
        actor,
        "import",
        version.id,
        detail={
            "items_added": summary.items_added,
            "items_revised": summary.items_revised,
            "items_unchanged": summary.items_unchanged,
        },
    )
    return summary


async def _revise(
    session: AsyncSession, item: Item, current: ItemRevision | None, draft: rules.ItemDraft, actor: Actor
) -> ItemRevision:
    """R-BANK-2: a revision used in a paper is never changed; the edit becomes a new revision."""
    if current is not None and not current.used_in_paper:
        current.type, current.difficulty, current.points = draft.type, draft.difficulty, draft.points
        current.stem, current.options, current.key = draft.stem, [list(p) for p in draft.options], draft.key
        current.explanation, current.fingerprint = draft.explanation, rules.content_fingerprint(draft)
        current.created_by = actor.name
        await session.flush()
        return current
    number = (
        await session.scalar(
            select(func.coalesce(func.max(ItemRevision.revision), 0)).where(ItemRevision.item_id == item.id)
        )
        or 0
    ) + 1
    revision = _new_revision(item.id, number, draft, actor)
    session.add(revision)
    await session.flush()
    item.current_revision_id = revision.id
    await session.flush()
    return revision


# --- export ------------------------------------------------------------------------------


async def bank_document(session: AsyncSession, bank_version_id: int, *, with_items: bool = True) -> BankDocument:
    """The stored bank version as a document (the same shape the import reads)."""
    from examhall.bank.rules import LEVEL_NAMES_EN, LEVEL_NAMES_ZH

    version = await session.get(BankVersion, bank_version_id)
    if version is None:
        raise BankError(f"bank version {bank_version_id} does not exist")
    kp_rows = list(
        await session.scalars(
            select(KnowledgePoint)
            .where(KnowledgePoint.bank_version_id == version.id)
            .order_by(KnowledgePoint.position, KnowledgePoint.code)
        )
    )
    by_id = {kp.id: kp for kp in kp_rows}
    kp_docs = tuple(
        KnowledgePointDoc(
            code=kp.code, name=kp.name, parent=by_id[kp.parent_id].code if kp.parent_id else None, position=kp.position
        )
        for kp in kp_rows
    )
    items: list[rules.ItemDraft] = []
    if with_items:
        rows = await session.execute(
            select(Item, ItemRevision)
            .join(ItemRevision, ItemRevision.id == Item.current_revision_id)
            .where(Item.bank_version_id == version.id, Item.withdrawn.is_(False))
            .order_by(Item.id)
        )
        for item, rev in rows:
            items.append(
                rules.ItemDraft(
                    code=item.code,
                    level=item.level,
                    kp=by_id[item.knowledge_point_id].code,
                    type=rev.type,
                    difficulty=rev.difficulty,
                    stem=rev.stem,
                    options=tuple((str(a), str(b)) for a, b in rev.options),
                    key=rev.key,
                    points=Decimal(rev.points).quantize(Decimal("0.01")),
                    explanation=rev.explanation,
                )
            )
    blueprints = tuple(
        dict(bp.spec)
        for bp in await session.scalars(
            select(Blueprint)
            .where(Blueprint.bank_version_id == version.id)
            .order_by(Blueprint.level.desc(), Blueprint.id)
        )
    )
    return BankDocument(
        occupation_name=version.occupation.name,
        occupation_name_en=version.occupation.name_en,
        occupation_code=version.occupation.code,
        standard_title=version.standard_title,
        standard_code=version.standard_code,
        standard_year=version.standard_year,
        version=version.version,
        levels=tuple(
            LevelDoc(
                level=level, name=LEVEL_NAMES_ZH.get(level, str(level)), name_en=LEVEL_NAMES_EN.get(level, str(level))
            )
            for level in version.levels
        ),
        knowledge_points=kp_docs,
        items=tuple(items),
        blueprints=blueprints,
    )


async def export_bank(session: AsyncSession, bank_version_id: int, actor: Actor, fmt: str) -> BankDocument:
    doc = await bank_document(session, bank_version_id)
    await register_use(session, actor, "export", bank_version_id, detail={"format": fmt, "items": len(doc.items)})
    return doc


# --- versions ----------------------------------------------------------------------------


async def list_versions(session: AsyncSession) -> list[BankVersion]:
    return list(await session.scalars(select(BankVersion).order_by(BankVersion.occupation_id, BankVersion.id)))


async def mock_completed(session: AsyncSession, bank_version_id: int) -> bool:
    """R-BANK-3: a mock sitting was assembled from this version and completed without error."""
    found = await session.scalar(
        select(func.count())
        .select_from(Sitting)
        .join(PaperSet, PaperSet.sitting_id == Sitting.id)
        .where(
            PaperSet.bank_version_id == bank_version_id,
            Sitting.kind == "mock",
            Sitting.status == "completed",
        )
    )
    return bool(found)


async def set_version_status(session: AsyncSession, bank_version_id: int, target: str, actor: Actor) -> BankVersion:
    """Move a bank version along draft → trial → live → retired (R-BANK-2/3).

    Going live retires the occupation's previous live version for new papers; it stays for the record.
    """
    version = await session.get(BankVersion, bank_version_id, with_for_update=True)
    if version is None:
        raise BankError(f"bank version {bank_version_id} does not exist")
    try:
        rules.check_transition(version.status, target, mock_completed=await mock_completed(session, version.id))
    except rules.VersionTransitionRefused as exc:
        raise BankError(str(exc)) from exc
    now = datetime.now(UTC)
    retired: list[int] = []
    if target == rules.LIVE:
        result = await session.execute(
            update(BankVersion)
            .where(
                BankVersion.occupation_id == version.occupation_id,
                BankVersion.status == rules.LIVE,
                BankVersion.id != version.id,
            )
            .values(status=rules.RETIRED, status_changed_at=now)
            .returning(BankVersion.id)
        )
        retired = [row[0] for row in result]
    before = version.status
    version.status, version.status_changed_at = target, now
    await session.flush()
    await register_use(session, actor, "status", version.id, detail={"from": before, "to": target, "retired": retired})
    return version


# --- browsing and editing ------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ItemFilter:
    kp: str | None = None
    type: str | None = None
    difficulty: int | None = None
    level: int | None = None
    text: str | None = None


@dataclasses.dataclass(frozen=True)
class ItemRow:
    item: Item
    revision: ItemRevision


async def search_items(
    session: AsyncSession, bank_version_id: int, flt: ItemFilter, *, offset: int = 0, limit: int = 50
) -> tuple[list[ItemRow], int]:
    query = (
        select(Item, ItemRevision)
        .join(ItemRevision, ItemRevision.id == Item.current_revision_id)
        .join(KnowledgePoint, KnowledgePoint.id == Item.knowledge_point_id)
        .where(Item.bank_version_id == bank_version_id)
    )
    if flt.kp:
        query = query.where((KnowledgePoint.code == flt.kp) | KnowledgePoint.code.startswith(flt.kp + "."))
    if flt.type:
        query = query.where(ItemRevision.type == flt.type)
    if flt.difficulty:
        query = query.where(ItemRevision.difficulty == flt.difficulty)
    if flt.level:
        query = query.where(Item.level == flt.level)
    if flt.text:
        like = f"%{flt.text}%"
        query = query.where(ItemRevision.stem.ilike(like) | Item.code.ilike(like))
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = await session.execute(query.order_by(Item.code).offset(offset).limit(limit))
    return [ItemRow(item, rev) for item, rev in rows], int(total)


async def item_revisions(session: AsyncSession, item_id: int) -> Sequence[ItemRevision]:
    return list(
        await session.scalars(
            select(ItemRevision).where(ItemRevision.item_id == item_id).order_by(ItemRevision.revision)
        )
    )


async def edit_item(session: AsyncSession, item_id: int, draft: rules.ItemDraft, actor: Actor) -> ItemRevision:
    """A keeper's edit: validated, and a new revision if the current one was used in a paper."""
    item = await session.get(Item, item_id)
    if item is None:
        raise BankError(f"item {item_id} does not exist")
    version = await session.get(BankVersion, item.bank_version_id)
    assert version is not None
    if version.status == rules.RETIRED:
        raise BankError("a retired bank version is kept for the record and cannot be edited")
    kps = {
        kp.code: kp
        for kp in await session.scalars(select(KnowledgePoint).where(KnowledgePoint.bank_version_id == version.id))
    }
    parents = {kp.parent_id for kp in kps.values()}
    known = {code: kp.id not in parents for code, kp in kps.items()}
    problems = rules.check_item(draft, known, version.levels)
    if problems:
        raise BankError("; ".join(f"{p.field}: {p.message}" for p in problems))
    current = await session.get(ItemRevision, item.current_revision_id) if item.current_revision_id else None
    item.knowledge_point_id, item.level = kps[draft.kp].id, draft.level
    revision = await _revise(session, item, current, draft, actor)
    await register_use(session, actor, "edit", version.id, detail={"item": item.code, "revision": revision.revision})
    return revision


async def item_counts(session: AsyncSession) -> dict[int, int]:
    rows = await session.execute(select(Item.bank_version_id, func.count()).group_by(Item.bank_version_id))
    return {vid: int(n) for vid, n in rows}


def item_out(item: Item, rev: ItemRevision) -> dict[str, Any]:
    return {
        "id": item.id,
        "code": item.code,
        "level": item.level,
        "kp": item.knowledge_point.code,
        "kp_name": item.knowledge_point.name,
        "type": rev.type,
        "difficulty": rev.difficulty,
        "points": str(rev.points),
        "stem": rev.stem,
        "options": rev.options,
        "key": rev.key,
        "explanation": rev.explanation,
        "revision": rev.revision,
        "used_in_paper": rev.used_in_paper,
    }


async def item_detail(session: AsyncSession, item_id: int, actor: Actor) -> dict[str, Any] | None:
    """An item with all its revisions (registered as a bank read, R-BANK-4)."""
    item = await session.get(Item, item_id)
    if item is None or item.current_revision_id is None:
        return None
    revisions = await item_revisions(session, item_id)
    current = next(r for r in revisions if r.id == item.current_revision_id)
    await register_use(session, actor, "read", item.bank_version_id, detail={"item": item.code})
    return {
        **item_out(item, current),
        "bank_version_id": item.bank_version_id,
        "revisions": [
            {
                "revision": r.revision,
                "created_at": r.created_at.isoformat(),
                "created_by": r.created_by,
                "used_in_paper": r.used_in_paper,
                "stem": r.stem,
                "key": r.key,
            }
            for r in revisions
        ],
    }
