"""Writing and verifying the hash-chained audit log (R-SEC-3).

Any domain's service calls :func:`record` inside its transaction. Appends are serialised
by a transaction-level advisory lock, so every entry links to the one committed before it,
across all worker processes. Call it as the last write of a transaction: the lock is held
until commit.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from examhall.security.models import AuditEntry, AuditHead
from examhall.security.rules import GENESIS_HASH, AuditRecord, ChainProblem, ChainVerifier, audit_hash


@dataclasses.dataclass(frozen=True)
class Actor:
    """Who acts, for the audit chain and the registers: a logged-in user or the command line."""

    name: str
    user_id: int | None = None
    ip: str | None = None


AUDIT_LOCK_KEY: Final = 0x6578616D  # "exam"

JsonValue = str | int | bool | None | list[Any] | dict[str, Any]


def _plain(detail: Mapping[str, Any]) -> dict[str, Any]:
    """Refuse floats and other values whose JSON form could change in a JSONB round trip."""

    def check(value: Any, path: str) -> None:
        if isinstance(value, bool | int | str) or value is None:
            return
        if isinstance(value, list):
            for i, item in enumerate(value):
                check(item, f"{path}[{i}]")
            return
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str):
                    raise TypeError(f"audit detail key {path}.{key!r} must be a string")
                check(item, f"{path}.{key}")
            return
        raise TypeError(f"audit detail {path} has unsupported type {type(value).__name__}")

    result = dict(detail)
    check(result, "detail")
    return result


async def record(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    actor_user_id: int | None = None,
    object_type: str | None = None,
    object_id: str | int | None = None,
    detail: Mapping[str, Any] | None = None,
    ip: str | None = None,
    at: datetime | None = None,
) -> AuditEntry:
    """Append one entry to the chain (inside the caller's transaction)."""
    await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": AUDIT_LOCK_KEY})
    head = await session.get(AuditHead, 1, with_for_update=True, populate_existing=True)
    prev_id, prev_hash = (head.last_id, head.last_hash) if head is not None else (0, GENESIS_HASH)
    # Stored and hashed in UTC: the database gives timestamps back in UTC, so verify agrees.
    moment = (at or datetime.now(UTC)).astimezone(UTC)
    rec = AuditRecord(
        id=prev_id + 1,
        at=moment,
        actor=actor,
        actor_user_id=actor_user_id,
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        detail=_plain(detail or {}),
        ip=ip,
        prev_hash=prev_hash,
    )
    digest = audit_hash(rec)
    entry = AuditEntry(
        id=rec.id,
        at=rec.at,
        actor=rec.actor,
        actor_user_id=rec.actor_user_id,
        action=rec.action,
        object_type=rec.object_type,
        object_id=rec.object_id,
        detail=dict(rec.detail),
        ip=rec.ip,
        prev_hash=rec.prev_hash,
        hash=digest,
    )
    session.add(entry)
    await session.flush()
    stmt = insert(AuditHead).values(id=1, last_id=rec.id, last_hash=digest)
    await session.execute(
        stmt.on_conflict_do_update(index_elements=[AuditHead.id], set_={"last_id": rec.id, "last_hash": digest})
    )
    return entry


def _as_record(entry: AuditEntry) -> AuditRecord:
    return AuditRecord(
        id=entry.id,
        at=entry.at,
        actor=entry.actor,
        actor_user_id=entry.actor_user_id,
        action=entry.action,
        object_type=entry.object_type,
        object_id=entry.object_id,
        detail=entry.detail,
        ip=entry.ip,
        prev_hash=entry.prev_hash,
    )


async def verify(session: AsyncSession, batch: int = 5000) -> tuple[int, ChainProblem | None]:
    """Verify the whole chain in id order; returns (entries checked, first problem or None)."""
    head_row = await session.get(AuditHead, 1)
    head = (head_row.last_id, head_row.last_hash) if head_row is not None else None
    verifier = ChainVerifier()
    last_id = 0
    while True:
        rows = (
            await session.scalars(
                select(AuditEntry).where(AuditEntry.id > last_id).order_by(AuditEntry.id).limit(batch)
            )
        ).all()
        if not rows:
            break
        for entry in rows:
            problem = verifier.feed(_as_record(entry), entry.hash)
            if problem is not None:
                return verifier.checked, problem
        last_id = rows[-1].id
        session.expunge_all()
    return verifier.checked, verifier.finish(head)
