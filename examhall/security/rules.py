"""Pure security rules: roles, session expiry, login lockout and the audit hash chain.

No I/O here; the service feeds these functions plain values.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, Final

# SPEC "Users and roles".
CANDIDATE: Final = "candidate"
INVIGILATOR: Final = "invigilator"
CHIEF: Final = "chief"
SUPERVISOR: Final = "supervisor"
ASSESSOR: Final = "assessor"
ADMIN: Final = "admin"
BANK_KEEPER: Final = "bank_keeper"

ROLES: Final = (CANDIDATE, INVIGILATOR, CHIEF, SUPERVISOR, ASSESSOR, ADMIN, BANK_KEEPER)
STAFF_ROLES: Final = tuple(r for r in ROLES if r != CANDIDATE)

# The chief may do everything an invigilator may, for all rooms (SPEC "Users and roles").
IMPLIED_ROLES: Final[Mapping[str, frozenset[str]]] = {CHIEF: frozenset({INVIGILATOR})}

GENESIS_HASH: Final = "0" * 64


def effective_roles(held: Iterable[str]) -> frozenset[str]:
    roles = set(held)
    for role in list(roles):
        roles |= IMPLIED_ROLES.get(role, frozenset())
    return frozenset(roles)


def may(held: Iterable[str], allowed: Iterable[str]) -> bool:
    """True when one of the held roles (with what they imply) is among the allowed ones."""
    return not effective_roles(held).isdisjoint(allowed)


class RoleConflict(ValueError):
    """A combination of roles the regulations forbid for one person."""


def check_role_combination(roles: Iterable[str]) -> None:
    """Validate a set of roles for one staff account.

    Candidates are not accounts, so ``candidate`` is never granted to a user. Conflicts that
    depend on a particular batch or complaint (R-STAFF-3, R-COMP-3) are checked when staff are
    assigned, not here.
    """
    roles = set(roles)
    unknown = roles - set(ROLES)
    if unknown:
        raise RoleConflict(f"unknown role(s): {', '.join(sorted(unknown))}")
    if CANDIDATE in roles:
        raise RoleConflict("candidates log in with ticket and ID number; 'candidate' is not a staff role")
    if not roles:
        raise RoleConflict("a staff account needs at least one role")


# --- sessions (R-SEC-1) --------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SessionWindow:
    expires_at: datetime
    absolute_expires_at: datetime


def new_session_window(now: datetime, idle: timedelta, absolute: timedelta) -> SessionWindow:
    return SessionWindow(expires_at=min(now + idle, now + absolute), absolute_expires_at=now + absolute)


def session_alive(window: SessionWindow, now: datetime) -> bool:
    return now < window.expires_at and now < window.absolute_expires_at


def extend_session(window: SessionWindow, now: datetime, idle: timedelta) -> SessionWindow:
    """Sliding idle timeout, never beyond the absolute cap."""
    return SessionWindow(
        expires_at=min(now + idle, window.absolute_expires_at), absolute_expires_at=window.absolute_expires_at
    )


# --- login lockout ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class LockoutState:
    failed_logins: int
    locked_until: datetime | None


def is_locked(state: LockoutState, now: datetime) -> bool:
    return state.locked_until is not None and now < state.locked_until


def after_failed_login(state: LockoutState, now: datetime, limit: int, lock_for: timedelta) -> LockoutState:
    """Count a failure; the limit-th consecutive failure locks the account for ``lock_for``."""
    failures = 0 if (state.locked_until is not None and now >= state.locked_until) else state.failed_logins
    failures += 1
    if failures >= limit:
        return LockoutState(failed_logins=0, locked_until=now + lock_for)
    return LockoutState(failed_logins=failures, locked_until=None)


def after_successful_login() -> LockoutState:
    return LockoutState(failed_logins=0, locked_until=None)


# --- audit chain (R-SEC-3) ---------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class AuditRecord:
    """The hashed content of one audit entry."""

    id: int
    at: datetime
    actor: str
    actor_user_id: int | None
    action: str
    object_type: str | None
    object_id: str | None
    detail: Mapping[str, Any]
    ip: str | None
    prev_hash: str


def _canonical(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def audit_body(record: AuditRecord) -> str:
    """The canonical JSON of an entry's own fields — what :func:`audit_hash` hashes between the
    entry's id and the previous hash — so that the chain can be linked where the previous hash
    is known (security.audit links it inside the database, in the appending statement)."""
    if record.at.tzinfo is None or record.at.utcoffset() is None:
        raise ValueError("audit timestamps must be timezone-aware")
    fields = [
        record.at.isoformat(timespec="microseconds"),
        record.actor,
        record.actor_user_id,
        record.action,
        record.object_type,
        record.object_id,
        record.detail,
        record.ip,
    ]
    return _canonical(fields)[1:-1]


def chained_hash(entry_id: int, body: str, prev_hash: str) -> str:
    """SHA-256 over ``[id, <body>, prev_hash]`` as canonical JSON (the body inlined)."""
    canonical = f"[{_canonical(entry_id)},{body},{_canonical(prev_hash)}]"
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def audit_hash(record: AuditRecord) -> str:
    """SHA-256 over a canonical JSON of every field, the previous hash included:
    ``[id, at, actor, actor_user_id, action, object_type, object_id, detail, ip, prev_hash]``."""
    return chained_hash(record.id, audit_body(record), record.prev_hash)


@dataclasses.dataclass(frozen=True)
class ChainProblem:
    entry_id: int
    reason: str


class ChainVerifier:
    """Checks stored (record, hash) pairs fed in id order; keeps only the last link in memory."""

    def __init__(self) -> None:
        self.expected_prev = GENESIS_HASH
        self.expected_id = 1
        self.checked = 0
        self.last: tuple[int, str] | None = None

    def feed(self, record: AuditRecord, stored_hash: str) -> ChainProblem | None:
        if record.id != self.expected_id:
            return ChainProblem(self.expected_id, f"entry {self.expected_id} is missing (next present is {record.id})")
        if record.prev_hash != self.expected_prev:
            return ChainProblem(record.id, "link to the previous entry is broken (previous entry altered?)")
        if audit_hash(record) != stored_hash:
            return ChainProblem(record.id, "content does not match its hash (entry altered)")
        self.expected_prev = stored_hash
        self.expected_id += 1
        self.checked += 1
        self.last = (record.id, stored_hash)
        return None

    def finish(self, head: tuple[int, str] | None) -> ChainProblem | None:
        """``head`` is the stored (last id, last hash); it catches entries removed from the end."""
        if head is None:
            return None if self.last is None else ChainProblem(self.last[0], "the chain head record is missing")
        if self.last == head:
            return None
        if self.last is None or head[0] > self.last[0]:
            return ChainProblem(self.expected_id, f"entries {self.expected_id}…{head[0]} were removed from the end")
        return ChainProblem(self.last[0], "the chain head does not match the last entry")


def verify_chain(entries: Iterable[tuple[AuditRecord, str]], head: tuple[int, str] | None) -> ChainProblem | None:
    """The first problem of a whole chain, or None."""
    verifier = ChainVerifier()
    for record, stored_hash in entries:
        problem = verifier.feed(record, stored_hash)
        if problem is not None:
            return problem
    return verifier.finish(head)
