"""Names of the dependencies every route may ask for (provided in app.create_app)."""

from __future__ import annotations

import dataclasses

from litestar.di import NamedDependency
from sqlalchemy.ext.asyncio import AsyncSession

from examhall.config import Settings
from examhall.db import Database
from examhall.events import EventBus
from examhall.security.passwords import Passwords
from examhall.sittings.progress import RoomProgress

# The request's transaction: committed after the handler, rolled back on error.
DbSession = NamedDependency[AsyncSession]
SettingsDep = NamedDependency[Settings]
PasswordsDep = NamedDependency[Passwords]
DatabaseDep = NamedDependency[Database]
BusDep = NamedDependency[EventBus]
ProgressDep = NamedDependency[RoomProgress]


@dataclasses.dataclass(frozen=True)
class ServerParts:
    """The worker's database, settings, event bus and room progress as one dependency, for the
    exam terminal's handlers: Litestar resolves several dependencies of a handler in an anyio
    task group (a task each) on every request; one dependency is resolved directly (issue 7).
    Those handlers open an ORM session themselves, on their slow path only."""

    db: Database
    settings: Settings
    bus: EventBus
    progress: RoomProgress


PartsDep = NamedDependency[ServerParts]
