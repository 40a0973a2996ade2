"""Bank import through the CLI, the mock-exam gate, assembly, sealing and unsealing through
the HTTP API against the real database (R-BANK-3/4/5, R-PAPER-2…6)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from examhall.bank import io
from examhall.bank import service as bank_service
from examhall.batches import service as batch_service
from examhall.batches.models import Candidate
from examhall.config import Settings
from examhall.db import Database
from examhall.papers.models import Blueprint
from examhall.security.audit import Actor
from examhall.sittings import service as sittings_service
from tests.conftest import REPO, LiveServer, json_post, login, make_user, run_db, sql

SAMPLE = REPO / "question_bank" / "hgzkg"
ACTOR = Actor("test")
PASSWORD = "correct-horse-9"


def cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "examhall", *args],
        env={**os.environ, "EXAMHALL_DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def import_sample(url: str) -> int:
    result = io.read_bank(SAMPLE)
    assert result.document is not None and not result.errors, result.errors[:3]

    async def work(db: Database) -> int:
        async with db.session() as session:
            return (await bank_service.import_bank(session, result.document, ACTOR)).bank_version_id

    return run_db(url, work)


@dataclass
class Site:
    version_id: int
    blueprint_id: int
    occupation_id: int
    batch_id: int
    candidate_ids: list[int]


def make_site(url: str, seated: int = 12) -> Site:
    version_id = import_sample(url)

    async def work(db: Database) -> Site:
        async with db.session() as session:
            from sqlalchemy import select

            from examhall.bank.models import BankVersion

            version = await session.get(BankVersion, version_id)
            assert version is not None
            blueprint = await session.scalar(
                select(Blueprint).where(Blueprint.bank_version_id == version_id, Blueprint.level == 4)
            )
            assert blueprint is not None
            batch = await batch_service.create_batch(session, "T-2026-1", "测试批次")
            people = [
                Candidate(name=f"考生{n:02d}", id_number=f"37010219900101{n:03d}X"[:18], ticket_number=f"T{n:04d}")
                for n in range(seated)
            ]
            session.add_all(people)
            await session.flush()
            return Site(version_id, blueprint.id, version.occupation_id, batch.id, [p.id for p in people])

    return run_db(url, work)


def schedule(url: str, site: Site, kind: str, starts_in: timedelta, seat: bool = True) -> int:
    async def work(db: Database) -> int:
        async with db.session() as session:
            sitting = await sittings_service.schedule_sitting(
                session,
                batch_id=site.batch_id,
                occupation_id=site.occupation_id,
                level=4,
                kind=kind,
                title=f"{kind} sitting",
                starts_at=datetime.now(UTC) + starts_in,
                duration_minutes=90,
                actor=ACTOR,
            )
            if seat:
                room = await batch_service.create_room(session, "考点", f"考场{sitting.id}", seat_count=30, columns=6)
                await batch_service.seat_candidates(session, sitting.id, room, site.candidate_ids)
            return sitting.id

    return run_db(url, work)


def make_live(url: str, site: Site, settings: Settings) -> None:
    """Run the R-BANK-3 gate honestly: a mock exam assembled and completed, then trial, then live."""
    from examhall.papers import service as papers_service

    mock = schedule(url, site, "mock", -timedelta(hours=2))

    async def gate(db: Database) -> None:
        async with db.session() as session:
            await papers_service.assemble_for_sitting(
                session, settings, papers_service.AssemblyRequest(mock, site.blueprint_id, "single"), ACTOR
            )
            await sittings_service.complete_mock(session, mock, ACTOR)
            await bank_service.set_version_status(session, site.version_id, "trial", ACTOR)
            await bank_service.set_version_status(session, site.version_id, "live", ACTOR)

    run_db(url, gate)


def staff(client: httpx.Client, url: str, settings: Settings, name: str, role: str) -> None:
    make_user(url, settings, name, [role])
    assert login(client, name, PASSWORD).status_code == 302


# --- import and export -----------------------------------------------------------------


def test_sample_bank_imports_cleanly_through_the_cli(clean_db: str) -> None:
    result = cli(clean_db, "bank", "import", str(SAMPLE))
    assert result.returncode == 0, result.stderr
    assert "item(s) added" in result.stdout
    counts = sql(
        clean_db,
        "SELECT r.type, count(*) AS n FROM items i "
        "JOIN item_revisions r ON r.id = i.current_revision_id GROUP BY r.type",
    )
    by_type = {r["type"]: r["n"] for r in counts}
    assert set(by_type) == {"judge", "single", "multiple"}
    assert sum(by_type.values()) >= 400
    kps = sql(clean_db, "SELECT count(*) AS n FROM knowledge_points WHERE parent_id IS NULL")[0]["n"]
    assert kps >= 10
    assert sql(clean_db, "SELECT count(*) AS n FROM blueprints")[0]["n"] == 2
    register = sql(clean_db, "SELECT action FROM bank_usage")
    assert [r["action"] for r in register] == ["import"]


def test_a_corrupted_copy_is_refused_with_row_numbers_and_nothing_imported(clean_db: str, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(SAMPLE, broken)
    target = broken / "items" / "L4-05.yaml"
    text = target.read_text(encoding="utf-8")
    # Break the key of the first single-choice item of the file: E is not among A–D.
    head, sep, rest = text.partition("type: single")
    rest = rest.replace("key: ", "key: E  # was ", 1)
    target.write_text(head + sep + rest, encoding="utf-8")
    result = cli(clean_db, "bank", "import", str(broken))
    assert result.returncode != 0
    assert "L4-05.yaml" in result.stderr
    assert "row " in result.stderr
    assert "nothing was imported" in result.stderr
    assert sql(clean_db, "SELECT count(*) AS n FROM items")[0]["n"] == 0
    skipped = cli(clean_db, "bank", "import", str(broken), "--skip-bad")
    assert skipped.returncode == 0, skipped.stderr
    assert "1 bad row(s) skipped" in skipped.stdout


def test_export_then_import_gives_the_same_bank(clean_db: str, tmp_path: Path) -> None:
    assert cli(clean_db, "bank", "import", str(SAMPLE)).returncode == 0
    version_id = sql(clean_db, "SELECT id FROM bank_versions")[0]["id"]
    out = tmp_path / "bank.xlsx"
    exported = cli(clean_db, "bank", "export", "--version-id", str(version_id), "--format", "xlsx", str(out))
    assert exported.returncode == 0, exported.stderr

    async def doc(db: Database) -> io.BankDocument:
        async with db.session() as session:
            return await bank_service.bank_document(session, version_id)

    before = run_db(clean_db, doc)
    reread = io.read_bank(out)
    assert not reread.errors
    assert reread.document == before
    actions = [r["action"] for r in sql(clean_db, "SELECT action FROM bank_usage ORDER BY id")]
    assert actions == ["import", "export"]


# --- the mock-exam gate (R-BANK-3) -------------------------------------------------------


def test_a_real_sitting_needs_a_live_bank_proven_by_a_mock_exam(
    client: httpx.Client, clean_db: str, test_settings: Settings
) -> None:
    site = make_site(clean_db)
    theory = schedule(clean_db, site, "theory", timedelta(hours=3))
    staff(client, clean_db, test_settings, "keeper", "bank_keeper")
    refused = json_post(client, f"/api/v1/sittings/{theory}/assemble", {"blueprint_id": site.blueprint_id})
    assert refused.status_code == 409
    assert refused.json()["error"] == "bank_not_usable"
    assert "R-BANK-3" in refused.json()["message"]
    early = json_post(client, f"/api/v1/bank/versions/{site.version_id}/status", {"target": "trial"})
    assert early.status_code == 409
    assert "mock exam" in early.json()["message"]
    make_live(clean_db, site, test_settings)
    ok = json_post(client, f"/api/v1/sittings/{theory}/assemble", {"blueprint_id": site.blueprint_id})
    assert ok.status_code == 201, ok.text


# --- sealing (R-PAPER-5) and binding (R-PAPER-4) -----------------------------------------


def test_sealed_papers_cannot_be_read_before_the_chief_unseals_them(
    live_server: LiveServer, clean_db: str, test_settings: Settings
) -> None:
    site = make_site(clean_db)
    make_live(clean_db, site, test_settings)
    soon = schedule(clean_db, site, "theory", timedelta(minutes=20))
    later = schedule(clean_db, site, "theory", timedelta(hours=2), seat=False)
    base = live_server.url
    with (
        httpx.Client(base_url=base) as keeper,
        httpx.Client(base_url=base) as admin,
        httpx.Client(base_url=base) as chief,
    ):
        staff(keeper, clean_db, test_settings, "keeper", "bank_keeper")
        staff(admin, clean_db, test_settings, "office", "admin")
        staff(chief, clean_db, test_settings, "lichief", "chief")
        made = json_post(
            keeper, f"/api/v1/sittings/{soon}/assemble", {"blueprint_id": site.blueprint_id, "mode": "per_candidate"}
        )
        assert made.status_code == 201, made.text
        labels = made.json()["papers"]
        assert len(labels) == len(site.candidate_ids)
        assert made.json()["sealed"] is True
        exposure = made.json()["exposure"]
        assert exposure["max_uses"] >= 1

        # Nobody reads a sealed paper through the application, the exam office included.
        for who in (admin, keeper, chief):
            sealed = who.get(f"/api/v1/sittings/{soon}/papers/{labels[0]}")
            assert sealed.status_code == 423
            assert sealed.json()["error"] == "sealed"
        # The database holds ciphertext only: no item text of the bank appears in it.
        stem = sql(clean_db, "SELECT stem FROM item_revisions WHERE used_in_paper LIMIT 1")[0]["stem"]
        blob = sql(clean_db, "SELECT ciphertext FROM papers LIMIT 1")[0]["ciphertext"]
        assert stem[:8].encode() not in blob
        assert b'"items"' not in blob

        # Only the chief unseals, and not earlier than 30 minutes before the start.
        assert json_post(keeper, f"/api/v1/sittings/{soon}/unseal", {}).status_code == 403
        json_post(keeper, f"/api/v1/sittings/{later}/assemble", {"blueprint_id": site.blueprint_id, "mode": "single"})
        too_early = json_post(chief, f"/api/v1/sittings/{later}/unseal", {})
        assert too_early.status_code == 409
        assert too_early.json()["error"] == "too_early"
        opened = json_post(chief, f"/api/v1/sittings/{soon}/unseal", {})
        assert opened.status_code == 200
        assert opened.json()["sealed"] is False
        again = json_post(chief, f"/api/v1/sittings/{soon}/unseal", {})
        assert again.status_code == 200  # a second click changes nothing

        paper = admin.get(f"/api/v1/sittings/{soon}/papers/{labels[0]}")
        assert paper.status_code == 200
        body = paper.json()
        assert float(body["total_points"]) == 100.0
        items = [item for section in body["sections"] for item in section["items"]]
        assert len(items) == 90
        assert len({item["stem"] for item in items}) == 90  # R-PAPER-3: no item twice
        assert sum(float(item["points"]) for item in items) == 100.0
        for item in items:
            if item["type"] != "judge":
                letters = [letter for letter, _ in item["options"]]
                assert letters == sorted(letters)
                assert set(item["key"]) <= set(letters)

        # R-PAPER-4: a sitting's papers are never re-assembled or reused.
        twice = json_post(keeper, f"/api/v1/sittings/{soon}/assemble", {"blueprint_id": site.blueprint_id})
        assert twice.status_code == 409
        assert twice.json()["error"] == "already_assembled"

    register = [r["action"] for r in sql(clean_db, "SELECT action FROM bank_usage ORDER BY id")]
    assert register.count("assemble") == 3  # the mock exam, the two sittings
    assert "unseal" in register
    assert register[-1] == "read"
    audit_actions = {r["action"] for r in sql(clean_db, "SELECT action FROM audit_log")}
    assert {"bank_assemble", "bank_unseal", "bank_read"} <= audit_actions


def test_parallel_forms_never_sit_side_by_side(client: httpx.Client, clean_db: str, test_settings: Settings) -> None:
    site = make_site(clean_db, seated=24)
    make_live(clean_db, site, test_settings)
    sitting = schedule(clean_db, site, "theory", timedelta(hours=1))
    staff(client, clean_db, test_settings, "keeper", "bank_keeper")
    made = json_post(
        client, f"/api/v1/sittings/{sitting}/assemble", {"blueprint_id": site.blueprint_id, "mode": "forms", "forms": 2}
    )
    assert made.status_code == 201, made.text
    rows = sql(
        clean_db,
        "SELECT s.seat_no, p.label FROM papers p JOIN paper_sets ps ON ps.id = p.paper_set_id AND ps.sitting_id = $1 "
        "JOIN seat_assignments s ON s.candidate_id = p.candidate_id AND s.sitting_id = $1 ORDER BY s.seat_no",
        sitting,
    )
    form_of = {r["seat_no"]: r["label"].split("-")[0] for r in rows}
    assert set(form_of.values()) == {"A", "B"}
    for seat, form in form_of.items():
        right = seat + 1 if seat % 6 else None  # six seats per row
        behind = seat + 6
        for neighbour in (right, behind):
            if neighbour in form_of:
                assert form_of[neighbour] != form, f"seats {seat} and {neighbour} share form {form}"


def test_roles_are_enforced_on_paper_actions(client: httpx.Client, clean_db: str, test_settings: Settings) -> None:
    site = make_site(clean_db, seated=2)
    sitting = schedule(clean_db, site, "mock", timedelta(minutes=10))
    staff(client, clean_db, test_settings, "zhangmin", "invigilator")
    assemble = json_post(client, f"/api/v1/sittings/{sitting}/assemble", {"blueprint_id": site.blueprint_id})
    assert assemble.status_code == 403
    assert client.get(f"/api/v1/sittings/{sitting}/papers").status_code == 403
    assert client.get(f"/api/v1/bank/versions/{site.version_id}/items").status_code == 403
