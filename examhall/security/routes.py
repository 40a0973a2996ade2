"""Login and logout for staff and candidates, the language switch, and "who am I"."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.params import FromQuery, JSONBody, URLEncodedBody
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_200_OK, HTTP_401_UNAUTHORIZED

from examhall import i18n
from examhall.config import LOCALES
from examhall.deps import DbSession, PasswordsDep, SettingsDep
from examhall.i18n import N_, _
from examhall.security import service
from examhall.security.rules import ROLES
from examhall.security.web import (
    cleared_session_cookie,
    client_ip,
    principal_of,
    requires,
    session_cookie,
)

PUBLIC = {"public": True}

REFUSAL_MESSAGES = {
    "bad_credentials": N_("Wrong user name or password."),
    "locked": N_("Too many failed attempts: this account is locked for a while. Ask the exam office."),
    "inactive": N_("This account is disabled. Ask the exam office."),
}


def safe_next(target: str | None) -> str:
    """Only local paths: never redirect a login to another site."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


class StaffLoginForm(msgspec.Struct):
    username: str = ""
    password: str = ""
    next: str = "/"


class LanguageForm(msgspec.Struct):
    locale: str = ""
    next: str = "/"


class LoginJson(msgspec.Struct):
    username: str
    password: str


class PrincipalOut(msgspec.Struct):
    display_name: str
    roles: list[str]
    user_id: int | None
    candidate_id: int | None
    locale: str


def _principal_out(principal: service.Principal) -> PrincipalOut:
    return PrincipalOut(
        display_name=principal.display_name,
        roles=sorted(principal.roles),
        user_id=principal.user_id,
        candidate_id=principal.candidate_id,
        locale=i18n.current_locale(),
    )


class LoginController(Controller):
    tags = ["security"]

    @get("/login", opt=PUBLIC, include_in_schema=False)
    async def staff_login_page(self, next: FromQuery[str] = "/") -> Template:
        return Template("security/login.html", context={"next": safe_next(next), "error": None})

    @post("/login", opt=PUBLIC, include_in_schema=False)
    async def staff_login(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        settings: SettingsDep,
        passwords: PasswordsDep,
        data: URLEncodedBody[StaffLoginForm],
    ) -> Response[Any]:
        result = await service.login_staff(
            db_session, settings, passwords, data.username, data.password, client_ip(request)
        )
        if result.token is None:
            return Template(
                "security/login.html",
                context={
                    "next": safe_next(data.next),
                    "error": _(REFUSAL_MESSAGES[result.refused or "bad_credentials"]),
                    "username": data.username,
                },
                status_code=HTTP_401_UNAUTHORIZED,
            )
        response = Redirect(safe_next(data.next))
        response.set_cookie(session_cookie(result.token, settings))
        return response

    @post("/logout", guards=[requires(*ROLES)], include_in_schema=False)
    async def logout(self, request: Request[Any, Any, Any], db_session: DbSession, settings: SettingsDep) -> Redirect:
        principal = principal_of(request)
        await service.logout(db_session, principal, client_ip(request))
        response = Redirect("/candidate/login" if principal.is_candidate else "/login")
        response.set_cookie(cleared_session_cookie(settings))
        return response

    @post("/lang", opt=PUBLIC, include_in_schema=False)
    async def switch_language(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        data: URLEncodedBody[LanguageForm],
    ) -> Redirect:
        locale = data.locale if data.locale in LOCALES else i18n.current_locale()
        principal = request.scope.get("user")
        if principal is not None:
            await service.set_session_locale(db_session, principal, locale)
        response = Redirect(safe_next(data.next))
        response.set_cookie(i18n.LANG_COOKIE, locale, path="/", samesite="lax", max_age=365 * 86400)
        return response


class SessionApi(Controller):
    """JSON login for API clients (load generator, future integrations). CSRF applies here too."""

    path = "/api/v1"
    tags = ["security"]

    @post("/login", opt=PUBLIC, status_code=HTTP_200_OK)
    async def api_login(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        settings: SettingsDep,
        passwords: PasswordsDep,
        data: JSONBody[LoginJson],
    ) -> Response[Any]:
        result = await service.login_staff(
            db_session, settings, passwords, data.username, data.password, client_ip(request)
        )
        if result.token is None or result.principal is None:
            return Response(
                {
                    "error": result.refused,
                    "message": _(REFUSAL_MESSAGES[result.refused or "bad_credentials"]),
                },
                status_code=HTTP_401_UNAUTHORIZED,
            )
        response: Response[Any] = Response(_principal_out(result.principal))
        response.set_cookie(session_cookie(result.token, settings))
        return response

    @get("/me", guards=[requires(*ROLES)])
    async def me(self, request: Request[Any, Any, Any]) -> PrincipalOut:
        return _principal_out(principal_of(request))
