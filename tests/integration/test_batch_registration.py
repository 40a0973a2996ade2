"""Registration, eligibility review and fees over real HTTP and PostgreSQL (R-REG-1, R-REG-2, R-INC-2 bars)."""

from __future__ import annotations

import io
import json
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
from openpyxl import load_workbook

from examhall.bank.models import Occupation
from examhall.batches import registration
from examhall.batches import service as batch_service
from examhall.batches.rules import id_check_char
from examhall.config import Settings
from examhall.db import Database
from tests.conftest import form_post, login, make_user, run_db, sql

PASSWORD = "correct-horse-9"
DATA = Path(__file__).resolve().parents[1] / "data"
# Every occupation of the sample file, with its fee category (R-REG-2), and the levels a batch offers.
SAMPLE_OCCUPATIONS = {"化工总控工": "B", "电工": "A", "焊工": "A", "化学检验员": "C", "仪器仪表维修工": "C"}


def valid_id(n: int, born: str = "19900101") -> str:
    first17 = f"370102{born}{n:03d}"
    return first17 + id_check_char(first17)


def batch_with_offerings(url: str, *, all_sample: bool = False) -> tuple[int, dict[str, int]]:
    """A batch in registration offering 化工总控工 level 4 (or every occupation and level of the sample)."""

    async def work(db: Database) -> tuple[int, dict[str, int]]:
        async with db.session() as session:
            occupations = {}
            for name, category in SAMPLE_OCCUPATIONS.items():
                occupation = Occupation(name=name, fee_category=category)
                session.add(occupation)
                await session.flush()
                occupations[name] = occupation.id
            actor = registration.Actor("test")
            batch = await batch_service.create_batch(session, "B2026-12", "2026年第十二批")
            await batch_service.set_status(session, batch.id, "registration", actor)
            for name, occupation_id in occupations.items():
                for level in (5, 4, 3) if all_sample else (4,):
                    if all_sample or name == "化工总控工":
                        await batch_service.add_offering(session, batch.id, occupation_id, level, actor)
            return batch.id, occupations

    return run_db(url, work)


def admin(client: httpx.Client, url: str, settings: Settings) -> httpx.Client:
    make_user(url, settings, "wangjing", ["admin"])
    assert login(client, "wangjing", PASSWORD).status_code == 302
    return client


def upload(client: httpx.Client, batch_id: int, name: str, content: bytes, skip_bad: bool = False) -> httpx.Response:
    data = {"_csrf_token": client.cookies.get("csrftoken", "")}
    if skip_bad:
        data["skip_bad"] = "true"
    return client.post(f"/batches/{batch_id}/import", data=data, files={"file": (name, content)})


def count(url: str, table: str) -> int:
    return int(sql(url, f"SELECT count(*) AS n FROM {table}")[0]["n"])


def test_batch_pages_create_a_batch_and_its_offerings(
    client: httpx.Client, clean_db: str, test_settings: Settings
) -> None:
    admin(client, clean_db, test_settings)
    created = form_post(client, "/batches", {"code": "2026-12", "name": "2026年第十二批", "exam_from": "2026-12-20"})
    assert 'role="status"' in created.text and created.headers.get("hx-refresh") == "true"
    again = form_post(client, "/batches", {"code": "2026-12", "name": "重复"})
    assert 'role="alert"' in again.text and count(clean_db, "batches") == 1
    bad_date = form_post(client, "/batches", {"code": "X", "name": "x", "exam_from": "20/12/2026"})
    assert 'role="alert"' in bad_date.text and count(clean_db, "batches") == 1
    batch_id = sql(clean_db, "SELECT id FROM batches")[0]["id"]
    run_db(clean_db, _add_occupation)
    occupation_id = sql(clean_db, "SELECT id FROM occupations")[0]["id"]
    added = form_post(
        client,
        f"/batches/{batch_id}/offerings",
        {
            "occupation_id": str(occupation_id),
            "level": "4",
            "knowledge_exam": "true",
            "skill_exam": "true",
            "computer_based": "true",
        },
    )
    assert 'role="status"' in added.text
    page = client.get(f"/batches/{batch_id}")
    assert page.status_code == 200 and "化工总控工" in page.text
    assert "<td>200</td>" in page.text  # category B, level 4: 30 + 160 + 10 on computer (R-REG-2)
    moved = form_post(client, f"/batches/{batch_id}/status", {"wanted": "registration"})
    assert 'role="status"' in moved.text
    skipped = form_post(client, f"/batches/{batch_id}/status", {"wanted": "published"})
    assert 'role="alert"' in skipped.text
    assert sql(clean_db, "SELECT status FROM batches")[0]["status"] == "registration"


async def _add_occupation(db: Database) -> None:
    async with db.session() as session:
        session.add(Occupation(name="化工总控工", fee_category="B"))


def test_registering_one_candidate_checks_the_id_number_and_duplicates(
    client: httpx.Client, clean_db: str, test_settings: Settings
) -> None:
    batch_id, occupations = batch_with_offerings(clean_db)
    admin(client, clean_db, test_settings)
    offering = f"{occupations['化工总控工']}-4"
    wrong = valid_id(1)[:-1] + ("0" if valid_id(1)[-1] != "0" else "1")
    bad = form_post(
        client, f"/batches/{batch_id}/candidates", {"name": "刘洋", "id_number": wrong, "offering": offering}
    )
    assert 'role="alert"' in bad.text and wrong in bad.text and count(clean_db, "candidates") == 0
    good = form_post(
        client, f"/batches/{batch_id}/candidates", {"name": "刘洋", "id_number": valid_id(1), "offering": offering}
    )
    assert 'role="status"' in good.text and "200" in good.text  # the fee is told at once
    twice = form_post(
        client, f"/batches/{batch_id}/candidates", {"name": "刘洋", "id_number": valid_id(1), "offering": offering}
    )
    assert 'role="alert"' in twice.text and count(clean_db, "applications") == 1
    other_name = form_post(
        client, f"/batches/{batch_id}/candidates", {"name": "王芳", "id_number": valid_id(1), "offering": offering}
    )
    assert 'role="alert"' in other_name.text and "刘洋" in other_name.text
    not_offered = form_post(
        client,
        f"/batches/{batch_id}/candidates",
        {"name": "张伟", "id_number": valid_id(2), "offering": f"{occupations['电工']}-4"},
    )
    assert 'role="alert"' in not_offered.text and count(clean_db, "candidates") == 1
    row = sql(clean_db, "SELECT gender, batch_id FROM candidates")[0]
    assert row == {"gender": "女" if int(valid_id(1)[16]) % 2 == 0 else "男", "batch_id": batch_id}


def test_a_barred_candidate_is_refused_with_the_end_of_the_bar(
    client: httpx.Client, clean_db: str, test_settings: Settings
) -> None:
    """R-INC-2 levels 3–4 bars, enforced at registration in a later batch (R-REG-1), by ID number."""
    batch_id, occupations = batch_with_offerings(clean_db)
    until = date.today() + timedelta(days=700)

    async def earlier_violation(db: Database) -> None:
        """Impersonation (替考, level 4) in an earlier batch: a bar row as the incident flow makes it."""
        from examhall.batches.models import Candidate, Room
        from examhall.console.models import Bar, Incident
        from examhall.sittings.models import Sitting

        async with db.session() as session:
            old = await batch_service.create_batch(session, "OLD-1", "上一批")
            person = Candidate(batch_id=old.id, name="赵磊", id_number=valid_id(9), ticket_number="OLD0001")
            room = Room(site="考点", name="旧考场", seat_count=30)
            session.add_all([person, room])
            await session.flush()
            sitting = Sitting(
                batch_id=old.id,
                occupation_id=occupations["化工总控工"],
                level=4,
                kind="theory",
                title="上一批理论考试",
                starts_at=datetime.now(UTC) - timedelta(days=30),
                duration_minutes=90,
            )
            session.add(sitting)
            await session.flush()
            incident = Incident(
                sitting_id=sitting.id,
                room_id=room.id,
                candidate_id=person.id,
                at=sitting.starts_at,
                incident_date=sitting.starts_at.date(),
                category="impersonation",
                level=4,
                text="替考",
                recorded_by=["张敏", "陈刚"],
                entered_by="zhangmin",
            )
            session.add(incident)
            await session.flush()
            session.add(
                Bar(
                    candidate_id=person.id,
                    incident_id=incident.id,
                    from_date=date.today() - timedelta(days=30),
                    until_date=until,
                    reason="替考",
                    created_at=datetime.now(UTC),
                )
            )

    run_db(clean_db, earlier_violation)
    admin(client, clean_db, test_settings)
    refused = form_post(
        client,
        f"/batches/{batch_id}/candidates",
        {"name": "赵磊", "id_number": valid_id(9), "offering": f"{occupations['化工总控工']}-4"},
    )
    assert 'role="alert"' in refused.text and until.isoformat() in refused.text and "替考" in refused.text
    assert count(clean_db, "applications") == 0
    audit = sql(clean_db, "SELECT detail FROM audit_log WHERE action = 'registration_refused_barred'")
    assert len(audit) == 1 and json.loads(audit[0]["detail"])["until"] == until.isoformat()


def test_import_of_the_300_candidate_sample_and_all_or_nothing(
    client: httpx.Client, clean_db: str, test_settings: Settings
) -> None:
    """R-REG-1: the sample file (xlsx, csv, GBK csv) imports 300 applications; a file with one bad row
    saves nothing unless the bad rows are skipped; each error names its row and column."""
    batch_id, _occupations = batch_with_offerings(clean_db, all_sample=True)
    admin(client, clean_db, test_settings)
    page = client.get(f"/batches/{batch_id}/candidates")
    assert page.status_code == 200 and "registration-template.xlsx" in page.text
    template = client.get("/batches/registration-template.xlsx")
    assert template.status_code == 200 and load_workbook(io.BytesIO(template.content)).active is not None
    csv_text = (DATA / "candidates-300.csv").read_text(encoding="utf-8-sig").splitlines()
    broken = [*csv_text[:3], csv_text[3].replace(csv_text[3].split(",")[1], "370102199001011230", 1), *csv_text[4:]]
    refused = upload(client, batch_id, "bad.csv", "\n".join(broken).encode("utf-8"))
    assert 'role="alert"' in refused.text and "<td>4</td>" in refused.text and "id_number" in refused.text
    assert count(clean_db, "applications") == 0
    skipped = upload(client, batch_id, "bad.csv", "\n".join(broken).encode("utf-8"), skip_bad=True)
    assert 'role="status"' in skipped.text and count(clean_db, "applications") == 299
    again = upload(client, batch_id, "candidates-300.xlsx", (DATA / "candidates-300.xlsx").read_bytes())
    assert count(clean_db, "applications") == 299  # duplicates of the whole file: nothing saved
    assert 'role="alert"' in again.text
    assert sql(clean_db, "SELECT count(*) AS n FROM audit_log WHERE action = 'registrations_imported'")[0]["n"] == 1


def test_the_sample_file_imports_whole_in_each_encoding(
    client: httpx.Client, clean_db: str, test_settings: Settings
) -> None:
    for name in ("candidates-300.xlsx", "candidates-300.csv", "candidates-300-gbk.csv"):
        from tests.conftest import truncate_all

        truncate_all(clean_db)
        batch_id, _occupations = batch_with_offerings(clean_db, all_sample=True)
        client.cookies.clear()
        admin(client, clean_db, test_settings)
        done = upload(client, batch_id, name, (DATA / name).read_bytes())
        assert 'role="status"' in done.text, (name, done.text[:2000])
        assert count(clean_db, "applications") == 300 and count(clean_db, "candidates") == 300


def test_review_payments_confirmation_and_exports(client: httpx.Client, clean_db: str, test_settings: Settings) -> None:
    """R-REG-1 review with reasons; R-REG-2 payments in full, finance confirmation, totals for the accounts."""
    batch_id, occupations = batch_with_offerings(clean_db)
    admin(client, clean_db, test_settings)
    offering = f"{occupations['化工总控工']}-4"
    for n, name in enumerate(["刘洋", "王芳", "张伟"], start=1):
        form_post(
            client, f"/batches/{batch_id}/candidates", {"name": name, "id_number": valid_id(n), "offering": offering}
        )
    apps = {
        r["name"]: r
        for r in sql(
            clean_db,
            "SELECT a.id, c.name, a.candidate_id, a.fee_total FROM applications a "
            "JOIN candidates c ON c.id = a.candidate_id",
        )
    }
    base = f"/batches/{batch_id}/applications"
    no_reason = form_post(client, f"{base}/{apps['张伟']['id']}/decide", {"decision": "rejected", "reason": " "})
    assert 'role="alert"' in no_reason.text
    rejected = form_post(
        client, f"{base}/{apps['张伟']['id']}/decide", {"decision": "rejected", "reason": "工作年限不足"}
    )
    assert 'role="status"' in rejected.text
    queue = client.get(f"/batches/{batch_id}/candidates?status=submitted")
    assert queue.text.count('data-testid="row"') == 2
    bulk = client.post(
        f"/batches/{batch_id}/review",
        data={
            "application_ids": [str(apps["刘洋"]["id"]), str(apps["王芳"]["id"])],
            "_csrf_token": client.cookies.get("csrftoken", ""),
        },
    )
    assert 'role="status"' in bulk.text
    fee = apps["刘洋"]["fee_total"]
    assert fee == 200
    short = form_post(
        client, f"{base}/{apps['刘洋']['id']}/payments", {"amount": "190", "method": "cash", "receipt_no": "R1"}
    )
    assert 'role="alert"' in short.text and "190" in short.text and "200" in short.text
    paid = form_post(
        client, f"{base}/{apps['刘洋']['id']}/payments", {"amount": "200", "method": "wechat", "receipt_no": "R1"}
    )
    assert 'role="status"' in paid.text
    reused = form_post(
        client, f"{base}/{apps['王芳']['id']}/payments", {"amount": "200", "method": "cash", "receipt_no": "R1"}
    )
    assert 'role="alert"' in reused.text and count(clean_db, "payments") == 1
    fees_page = client.get(f"/batches/{batch_id}/fees")
    assert "R1" in fees_page.text and 'data-testid="unconfirmed"' in fees_page.text
    payment_id = sql(clean_db, "SELECT id FROM payments")[0]["id"]
    confirmed = form_post(client, f"/batches/{batch_id}/fees/confirm", {"payment_ids": str(payment_id)})
    assert 'role="status"' in confirmed.text
    assert sql(clean_db, "SELECT confirmed_by FROM payments")[0]["confirmed_by"] == "Wangjing"

    async def ready(db: Database) -> list[int]:
        async with db.session() as session:
            return [a.candidate_id for a in await registration.schedulable(session, batch_id)]

    assert run_db(clean_db, ready) == [apps["刘洋"]["candidate_id"]]  # approved and paid only
    unpaid = client.get(f"/batches/{batch_id}/candidates.xlsx?paid=no&status=approved")
    sheet = load_workbook(io.BytesIO(unpaid.content)).active
    assert sheet is not None and [c.value for c in sheet["A"]][1:] == ["王芳"]
    totals = load_workbook(io.BytesIO(client.get(f"/batches/{batch_id}/fees.xlsx").content)).active
    assert totals is not None and next(iter(totals.iter_rows(min_row=2, values_only=True)))[2:] == (2, 400, 200, 200)
    payments = load_workbook(io.BytesIO(client.get(f"/batches/{batch_id}/payments.xlsx").content)).active
    assert payments is not None and payments.max_row == 2


def test_ten_thousand_candidates_page_quickly_and_only_admins_see_them(
    client: httpx.Client, clean_db: str, test_settings: Settings
) -> None:
    batch_id, occupations = batch_with_offerings(clean_db)
    occupation_id = occupations["化工总控工"]
    sql(
        clean_db,
        "INSERT INTO candidates (batch_id, name, id_number) "
        "SELECT $1, '考生' || n, lpad(n::text, 18, '0') FROM generate_series(1, 10000) n",
        batch_id,
    )
    sql(
        clean_db,
        "INSERT INTO applications (batch_id, candidate_id, occupation_id, level, status, fee_parts, fee_total) "
        "SELECT $1, id, $2, 4, 'submitted', '{}', 200 FROM candidates",
        batch_id,
        occupation_id,
    )
    admin(client, clean_db, test_settings)
    started = time.monotonic()
    page = client.get(f"/batches/{batch_id}/candidates?page=3")
    elapsed = time.monotonic() - started
    assert page.status_code == 200 and page.text.count('data-testid="row"') == 50
    assert "10000" in page.text and "page 3 of 200" in page.text.replace("第 3 页，共 200 页", "page 3 of 200")
    found = client.get(f"/batches/{batch_id}/candidates?q=考生9999")
    assert found.text.count('data-testid="row"') == 1
    print(f"10,000 candidates, page 3: {elapsed * 1000:.0f} ms")  # measured, not asserted
    make_user(clean_db, test_settings, "zhangmin", ["invigilator"])
    client.cookies.clear()
    assert login(client, "zhangmin", PASSWORD).status_code == 302
    for path in ("/batches", f"/batches/{batch_id}", f"/batches/{batch_id}/candidates", f"/batches/{batch_id}/fees"):
        assert client.get(path).status_code == 403, path
