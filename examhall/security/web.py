"""The web side of security: who is calling (session cookie → Principal), role guards, cookies.

Every route handler declares either a role guard (:func:`requires`) or ``opt={"public": True}``;
a test walks the app's routes and fails on any handler with neither (R-SEC-1).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from http.cookies import SimpleCookie
from typing import TYPE_CHECKING, Any, Final

from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.enums import ScopeType
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from examhall import i18n
from examhall.security import service
from examhall.security.audit import Actor
from examhall.security.rules import may

if TYPE_CHECKING:
    from examhall.config import Settings
    from examhall.db import Database

SESSION_COOKIE: Final = "examhall_session"

Guard = Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Awaitable[None]]


def _cookies(scope: Scope) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # noqa: S112 - a malformed cookie header just means no cookies
                continue
    return {k: m.value for k, m in jar.items()}


def _is_static(scope: Scope) -> bool:
    return str(scope.get("path", "")).startswith("/static/")


class PrincipalMiddleware(ASGIMiddleware):
    """Loads the caller's session (if any) into ``scope["user"]`` and picks the request's locale."""

    scopes = (ScopeType.HTTP, ScopeType.WEBSOCKET)

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        # Static files need no session: no database round trip for CSS and scripts.
        self.should_bypass_for_scope = _is_static

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        cookies = _cookies(scope)
        principal: service.Principal | None = None
        token = cookies.get(SESSION_COOKIE)
        if token and len(token) < 128:
            principal = await service.load_principal(self.db, self.settings, token)
        scope["user"] = principal
        i18n.set_locale(
            i18n.pick_locale(
                cookies.get(i18n.LANG_COOKIE),
                principal.locale if principal is not None else None,
                self.settings.default_locale,
            )
        )
        await next_app(scope, receive, send)


def requires(*roles: str) -> Guard:
    """A guard admitting callers holding one of ``roles`` (a chief counts as invigilator).

    A coroutine function: Litestar runs a plain function guard in a worker thread, a hand-off
    per request that showed in the start storm's profile (issue 7)."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _handler: BaseRouteHandler) -> None:
        principal = connection.scope.get("user")
        if principal is None:
            raise NotAuthorizedException("login required")
        if not may(principal.roles, roles):
            raise PermissionDeniedException("role not allowed")

    guard.examhall_roles = frozenset(roles)  # type: ignore[attr-defined]
    return guard


def principal_of(connection: ASGIConnection[Any, Any, Any, Any]) -> service.Principal:
    """The caller of a guarded handler (the guard has made sure there is one)."""
    principal = connection.scope.get("user")
    if principal is None:
        raise NotAuthorizedException("login required")
    return principal  # type: ignore[no-any-return]


def actor_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Actor:
    """The caller as recorded in the audit chain and the registers."""
    principal = principal_of(connection)
    return Actor(name=principal.actor, user_id=principal.user_id, ip=client_ip(connection))


def client_ip(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    client = connection.scope.get("client")
    return client[0] if client else None


def session_cookie(token: str, settings: Settings) -> Cookie:
    return Cookie(
        key=SESSION_COOKIE,
        value=token,
        path="/",
        httponly=True,
        secure=settings.cookie_secure,
        samesite="lax",
    )


def cleared_session_cookie(settings: Settings) -> Cookie:
    return Cookie(
        key=SESSION_COOKIE,
        value="",
        path="/",
        httponly=True,
        secure=settings.cookie_secure,
        samesite="lax",
        max_age=0,
        expires=0,
    )
