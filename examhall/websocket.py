"""Shared plumbing for live pages: stream a bus subscription into a websocket.

CTFd's lesson kept: one queue per client (the Subscription), keep-alive pings, and the
connection closes cleanly when the client goes. Every stream starts with the full current
state, and sends it again on a :class:`~examhall.events.Resync`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from litestar import WebSocket
from litestar.exceptions import WebSocketDisconnect

from examhall.events import Event, Resync, Subscription

KEEPALIVE_SECONDS = 25.0
POLICY_VIOLATION = 1008


def same_origin(socket: WebSocket[Any, Any, Any]) -> bool:
    """Refuse cross-site websocket hijacking: an Origin header, when sent, must name our host."""
    origin = socket.headers.get("origin")
    if not origin:
        return True
    host = socket.headers.get("host", "")
    return urlsplit(origin).netloc == host


async def stream(
    socket: WebSocket[Any, Any, Any],
    subscription: Subscription,
    full_state: Callable[[], Awaitable[str]],
    render: Callable[[Event], Awaitable[str | None]],
    keepalive: float = KEEPALIVE_SECONDS,
    refresh: bool = False,
) -> None:
    """Send the full state, then each event as rendered, until the client disconnects.

    With ``refresh`` the full state is sent again after every quiet ``keepalive`` interval
    instead of an empty keep-alive frame: a screen that missed an event catches up by itself."""

    async def drain() -> None:
        # Incoming messages are ignored here; the loop ends when the client goes away.
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                await socket.receive_data(mode="text")

    await socket.send_text(await full_state())
    receiver = asyncio.create_task(drain())
    getter: asyncio.Task[Event | Resync] | None = None
    try:
        while True:
            if getter is None:
                getter = asyncio.create_task(subscription.get())
            done, _ = await asyncio.wait({getter, receiver}, timeout=keepalive, return_when=asyncio.FIRST_COMPLETED)
            if receiver in done:
                return
            if getter in done:
                item = getter.result()
                getter = None
                text = await full_state() if isinstance(item, Resync) else await render(item)
                if text is not None:
                    await socket.send_text(text)
            elif refresh:
                await socket.send_text(await full_state())
            else:
                await socket.send_text("")  # keep-alive through proxies; htmx ignores empty frames
    except WebSocketDisconnect:
        return
    finally:
        for task in (getter, receiver):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
                    await task
