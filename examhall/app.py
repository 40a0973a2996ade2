"""create_app(settings, database_url) -> Litestar: wires plugins, routes, templates.

Nothing here is read at import time; ``app_from_env`` is the factory uvicorn workers call
(``examhall serve`` puts the database URL into their environment).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import logging
import os
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from litestar import Litestar, Request, Response
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import HTTPException, NotAuthorizedException, ValidationException
from litestar.openapi import OpenAPIConfig
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.static_files import create_static_files_router
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.template.config import TemplateConfig
from litestar.types import Message, Scope

from examhall import i18n, models  # noqa: F401 - all tables registered before the first query
from examhall.bank.pages import BankPages
from examhall.bank.routes import BankApi
from examhall.batches.registration_pages import RegistrationPages
from examhall.batches.schedule_pages import SchedulePages
from examhall.batches.schedule_routes import ScheduleApi
from examhall.config import Settings, load_settings
from examhall.console.chief_pages import ChiefConsole
from examhall.console.incident_routes import IncidentApi, IncidentPages
from examhall.console.pages import ExamDayPages
from examhall.console.room_pages import RoomConsole
from examhall.console.routes import NoticeController
from examhall.db import Database, database_url_from_env
from examhall.deps import ServerParts
from examhall.events import EventBus
from examhall.i18n import N_
from examhall.pages import HomeController
from examhall.papers.pages import PaperPages
from examhall.papers.routes import PaperApi
from examhall.security.passwords import Passwords
from examhall.security.routes import LoginController, SessionApi
from examhall.security.web import PrincipalMiddleware
from examhall.sittings.examday import auto_submit_loop
from examhall.sittings.pages import TerminalPages
from examhall.sittings.progress import RoomProgress
from examhall.sittings.routes import ExamDayStaffApi, TerminalApi

log = logging.getLogger("examhall")

CSRF_FAILED = "CSRF token verification failed"

STATUS_MESSAGES = {
    400: N_("The request could not be understood."),
    401: N_("Please log in first."),
    403: N_("You do not have permission to do this."),
    404: N_("This page does not exist."),
    405: N_("This action is not allowed here."),
    413: N_("The upload is too large."),
    429: N_("Too many requests. Wait a moment and try again."),
    500: N_("Something went wrong on the server. Nothing you saved was lost; try again, or call the exam office."),
    503: N_("The server is not ready. Try again in a moment."),
}


def _wants_json(request: Request[Any, Any, Any]) -> bool:
    if request.url.path.startswith("/api/"):
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def _message_for(exc: HTTPException) -> str:
    if exc.status_code == 403 and exc.detail == CSRF_FAILED:
        return i18n.gettext("This form has expired or came from another page. Reload the page and try again.")
    if isinstance(exc, ValidationException):
        fields = [str(e.get("key") or e.get("source") or "") for e in (exc.extra or []) if isinstance(e, dict)]
        named = ", ".join(f for f in fields if f)
        base = i18n.gettext("Some fields are missing or invalid.")
        return f"{base} ({named})" if named else base
    return i18n.gettext(STATUS_MESSAGES.get(exc.status_code, N_("The request could not be completed.")))


def handle_http_exception(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    message = _message_for(exc)
    if _wants_json(request):
        body: dict[str, Any] = {"error": exc.status_code, "message": message}
        if isinstance(exc, ValidationException) and exc.extra:
            body["fields"] = exc.extra
        return Response(body, status_code=exc.status_code)
    if isinstance(exc, NotAuthorizedException) and request.method == "GET":
        login = "/candidate/login" if request.url.path.startswith("/candidate") else "/login"
        return Redirect(f"{login}?next={request.url.path}")
    return Template("error.html", context={"status": exc.status_code, "message": message}, status_code=exc.status_code)


def handle_server_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Log the stack trace; the user gets a calm message, never the trace."""
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    message = i18n.gettext(STATUS_MESSAGES[500])
    if _wants_json(request):
        return Response({"error": 500, "message": message}, status_code=HTTP_500_INTERNAL_SERVER_ERROR)
    return Template("error.html", context={"status": 500, "message": message}, status_code=500)


def template_environment(settings: Settings) -> Environment:
    env = Environment(
        loader=FileSystemLoader(settings.web_dir / "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=i18n.gettext, ngettext=i18n.ngettext, newstyle=True
    )
    env.globals.update(
        site_name=settings.site_name,
        current_locale=i18n.current_locale,
        html_lang=lambda: i18n.html_lang(i18n.current_locale()),
        locale_names=i18n.LOCALE_NAMES,
    )
    env.filters["clock"] = lambda value, fmt="%H:%M:%S": i18n.site_time(value, fmt)
    env.filters["site_time"] = i18n.site_time
    return env


# Generation thresholds of the cyclic garbage collector for a worker on exam day: thousands of
# open websockets and cached papers are long-lived objects, and each full collection walks all
# of them (measured: 0.25–0.35 s per worker, every 2 s during a start storm of 2,000). Young
# garbage is still collected often; the old generation rarely.
GC_THRESHOLDS = (50_000, 20, 100)


def tune_gc() -> None:
    """Freeze what start-up built (modules, the app, its routes) out of every collection, and
    collect the old generation rarely (see GC_THRESHOLDS). Also hand large allocations back to
    the system when freed (see MMAP_THRESHOLD)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    _fixed_mmap_threshold()


# Each staff login hashes with argon2id in 19 MiB (README: argon2_memory_kib), up to four at a time
# in threads. glibc raises its mmap threshold after the first such block is freed, so later ones
# come from the heap and stay there: 150 MB kept by two workers after 30 logins (measured). A
# fixed threshold keeps every large block mmapped, returned to the system when freed.
MMAP_THRESHOLD = 128 * 1024
_M_MMAP_THRESHOLD = -3  # mallopt parameter (glibc malloc.h)


def _fixed_mmap_threshold() -> None:
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    except (OSError, AttributeError):
        pass  # not glibc: nothing to tune


def create_app(settings: Settings, database_url: str, *, worker_process: bool = False) -> Litestar:
    """Build the application for one worker process (``worker_process``: the process is the
    server's own, whose garbage collector it may tune; tests run the app in their process)."""
    i18n.load_catalogs(settings.web_dir / "locale")
    i18n.set_timezone(settings.timezone)
    db = Database(database_url, pool_size=settings.db_pool_size)
    bus = EventBus(db)
    progress = RoomProgress(db, bus)
    passwords = Passwords(settings)
    parts = ServerParts(db, settings, bus, progress)

    background: list[asyncio.Task[None]] = []

    async def on_startup(app: Litestar) -> None:
        if worker_process:
            tune_gc()
        await bus.start()
        # R-CLOCK-5: attempts are submitted at E even if their terminal is gone.
        background.append(asyncio.create_task(auto_submit_loop(db, settings)))
        background.append(asyncio.create_task(progress.run()))

    async def on_shutdown(app: Litestar) -> None:
        for task in background:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await bus.stop()
        await db.close()

    async def provide_db_session(state: State) -> Any:
        # One transaction per request: commits after the handler, rolls back on error,
        # and events queued with publish_after_commit go out after the commit.
        async with db.session() as session:
            yield session

    async def add_worker_header(message: Message, scope: Scope) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            headers.append((b"x-examhall-worker", str(os.getpid()).encode()))
            content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
            if content_type.startswith(b"text/html"):
                # Pages show personal and exam data on shared PCs: Back after logout must not show them.
                headers.append((b"cache-control", b"no-store"))
            message["headers"] = headers

    static_dir: Path = settings.web_dir / "static"
    return Litestar(
        route_handlers=[
            HomeController,
            LoginController,
            SessionApi,
            NoticeController,
            BankApi,
            PaperApi,
            BankPages,
            PaperPages,
            TerminalApi,
            ExamDayStaffApi,
            ExamDayPages,
            ChiefConsole,
            IncidentApi,
            IncidentPages,
            RoomConsole,
            TerminalPages,
            RegistrationPages,
            SchedulePages,
            ScheduleApi,
            create_static_files_router(
                path="/static", directories=[static_dir], opt={"public": True}, include_in_schema=False
            ),
        ],
        dependencies={
            "settings": Provide(lambda: settings, use_cache=True, sync_to_thread=False),
            "passwords": Provide(lambda: passwords, use_cache=True, sync_to_thread=False),
            "db": Provide(lambda: db, use_cache=True, sync_to_thread=False),
            "bus": Provide(lambda: bus, use_cache=True, sync_to_thread=False),
            "progress": Provide(lambda: progress, use_cache=True, sync_to_thread=False),
            "db_session": Provide(provide_db_session),
            "parts": Provide(lambda: parts, use_cache=True, sync_to_thread=False),
        },
        middleware=[PrincipalMiddleware(db, settings)],
        csrf_config=CSRFConfig(
            secret=settings.resolved_secret_key(),
            cookie_secure=settings.cookie_secure,
            cookie_samesite="lax",
        ),
        template_config=TemplateConfig(engine=JinjaTemplateEngine.from_environment(template_environment(settings))),
        openapi_config=OpenAPIConfig(
            title="examhall",
            version="0.1.0",
            path="/schema",
        ),
        exception_handlers={
            HTTPException: handle_http_exception,
            Exception: handle_server_error,
        },
        before_send=[add_worker_header],
        on_startup=[on_startup],
        on_shutdown=[on_shutdown],
        state=State({"settings": settings, "db": db, "bus": bus}),
        request_max_body_size=25 * 1024 * 1024,
    )


def app_from_env() -> Litestar:
    """uvicorn factory for worker processes (``examhall serve`` sets the environment)."""
    settings = load_settings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return create_app(settings, database_url_from_env(), worker_process=True)
