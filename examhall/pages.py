"""Site-wide pages: the role-aware home and the health check."""

from __future__ import annotations

import os
from typing import Any

from litestar import Controller, Request, Response, get
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_503_SERVICE_UNAVAILABLE

from examhall.deps import DatabaseDep
from examhall.i18n import N_
from examhall.security.rules import ROLES

# What each role finds on the home page; the links fill in as the issues land.
ROLE_CARDS: dict[str, tuple[str, str]] = {
    "admin": (N_("Exam office"), N_("Batches, registration, fees, rooms, staff, certificates and archives.")),
    "bank_keeper": (N_("Question bank"), N_("Items, bank versions, blueprints and paper assembly.")),
    "chief": (N_("Chief examiner"), N_("All rooms of a sitting: unseal papers, outages, errata, incidents.")),
    "invigilator": (N_("Invigilation"), N_("Your room's live seat map, check-in and the incident log.")),
    "supervisor": (N_("Quality supervision"), N_("Read a batch's records, sign off results, file reports.")),
    "assessor": (N_("Skill assessment"), N_("Enter your skill scores for the candidates assigned to you.")),
    "candidate": (N_("My exam"), N_("Your sitting, your seat and your paper.")),
}

# Where each card leads; more links arrive with each issue.
ROLE_LINKS: dict[str, list[tuple[str, str]]] = {
    "bank_keeper": [(N_("Bank versions"), "/bank"), (N_("Sittings and their papers"), "/papers")],
    "chief": [(N_("Sittings and their papers"), "/papers"), (N_("Check-in"), "/sittings")],
    "invigilator": [(N_("Check-in"), "/sittings")],
    "admin": [
        (N_("Certification batches"), "/batches"),
        (N_("Sittings and their papers"), "/papers"),
        (N_("Exam terminals"), "/terminals"),
    ],
}


class HomeController(Controller):
    tags = ["site"]

    @get("/", opt={"public": True}, include_in_schema=False)
    async def home(self, request: Request[Any, Any, Any]) -> Response[Any]:
        principal = request.scope.get("user")
        if principal is None:
            return Redirect("/login")
        if principal.is_candidate:
            return Redirect("/candidate/exam")
        return Template(
            "home.html",
            context={
                "cards": [
                    (role, *ROLE_CARDS[role], ROLE_LINKS.get(role, [])) for role in ROLES if role in principal.roles
                ],
                "can_post_notice": bool({"chief", "admin"} & principal.roles),
                "is_staff": not principal.is_candidate,
            },
        )

    @get("/healthz", opt={"public": True}, tags=["site"])
    async def healthz(self, db: DatabaseDep) -> Response[dict[str, Any]]:
        """Liveness and database check for monitoring and nginx."""
        try:
            await db.ping()
        except Exception as exc:  # any failure to reach the database means unhealthy
            return Response(
                {"status": "unhealthy", "database": type(exc).__name__, "worker": os.getpid()},
                status_code=HTTP_503_SERVICE_UNAVAILABLE,
            )
        return Response({"status": "ok", "database": "ok", "worker": os.getpid()})
