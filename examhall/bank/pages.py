"""Question bank pages (htmx) for bank keepers: versions, import, items, one item, blueprints.

Thin: parse, authorise (bank keepers only, R-BANK-4), call the service, render. The JSON API for
the same things is ``bank/routes.py``; its helpers (``import_upload``, ``version_out``) are reused.

htmx swaps only 2xx responses by default, so a refusal answering an htmx request comes back as a
200 fragment that shows the refusal; the same form posted without JavaScript gets the full page
with the proper status code.
"""

from __future__ import annotations

import dataclasses
import json
import re
from decimal import Decimal
from typing import Any, Final
from urllib.parse import urlencode

import msgspec
import yaml
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery, MultipartBody, URLEncodedBody
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER, HTTP_400_BAD_REQUEST, HTTP_409_CONFLICT
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from examhall import i18n
from examhall.bank import rules, service
from examhall.bank.models import BankVersion
from examhall.bank.routes import import_upload, version_out
from examhall.deps import DbSession
from examhall.i18n import N_, _
from examhall.papers import service as papers_service
from examhall.papers.models import Blueprint
from examhall.papers.routes import paper_error_message
from examhall.security.audit import Actor
from examhall.security.rules import BANK_KEEPER
from examhall.security.web import actor_of, requires

PAGE_SIZE: Final = 50
STEM_PREVIEW_CHARS: Final = 60

STATUS_NAMES: Final = {
    rules.DRAFT: N_("Draft"),
    rules.TRIAL: N_("Trial"),
    rules.LIVE: N_("Live"),
    rules.RETIRED: N_("Retired"),
}
STATUS_BUTTONS: Final = {rules.TRIAL: N_("To trial"), rules.LIVE: N_("Make live"), rules.RETIRED: N_("Retire")}
STATUS_CONFIRMS: Final = {
    rules.TRIAL: N_(
        "Move bank version %(version)s of %(occupation)s to trial? "
        "This needs a mock exam assembled from it and completed without error (R-BANK-3)."
    ),
    rules.LIVE: N_(
        "Make bank version %(version)s of %(occupation)s live? From now on new papers of this occupation come "
        "from it, and the occupation's current live version is retired (it is kept for the record)."
    ),
    rules.RETIRED: N_(
        "Retire bank version %(version)s of %(occupation)s? No new paper will come from it; it is kept for "
        "the record. This cannot be undone."
    ),
}
TYPE_NAMES: Final = {
    rules.JUDGE: N_("True/false"),
    rules.SINGLE: N_("Single choice"),
    rules.MULTIPLE: N_("Multiple choice"),
}
DIFFICULTY_NAMES: Final = {1: N_("Easy"), 2: N_("Medium"), 3: N_("Hard")}
# What the service's refusals mean for the keeper; matched on the stable part of the message.
REFUSAL_HINTS: Final = (
    ("R-BANK-3", N_("R-BANK-3: a bank version goes to trial only after a mock exam was assembled from it and completed without error. Assemble and run a mock exam first, then try again.")),  # noqa: E501
    ("cannot go from", N_("A bank version moves only forward: draft → trial → live → retired. This step is not possible from its current status.")),  # noqa: E501
    ("is retired", N_("This bank version is retired and kept for the record; import the bank as a new version.")),
)  # fmt: skip


def level_name(level: int) -> str:
    """五级/初级工 … in Chinese, "Level 5 (entry)" … in English."""
    names = rules.LEVEL_NAMES_ZH if i18n.current_locale() == "zh_CN" else rules.LEVEL_NAMES_EN
    return names.get(level, str(level))


def refusal_text(exc: Exception) -> str:
    """A service refusal in the keeper's language (the service's own words when not known)."""
    message = str(exc)
    for marker, hint in REFUSAL_HINTS:
        if marker in message:
            return _(hint)
    return message


def is_htmx(request: Request[Any, Any, Any], target: str | None = None) -> bool:
    """An htmx request for a fragment (a history restore wants the whole page)."""
    if request.headers.get("hx-request") != "true" or request.headers.get("hx-history-restore-request"):
        return False
    return target is None or request.headers.get("hx-target") == target


def labels() -> dict[str, Any]:
    """Names the templates show for codes (statuses, types, difficulties, levels)."""
    return {
        "status_names": STATUS_NAMES,
        "type_names": TYPE_NAMES,
        "difficulty_names": DIFFICULTY_NAMES,
        "level_name": level_name,
    }


def _int_or_none(raw: str) -> int | None:
    text = raw.strip()
    return int(text) if text.isdecimal() and len(text) < 10 else None


# --- bank versions and import ----------------------------------------------------------------


def _next_statuses(current: str) -> list[str]:
    """The statuses a version may move to from ``current`` (the mock-exam gate is checked on submit)."""
    allowed = []
    for target in (rules.TRIAL, rules.LIVE, rules.RETIRED):
        try:
            rules.check_transition(current, target, mock_completed=True)
        except rules.VersionTransitionRefused:
            continue
        allowed.append(target)
    return allowed


async def _versions(session: AsyncSession) -> list[dict[str, Any]]:
    counts = await service.item_counts(session)
    return [
        {**version_out(v, counts.get(v.id, 0)), "next": _next_statuses(v.status)}
        for v in await service.list_versions(session)
    ]


def _versions_context(versions: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "versions": versions,
        "status_buttons": STATUS_BUTTONS,
        "status_confirms": STATUS_CONFIRMS,
        "message": None,
        "error": None,
        **labels(),
        **extra,
    }


class StatusForm(msgspec.Struct):
    target: str = ""


class ImportPageForm(msgspec.Struct):
    file: UploadFile
    skip_bad: bool = False
    version_id: str = ""


# --- items -----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class KpOption:
    code: str
    name: str
    depth: int


async def _kp_options(session: AsyncSession, version_id: int) -> list[KpOption]:
    """The knowledge-point tree in tree order, for an indented select."""
    tree = await papers_service.kp_tree(session, version_id)
    return [KpOption(code, tree[code].name, code.count(".")) for code in sorted(tree)]


async def browse_items(
    session: AsyncSession, actor: Actor, version_id: int, flt: service.ItemFilter, page: int
) -> tuple[list[service.ItemRow], int]:
    """One page of a version's items, registered as a bank read (R-BANK-4) like the JSON API."""
    rows, total = await service.search_items(session, version_id, flt, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    await service.register_use(
        session,
        actor,
        "read",
        version_id,
        detail={"list": True, "filter": {k: v for k, v in vars(flt).items() if v}, "page": page},
    )
    return rows, total


async def _version_or_404(session: AsyncSession, version_id: int) -> BankVersion:
    version = await session.get(BankVersion, version_id)
    if version is None:
        raise NotFoundException("no such bank version")
    return version


# --- blueprints -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class BlueprintCheck:
    """The outcome of checking a blueprint text against the bank (R-PAPER-6)."""

    error: str | None = None  # the text is not a blueprint at all (YAML, shape)
    problems: tuple[str, ...] = ()  # fields of the blueprint that are wrong
    shortfalls: tuple[str, ...] = ()  # what the bank cannot supply
    items: int = 0
    points: str = ""

    @property
    def feasible(self) -> bool:
        return self.error is None and not self.problems and not self.shortfalls


BLUEPRINT_MAX_CHARS: Final = 100_000


class _BlueprintLoader(yaml.SafeLoader):
    """yaml.safe_load without aliases (*name): a blueprint never needs them, and they could make
    a short text expand into a huge document."""

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed in a blueprint", mark)
        return super().compose_node(parent, index)


def parse_blueprint_yaml(text: str) -> tuple[dict[str, Any] | None, str | None]:
    """The blueprint document in the editor's text, or why it cannot be read (with its line)."""
    if len(text) > BLUEPRINT_MAX_CHARS:
        return None, _("The blueprint is too long (at most %(max)s characters).", max=BLUEPRINT_MAX_CHARS)
    try:
        doc = yaml.load(text, Loader=_BlueprintLoader)  # noqa: S506 - a SafeLoader without aliases
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or ""
        if mark is None:
            return None, _("The text is not valid YAML: %(problem)s", problem=problem)
        return None, _(
            "The text is not valid YAML: line %(line)s, column %(column)s: %(problem)s",
            line=mark.line + 1,
            column=mark.column + 1,
            problem=problem,
        )
    except yaml.YAMLError as exc:
        return None, _("The text is not valid YAML: %(problem)s", problem=str(exc))
    if doc is None:
        return None, _("Write or paste a blueprint first.")
    if not isinstance(doc, dict):
        return None, _("A blueprint is a set of keys (format, name, level, sections, rows …), not a list or a value.")
    try:
        json.dumps(doc)
    except (TypeError, ValueError):
        return None, _("Use only text and numbers in a blueprint (no dates or other special values).")
    return doc, None


async def check_blueprint_text(session: AsyncSession, version_id: int, text: str) -> BlueprintCheck:
    doc, error = parse_blueprint_yaml(text)
    if doc is None:
        return BlueprintCheck(error=error)
    return await _check_doc(session, version_id, doc)


async def _check_doc(session: AsyncSession, version_id: int, doc: dict[str, Any]) -> BlueprintCheck:
    try:
        spec, shortfalls = await papers_service.feasibility(session, version_id, doc)
    except papers_service.PaperError as exc:
        return BlueprintCheck(problems=tuple(exc.params.get("problems", [str(exc)])))
    return BlueprintCheck(shortfalls=tuple(shortfalls), items=spec.item_count, points=_points(spec.total_points))


def _points(value: Decimal) -> str:
    return format(value.normalize(), "f")


# The order a blueprint's keys are shown in (the database keeps JSON objects in its own order).
BLUEPRINT_KEYS: Final = ("format", "name", "description", "level", "duration_minutes", "pass_mark", "total_points",
                         "sections", "rows", "difficulty_mix")  # fmt: skip
SECTION_KEYS: Final = ("type", "title", "points_each", "scoring")
ROW_KEYS: Final = ("kp", *rules.ITEM_TYPES)


def _in_order(mapping: Any, order: tuple[str, ...]) -> Any:
    if not isinstance(mapping, dict):
        return mapping
    rank = {key: i for i, key in enumerate(order)}
    return dict(sorted(mapping.items(), key=lambda kv: (rank.get(str(kv[0]), len(order)), str(kv[0]))))


def blueprint_yaml(doc: dict[str, Any]) -> str:
    """The blueprint as the editor shows it: keys in reading order, one line per section and row."""
    shown = _in_order(doc, BLUEPRINT_KEYS)
    for key, order in (("sections", SECTION_KEYS), ("rows", ROW_KEYS)):
        if isinstance(shown.get(key), list):
            shown[key] = [
                _OneLine(_in_order(entry, order)) if isinstance(entry, dict) else entry for entry in shown[key]
            ]
    if isinstance(shown.get("difficulty_mix"), dict):
        shown["difficulty_mix"] = _OneLine(shown["difficulty_mix"])
    return yaml.dump(
        shown, Dumper=_BlueprintDumper, allow_unicode=True, sort_keys=False, default_flow_style=None, width=100
    )


class _BlueprintDumper(yaml.SafeDumper):
    """yaml.safe_dump, but codes made of digits are always quoted ('05', '08'), so that a keeper
    copying a row keeps the quotes (an unquoted 05 reads as the number 5)."""


def _represent_text(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "'" if re.fullmatch(r"[0-9][0-9.]*", data) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


class _OneLine(dict[Any, Any]):
    """A mapping written on one line: {kp: '05', judge: 3, single: 8, multiple: 1}."""


def _represent_one_line(dumper: yaml.SafeDumper, data: _OneLine) -> yaml.MappingNode:
    return dumper.represent_mapping("tag:yaml.org,2002:map", data.items(), flow_style=True)


_BlueprintDumper.add_representer(str, _represent_text)
_BlueprintDumper.add_representer(_OneLine, _represent_one_line)


async def _saved_blueprints(session: AsyncSession, version_id: int) -> list[tuple[Blueprint, BlueprintCheck]]:
    """Every saved blueprint of a version with its feasibility against the bank as it is now."""
    saved = await session.scalars(
        select(Blueprint).where(Blueprint.bank_version_id == version_id).order_by(Blueprint.level.desc(), Blueprint.id)
    )
    return [(bp, await _check_doc(session, version_id, dict(bp.spec))) for bp in saved]


def blueprint_template(version: BankVersion, top_level: list[KpOption]) -> dict[str, Any]:
    """A starting point: one row per top-level knowledge point, counts to fill in."""
    return {
        "format": "examhall-blueprint/1",
        "name": _("New blueprint"),
        "level": version.levels[0] if version.levels else 4,
        "duration_minutes": 90,
        "pass_mark": 60,
        "total_points": 100,
        "sections": [
            {"type": rules.JUDGE, "title": "判断题", "points_each": 1},
            {"type": rules.SINGLE, "title": "单项选择题", "points_each": 1},
            {"type": rules.MULTIPLE, "title": "多项选择题", "points_each": 2},
        ],
        "rows": [{"kp": kp.code, rules.JUDGE: 0, rules.SINGLE: 0, rules.MULTIPLE: 0} for kp in top_level],
    }


async def _blueprints_context(
    session: AsyncSession, version_id: int, start: str, text: str | None = None, **extra: Any
) -> dict[str, Any]:
    version = await _version_or_404(session, version_id)
    saved = await _saved_blueprints(session, version_id)
    chosen = _int_or_none(start)
    if not start and saved:
        chosen = saved[0][0].id
    if text is None:
        match = next((bp for bp, _check in saved if bp.id == chosen), None)
        if match is not None:
            text = blueprint_yaml(dict(match.spec))
        else:
            chosen = None
            top = [kp for kp in await _kp_options(session, version_id) if kp.depth == 0]
            text = blueprint_yaml(blueprint_template(version, top))
    return {
        "version": version,
        "saved": saved,
        "chosen": chosen,
        "text": text,
        "check": await check_blueprint_text(session, version_id, text),
        "error": None,
        "problems": [],
        "just_saved": False,
        **labels(),
        **extra,
    }


class BlueprintForm(msgspec.Struct):
    yaml: str = ""


# --- the pages -------------------------------------------------------------------------------


class BankPages(Controller):
    path = "/bank"
    tags = ["bank"]
    guards = [requires(BANK_KEEPER)]
    include_in_schema = False

    @get("/")
    async def index(self, db_session: DbSession) -> Template:
        """Bank versions with their status and links, and the import form (R-BANK-2/3/5)."""
        context = _versions_context(await _versions(db_session), report=None, refusal=None)
        return Template("bank/index.html", context=context)

    @post("/versions/{version_id:int}/status")
    async def set_status(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        version_id: FromPath[int],
        data: URLEncodedBody[StatusForm],
    ) -> Response[Any]:
        """draft → trial (after a completed mock exam) → live → retired, with the refusal shown."""
        message = error = None
        try:
            version = await service.set_version_status(db_session, version_id, data.target, actor_of(request))
        except service.BankError as exc:
            error = _("The status was not changed. %(reason)s", reason=refusal_text(exc))
        else:
            message = _(
                "Bank version %(version)s of %(occupation)s is now: %(status)s.",
                version=version.version,
                occupation=version.occupation.name,
                status=_(STATUS_NAMES[version.status]),
            )
        versions = await _versions(db_session)
        named = next((v for v in versions if v["id"] == version_id), None)
        if error is not None and named is not None:
            error = _(
                "Bank version %(version)s of %(occupation)s: %(refusal)s",
                version=named["version"],
                occupation=named["occupation"],
                refusal=error,
            )
        context = _versions_context(versions, message=message, error=error)
        if is_htmx(request):
            return Template("bank/_versions.html", context=context)
        if error is None:
            return Redirect("/bank", status_code=HTTP_303_SEE_OTHER)
        return Template(
            "bank/index.html", context={**context, "report": None, "refusal": None}, status_code=HTTP_409_CONFLICT
        )

    @post("/import")
    async def import_file(
        self, request: Request[Any, Any, Any], db_session: DbSession, data: MultipartBody[ImportPageForm]
    ) -> Template:
        """Upload a bank file: a summary, or every bad row and nothing imported (R-BANK-5)."""
        report: dict[str, Any] | None = None
        refusal = None
        try:
            report = await import_upload(
                db_session, data.file, data.skip_bad, _int_or_none(data.version_id), actor_of(request)
            )
        except service.BankError as exc:
            await db_session.rollback()  # nothing of a refused file stays
            refusal = _("Nothing was imported. %(reason)s", reason=refusal_text(exc))
        imported = report is not None and report["imported"] is not None
        context = _versions_context(await _versions(db_session), report=report, refusal=refusal)
        if is_htmx(request):
            return Template("bank/_import_report.html", context={**context, "oob": imported})
        return Template("bank/index.html", context=context, status_code=200 if imported else HTTP_400_BAD_REQUEST)

    @get("/versions/{version_id:int}/items")
    async def items(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        version_id: FromPath[int],
        kp: FromQuery[str] = "",
        type: FromQuery[str] = "",
        difficulty: FromQuery[str] = "",
        level: FromQuery[str] = "",
        q: FromQuery[str] = "",
        page: FromQuery[str] = "1",
    ) -> Template:
        """A version's items, filtered and paged (50 a page)."""
        version = await _version_or_404(db_session, version_id)
        flt = service.ItemFilter(
            kp=kp.strip() or None,
            type=type if type in rules.ITEM_TYPES else None,
            difficulty=_int_or_none(difficulty),
            level=_int_or_none(level),
            text=q.strip()[:100] or None,
        )
        number = max(_int_or_none(page) or 1, 1)
        rows, total = await browse_items(db_session, actor_of(request), version_id, flt, number)
        pages = max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1)
        query = {"kp": flt.kp or "", "type": flt.type or "", "difficulty": flt.difficulty or "",
                 "level": flt.level or "", "q": flt.text or ""}  # fmt: skip
        base = f"/bank/versions/{version_id}/items"

        def page_url(n: int) -> str:
            return base + "?" + urlencode({**{k: v for k, v in query.items() if v}, "page": n})

        context = {
            "version": version,
            "base_url": base,
            "prev_url": page_url(number - 1) if number > 1 else None,
            "next_url": page_url(number + 1) if number < pages else None,
            "rows": rows,
            "total": total,
            "page": number,
            "pages": pages,
            "first": (number - 1) * PAGE_SIZE + 1 if rows else 0,
            "last": (number - 1) * PAGE_SIZE + len(rows),
            "query": query,
            "stem_chars": STEM_PREVIEW_CHARS,
            "item_types": rules.ITEM_TYPES,
            **labels(),
        }
        if is_htmx(request, "item-results"):
            return Template("bank/_item_results.html", context=context)
        kps = await _kp_options(db_session, version_id)
        return Template("bank/items.html", context={**context, "kps": kps})

    @get("/items/{item_id:int}")
    async def item(self, request: Request[Any, Any, Any], db_session: DbSession, item_id: FromPath[int]) -> Template:
        """One item as candidates see it, with its key, explanation and revisions (R-BANK-2)."""
        detail = await service.item_detail(db_session, item_id, actor_of(request))
        if detail is None:
            raise NotFoundException("no such item")
        version = await _version_or_404(db_session, detail["bank_version_id"])
        return Template("bank/item.html", context={"item": detail, "version": version, **labels()})

    @get("/versions/{version_id:int}/blueprints")
    async def blueprints(
        self, db_session: DbSession, version_id: FromPath[int], start: FromQuery[str] = "", saved: FromQuery[str] = ""
    ) -> Template:
        """Saved blueprints with their feasibility, and the editor with its live check (R-PAPER-1/6)."""
        context = await _blueprints_context(db_session, version_id, start, just_saved=saved == "1")
        return Template("bank/blueprints.html", context=context)

    @post("/versions/{version_id:int}/blueprints/check")
    async def check_blueprint(
        self, db_session: DbSession, version_id: FromPath[int], data: URLEncodedBody[BlueprintForm]
    ) -> Template:
        """The editor's live check: problems, what the bank lacks, or "feasible" (R-PAPER-6)."""
        await _version_or_404(db_session, version_id)
        check = await check_blueprint_text(db_session, version_id, data.yaml)
        return Template("bank/_feasibility.html", context={"check": check})

    @post("/versions/{version_id:int}/blueprints")
    async def save_blueprint(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        version_id: FromPath[int],
        data: URLEncodedBody[BlueprintForm],
    ) -> Response[Any]:
        """Save the editor's blueprint (a blueprint of the same name is replaced); refused if infeasible."""
        doc, error = parse_blueprint_yaml(data.yaml)
        problems: list[str] = []
        if doc is not None:
            try:
                blueprint = await papers_service.save_blueprint(db_session, version_id, doc, actor_of(request))
            except papers_service.PaperError as exc:
                error = paper_error_message(exc) if "problems" not in exc.params else _("The blueprint was not saved.")
                problems = list(exc.params.get("problems", []))
            else:
                return Redirect(
                    f"/bank/versions/{version_id}/blueprints?start={blueprint.id}&saved=1",
                    status_code=HTTP_303_SEE_OTHER,
                )
        context = await _blueprints_context(db_session, version_id, "", text=data.yaml, error=error, problems=problems)
        return Template("bank/blueprints.html", context=context, status_code=HTTP_400_BAD_REQUEST)
