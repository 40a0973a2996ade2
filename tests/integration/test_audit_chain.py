"""The append-only, hash-chained audit log and `examhall audit verify` (R-SEC-3)."""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import sys

import asyncpg
import pytest

from examhall.db import Database, asyncpg_connect_args
from examhall.security import audit
from tests.conftest import run_db, sql


def write_entries(url: str, count: int) -> None:
    async def work(db: Database) -> None:
        for n in range(count):
            async with db.session() as session:
                await audit.record(
                    session,
                    actor="监考员 张敏",
                    action="test_event",
                    object_type="seat",
                    object_id=n,
                    detail={"n": n, "note": "第一考场", "flags": [True, None]},
                    ip="10.0.0.5",
                )

    run_db(url, work)


def tamper(url: str, statement: str) -> None:
    """Change the log behind the application's back, as someone with database superuser rights could."""

    async def main() -> None:
        conn = await asyncpg.connect(**asyncpg_connect_args(url))
        try:
            async with conn.transaction():
                await conn.execute("SET LOCAL session_replication_role = replica")
                await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(main())


def verify_cli(url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "EXAMHALL_DATABASE_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "examhall", "audit", "verify"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_intact_chain_verifies_with_exit_zero(clean_db: str) -> None:
    write_entries(clean_db, 5)
    result = verify_cli(clean_db)
    assert result.returncode == 0, result.stderr
    assert "intact: 5 entries" in result.stdout


def test_empty_log_is_intact(clean_db: str) -> None:
    result = verify_cli(clean_db)
    assert result.returncode == 0
    assert "intact: 0 entries" in result.stdout


def test_entries_link_to_their_predecessor_under_concurrent_writers(clean_db: str) -> None:
    async def work(db: Database) -> None:
        async def one(n: int) -> None:
            async with db.session() as session:
                await audit.record(session, actor=f"worker{n}", action="concurrent", detail={"n": n})

        await asyncio.gather(*(one(n) for n in range(20)))

    run_db(clean_db, work)
    rows = sql(clean_db, "SELECT id, prev_hash, hash FROM audit_log ORDER BY id")
    assert [r["id"] for r in rows] == list(range(1, 21))
    for before, after in itertools.pairwise(rows):
        assert after["prev_hash"] == before["hash"]
    assert verify_cli(clean_db).returncode == 0


@pytest.mark.parametrize(
    ("statement", "bad_entry", "words"),
    [
        ("UPDATE audit_log SET actor = '主考' WHERE id = 3", 3, "altered"),
        ("UPDATE audit_log SET detail = '{\"n\": 99}' WHERE id = 2", 2, "altered"),
        ("UPDATE audit_log SET at = at + interval '1 second' WHERE id = 4", 4, "altered"),
        ("DELETE FROM audit_log WHERE id = 3", 3, "missing"),
        ("DELETE FROM audit_log WHERE id = 6", 6, "removed from the end"),
        ("DELETE FROM audit_head", 6, "head"),
    ],
)
def test_any_altered_or_deleted_row_is_named(clean_db: str, statement: str, bad_entry: int, words: str) -> None:
    write_entries(clean_db, 6)
    tamper(clean_db, statement)
    result = verify_cli(clean_db)
    assert result.returncode == 1
    assert f"BROKEN at entry {bad_entry}" in result.stderr
    assert words in result.stderr


def test_rewriting_an_entry_with_a_fresh_hash_breaks_the_next_link(clean_db: str) -> None:
    write_entries(clean_db, 4)
    # A forger who recomputes entry 2's own hash still breaks entry 3's link to it.
    from examhall.security.rules import AuditRecord, audit_hash

    row = sql(clean_db, "SELECT * FROM audit_log WHERE id = 2")[0]
    forged = AuditRecord(
        id=2,
        at=row["at"],
        actor="someone else",
        actor_user_id=None,
        action=row["action"],
        object_type=row["object_type"],
        object_id=row["object_id"],
        detail=__import__("json").loads(row["detail"]),
        ip=row["ip"],
        prev_hash=row["prev_hash"],
    )
    tamper(clean_db, f"UPDATE audit_log SET actor = 'someone else', hash = '{audit_hash(forged)}' WHERE id = 2")
    result = verify_cli(clean_db)
    assert result.returncode == 1
    assert "BROKEN at entry 3" in result.stderr


@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log", "TRUNCATE audit_log"],
)
def test_the_database_refuses_changes_to_the_log(clean_db: str, statement: str) -> None:
    write_entries(clean_db, 2)
    with pytest.raises(asyncpg.PostgresError, match="append-only"):
        sql(clean_db, statement)
    assert sql(clean_db, "SELECT count(*) AS n FROM audit_log")[0]["n"] == 2


def test_logins_failed_logins_and_role_changes_are_audited(clean_db: str, test_settings: object) -> None:
    from examhall.security import service

    async def work(db: Database) -> None:
        from examhall.security.passwords import Passwords

        passwords = Passwords(test_settings)  # type: ignore[arg-type]
        async with db.session() as session:
            user = await service.create_user(
                session,
                passwords,
                username="sunli",
                display_name="孙丽",
                password="correct-horse-9",
                roles=["supervisor"],
                actor="cli:root",
            )
        async with db.session() as session:
            await service.set_roles(session, user.id, ["supervisor", "admin"], actor="cli:root")
        async with db.session() as session:
            await service.set_roles(session, user.id, ["admin"], actor="cli:root")

    run_db(clean_db, work)
    rows = sql(clean_db, "SELECT action, detail->>'role' AS role FROM audit_log ORDER BY id")
    assert [(r["action"], r["role"]) for r in rows] == [
        ("user_created", None),
        ("role_granted", "admin"),
        ("role_revoked", "supervisor"),
    ]
