"""Paper pages (htmx): the sittings with their papers — assemble, unseal, complete a mock exam —
and one unsealed paper, printable, with its answer key on request (R-PAPER-2…5, R-BANK-3).

Thin: parse, authorise, call the service, render. Refusals read as in the JSON API
(``papers/routes.py``: ``PAPER_ERRORS``, ``paper_error_message``). As on the bank pages, an
htmx request gets a 200 fragment that shows a refusal (htmx swaps only 2xx by default); a plain
form post gets the full page with the proper status.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any, Final

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery, URLEncodedBody
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER, HTTP_409_CONFLICT
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from examhall.bank import rules as bank_rules
from examhall.bank.models import BankVersion, Occupation
from examhall.bank.pages import STATUS_NAMES, is_htmx, labels
from examhall.config import Settings
from examhall.deps import DbSession, SettingsDep
from examhall.i18n import N_, _
from examhall.papers import rules, service
from examhall.papers.models import Blueprint, PaperSet
from examhall.papers.routes import PAPER_ERRORS, paper_error_message
from examhall.security.rules import ADMIN, BANK_KEEPER, CHIEF, may
from examhall.security.web import actor_of, principal_of, requires
from examhall.sittings import service as sittings_service
from examhall.sittings.models import Sitting

KIND_NAMES: Final = {"theory": N_("Theory"), "mock": N_("Mock exam")}
MODE_NAMES: Final = {
    rules.SINGLE_PAPER: N_("One paper for the whole sitting"),
    rules.FORMS: N_("Parallel forms (A, B, …); neighbouring seats never share a form"),
    rules.PER_CANDIDATE: N_("A different paper for every candidate"),
}
READERS: Final = (BANK_KEEPER, CHIEF, ADMIN)


@dataclasses.dataclass(frozen=True)
class BlueprintChoice:
    id: int
    name: str
    version: str
    status: str


@dataclasses.dataclass(frozen=True)
class SittingView:
    """One sitting as the papers page shows it, with what the caller may do with it."""

    sitting: Sitting
    occupation: str
    paper_set: PaperSet | None
    papers: list[str]
    opens_at: datetime
    unseal_open: bool
    started: bool
    blueprints: list[BlueprintChoice]
    may_assemble: bool
    may_unseal: bool
    may_complete_mock: bool
    may_read: bool

    @property
    def sealed(self) -> bool:
        return self.paper_set is not None and self.paper_set.unsealed_at is None


async def _blueprints_for(session: AsyncSession, sitting: Sitting) -> list[BlueprintChoice]:
    """Blueprints of the sitting's occupation and level from bank versions still in use."""
    rows = await session.execute(
        select(Blueprint, BankVersion)
        .join(BankVersion, BankVersion.id == Blueprint.bank_version_id)
        .where(
            BankVersion.occupation_id == sitting.occupation_id,
            Blueprint.level == sitting.level,
            BankVersion.status != bank_rules.RETIRED,
        )
        .order_by(BankVersion.id.desc(), Blueprint.name)
    )
    return [BlueprintChoice(bp.id, bp.name, v.version, v.status) for bp, v in rows]


async def _view(
    session: AsyncSession, settings: Settings, roles: frozenset[str], sitting: Sitting, occupation: str
) -> SittingView:
    now = datetime.now(UTC)
    paper_set = await service.paper_set_for(session, sitting.id)
    unsealed = paper_set is not None and paper_set.unsealed_at is not None
    keeper = may(roles, (BANK_KEEPER,))
    opens_at = rules.unseal_opens_at(sitting.starts_at, settings.unseal_minutes_before)
    return SittingView(
        sitting=sitting,
        occupation=occupation,
        paper_set=paper_set,
        papers=await service.paper_labels(session, paper_set.id) if unsealed and paper_set else [],
        opens_at=opens_at,
        unseal_open=now >= opens_at,
        started=now >= sitting.starts_at,
        blueprints=await _blueprints_for(session, sitting) if keeper and paper_set is None else [],
        may_assemble=keeper,
        may_unseal=may(roles, (CHIEF,)),
        may_complete_mock=may(roles, (CHIEF,)) and sitting.kind == "mock",
        may_read=may(roles, READERS),
    )


async def _occupation_names(session: AsyncSession) -> dict[int, str]:
    return {o.id: o.name for o in await session.scalars(select(Occupation))}


async def _one_view(
    session: AsyncSession, settings: Settings, request: Request[Any, Any, Any], sitting_id: int
) -> SittingView:
    sitting = await session.get(Sitting, sitting_id)
    if sitting is None:
        raise NotFoundException("no such sitting")
    names = await _occupation_names(session)
    return await _view(session, settings, principal_of(request).roles, sitting, names.get(sitting.occupation_id, ""))


def _context(**extra: Any) -> dict[str, Any]:
    return {
        "kind_names": KIND_NAMES,
        "mode_names": MODE_NAMES,
        "modes": rules.MODES,
        "max_forms": rules.MAX_FORMS,
        "bank_status_names": STATUS_NAMES,
        "unseal_minutes": 0,
        "message": None,
        "error": None,
        "problems": [],
        **labels(),
        **extra,
    }


class AssembleForm(msgspec.Struct):
    blueprint_id: str = ""
    mode: str = rules.PER_CANDIDATE
    forms: str = "2"
    shuffle_items: bool = False
    shuffle_options: bool = False


class PaperPages(Controller):
    path = "/papers"
    tags = ["papers"]
    include_in_schema = False

    @get("/", guards=[requires(*READERS)])
    async def index(self, request: Request[Any, Any, Any], db_session: DbSession, settings: SettingsDep) -> Template:
        """Every sitting with the state of its papers and the caller's actions."""
        roles = principal_of(request).roles
        names = await _occupation_names(db_session)
        views = [
            await _view(db_session, settings, roles, s, names.get(s.occupation_id, ""))
            for s in await sittings_service.list_sittings(db_session, sittings_service.COMPUTER_KINDS)
        ]
        return Template(
            "papers/index.html",
            context=_context(views=views, unseal_minutes=settings.unseal_minutes_before, focus=None),
        )

    @get("/{sitting_id:int}/card", guards=[requires(*READERS)])
    async def card(
        self, request: Request[Any, Any, Any], db_session: DbSession, settings: SettingsDep, sitting_id: FromPath[int]
    ) -> Template:
        """One sitting's card (polled while the unsealing window has not opened yet)."""
        view = await _one_view(db_session, settings, request, sitting_id)
        return Template(
            "papers/_sitting.html", context=_context(view=view, unseal_minutes=settings.unseal_minutes_before)
        )

    async def _answer(
        self,
        request: Request[Any, Any, Any],
        db_session: AsyncSession,
        settings: Settings,
        sitting_id: int,
        message: str | None,
        error: str | None,
        problems: list[str] | None = None,
    ) -> Response[Any]:
        """The sitting's card for htmx; the whole page (or back to it) for a plain form post."""
        view = await _one_view(db_session, settings, request, sitting_id)
        context = _context(
            view=view,
            message=message,
            error=error,
            problems=problems or [],
            unseal_minutes=settings.unseal_minutes_before,
        )
        if is_htmx(request):
            return Template("papers/_sitting.html", context=context)
        if error is None:
            return Redirect(f"/papers#sitting-{sitting_id}", status_code=HTTP_303_SEE_OTHER)
        roles = principal_of(request).roles
        names = await _occupation_names(db_session)
        views = [
            view if s.id == sitting_id else await _view(db_session, settings, roles, s, names.get(s.occupation_id, ""))
            for s in await sittings_service.list_sittings(db_session, sittings_service.COMPUTER_KINDS)
        ]
        return Template(
            "papers/index.html", context={**context, "views": views, "focus": sitting_id}, status_code=HTTP_409_CONFLICT
        )

    @post("/{sitting_id:int}/assemble", guards=[requires(BANK_KEEPER)])
    async def assemble(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        settings: SettingsDep,
        sitting_id: FromPath[int],
        data: URLEncodedBody[AssembleForm],
    ) -> Response[Any]:
        """Assemble, seal and bind the sitting's papers for good (R-PAPER-2…5)."""
        blueprint_id = int(data.blueprint_id) if data.blueprint_id.isdecimal() and len(data.blueprint_id) < 10 else 0
        forms = int(data.forms) if data.forms.isdecimal() and len(data.forms) < 3 else 0
        req = service.AssemblyRequest(
            sitting_id=sitting_id,
            blueprint_id=blueprint_id,
            mode=data.mode,
            forms=forms if data.mode == rules.FORMS else 1,
            shuffle_items=data.shuffle_items,
            shuffle_options=data.shuffle_options,
        )
        message = error = None
        problems: list[str] = []
        try:
            paper_set = await service.assemble_for_sitting(db_session, settings, req, actor_of(request))
        except service.PaperError as exc:
            await db_session.rollback()
            error = paper_error_message(exc) if "problems" not in exc.params else _("The papers were not assembled.")
            problems = list(exc.params.get("problems", []))
        else:
            count = len(await service.paper_labels(db_session, paper_set.id))
            message = _("Assembled and sealed: %(count)s paper(s), bound to this sitting.", count=count)
        return await self._answer(request, db_session, settings, sitting_id, message, error, problems)

    @post("/{sitting_id:int}/unseal", guards=[requires(CHIEF)])
    async def unseal(
        self, request: Request[Any, Any, Any], db_session: DbSession, settings: SettingsDep, sitting_id: FromPath[int]
    ) -> Response[Any]:
        """The chief unseals the papers, from 30 minutes before the start (R-PAPER-5)."""
        message = error = None
        try:
            await service.unseal(db_session, settings, sitting_id, actor_of(request))
        except service.PaperError as exc:
            error = paper_error_message(exc)
        else:
            message = _("The papers are unsealed. This was logged.")
        return await self._answer(request, db_session, settings, sitting_id, message, error)

    @post("/{sitting_id:int}/complete-mock", guards=[requires(CHIEF)])
    async def complete_mock(
        self, request: Request[Any, Any, Any], db_session: DbSession, settings: SettingsDep, sitting_id: FromPath[int]
    ) -> Response[Any]:
        """The chief confirms a mock exam ran without error (R-BANK-3)."""
        message = error = None
        try:
            await sittings_service.complete_mock(db_session, sitting_id, actor_of(request))
        except sittings_service.SittingError as exc:
            error = _("The mock exam was not recorded as completed: %(reason)s", reason=str(exc))
        else:
            message = _("Recorded: the mock exam was completed without error. Its bank version may now go to trial.")
        return await self._answer(request, db_session, settings, sitting_id, message, error)

    @get("/{sitting_id:int}/{label:str}", guards=[requires(*READERS)])
    async def paper(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        settings: SettingsDep,
        sitting_id: FromPath[int],
        label: FromPath[str],
        key: FromQuery[str] = "",
    ) -> Template:
        """One unsealed paper, printable; the answer key only with ?key=1. Sealed: 423 (R-PAPER-5)."""
        sitting = await db_session.get(Sitting, sitting_id)
        if sitting is None:
            raise NotFoundException("no such sitting")
        try:
            view = await service.read_paper(db_session, settings, sitting_id, label, actor_of(request))
        except service.PaperError as exc:
            status, _text = PAPER_ERRORS[exc.code]
            return Template(
                "papers/refused.html",
                context={"status": status, "message": paper_error_message(exc)},
                status_code=status,
            )
        return Template(
            "papers/paper.html",
            context={"sitting": sitting, "paper": view, "show_key": key == "1", "kind_names": KIND_NAMES, **labels()},
        )
