"""Paper assembly, unsealing and reading: JSON API under /api/v1 (pages in papers/pages.py)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, JSONBody
from litestar.status_codes import (
    HTTP_200_OK,
    HTTP_201_CREATED,
    HTTP_400_BAD_REQUEST,
    HTTP_404_NOT_FOUND,
    HTTP_409_CONFLICT,
    HTTP_423_LOCKED,
)

from examhall.deps import DbSession, SettingsDep
from examhall.i18n import N_, _, site_time
from examhall.papers import service
from examhall.security.rules import ADMIN, BANK_KEEPER, CHIEF
from examhall.security.web import actor_of, requires
from examhall.sittings import service as sittings_service

# How each refusal reads for the user, and its HTTP status.
PAPER_ERRORS: dict[str, tuple[int, str]] = {
    "no_sitting": (HTTP_404_NOT_FOUND, N_("This sitting does not exist.")),
    "no_blueprint": (HTTP_404_NOT_FOUND, N_("This blueprint does not exist.")),
    "no_paper": (HTTP_404_NOT_FOUND, N_("This paper does not exist.")),
    "no_bank_version": (HTTP_404_NOT_FOUND, N_("This bank version does not exist.")),
    "already_assembled": (
        HTTP_409_CONFLICT,
        N_("This sitting already has its papers. A paper serves one sitting only and is never re-assembled."),
    ),
    "wrong_blueprint": (HTTP_400_BAD_REQUEST, N_("The blueprint is for another occupation or level than the sitting.")),
    "bank_not_usable": (
        HTTP_409_CONFLICT,
        N_("This bank version cannot be used for this sitting: %(reason)s"),
    ),
    "bad_mode": (HTTP_400_BAD_REQUEST, N_("These papers cannot be assembled: %(reason)s")),
    "bad_blueprint": (HTTP_400_BAD_REQUEST, N_("The blueprint has problems: %(reason)s")),
    "infeasible": (HTTP_409_CONFLICT, N_("The bank cannot satisfy the blueprint: %(reason)s")),
    "not_assembled": (HTTP_409_CONFLICT, N_("The papers of this sitting have not been assembled yet.")),
    "too_early": (
        HTTP_409_CONFLICT,
        N_("Papers can be unsealed from 30 minutes before the start, that is from %(opens)s."),
    ),
    "sealed": (
        HTTP_423_LOCKED,
        N_("The papers of this sitting are sealed. Nobody can read them until the chief examiner unseals them."),
    ),
}


def paper_error_message(exc: service.PaperError) -> str:
    _status, text = PAPER_ERRORS[exc.code]
    opens = exc.params.get("opens_at")
    return _(text, reason=str(exc), opens=site_time(opens) if opens else "")


def paper_error_response(exc: service.PaperError) -> Response[Any]:
    status, _text = PAPER_ERRORS[exc.code]
    body: dict[str, Any] = {"error": exc.code, "message": paper_error_message(exc)}
    if "problems" in exc.params:
        body["problems"] = exc.params["problems"]
    return Response(body, status_code=status)


class AssembleIn(msgspec.Struct):
    blueprint_id: int
    mode: str = "per_candidate"
    forms: int = 1
    shuffle_items: bool = True
    shuffle_options: bool = True


class PaperSetOut(msgspec.Struct):
    sitting_id: FromPath[int]
    mode: str
    papers: list[str]
    sealed: bool
    unsealed_at: str | None
    exposure: dict[str, Any]


async def _paper_set_out(db_session: Any, sitting_id: int) -> PaperSetOut | None:
    paper_set = await service.paper_set_for(db_session, sitting_id)
    if paper_set is None:
        return None
    labels = await service.paper_labels(db_session, paper_set.id)
    return PaperSetOut(
        sitting_id=sitting_id,
        mode=paper_set.mode,
        papers=labels,
        sealed=paper_set.unsealed_at is None,
        unsealed_at=paper_set.unsealed_at.isoformat() if paper_set.unsealed_at else None,
        exposure=paper_set.exposure,
    )


class PaperApi(Controller):
    path = "/api/v1/sittings"
    tags = ["papers"]

    @post("/{sitting_id:int}/assemble", guards=[requires(BANK_KEEPER)], status_code=HTTP_201_CREATED)
    async def assemble(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        settings: SettingsDep,
        sitting_id: FromPath[int],
        data: JSONBody[AssembleIn],
    ) -> Response[Any]:
        """Assemble, seal and bind the papers of a sitting (R-PAPER-2…5)."""
        req = service.AssemblyRequest(
            sitting_id=sitting_id,
            blueprint_id=data.blueprint_id,
            mode=data.mode,
            forms=data.forms,
            shuffle_items=data.shuffle_items,
            shuffle_options=data.shuffle_options,
        )
        try:
            await service.assemble_for_sitting(db_session, settings, req, actor_of(request))
        except service.PaperError as exc:
            return paper_error_response(exc)
        return Response(await _paper_set_out(db_session, sitting_id), status_code=HTTP_201_CREATED)

    @get("/{sitting_id:int}/papers", guards=[requires(BANK_KEEPER, CHIEF, ADMIN)])
    async def papers(self, db_session: DbSession, sitting_id: FromPath[int]) -> Response[Any]:
        """Which papers a sitting has and whether they are sealed — never their content."""
        out = await _paper_set_out(db_session, sitting_id)
        if out is None:
            return paper_error_response(service.PaperError("not_assembled", "not assembled"))
        return Response(out)

    @post("/{sitting_id:int}/unseal", guards=[requires(CHIEF)], status_code=HTTP_200_OK)
    async def unseal(
        self, request: Request[Any, Any, Any], db_session: DbSession, settings: SettingsDep, sitting_id: FromPath[int]
    ) -> Response[Any]:
        """The chief unseals the papers, from 30 minutes before the start (R-PAPER-5)."""
        try:
            await service.unseal(db_session, settings, sitting_id, actor_of(request))
        except service.PaperError as exc:
            return paper_error_response(exc)
        return Response(await _paper_set_out(db_session, sitting_id))

    @get("/{sitting_id:int}/papers/{label:str}", guards=[requires(BANK_KEEPER, CHIEF, ADMIN)])
    async def read(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        settings: SettingsDep,
        sitting_id: FromPath[int],
        label: FromPath[str],
    ) -> Response[Any]:
        """One paper's content with keys — only once the sitting is unsealed (423 before)."""
        try:
            view = await service.read_paper(db_session, settings, sitting_id, label, actor_of(request))
        except service.PaperError as exc:
            return paper_error_response(exc)
        return Response(
            {
                "label": view.label,
                "form": view.form,
                "total_points": str(view.total_points),
                "sections": [
                    {
                        **s,
                        "points_each": str(s["points_each"]),
                        "items": [{**i, "points": str(i["points"])} for i in s["items"]],
                    }
                    for s in view.sections
                ],
            }
        )

    @post("/{sitting_id:int}/complete-mock", guards=[requires(CHIEF)], status_code=HTTP_200_OK)
    async def complete_mock(
        self, request: Request[Any, Any, Any], db_session: DbSession, sitting_id: FromPath[int]
    ) -> Response[Any]:
        """The chief confirms a mock exam ran without error (R-BANK-3)."""
        try:
            sitting = await sittings_service.complete_mock(db_session, sitting_id, actor_of(request))
        except sittings_service.SittingError as exc:
            return Response({"error": "refused", "message": str(exc)}, status_code=HTTP_409_CONFLICT)
        return Response({"sitting_id": sitting.id, "status": sitting.status})
