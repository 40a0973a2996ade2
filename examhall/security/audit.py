"""Writing and verifying the hash-chained audit log (R-SEC-3).

Any domain's service calls :func:`record` inside its transaction. The entry is appended when
that transaction commits, in one statement run just before the COMMIT (a ``before_commit``
hook of every session): the statement locks the chain's head row, links the transaction's
entries to the entry committed before them — ids and SHA-256 hashes computed by PostgreSQL from
the canonical JSON the application prepared (``rules.audit_body``) — inserts them and moves the
head. So every entry links to the one committed before it, across all worker processes, and
the head row is locked only from that statement to the end of the commit: logins and hand-ins
no longer queue behind each other's whole requests. A rolled-back transaction leaves no entry.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

import asyncpg
from sqlalchemy import event, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from examhall.security.models import AuditEntry, AuditHead
from examhall.security.rules import GENESIS_HASH, AuditRecord, ChainProblem, ChainVerifier, audit_body


@dataclasses.dataclass(frozen=True)
class Actor:
    """Who acts, for the audit chain and the registers: a logged-in user or the command line."""

    name: str
    user_id: int | None = None
    ip: str | None = None


JsonValue = str | int | bool | None | list[Any] | dict[str, Any]

_PENDING: Final = "examhall_audit_pending"

# Links the transaction's entries (the arrays, in order) to the head, inserts them and moves the
# head, in one statement. ``FOR UPDATE`` on the head waits for a concurrent append to commit and
# then reads the head as that append left it. The hash is the one rules.audit_hash defines:
# sha256 of ``[id,<body>,"prev_hash"]``.
_APPEND_TEMPLATE: Final = """
WITH RECURSIVE head AS (
    SELECT last_id, last_hash FROM audit_head WHERE id = 1 FOR UPDATE
), entry AS (
    SELECT * FROM unnest(
        CAST({body} AS text[]), CAST({at} AS timestamptz[]), CAST({actor} AS text[]),
        CAST({actor_user_id} AS int[]), CAST({action} AS text[]), CAST({object_type} AS text[]),
        CAST({object_id} AS text[]), CAST({detail} AS text[]), CAST({ip} AS text[])
    ) WITH ORDINALITY AS e(body, at, actor, actor_user_id, action, object_type, object_id, detail, ip, n)
), chain (n, id, prev_hash, hash) AS (
    SELECT e.n, h.last_id + 1, CAST(h.last_hash AS text),
           encode(sha256(convert_to(
               '[' || (h.last_id + 1) || ',' || e.body || ',"' || h.last_hash || '"]', 'UTF8'
           )), 'hex')
    FROM head h JOIN entry e ON e.n = 1
    UNION ALL
    SELECT e.n, c.id + 1, c.hash,
           encode(sha256(convert_to('[' || (c.id + 1) || ',' || e.body || ',"' || c.hash || '"]', 'UTF8')), 'hex')
    FROM chain c JOIN entry e ON e.n = c.n + 1
), added AS (
    INSERT INTO audit_log (id, at, actor, actor_user_id, action, object_type, object_id, detail, ip, prev_hash, hash)
    SELECT c.id, e.at, e.actor, e.actor_user_id, e.action, e.object_type, e.object_id, CAST(e.detail AS jsonb),
           e.ip, c.prev_hash, c.hash
    FROM chain c JOIN entry e ON e.n = c.n
    RETURNING id
), moved AS (
    UPDATE audit_head SET last_id = t.id, last_hash = t.hash
    FROM (SELECT id, hash FROM chain ORDER BY n DESC LIMIT 1) AS t
    WHERE audit_head.id = 1
    RETURNING audit_head.last_id
)
SELECT (SELECT count(*) FROM added) AS added, (SELECT last_id FROM moved) AS last_id
"""

_COLUMNS: Final = ("body", "at", "actor", "actor_user_id", "action", "object_type", "object_id", "detail", "ip")
_APPEND: Final = _APPEND_TEMPLATE.format(**{c: f":{c}" for c in _COLUMNS})  # SQLAlchemy text()
_APPEND_RAW: Final = _APPEND_TEMPLATE.format(**{c: f"${n}" for n, c in enumerate(_COLUMNS, start=1)})  # asyncpg

_FIRST_HEAD: Final = (
    "INSERT INTO audit_head (id, last_id, last_hash) VALUES (1, 0, :genesis) ON CONFLICT (id) DO NOTHING"
)


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
) -> None:
    """Add one entry to the chain as part of the caller's transaction: it is appended when the
    transaction commits (and not at all if it rolls back)."""
    rec = entry(
        actor=actor,
        action=action,
        actor_user_id=actor_user_id,
        object_type=object_type,
        object_id=object_id,
        detail=detail,
        ip=ip,
        at=at,
    )
    session.info.setdefault(_PENDING, []).append(rec)


def entry(
    *,
    actor: str,
    action: str,
    actor_user_id: int | None = None,
    object_type: str | None = None,
    object_id: str | int | None = None,
    detail: Mapping[str, Any] | None = None,
    ip: str | None = None,
    at: datetime | None = None,
) -> AuditRecord:
    """One entry to append (its id and hashes are given when it is appended)."""
    # Stored and hashed in UTC: the database gives timestamps back in UTC, so verify agrees.
    moment = (at or datetime.now(UTC)).astimezone(UTC)
    rec = AuditRecord(
        id=0,
        at=moment,
        actor=actor,
        actor_user_id=actor_user_id,
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        detail=_plain(detail or {}),
        ip=ip,
        prev_hash="",
    )
    audit_body(rec)  # refuses what cannot be hashed now, not at commit
    return rec


def _columns(pending: list[AuditRecord]) -> dict[str, list[Any]]:
    return {
        "body": [audit_body(r) for r in pending],
        "at": [r.at for r in pending],
        "actor": [r.actor for r in pending],
        "actor_user_id": [r.actor_user_id for r in pending],
        "action": [r.action for r in pending],
        "object_type": [r.object_type for r in pending],
        "object_id": [r.object_id for r in pending],
        "detail": [json.dumps(dict(r.detail), ensure_ascii=False) for r in pending],
        "ip": [r.ip for r in pending],
    }


async def append_raw(conn: asyncpg.Connection | asyncpg.pool.PoolConnectionProxy, entries: list[AuditRecord]) -> None:
    """Append ``entries`` on a raw asyncpg connection, inside the caller's transaction (hot paths
    that do not use the ORM); call it as the last statement before the commit."""
    values = list(_columns(entries).values())
    row = await conn.fetchrow(_APPEND_RAW, *values)
    if row is not None and row["last_id"] is None:
        await conn.execute(_FIRST_HEAD.replace(":genesis", "$1"), GENESIS_HASH)
        row = await conn.fetchrow(_APPEND_RAW, *values)
    if row is None or row["added"] != len(entries) or row["last_id"] is None:
        raise RuntimeError(f"the audit chain did not take {len(entries)} entries (head missing?)")


@event.listens_for(Session, "before_commit")
def _append_pending(session: Session) -> None:
    """Append the transaction's entries right before its COMMIT (runs inside SQLAlchemy's
    greenlet for an AsyncSession, so the statements below are awaited there)."""
    pending: list[AuditRecord] | None = session.info.pop(_PENDING, None)
    if not pending:
        return
    session.flush()  # the transaction's own writes first: the head is locked as late as possible
    params = _columns(pending)
    row = session.execute(text(_APPEND), params).one()
    if row.last_id is None:  # the very first entry of this database: there is no head yet
        session.execute(text(_FIRST_HEAD), {"genesis": GENESIS_HASH})
        row = session.execute(text(_APPEND), params).one()
    if row.added != len(pending) or row.last_id is None:
        raise RuntimeError(f"the audit chain did not take {len(pending)} entries (head missing?)")


@event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)


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
