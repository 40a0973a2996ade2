"""Pure security rules: roles, session windows, login lockout and the audit hash chain (R-SEC-1, R-SEC-3)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from itertools import product
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from examhall.security.rules import (
    GENESIS_HASH,
    ROLES,
    AuditRecord,
    ChainProblem,
    ChainVerifier,
    LockoutState,
    RoleConflict,
    SessionWindow,
    after_failed_login,
    after_successful_login,
    audit_hash,
    check_role_combination,
    effective_roles,
    extend_session,
    is_locked,
    may,
    new_session_window,
    session_alive,
    verify_chain,
)

# The roles of SPEC "Users and roles", written out here rather than taken from the module.
SPEC_ROLES = {"candidate", "invigilator", "chief", "supervisor", "assessor", "admin", "bank_keeper"}
STAFF = sorted(SPEC_ROLES - {"candidate"})
MICRO = timedelta(microseconds=1)

# --- roles -------------------------------------------------------------------------------


def test_roles_are_exactly_those_of_the_spec() -> None:
    assert set(ROLES) == SPEC_ROLES
    assert len(ROLES) == len(SPEC_ROLES)


@pytest.mark.parametrize(("held", "allowed"), list(product(sorted(SPEC_ROLES), repeat=2)))
def test_may_with_single_roles(held: str, allowed: str) -> None:
    expected = held == allowed or (held == "chief" and allowed == "invigilator")
    assert may([held], [allowed]) is expected


def test_an_invigilator_does_not_get_chief_rights() -> None:
    assert not may(["invigilator"], ["chief"])
    assert effective_roles(["invigilator"]) == {"invigilator"}


def test_chief_implies_invigilator_and_nothing_else() -> None:
    assert effective_roles(["chief"]) == {"chief", "invigilator"}
    assert effective_roles(["chief", "admin"]) == {"chief", "invigilator", "admin"}
    for role in SPEC_ROLES - {"chief"}:
        assert effective_roles([role]) == {role}


def test_no_roles_admit_nothing() -> None:
    assert effective_roles([]) == frozenset()
    for role in SPEC_ROLES:
        assert not may([], [role])
        assert not may([role], [])


@given(
    held=st.sets(st.sampled_from(sorted(SPEC_ROLES))),
    allowed=st.sets(st.sampled_from(sorted(SPEC_ROLES))),
)
@settings(max_examples=200)
def test_may_with_several_roles_is_any_single_role(held: set[str], allowed: set[str]) -> None:
    expected = any(may([h], [a]) for h in held for a in allowed)
    assert may(held, allowed) is expected


@pytest.mark.parametrize("role", STAFF)
def test_each_staff_role_alone_is_accepted(role: str) -> None:
    check_role_combination([role])


def test_several_staff_roles_together_are_accepted() -> None:
    check_role_combination(STAFF)
    check_role_combination(["chief", "invigilator"])
    check_role_combination(("admin", "bank_keeper"))


@pytest.mark.parametrize(
    "roles",
    [
        pytest.param([], id="empty"),
        pytest.param(["candidate"], id="candidate"),
        pytest.param(["admin", "candidate"], id="candidate-with-staff"),
        pytest.param(["superuser"], id="unknown"),
        pytest.param(["admin", "root"], id="unknown-with-staff"),
        pytest.param(["Admin"], id="wrong-case"),
        pytest.param([""], id="empty-name"),
    ],
)
def test_refused_role_combinations(roles: list[str]) -> None:
    with pytest.raises(RoleConflict):
        check_role_combination(roles)


def test_unknown_role_is_named_in_the_error() -> None:
    with pytest.raises(RoleConflict, match="superuser"):
        check_role_combination(["admin", "superuser"])


def test_role_conflict_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="candidate"):
        check_role_combination(["candidate"])


# --- session windows ----------------------------------------------------------------------

instants = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC))
durations = st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=2))
steps = st.lists(st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=20)), max_size=30)


@given(now=instants, idle=durations, absolute=durations, gaps=steps)
@settings(max_examples=150)
def test_sliding_expiry_never_passes_the_absolute_cap(
    now: datetime, idle: timedelta, absolute: timedelta, gaps: list[timedelta]
) -> None:
    window = new_session_window(now, idle, absolute)
    cap = now + absolute
    assert window.absolute_expires_at == cap
    assert window.expires_at == min(now + idle, cap)
    t = now
    for gap in gaps:
        t += gap
        window = extend_session(window, t, idle)
        assert window.absolute_expires_at == cap
        assert window.expires_at <= cap
        # The idle timeout slides from the moment of the activity, up to the cap.
        assert window.expires_at == min(t + idle, cap)
        assert session_alive(window, t) is (t < cap)
        assert not session_alive(window, cap)
        assert not session_alive(window, cap + MICRO)
        assert not session_alive(window, cap + timedelta(days=365))


@given(now=instants, idle=durations, absolute=durations)
@settings(max_examples=100)
def test_an_untouched_session_dies_after_the_idle_time(now: datetime, idle: timedelta, absolute: timedelta) -> None:
    window = new_session_window(now, idle, absolute)
    end = min(idle, absolute)
    assert session_alive(window, now)
    assert session_alive(window, now + end - MICRO)
    assert not session_alive(window, now + end)
    assert not session_alive(window, now + end + timedelta(hours=1))


def test_the_absolute_cap_holds_even_for_an_inconsistent_window() -> None:
    # A stored row whose idle expiry lies past the cap (hand-edited, or written by older code).
    cap = datetime(2026, 5, 9, 22, 0, tzinfo=UTC)
    window = SessionWindow(expires_at=cap + timedelta(hours=3), absolute_expires_at=cap)
    assert session_alive(window, cap - MICRO)
    assert not session_alive(window, cap)
    assert not session_alive(window, cap + timedelta(hours=1))
    assert extend_session(window, cap - timedelta(minutes=1), timedelta(minutes=30)).expires_at == cap


def test_activity_keeps_a_session_alive_until_the_cap() -> None:
    start = datetime(2026, 5, 9, 8, 0, tzinfo=UTC)
    idle, absolute = timedelta(minutes=30), timedelta(hours=2)
    window = new_session_window(start, idle, absolute)
    t = start
    while t < start + absolute:
        assert session_alive(window, t)
        window = extend_session(window, t, idle)
        t += timedelta(minutes=20)
    assert not session_alive(window, start + absolute)
    assert window.expires_at == start + absolute


# --- login lockout ------------------------------------------------------------------------

FRESH = LockoutState(failed_logins=0, locked_until=None)


@given(
    start=instants,
    limit=st.integers(min_value=1, max_value=10),
    lock_minutes=st.integers(min_value=1, max_value=24 * 60),
    gaps=st.lists(st.timedeltas(min_value=timedelta(0), max_value=timedelta(minutes=5)), min_size=10, max_size=10),
)
@settings(max_examples=150)
def test_exactly_the_limit_th_failure_locks_until_lock_expiry(
    start: datetime, limit: int, lock_minutes: int, gaps: list[timedelta]
) -> None:
    lock_for = timedelta(minutes=lock_minutes)
    state, t = FRESH, start
    for attempt in range(1, limit + 1):
        t += gaps[attempt - 1]
        state = after_failed_login(state, t, limit, lock_for)
        if attempt < limit:
            assert not is_locked(state, t), f"locked after only {attempt} of {limit} failures"
            assert not is_locked(state, t + timedelta(days=1))
    assert is_locked(state, t)
    assert state.locked_until == t + lock_for
    assert is_locked(state, t + lock_for - MICRO)
    # The lock expires exactly at locked_until.
    assert not is_locked(state, t + lock_for)
    assert not is_locked(state, t + lock_for + timedelta(days=3))


@given(
    start=instants,
    limit=st.integers(min_value=2, max_value=10),
    data=st.data(),
)
@settings(max_examples=100)
def test_a_successful_login_resets_the_count(start: datetime, limit: int, data: st.DataObject) -> None:
    lock_for = timedelta(minutes=15)
    before = data.draw(st.integers(min_value=1, max_value=limit - 1), label="failures before success")
    state, t = FRESH, start
    for _ in range(before):
        t += timedelta(seconds=10)
        state = after_failed_login(state, t, limit, lock_for)
    state = after_successful_login()
    assert state == FRESH
    for _ in range(limit - 1):
        t += timedelta(seconds=10)
        state = after_failed_login(state, t, limit, lock_for)
        assert not is_locked(state, t), "failures before the successful login were still counted"
    t += timedelta(seconds=10)
    state = after_failed_login(state, t, limit, lock_for)
    assert is_locked(state, t)


def test_a_successful_login_clears_a_lock() -> None:
    now = datetime(2026, 5, 9, 9, 0, tzinfo=UTC)
    cleared = after_successful_login()
    assert cleared.failed_logins == 0
    assert cleared.locked_until is None
    assert not is_locked(cleared, now)


@given(
    start=instants,
    limit=st.integers(min_value=2, max_value=8),
    after=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=30)),
)
@settings(max_examples=100)
def test_after_a_lock_expires_counting_starts_again(start: datetime, limit: int, after: timedelta) -> None:
    lock_for = timedelta(minutes=15)
    state, t = FRESH, start
    for _ in range(limit):
        state = after_failed_login(state, t, limit, lock_for)
    assert is_locked(state, t)
    assert state.locked_until is not None
    t = state.locked_until + after
    assert not is_locked(state, t)
    for _ in range(limit - 1):
        state = after_failed_login(state, t, limit, lock_for)
        assert not is_locked(state, t)
        t += timedelta(seconds=1)
    state = after_failed_login(state, t, limit, lock_for)
    assert is_locked(state, t)
    assert state.locked_until == t + lock_for


def test_a_limit_of_one_locks_at_the_first_failure() -> None:
    now = datetime(2026, 5, 9, 9, 0, tzinfo=UTC)
    state = after_failed_login(FRESH, now, 1, timedelta(minutes=5))
    assert is_locked(state, now)
    assert state.locked_until == now + timedelta(minutes=5)


# --- audit chain --------------------------------------------------------------------------

HEX64 = re.compile(r"[0-9a-f]{64}")

chinese = st.text(alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF), max_size=12)
texts = st.one_of(chinese, st.text(max_size=20), st.sampled_from(["张主考", "监考员 李四", "cli:root", "系统"]))
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**53), max_value=2**53), texts)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=10,
)
details = st.dictionaries(st.one_of(st.text(max_size=8), chinese), json_values, max_size=4)
aware_times = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.timezones())


@st.composite
def contents(draw: st.DrawFn) -> dict[str, Any]:
    """Everything of an audit record except its place in the chain (id, prev_hash)."""
    return {
        "at": draw(aware_times),
        "actor": draw(texts),
        "actor_user_id": draw(st.none() | st.integers(min_value=1, max_value=10**9)),
        "action": draw(st.sampled_from(["login", "login_failed", "unseal", "score_change", "归档查阅"])),
        "object_type": draw(st.none() | st.sampled_from(["candidate", "paper", "sitting"])),
        "object_id": draw(st.none() | texts),
        "detail": draw(details),
        "ip": draw(st.none() | st.ip_addresses().map(str)),
    }


Entry = tuple[AuditRecord, str]


def build_chain(items: list[dict[str, Any]]) -> tuple[list[Entry], tuple[int, str] | None]:
    """A correctly linked chain with ids 1..n and its head, computed independently of ChainVerifier."""
    entries: list[Entry] = []
    prev = GENESIS_HASH
    for number, item in enumerate(items, start=1):
        record = AuditRecord(id=number, prev_hash=prev, **item)
        digest = audit_hash(record)
        entries.append((record, digest))
        prev = digest
    head = (len(entries), prev) if entries else None
    return entries, head


def _other_hash(value: str) -> str:
    return ("f" if value[0] != "f" else "e") + value[1:]


# One way to change each hashed field into a surely different value.
ALTERATIONS: dict[str, Callable[[AuditRecord], Any]] = {
    "id": lambda r: r.id + 1000,
    "at": lambda r: r.at + MICRO,
    "actor": lambda r: r.actor + "改",
    "actor_user_id": lambda r: 1 if r.actor_user_id is None else r.actor_user_id + 1,
    "action": lambda r: r.action + "_x",
    "object_type": lambda r: "x" if r.object_type is None else r.object_type + "x",
    "object_id": lambda r: "0" if r.object_id is None else r.object_id + "0",
    "detail": lambda r: {**r.detail, "tampered-key": True},
    "ip": lambda r: "10.9.9.9" if r.ip is None else r.ip + "0",
    "prev_hash": lambda r: _other_hash(r.prev_hash),
}
CONTENT_FIELDS = [f for f in ALTERATIONS if f not in ("id", "prev_hash")]


def altered(record: AuditRecord, field: str) -> AuditRecord:
    return dataclasses.replace(record, **{field: ALTERATIONS[field](record)})


def test_the_alterations_cover_every_hashed_field() -> None:
    assert set(ALTERATIONS) == {f.name for f in dataclasses.fields(AuditRecord)}


@given(items=st.lists(contents(), max_size=8))
@settings(max_examples=40)
def test_an_untouched_chain_verifies(items: list[dict[str, Any]]) -> None:
    entries, head = build_chain(items)
    assert verify_chain(entries, head) is None
    assert verify_chain(iter(entries), head) is None
    verifier = ChainVerifier()
    for record, digest in entries:
        assert verifier.feed(record, digest) is None
    assert verifier.finish(head) is None
    assert verifier.checked == len(entries)


TAMPERS = ["alter", "alter_and_rehash", "forge_hash", "delete", "swap", "drop_tail", "wrong_head"]


@given(items=st.lists(contents(), min_size=1, max_size=7), tamper=st.sampled_from(TAMPERS), data=st.data())
@settings(max_examples=150)
def test_a_tampered_chain_reports_the_first_bad_entry(
    items: list[dict[str, Any]], tamper: str, data: st.DataObject
) -> None:
    entries, head = build_chain(items)
    assert head is not None
    n = len(entries)
    k = data.draw(st.integers(min_value=1, max_value=n), label="k")
    expected: int

    if tamper == "alter":
        # One field of entry k changes; its stored hash does not.
        field = data.draw(st.sampled_from(sorted(ALTERATIONS)), label="field")
        record, digest = entries[k - 1]
        entries[k - 1] = (altered(record, field), digest)
        expected = k
    elif tamper == "alter_and_rehash":
        # The forger also recomputes entry k's hash: the next entry's link (or the head) gives it away.
        field = data.draw(st.sampled_from(CONTENT_FIELDS), label="field")
        record = altered(entries[k - 1][0], field)
        entries[k - 1] = (record, audit_hash(record))
        expected = k + 1 if k < n else k
    elif tamper == "forge_hash":
        record, digest = entries[k - 1]
        entries[k - 1] = (record, _other_hash(digest))
        expected = k
    elif tamper == "delete":
        del entries[k - 1]
        expected = k
    elif tamper == "swap":
        if n < 2:
            return
        i, j = sorted(data.draw(st.lists(st.integers(1, n), min_size=2, max_size=2, unique=True), label="i,j"))
        entries[i - 1], entries[j - 1] = entries[j - 1], entries[i - 1]
        expected = i
    elif tamper == "drop_tail":
        kept = k - 1  # keep 0..n-1 entries; the head still names entry n
        entries = entries[:kept]
        expected = kept + 1
    else:
        kind = data.draw(st.sampled_from(["hash", "missing", "older", "newer"]), label="head")
        new_head: tuple[int, str] | None
        if kind == "hash":
            new_head, expected = (n, _other_hash(head[1])), n
        elif kind == "missing":
            new_head, expected = None, n
        elif kind == "older":
            if n < 2:
                return
            new_head, expected = (n - 1, entries[n - 2][1]), n
        else:
            new_head, expected = (n + 2, head[1]), n + 1
        head = new_head

    problem = verify_chain(entries, head)
    assert isinstance(problem, ChainProblem), f"{tamper} went unnoticed"
    assert problem.entry_id == expected, problem
    assert problem.reason


def test_an_empty_chain_with_a_head_is_reported() -> None:
    problem = verify_chain([], (3, "a" * 64))
    assert problem is not None
    assert problem.entry_id == 1
    assert verify_chain([], None) is None


def test_a_chain_must_start_at_the_genesis_hash() -> None:
    record = AuditRecord(
        id=1,
        at=datetime(2026, 5, 9, 9, 0, tzinfo=UTC),
        actor="张主考",
        actor_user_id=1,
        action="unseal",
        object_type="paper",
        object_id="7",
        detail={},
        ip=None,
        prev_hash="1" * 64,
    )
    problem = verify_chain([(record, audit_hash(record))], (1, audit_hash(record)))
    assert problem is not None
    assert problem.entry_id == 1


@given(item=contents(), prev=st.text(alphabet="0123456789abcdef", min_size=64, max_size=64))
@settings(max_examples=100)
def test_audit_hash_is_deterministic(item: dict[str, Any], prev: str) -> None:
    record = AuditRecord(id=5, prev_hash=prev, **item)
    twin = AuditRecord(id=5, prev_hash=prev, **{**item, "detail": dict(reversed(list(item["detail"].items())))})
    digest = audit_hash(record)
    assert HEX64.fullmatch(digest)
    assert audit_hash(record) == digest
    # Same content, detail keys inserted in another order: same hash.
    assert audit_hash(twin) == digest


@given(item=contents(), field=st.sampled_from(sorted(ALTERATIONS)))
@settings(max_examples=120)
def test_audit_hash_changes_with_any_single_field(item: dict[str, Any], field: str) -> None:
    record = AuditRecord(id=3, prev_hash=GENESIS_HASH, **item)
    assert audit_hash(altered(record, field)) != audit_hash(record)


def test_audit_hash_tells_same_looking_values_apart() -> None:
    base = AuditRecord(
        id=1,
        at=datetime(2026, 5, 9, 9, 0, tzinfo=UTC),
        actor="监考员",
        actor_user_id=None,
        action="login",
        object_type=None,
        object_id=None,
        detail={"locked": 1},
        ip=None,
        prev_hash=GENESIS_HASH,
    )
    variants = [
        dataclasses.replace(base, detail={"locked": True}),
        dataclasses.replace(base, detail={"locked": "1"}),
        dataclasses.replace(base, object_id="null"),
        dataclasses.replace(base, object_id=""),
        dataclasses.replace(base, actor_user_id=0),
        dataclasses.replace(base, at=datetime(2026, 5, 9, 17, 0, tzinfo=timezone(timedelta(hours=8)))),
    ]
    hashes = {audit_hash(v) for v in variants} | {audit_hash(base)}
    assert len(hashes) == len(variants) + 1


def test_audit_hash_refuses_naive_datetimes() -> None:
    record = AuditRecord(
        id=1,
        at=datetime(2026, 5, 9, 9, 0),
        actor="admin",
        actor_user_id=1,
        action="login",
        object_type=None,
        object_id=None,
        detail={},
        ip="10.0.0.1",
        prev_hash=GENESIS_HASH,
    )
    with pytest.raises(ValueError, match="timezone"):
        audit_hash(record)


class _NoOffset(tzinfo):
    """A tzinfo without an offset: Python counts datetimes carrying it as naive."""

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        return None

    def dst(self, dt: datetime | None) -> timedelta | None:
        return None

    def tzname(self, dt: datetime | None) -> str | None:
        return None


def test_audit_hash_refuses_datetimes_whose_tzinfo_gives_no_offset() -> None:
    at = datetime(2026, 5, 9, 9, 0, tzinfo=_NoOffset())
    assert at.utcoffset() is None  # naive by Python's definition
    record = AuditRecord(
        id=1,
        at=at,
        actor="admin",
        actor_user_id=1,
        action="login",
        object_type=None,
        object_id=None,
        detail={},
        ip=None,
        prev_hash=GENESIS_HASH,
    )
    with pytest.raises(ValueError, match="timezone"):
        audit_hash(record)
