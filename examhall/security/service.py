"""Use cases of the security domain: staff and candidate login, sessions, accounts, roles.

Every function receives the caller's session and flushes; the caller's transaction commits.
Refused logins are *returned*, not raised, so that their audit entry is committed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import asyncpg
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from examhall.batches.models import Candidate
from examhall.batches.rules import normalise_id_number
from examhall.config import Settings
from examhall.db import Database
from examhall.security import audit
from examhall.security.models import User, UserRole, WebSession
from examhall.security.passwords import Passwords, password_problem
from examhall.security.rules import (
    CANDIDATE,
    LockoutState,
    RoleConflict,
    SessionWindow,
    after_failed_login,
    after_successful_login,
    check_role_combination,
    extend_session,
    is_locked,
    new_session_window,
    session_alive,
)

# Sliding expiry is written back at most this often, not on every request.
TOUCH_INTERVAL = timedelta(seconds=60)


@dataclasses.dataclass(frozen=True)
class Principal:
    """Who is making a request: a staff user or a candidate, with their roles."""

    token_hash: bytes
    user_id: int | None
    candidate_id: int | None
    roles: frozenset[str]
    display_name: str
    locale: str | None

    @property
    def is_candidate(self) -> bool:
        return self.candidate_id is not None

    @property
    def actor(self) -> str:
        return f"candidate#{self.candidate_id}" if self.is_candidate else self.display_name


@dataclasses.dataclass(frozen=True)
class LoginResult:
    token: str | None = None
    principal: Principal | None = None
    # A refusal code; the route turns it into a translated message.
    refused: str | None = None


class AccountError(ValueError):
    """A staff-account change that cannot be made; the message says why."""


def now_utc() -> datetime:
    return datetime.now(UTC)


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def normalise_username(raw: str) -> str:
    return raw.strip().lower()


async def _start_session(
    session: AsyncSession,
    settings: Settings,
    *,
    user: User | None = None,
    candidate: Candidate | None = None,
    ip: str | None,
) -> tuple[str, Principal]:
    now = now_utc()
    window = new_session_window(
        now, timedelta(minutes=settings.session_minutes), timedelta(hours=settings.session_max_hours)
    )
    token = secrets.token_urlsafe(32)
    if user is not None:
        roles = sorted(user.role_names)
        name = user.display_name
        locale = user.locale
    else:
        assert candidate is not None
        roles = [CANDIDATE]
        name = candidate.name
        locale = None
    row = WebSession(
        token_hash=token_hash(token),
        user_id=user.id if user is not None else None,
        candidate_id=candidate.id if candidate is not None else None,
        roles=roles,
        display_name=name,
        locale=locale,
        created_at=now,
        last_seen_at=now,
        expires_at=window.expires_at,
        absolute_expires_at=window.absolute_expires_at,
        ip=ip,
    )
    session.add(row)
    await session.flush()
    return token, _principal(row)


async def start_candidate_session_raw(
    conn: asyncpg.Connection | asyncpg.pool.PoolConnectionProxy,
    settings: Settings,
    candidate_id: int,
    name: str,
    ip: str | None,
) -> tuple[str, Principal]:
    """:func:`_start_session` for a candidate on a raw connection (the login hot path; inside
    the caller's transaction)."""
    now = now_utc()
    window = new_session_window(
        now, timedelta(minutes=settings.session_minutes), timedelta(hours=settings.session_max_hours)
    )
    token = secrets.token_urlsafe(32)
    digest = token_hash(token)
    await conn.execute(
        """
        INSERT INTO web_sessions (token_hash, user_id, candidate_id, roles, display_name, locale,
                                  created_at, last_seen_at, expires_at, absolute_expires_at, ip)
        VALUES ($1, NULL, $2, $3, $4, NULL, $5, $5, $6, $7, $8)
        """,
        digest,
        candidate_id,
        [CANDIDATE],
        name,
        now,
        window.expires_at,
        window.absolute_expires_at,
        ip,
    )
    principal = Principal(
        token_hash=digest,
        user_id=None,
        candidate_id=candidate_id,
        roles=frozenset({CANDIDATE}),
        display_name=name,
        locale=None,
    )
    return token, principal


def _principal(row: WebSession) -> Principal:
    return Principal(
        token_hash=row.token_hash,
        user_id=row.user_id,
        candidate_id=row.candidate_id,
        roles=frozenset(row.roles),
        display_name=row.display_name,
        locale=row.locale,
    )


async def login_staff(
    session: AsyncSession,
    settings: Settings,
    passwords: Passwords,
    username: str,
    password: str,
    ip: str | None,
) -> LoginResult:
    """Check a staff login; audit it either way (R-SEC-3)."""
    name = normalise_username(username)
    now = now_utc()
    user = await session.scalar(select(User).where(User.username == name))
    if user is not None:
        state = LockoutState(user.failed_logins, user.locked_until)
        if is_locked(state, now):
            await audit.record(
                session,
                actor=name,
                action="login_refused",
                detail={"reason": "locked"},
                ip=ip,
                actor_user_id=user.id,
            )
            return LoginResult(refused="locked")
    ok = await passwords.verify(user.password_hash if user is not None else None, password)
    if user is None or not ok:
        if user is not None:
            state = after_failed_login(
                LockoutState(user.failed_logins, user.locked_until),
                now,
                settings.max_failed_logins,
                timedelta(minutes=settings.lockout_minutes),
            )
            user.failed_logins, user.locked_until = state.failed_logins, state.locked_until
        await audit.record(
            session,
            actor=name[:128] or "(empty)",
            action="login_failed",
            actor_user_id=user.id if user is not None else None,
            detail={
                "reason": "unknown_user" if user is None else "bad_password",
                "locked": bool(user is not None and user.locked_until),
            },
            ip=ip,
        )
        return LoginResult(refused="bad_credentials")
    if not user.is_active:
        await audit.record(
            session,
            actor=name,
            action="login_refused",
            actor_user_id=user.id,
            detail={"reason": "inactive"},
            ip=ip,
        )
        return LoginResult(refused="inactive")
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = await passwords.hash(password)
    cleared = after_successful_login()
    user.failed_logins, user.locked_until = cleared.failed_logins, cleared.locked_until
    token, principal = await _start_session(session, settings, user=user, ip=ip)
    await audit.record(session, actor=name, action="login", actor_user_id=user.id, ip=ip)
    return LoginResult(token=token, principal=principal)


async def login_candidate(
    session: AsyncSession,
    settings: Settings,
    ticket_number: str,
    id_number: str,
    ip: str | None,
    admit: Callable[[Candidate], Awaitable[str | None]] | None = None,
) -> LoginResult:
    """A candidate logs in with admission ticket number + ID number (no password of their own).

    ``admit`` adds the exam-day conditions — enrolled seat, check-in, time window (R-SEC-2,
    R-CLOCK-1); it returns a refusal code or None, and runs only once ticket and ID match.
    """
    ticket = ticket_number.strip().upper()
    candidate = await session.scalar(select(Candidate).where(Candidate.ticket_number == ticket))
    given = normalise_id_number(id_number).encode()
    stored = (candidate.id_number if candidate is not None else "").encode()
    if candidate is None or not hmac.compare_digest(given, stored):
        await audit.record(
            session,
            actor=f"ticket {ticket[:32]}",
            action="candidate_login_failed",
            object_type="candidate",
            object_id=candidate.id if candidate is not None else None,
            detail={"reason": "unknown_ticket" if candidate is None else "id_mismatch"},
            ip=ip,
        )
        return LoginResult(refused="bad_ticket")
    refusal = await admit(candidate) if admit is not None else None
    if refusal is not None:
        await audit.record(
            session,
            actor=f"ticket {ticket[:32]}",
            action="candidate_login_failed",
            object_type="candidate",
            object_id=candidate.id,
            detail={"reason": refusal},
            ip=ip,
        )
        return LoginResult(refused=refusal)
    token, principal = await _start_session(session, settings, candidate=candidate, ip=ip)
    await audit.record(
        session,
        actor=principal.actor,
        action="candidate_login",
        object_type="candidate",
        object_id=candidate.id,
        ip=ip,
    )
    return LoginResult(token=token, principal=principal)


async def load_session(session: AsyncSession, settings: Settings, token: str) -> Principal | None:
    """The principal of a live session token, or None; slides the idle expiry."""
    row = await session.get(WebSession, token_hash(token))
    if row is None:
        return None
    now = now_utc()
    window = SessionWindow(row.expires_at, row.absolute_expires_at)
    if not session_alive(window, now):
        await session.delete(row)
        return None
    if now - row.last_seen_at >= TOUCH_INTERVAL:
        moved = extend_session(window, now, timedelta(minutes=settings.session_minutes))
        row.last_seen_at, row.expires_at = now, moved.expires_at
    return _principal(row)


_SESSION_ROW = """
SELECT token_hash, user_id, candidate_id, roles, display_name, locale, last_seen_at, expires_at, absolute_expires_at
FROM web_sessions WHERE token_hash = $1
"""


async def load_principal(db: Database, settings: Settings, token: str) -> Principal | None:
    """:func:`load_session` for every request (PrincipalMiddleware): the same rules in one
    statement on the raw pool, and a second one only when the session ends or slides."""
    digest = token_hash(token)
    pool = await db.raw_pool()
    async with pool.acquire() as conn:
        row = await conn.fetchrow(_SESSION_ROW, digest)
        if row is None:
            return None
        now = now_utc()
        window = SessionWindow(row["expires_at"], row["absolute_expires_at"])
        if not session_alive(window, now):
            await conn.execute("DELETE FROM web_sessions WHERE token_hash = $1", digest)
            return None
        if now - row["last_seen_at"] >= TOUCH_INTERVAL:
            moved = extend_session(window, now, timedelta(minutes=settings.session_minutes))
            await conn.execute(
                "UPDATE web_sessions SET last_seen_at = $2, expires_at = $3 WHERE token_hash = $1",
                digest,
                now,
                moved.expires_at,
            )
    return Principal(
        token_hash=row["token_hash"],
        user_id=row["user_id"],
        candidate_id=row["candidate_id"],
        roles=frozenset(row["roles"]),
        display_name=row["display_name"],
        locale=row["locale"],
    )


async def logout(session: AsyncSession, principal: Principal, ip: str | None) -> None:
    await session.execute(delete(WebSession).where(WebSession.token_hash == principal.token_hash))
    await audit.record(session, actor=principal.actor, action="logout", actor_user_id=principal.user_id, ip=ip)


async def set_session_locale(session: AsyncSession, principal: Principal, locale: str) -> None:
    await session.execute(update(WebSession).where(WebSession.token_hash == principal.token_hash).values(locale=locale))
    if principal.user_id is not None:
        await session.execute(update(User).where(User.id == principal.user_id).values(locale=locale))


async def purge_expired_sessions(session: AsyncSession) -> int:
    now = now_utc()
    result = await session.execute(
        delete(WebSession).where((WebSession.expires_at <= now) | (WebSession.absolute_expires_at <= now))
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def create_user(
    session: AsyncSession,
    passwords: Passwords,
    *,
    username: str,
    display_name: str,
    password: str,
    roles: list[str],
    actor: str,
    actor_user_id: int | None = None,
) -> User:
    name = normalise_username(username)
    if not name or len(name) > 64 or not all(c.isalnum() or c in "._-" for c in name):
        raise AccountError("username: use 1–64 letters, digits, '.', '_' or '-'")
    try:
        check_role_combination(roles)
    except RoleConflict as exc:
        raise AccountError(f"roles: {exc}") from exc
    problem = password_problem(password)
    if problem:
        raise AccountError(f"password: {problem}")
    if await session.scalar(select(func.count()).select_from(User).where(User.username == name)):
        raise AccountError(f"username: {name!r} is already taken")
    user = User(
        username=name,
        display_name=display_name.strip() or name,
        password_hash=await passwords.hash(password),
        roles=[UserRole(role=r) for r in sorted(set(roles))],
    )
    session.add(user)
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action="user_created",
        actor_user_id=actor_user_id,
        object_type="user",
        object_id=user.id,
        detail={"username": name, "roles": sorted(set(roles))},
    )
    return user


async def set_roles(
    session: AsyncSession, user_id: int, roles: list[str], *, actor: str, actor_user_id: int | None = None
) -> User:
    """Replace a user's roles; each grant and revocation is audited; their sessions end."""
    try:
        check_role_combination(roles)
    except RoleConflict as exc:
        raise AccountError(f"roles: {exc}") from exc
    user = await session.get(User, user_id)
    if user is None:
        raise AccountError(f"user {user_id} does not exist")
    before = set(user.role_names)
    after = set(roles)
    for role in sorted(before - after):
        user.roles = [r for r in user.roles if r.role != role]
        await audit.record(
            session,
            actor=actor,
            action="role_revoked",
            actor_user_id=actor_user_id,
            object_type="user",
            object_id=user.id,
            detail={"username": user.username, "role": role},
        )
    for role in sorted(after - before):
        user.roles.append(UserRole(role=role))
        await audit.record(
            session,
            actor=actor,
            action="role_granted",
            actor_user_id=actor_user_id,
            object_type="user",
            object_id=user.id,
            detail={"username": user.username, "role": role},
        )
    await session.flush()
    if before != after:
        # Sessions carry the roles granted at login; a change takes effect at the next login.
        await session.execute(delete(WebSession).where(WebSession.user_id == user.id))
    return user


async def find_user(session: AsyncSession, username: str) -> User | None:
    return await session.scalar(select(User).where(User.username == normalise_username(username)))
