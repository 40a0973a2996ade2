"""Use cases of paper assembly (组卷): blueprints, assembly for a sitting, sealing, unsealing,
and reading an unsealed paper (R-PAPER-1…6, R-BANK-3/4)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
import secrets
import sys
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from examhall.bank import rules as bank_rules
from examhall.bank.models import BankVersion, Item, ItemRevision, KnowledgePoint
from examhall.bank.service import register_use
from examhall.batches.service import seat_plan, seat_position
from examhall.config import Settings
from examhall.papers import rules
from examhall.papers.assembly import (
    BlueprintError,
    BlueprintSpec,
    InfeasibleBlueprint,
    PaperDraft,
    PoolItem,
    Shortfall,
    assemble,
    assign_forms,
    check_feasibility,
    parse_blueprint,
    personalise,
)
from examhall.papers.models import Blueprint, Paper, PaperSet
from examhall.papers.sealing import new_paper_set_key, open_seal, seal, unwrap_key, wrap_key
from examhall.security import audit
from examhall.security.audit import Actor
from examhall.sittings.models import Sitting


class PaperError(ValueError):
    """A paper operation that cannot be done; ``code`` for the route, message for the log."""

    def __init__(self, code: str, message: str, **params: Any) -> None:
        super().__init__(message)
        self.code = code
        self.params = params


class PaperSealed(PaperError):
    def __init__(self) -> None:
        super().__init__("sealed", "R-PAPER-5: the papers of this sitting are sealed until the chief unseals them")


# --- pools and blueprints ------------------------------------------------------------------


async def kp_tree(session: AsyncSession, bank_version_id: int) -> dict[str, KnowledgePoint]:
    rows = await session.scalars(select(KnowledgePoint).where(KnowledgePoint.bank_version_id == bank_version_id))
    return {kp.code: kp for kp in rows}


def _kp_path(kp: KnowledgePoint, by_id: dict[int, KnowledgePoint]) -> tuple[str, ...]:
    path = [kp.code]
    node = kp
    while node.parent_id is not None:
        node = by_id[node.parent_id]
        path.append(node.code)
    return tuple(reversed(path))


async def pool_for(session: AsyncSession, bank_version_id: int, level: int) -> list[PoolItem]:
    """The current revision of every usable item of a bank version at one level."""
    kps = await kp_tree(session, bank_version_id)
    by_id = {kp.id: kp for kp in kps.values()}
    paths = {kp.id: _kp_path(kp, by_id) for kp in kps.values()}
    rows = await session.execute(
        select(
            Item.id,
            Item.knowledge_point_id,
            ItemRevision.id,
            ItemRevision.type,
            ItemRevision.difficulty,
            ItemRevision.options,
        )
        .join(ItemRevision, ItemRevision.id == Item.current_revision_id)
        .where(Item.bank_version_id == bank_version_id, Item.level == level, Item.withdrawn.is_(False))
        .order_by(Item.id)
    )
    return [
        PoolItem(
            revision_id=rev_id,
            item_id=item_id,
            kp_path=paths[kp_id],
            type=kind,
            difficulty=difficulty,
            option_count=len(options),
        )
        for item_id, kp_id, rev_id, kind, difficulty, options in rows
    ]


def shortfall_messages(shortfalls: list[Shortfall], kps: dict[str, KnowledgePoint]) -> list[str]:
    names = {code: kp.name for code, kp in kps.items()}
    return [s.message(names) for s in shortfalls]


async def feasibility(
    session: AsyncSession, bank_version_id: int, doc: dict[str, Any]
) -> tuple[BlueprintSpec, list[str]]:
    """Parse a blueprint and check it against the bank (R-PAPER-6); returns the problems, if any."""
    try:
        spec = parse_blueprint(doc)
    except BlueprintError as exc:
        raise PaperError("bad_blueprint", "; ".join(exc.problems), problems=exc.problems) from exc
    kps = await kp_tree(session, bank_version_id)
    pool = await pool_for(session, bank_version_id, spec.level)
    return spec, shortfall_messages(check_feasibility(spec, pool, kps.keys()), kps)


async def save_blueprint(session: AsyncSession, bank_version_id: int, doc: dict[str, Any], actor: Actor) -> Blueprint:
    if await session.get(BankVersion, bank_version_id) is None:
        raise PaperError("no_bank_version", f"bank version {bank_version_id} does not exist")
    spec, problems = await feasibility(session, bank_version_id, doc)
    if problems:
        raise PaperError("infeasible", "; ".join(problems), problems=problems)
    stored = await session.scalar(
        select(Blueprint).where(Blueprint.bank_version_id == bank_version_id, Blueprint.name == spec.name)
    )
    if stored is None:
        stored = Blueprint(
            bank_version_id=bank_version_id, level=spec.level, name=spec.name, spec=dict(doc), created_by=actor.name
        )
        session.add(stored)
    else:
        stored.spec, stored.level = dict(doc), spec.level
    await session.flush()
    await audit.record(
        session,
        actor=actor.name,
        actor_user_id=actor.user_id,
        action="blueprint_saved",
        object_type="blueprint",
        object_id=stored.id,
        detail={"name": spec.name},
        ip=actor.ip,
    )
    return stored


# --- assembly ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class AssemblyRequest:
    sitting_id: int
    blueprint_id: int
    mode: str
    forms: int = 1
    shuffle_items: bool = True
    shuffle_options: bool = True
    seed: int | None = None  # recorded (sealed); random when not given


def _draft_payload(draft: PaperDraft, form: str | None) -> dict[str, Any]:
    return {
        "form": form,
        "items": [
            {"r": it.revision_id, "s": it.section, "p": str(it.points), "o": list(it.option_order)}
            for it in draft.items
        ],
    }


def _candidate_rng(seed: int, candidate_id: int) -> random.Random:
    return random.Random(f"{seed}:candidate:{candidate_id}")


async def assemble_for_sitting(
    session: AsyncSession, settings: Settings, request: AssemblyRequest, actor: Actor
) -> PaperSet:
    """Assemble, seal and bind papers to one sitting (R-PAPER-2/3/4/5, R-BANK-3/4)."""
    sitting = await session.get(Sitting, request.sitting_id, with_for_update=True)
    if sitting is None:
        raise PaperError("no_sitting", f"sitting {request.sitting_id} does not exist")
    if sitting.kind not in ("theory", "mock"):
        raise PaperError("bad_mode", "skill assessments and comprehensive reviews have no computer paper")
    if await session.scalar(select(PaperSet.id).where(PaperSet.sitting_id == sitting.id)) is not None:
        # R-PAPER-4: one paper set per sitting, never re-used or replaced silently.
        raise PaperError("already_assembled", "this sitting already has its papers")
    blueprint = await session.get(Blueprint, request.blueprint_id)
    if blueprint is None:
        raise PaperError("no_blueprint", f"blueprint {request.blueprint_id} does not exist")
    version = await session.get(BankVersion, blueprint.bank_version_id)
    assert version is not None
    if version.occupation_id != sitting.occupation_id or blueprint.level != sitting.level:
        raise PaperError("wrong_blueprint", "the blueprint is for another occupation or level than the sitting")
    refusal = bank_rules.usable_for(version.status, real_sitting=sitting.kind == "theory")
    if refusal:
        raise PaperError("bank_not_usable", refusal)

    seats = await seat_plan(session, sitting.id)
    count = {rules.SINGLE_PAPER: 1, rules.FORMS: request.forms, rules.PER_CANDIDATE: len(seats)}.get(request.mode, 0)
    problem = rules.mode_problem(request.mode, request.forms, len(seats))
    if problem:
        raise PaperError("bad_mode", problem)
    spec, shortfalls = await feasibility(session, version.id, blueprint.spec)
    if shortfalls:
        raise PaperError("infeasible", "; ".join(shortfalls), problems=shortfalls)
    pool = await pool_for(session, version.id, spec.level)
    seed = request.seed if request.seed is not None else secrets.randbits(63)
    try:
        result = assemble(
            spec,
            pool,
            mode=request.mode,
            count=count,
            seed=seed,
            shuffle_items=request.shuffle_items,
            shuffle_options=request.shuffle_options,
        )
    except InfeasibleBlueprint as exc:  # pragma: no cover - feasibility was checked just above
        raise PaperError("infeasible", str(exc)) from exc

    key = new_paper_set_key()
    papers: list[Paper] = []
    labels: dict[int, str] = {}
    if request.mode == rules.PER_CANDIDATE:
        for (seat, _room), draft in zip(seats, result.papers, strict=True):
            papers.append(
                Paper(
                    label=f"C{seat.candidate_id}",
                    candidate_id=seat.candidate_id,
                    item_count=len(draft.items),
                    ciphertext=seal(key, _draft_payload(draft, None)),
                )
            )
            labels[seat.candidate_id] = f"C{seat.candidate_id}"
    else:
        form_labels = rules.FORM_LABELS[: len(result.papers)]
        for label, draft in zip(form_labels, result.papers, strict=True):
            papers.append(
                Paper(
                    label=label,
                    candidate_id=None,
                    item_count=len(draft.items),
                    ciphertext=seal(key, _draft_payload(draft, label)),
                )
            )
        # Each seated candidate gets their form, reshuffled for them; neighbours never share a form.
        by_room: dict[int, list[tuple[int, int, tuple[int, int]]]] = defaultdict(list)
        for seat, room in seats:
            by_room[room.id].append((seat.candidate_id, seat.seat_no, seat_position(room, seat.seat_no)))
        for room_id, room_seats in by_room.items():
            forms = (
                assign_forms([pos for _, _, pos in room_seats], len(result.papers), seed + room_id)
                if len(result.papers) > 1
                else [0] * len(room_seats)
            )
            for (candidate_id, _seat_no, _pos), form in zip(room_seats, forms, strict=True):
                draft = personalise(
                    result.papers[form],
                    spec,
                    _candidate_rng(seed, candidate_id),
                    shuffle_items=request.shuffle_items,
                    shuffle_options=request.shuffle_options,
                )
                label = f"{form_labels[form]}-C{candidate_id}"
                papers.append(
                    Paper(
                        label=label,
                        candidate_id=candidate_id,
                        item_count=len(draft.items),
                        ciphertext=seal(key, _draft_payload(draft, form_labels[form])),
                    )
                )
                labels[candidate_id] = label

    used = sorted({it.revision_id for draft in result.papers for it in draft.items})
    keys = dict(
        (str(rev_id), key_)
        for rev_id, key_ in await session.execute(
            select(ItemRevision.id, ItemRevision.key).where(ItemRevision.id.in_(used))
        )
    )
    manifest = {"seed": seed, "blueprint": blueprint.spec, "keys": keys, "mode": request.mode, "labels": labels}
    paper_set = PaperSet(
        sitting_id=sitting.id,
        blueprint_id=blueprint.id,
        bank_version_id=version.id,
        mode=request.mode,
        forms_count=len(result.papers) if request.mode != rules.PER_CANDIDATE else 1,
        shuffle_items=request.shuffle_items,
        shuffle_options=request.shuffle_options,
        wrapped_key=wrap_key(settings.resolved_sealing_key(), key),
        manifest=seal(key, manifest),
        exposure=dataclasses.asdict(result.exposure),
        created_by=actor.name,
    )
    session.add(paper_set)
    await session.flush()
    for paper in papers:
        paper.paper_set_id = paper_set.id
    session.add_all(papers)
    # R-BANK-2: revisions used in a paper are frozen from now on.
    await session.execute(update(ItemRevision).where(ItemRevision.id.in_(used)).values(used_in_paper=True))
    await session.flush()
    await register_use(
        session,
        actor,
        "assemble",
        version.id,
        sitting_id=sitting.id,
        detail={"mode": request.mode, "papers": len(papers), "items_used": len(used), "blueprint": blueprint.name},
    )
    return paper_set


async def assemble_replacement(
    session: AsyncSession, settings: Settings, sitting_id: int, candidate_id: int, actor: Actor
) -> Paper:
    """R-CLOCK-9: a fresh paper for one candidate whose paper is wrong or defective, from the
    same blueprint and bank version, sealed into the sitting's paper set (which must be open)."""
    paper_set = await paper_set_for(session, sitting_id)
    if paper_set is None:
        raise PaperError("not_assembled", "the papers of this sitting have not been assembled")
    if paper_set.unsealed_at is None:
        raise PaperSealed()
    key = unwrap_key(settings.resolved_sealing_key(), paper_set.wrapped_key)
    spec = parse_blueprint(open_seal(key, paper_set.manifest)["blueprint"])
    pool = await pool_for(session, paper_set.bank_version_id, spec.level)
    seed = secrets.randbits(63)
    draft = assemble(
        spec,
        pool,
        mode=rules.SINGLE_PAPER,
        count=1,
        seed=seed,
        shuffle_items=paper_set.shuffle_items,
        shuffle_options=paper_set.shuffle_options,
    ).papers[0]
    earlier = await session.scalar(
        select(func.count()).where(Paper.paper_set_id == paper_set.id, Paper.candidate_id == candidate_id)
    )
    payload = {**_draft_payload(draft, None), "seed": seed, "replacement": True}
    paper = Paper(
        paper_set_id=paper_set.id,
        label=f"R{earlier or 0}-C{candidate_id}",
        candidate_id=candidate_id,
        item_count=len(draft.items),
        ciphertext=seal(key, payload),
    )
    session.add(paper)
    used = sorted({it.revision_id for it in draft.items})
    await session.execute(update(ItemRevision).where(ItemRevision.id.in_(used)).values(used_in_paper=True))
    await session.flush()
    await register_use(
        session,
        actor,
        "assemble",
        paper_set.bank_version_id,
        sitting_id=sitting_id,
        detail={"replacement_for_candidate": candidate_id, "paper": paper.label, "items": len(used)},
    )
    return paper


# --- unsealing and reading ---------------------------------------------------------------


async def paper_labels(session: AsyncSession, paper_set_id: int) -> list[str]:
    rows = await session.scalars(select(Paper.label).where(Paper.paper_set_id == paper_set_id).order_by(Paper.id))
    return list(rows)


async def paper_set_for(session: AsyncSession, sitting_id: int) -> PaperSet | None:
    return await session.scalar(select(PaperSet).where(PaperSet.sitting_id == sitting_id))


async def unseal(
    session: AsyncSession, settings: Settings, sitting_id: int, actor: Actor, now: datetime | None = None
) -> PaperSet:
    """The chief unseals a sitting's papers, no earlier than 30 minutes before the start (R-PAPER-5)."""
    sitting = await session.get(Sitting, sitting_id)
    if sitting is None:
        raise PaperError("no_sitting", f"sitting {sitting_id} does not exist")
    paper_set = await session.scalar(select(PaperSet).where(PaperSet.sitting_id == sitting_id).with_for_update())
    if paper_set is None:
        raise PaperError("not_assembled", "the papers of this sitting have not been assembled")
    moment = now or datetime.now(UTC)
    problem = rules.unseal_problem(moment, sitting.starts_at, settings.unseal_minutes_before, paper_set.unsealed_at)
    if problem == "already_unsealed":
        return paper_set  # two clicks at once: the second is a no-op
    if problem == "too_early":
        opens = rules.unseal_opens_at(sitting.starts_at, settings.unseal_minutes_before)
        raise PaperError("too_early", f"unsealing opens at {opens.isoformat()}", opens_at=opens)
    # Check the seal opens before declaring it open.
    open_seal(unwrap_key(settings.resolved_sealing_key(), paper_set.wrapped_key), paper_set.manifest)
    paper_set.unsealed_at, paper_set.unsealed_by = moment, actor.name
    await session.flush()
    await register_use(session, actor, "unseal", paper_set.bank_version_id, sitting_id=sitting_id)
    return paper_set


@dataclasses.dataclass(frozen=True)
class PaperView:
    """An unsealed paper as staff see it: items in display order with their options and keys."""

    label: str
    form: str | None
    sections: list[dict[str, Any]]
    total_points: Decimal


# An unsealed set's key and blueprint, and the revisions its papers use, once per worker: every
# candidate's paper is opened at the start storm and again wherever it is scored. A revision never
# changes once used in a paper (bank.models.ItemRevision); a set is looked up by its sealed bytes.
_SET_OPENED: dict[bytes, tuple[bytes, BlueprintSpec]] = {}
_REVISIONS: dict[int, tuple[str, str, tuple[tuple[str, str], ...], str]] = {}  # id → type, stem, options, key
_CACHE_MAX = 50_000


def _opened_set(settings: Settings, paper_set: SealedSet) -> tuple[bytes, BlueprintSpec]:
    site_key = settings.resolved_sealing_key()
    digest = hashlib.blake2b(site_key + paper_set.wrapped_key + paper_set.manifest, digest_size=32).digest()
    found = _SET_OPENED.get(digest)
    if found is None:
        key = unwrap_key(site_key, paper_set.wrapped_key)
        found = (key, parse_blueprint(open_seal(key, paper_set.manifest)["blueprint"]))
        if len(_SET_OPENED) >= 64:
            _SET_OPENED.clear()
        _SET_OPENED[digest] = found
    return found


class SealedSet(Protocol):
    """What opening a paper needs of its set (models.PaperSet, or a row read without the ORM)."""

    @property
    def unsealed_at(self) -> datetime | None: ...
    @property
    def wrapped_key(self) -> bytes: ...
    @property
    def manifest(self) -> bytes: ...


class SealedPaper(Protocol):
    @property
    def label(self) -> str: ...
    @property
    def ciphertext(self) -> bytes: ...


# (id, type, stem, options, key) of the given revisions, read wherever the caller reads.
RevisionRows = Callable[[list[int]], Awaitable[Iterable[Sequence[Any]]]]


async def _revisions(
    fetch: RevisionRows, ids: list[int]
) -> dict[int, tuple[str, str, tuple[tuple[str, str], ...], str]]:
    missing = sorted(set(ids) - _REVISIONS.keys())
    if missing:
        if len(_REVISIONS) + len(missing) > _CACHE_MAX:
            _REVISIONS.clear()
            missing = sorted(set(ids))
        for rev_id, kind, stem, options, key in await fetch(missing):
            if isinstance(options, str):  # JSONB from the raw pool comes as text
                options = json.loads(options)
            _REVISIONS[rev_id] = (kind, stem, tuple((str(o[0]), str(o[1])) for o in options), key)
    return {i: _REVISIONS[i] for i in ids}


_REVISION_COLUMNS = (ItemRevision.id, ItemRevision.type, ItemRevision.stem, ItemRevision.options, ItemRevision.key)


async def open_paper(session: AsyncSession, settings: Settings, paper_set: PaperSet, paper: Paper) -> PaperView:
    """Decrypt one paper of an unsealed set (the caller registers the use, R-BANK-4)."""

    async def fetch(ids: list[int]) -> Iterable[Sequence[Any]]:
        return list(await session.execute(select(*_REVISION_COLUMNS).where(ItemRevision.id.in_(ids))))

    return await open_sealed(settings, paper_set, paper, fetch)


_Presented = tuple[str, str, tuple[tuple[str, str], ...], str]
# An item as a paper shows it — its options in the paper's order, lettered again, and the key in
# those letters — for each (revision, order) met; papers share these (2,000 papers of 100 items
# draw from a bank of a few thousand items and a few orders each), so the start storm builds
# each once per worker and a paper in memory holds references, not copies.
_PRESENTED: dict[tuple[int, tuple[int, ...]], _Presented] = {}
_POINT_VALUES: dict[str | int, Decimal] = {}


def _presented(rev_id: int, order: list[int] | None, revision: _Presented) -> _Presented:
    cache_key = (rev_id, tuple(order or ()))
    found = _PRESENTED.get(cache_key)
    if found is not None:
        return found
    rev_type, rev_stem, rev_options, rev_key = revision
    shown = [
        (bank_rules.OPTION_LETTERS[i], rev_options[orig][1], rev_options[orig][0])
        for i, orig in enumerate(order or range(len(rev_options)))
    ]
    display_key = (
        rev_key
        if rev_type == bank_rules.JUDGE
        else "".join(sorted(letter for letter, _text, original in shown if original in rev_key))
    )
    if len(_PRESENTED) >= _CACHE_MAX:
        _PRESENTED.clear()
    found = _PRESENTED[cache_key] = (
        sys.intern(rev_type),
        rev_stem,
        tuple((letter, text) for letter, text, _ in shown),
        sys.intern(display_key),
    )
    return found


def _point_value(text: str | int) -> Decimal:
    value = _POINT_VALUES.get(text)
    if value is None:
        value = _POINT_VALUES.setdefault(text, Decimal(text))
    return value


async def open_sealed(settings: Settings, paper_set: SealedSet, paper: SealedPaper, fetch: RevisionRows) -> PaperView:
    """:func:`open_paper` for a set and paper however they were read; ``fetch`` reads the
    revisions not in memory yet."""
    if paper_set.unsealed_at is None:
        raise PaperSealed()
    key, spec = _opened_set(settings, paper_set)
    payload = open_seal(key, paper.ciphertext)
    revisions = await _revisions(fetch, [entry["r"] for entry in payload["items"]])
    sections: list[dict[str, Any]] = [
        {"type": s.type, "title": s.title, "points_each": s.points_each, "scoring": s.scoring, "items": []}
        for s in spec.sections
    ]
    scorings = [section.scoring for section in spec.sections]
    for number, entry in enumerate(payload["items"], start=1):
        rev_id = entry["r"]
        rev_type, rev_stem, options, display_key = _presented(rev_id, entry["o"], revisions[rev_id])
        sections[entry["s"]]["items"].append(
            {
                "number": number,
                "revision_id": rev_id,
                "stem": rev_stem,
                "options": options,
                "key": display_key,
                "points": _point_value(entry["p"]),
                "type": rev_type,
                "scoring": scorings[entry["s"]],
            }
        )
    return PaperView(label=paper.label, form=payload.get("form"), sections=sections, total_points=spec.total_points)


async def read_paper(session: AsyncSession, settings: Settings, sitting_id: int, label: str, actor: Actor) -> PaperView:
    """Open one paper of an unsealed sitting for staff (registered as a bank read, R-BANK-4)."""
    paper_set = await paper_set_for(session, sitting_id)
    if paper_set is None:
        raise PaperError("not_assembled", "the papers of this sitting have not been assembled")
    if paper_set.unsealed_at is None:
        raise PaperSealed()
    paper = await session.scalar(select(Paper).where(Paper.paper_set_id == paper_set.id, Paper.label == label))
    if paper is None:
        raise PaperError("no_paper", f"no paper {label!r} in this sitting")
    view = await open_paper(session, settings, paper_set, paper)
    await register_use(
        session, actor, "read", paper_set.bank_version_id, sitting_id=sitting_id, detail={"paper": label}
    )
    return view
