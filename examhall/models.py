"""Imports every domain's tables so that the metadata is complete (migrations, mappers)."""

from __future__ import annotations

import examhall.bank.models
import examhall.batches.models
import examhall.console.models
import examhall.papers.models
import examhall.security.models
import examhall.sittings.models  # noqa: F401
from examhall.db import Base

metadata = Base.metadata
