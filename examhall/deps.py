"""Names of the dependencies every route may ask for (provided in app.create_app)."""

from __future__ import annotations

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
