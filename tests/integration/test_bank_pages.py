"""The question bank and paper pages over real HTTP: import, items, one item, blueprints, the
papers of the sittings, unsealing and reading a paper (R-BANK-2…5, R-PAPER-1…6, R-SEC-1)."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import yaml

from examhall.bank import io
from examhall.bank import service as bank_service
from examhall.bank.rules import ItemDraft
from examhall.config import Settings
from examhall.db import Database
from tests.conftest import LiveServer, csrf_token, form_post, run_db, sql
from tests.integration.test_papers import ACTOR, SAMPLE, import_sample, make_live, make_site, schedule, staff

HTMX = {"HX-Request": "true"}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def english(client: httpx.Client) -> None:
    """Assertions read the English texts (the Chinese ones come from the catalog)."""
    assert form_post(client, "/lang", {"locale": "en", "next": "/"}).status_code == 302


def keeper(client: httpx.Client, url: str, settings: Settings) -> None:
    staff(client, url, settings, "keeper", "bank_keeper")
    english(client)


def upload(client: httpx.Client, path: Path, media_type: str, **fields: str) -> httpx.Response:
    with path.open("rb") as fh:
        return client.post(
            "/bank/import",
            files={"file": (path.name, fh.read(), media_type)},
            data={"_csrf_token": csrf_token(client), **fields},
            headers=HTMX,
        )


def sitting_card(page: str, sitting_id: int) -> str:
    """The HTML of one sitting's card on the papers page."""
    match = re.search(rf'<section class="card sitting" id="sitting-{sitting_id}".*?</section>', page, re.S)
    assert match, f"no card for sitting {sitting_id}"
    return match.group(0)


def unseal_button(card: str) -> str:
    match = re.search(r'<button[^>]*data-testid="unseal"[^>]*>', card)
    assert match, "no unseal button"
    return match.group(0)


# --- bank versions and import (R-BANK-2/3/5) ---------------------------------------------------


def test_keeper_imports_the_sample_bank_as_xlsx_and_sees_the_summary(
    client: httpx.Client, clean_db: str, test_settings: Settings, tmp_path: Path
) -> None:
    read = io.read_bank(SAMPLE)
    assert read.document is not None and not read.errors
    workbook = tmp_path / "hgzkg.xlsx"
    io.write_xlsx(read.document, workbook)
    keeper(client, clean_db, test_settings)
    page = client.get("/bank")
    assert page.status_code == 200
    assert "No bank yet" in page.text

    response = upload(client, workbook, XLSX)
    assert response.status_code == 200
    assert 'data-testid="import-summary"' in response.text
    assert f"Items added: {len(read.document.items)}" in response.text
    assert "Blueprints saved: " in response.text
    assert 'data-testid="row-errors"' not in response.text
    # The versions table is refreshed out of band with the new version.
    assert 'id="versions" class="card" aria-labelledby="versions-title" hx-swap-oob="outerHTML"' in response.text
    assert read.document.occupation_name in response.text
    stored = sql(clean_db, "SELECT count(*) AS n FROM items")[0]["n"]
    assert stored == len(read.document.items)
    assert [r["action"] for r in sql(clean_db, "SELECT action FROM bank_usage")] == ["import"]

    page = client.get("/bank")
    version_id = sql(clean_db, "SELECT id FROM bank_versions")[0]["id"]
    assert f"/bank/versions/{version_id}/items" in page.text
    assert f"/api/v1/bank/versions/{version_id}/export?format=xlsx" in page.text
    assert 'class="badge status-draft"' in page.text


def test_going_to_trial_before_a_mock_exam_shows_the_r_bank_3_refusal(
    client: httpx.Client, clean_db: str, test_settings: Settings
) -> None:
    version_id = import_sample(clean_db)
    keeper(client, clean_db, test_settings)
    page = client.get("/bank")
    assert "hx-confirm=" in page.text
    refused = client.post(
        f"/bank/versions/{version_id}/status",
        data={"target": "trial", "_csrf_token": csrf_token(client)},
        headers=HTMX,
    )
    assert refused.status_code == 200  # an htmx fragment showing the refusal
    assert 'data-testid="status-error"' in refused.text
    assert "R-BANK-3" in refused.text
    assert "mock exam" in refused.text
    assert sql(clean_db, "SELECT status FROM bank_versions")[0]["status"] == "draft"
    plain = form_post(client, f"/bank/versions/{version_id}/status", {"target": "trial"})
    assert plain.status_code == 409
    assert "R-BANK-3" in plain.text


def test_a_broken_csv_shows_every_bad_row_and_imports_nothing(
    client: httpx.Client, clean_db: str, test_settings: Settings, tmp_path: Path
) -> None:
    version_id = import_sample(clean_db)

    async def stored(db: Database) -> io.BankDocument:
        async with db.session() as session:
            return await bank_service.bank_document(session, version_id)

    doc = run_db(clean_db, stored)
    single = next(item for item in doc.items if item.type == "single")
    judge = next(item for item in doc.items if item.type == "judge")
    new_items = (
        ItemDraft(**{**vars(single), "code": "NEW-001", "stem": "新题一：正确的题。"}),
        ItemDraft(**{**vars(single), "code": "NEW-002", "stem": "新题二：答案不在选项中。", "key": "E"}),
        ItemDraft(**{**vars(judge), "code": "NEW-003", "stem": "新题三：知识点不存在。", "kp": "99.99"}),
    )
    csv_file = tmp_path / "new-items.csv"
    io.write_csv(io.BankDocument(**{**vars(doc), "items": new_items, "blueprints": ()}), csv_file)
    before = sql(clean_db, "SELECT count(*) AS n FROM items")[0]["n"]
    keeper(client, clean_db, test_settings)

    response = upload(client, csv_file, "text/csv", version_id=str(version_id))
    assert response.status_code == 200
    assert 'data-testid="import-failed"' in response.text
    assert "Nothing was imported." in response.text
    table = re.search(r'<table class="data row-errors".*?</table>', response.text, re.S)
    assert table, "no row-error table"
    assert "NEW-002" in table.group(0) and "NEW-003" in table.group(0)
    assert "NEW-001" not in table.group(0)
    assert '<td class="num">3</td>' in table.group(0)  # NEW-002 is on row 3 (row 1 holds the headers)
    assert sql(clean_db, "SELECT count(*) AS n FROM items")[0]["n"] == before
    assert sql(clean_db, "SELECT count(*) AS n FROM items WHERE code LIKE 'NEW-%'")[0]["n"] == 0

    # Without JavaScript the same form gets the whole page and a 400.
    with csv_file.open("rb") as fh:
        plain = client.post(
            "/bank/import",
            files={"file": (csv_file.name, fh.read(), "text/csv")},
            data={"_csrf_token": csrf_token(client), "version_id": str(version_id)},
        )
    assert plain.status_code == 400
    assert "<html" in plain.text and "Nothing was imported." in plain.text

    skipped = upload(client, csv_file, "text/csv", version_id=str(version_id), skip_bad="true")
    assert 'data-testid="import-summary"' in skipped.text
    assert "Bad rows skipped: 2" in skipped.text
    assert [r["code"] for r in sql(clean_db, "SELECT code FROM items WHERE code LIKE 'NEW-%'")] == ["NEW-001"]


# --- browsing items (R-BANK-1/2/4) -------------------------------------------------------------


def test_items_page_filters_by_knowledge_point_and_type_and_pages(
    client: httpx.Client, clean_db: str, test_settings: Settings
) -> None:
    version_id = import_sample(clean_db)
    keeper(client, clean_db, test_settings)
    total = sql(clean_db, "SELECT count(*) AS n FROM items")[0]["n"]
    assert total > 100

    page = client.get(f"/bank/versions/{version_id}/items")
    assert page.status_code == 200
    assert f'data-total="{total}"' in page.text
    assert page.text.count("data-item-code=") == 50
    # The knowledge-point select shows the tree: children indented under their parent.
    assert '<option value="05">05 ' in page.text
    assert '<option value="05.02">\u00a0\u00a0\u00a0\u00a005.02 ' in page.text
    assert 'rel="next"' in page.text and 'rel="prev"' not in page.text

    second = client.get(f"/bank/versions/{version_id}/items", params={"page": "2"})
    first_codes = set(re.findall(r'data-item-code="([^"]+)"', page.text))
    second_codes = set(re.findall(r'data-item-code="([^"]+)"', second.text))
    assert len(second_codes) == 50 and not first_codes & second_codes
    assert "Page 2 of" in second.text

    wanted = sql(
        clean_db,
        "SELECT i.code FROM items i JOIN item_revisions r ON r.id = i.current_revision_id "
        "JOIN knowledge_points k ON k.id = i.knowledge_point_id "
        "WHERE k.code LIKE '05.%' AND r.type = 'single' ORDER BY i.code",
    )
    assert 0 < len(wanted) <= 50
    fragment = client.get(
        f"/bank/versions/{version_id}/items",
        params={"kp": "05", "type": "single", "difficulty": "", "level": "", "q": ""},
        headers={**HTMX, "HX-Target": "item-results"},
    )
    assert fragment.status_code == 200
    assert fragment.text.lstrip().startswith('<section id="item-results"')
    assert "<html" not in fragment.text
    assert re.findall(r'data-item-code="([^"]+)"', fragment.text) == [r["code"] for r in wanted]
    assert f'data-total="{len(wanted)}"' in fragment.text

    nothing = client.get(f"/bank/versions/{version_id}/items", params={"q": "没有这样的题目文字"})
    assert 'data-total="0"' in nothing.text
    assert "No item matches these filters." in nothing.text
    assert "read" in {r["action"] for r in sql(clean_db, "SELECT action FROM bank_usage")}


def test_item_page_shows_the_key_and_every_revision(
    client: httpx.Client, clean_db: str, test_settings: Settings
) -> None:
    version_id = import_sample(clean_db)
    row = sql(
        clean_db,
        "SELECT i.id, i.code, r.stem, r.key, r.options FROM items i "
        "JOIN item_revisions r ON r.id = i.current_revision_id WHERE r.type = 'single' ORDER BY i.code LIMIT 1",
    )[0]
    # The first revision went into a paper, so an edit makes revision 2 (R-BANK-2).
    sql(clean_db, "UPDATE item_revisions SET used_in_paper = true WHERE item_id = $1", row["id"])

    async def edit(db: Database) -> None:
        async with db.session() as session:
            doc = await bank_service.bank_document(session, version_id)
            draft = next(item for item in doc.items if item.code == row["code"])
            changed = ItemDraft(**{**vars(draft), "stem": draft.stem + "（修订）", "points": Decimal(1)})
            await bank_service.edit_item(session, row["id"], changed, ACTOR)

    run_db(clean_db, edit)
    keeper(client, clean_db, test_settings)
    page = client.get(f"/bank/items/{row['id']}")
    assert page.status_code == 200
    assert row["stem"] + "（修订）" in page.text
    key = row["key"]
    assert f'<p class="key-line" data-testid="key"><strong>Key:</strong> {key}</p>' in page.text
    keyed = re.findall(r'<li class="is-key"><span class="letter">([A-H])\.</span>', page.text)
    assert keyed == [key]
    revisions = re.search(r'<table class="data revisions".*?</table>', page.text, re.S)
    assert revisions
    assert revisions.group(0).count("<tr") == 3  # the header and two revisions
    assert "current" in revisions.group(0)
    assert "No completed attempts yet." in page.text
    assert client.get("/bank/items/999999", headers={"accept": "text/html"}).status_code == 404


# --- blueprints (R-PAPER-1/6) ------------------------------------------------------------------


def test_blueprint_check_reports_shortfalls_and_feasibility(
    client: httpx.Client, clean_db: str, test_settings: Settings
) -> None:
    version_id = import_sample(clean_db)
    keeper(client, clean_db, test_settings)
    spec = yaml.safe_load((SAMPLE / "blueprint-L4.yaml").read_text(encoding="utf-8"))
    check = f"/bank/versions/{version_id}/blueprints/check"

    def post(text: str) -> httpx.Response:
        response = client.post(check, data={"yaml": text, "_csrf_token": csrf_token(client)}, headers=HTMX)
        assert response.status_code == 200
        return response

    sample = post(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False))
    assert 'data-feasible="true"' in sample.text
    assert f"Feasible: {sum(sum(v for k, v in r.items() if k != 'kp') for r in spec['rows'])} items, 100 points" in (
        sample.text
    )

    greedy = {**spec, "rows": [dict(r) for r in spec["rows"]]}
    row = next(r for r in greedy["rows"] if r["kp"] == "05")
    row["single"] += 500
    greedy["total_points"] += 500
    short = post(yaml.safe_dump(greedy, allow_unicode=True, sort_keys=False))
    assert 'data-feasible="false"' in short.text
    assert "The bank cannot satisfy this blueprint:" in short.text
    assert re.search(r"05 精馏 · single: needs \d+, the bank has \d+ \(\d+ missing\)", short.text), short.text

    broken = post("format: examhall-blueprint/1\nname: x\nrows: [\n  - kp: '05'\n")
    assert 'data-feasible="false"' in broken.text
    assert re.search(r"line \d+, column \d+", broken.text)

    page = client.get(f"/bank/versions/{version_id}/blueprints")
    assert page.status_code == 200
    assert spec["name"] in page.text
    assert 'class="badge feasible"' in page.text
    assert f'hx-post="{check}"' in page.text

    refused = form_post(client, f"/bank/versions/{version_id}/blueprints", {"yaml": yaml.safe_dump(greedy)})
    assert refused.status_code == 400
    assert 'data-testid="save-error"' in refused.text
    renamed = {**spec, "name": "另一份组卷计划"}
    saved = form_post(client, f"/bank/versions/{version_id}/blueprints", {"yaml": yaml.safe_dump(renamed)})
    assert saved.status_code == 303
    assert "另一份组卷计划" in client.get(saved.headers["location"]).text
    assert sql(clean_db, "SELECT count(*) AS n FROM blueprints WHERE name = '另一份组卷计划'")[0]["n"] == 1


# --- roles (R-BANK-4, R-SEC-1) -----------------------------------------------------------------


def test_an_invigilator_may_not_see_the_bank_or_the_papers(
    client: httpx.Client, clean_db: str, test_settings: Settings
) -> None:
    version_id = import_sample(clean_db)
    staff(client, clean_db, test_settings, "zhangmin", "invigilator")
    html = {"accept": "text/html"}
    for path in ("/bank", f"/bank/versions/{version_id}/items", f"/bank/versions/{version_id}/blueprints", "/papers"):
        assert client.get(path, headers=html).status_code == 403, path
    posted = form_post(client, f"/bank/versions/{version_id}/status", {"target": "retired"})
    assert posted.status_code == 403
    assert sql(clean_db, "SELECT status FROM bank_versions")[0]["status"] == "draft"


# --- sittings and papers (R-PAPER-2…5) -----------------------------------------------------------


def test_papers_page_assembles_seals_and_unseals_only_in_the_window(
    live_server: LiveServer, clean_db: str, test_settings: Settings
) -> None:
    site = make_site(clean_db)
    make_live(clean_db, site, test_settings)
    soon = schedule(clean_db, site, "theory", timedelta(minutes=20))
    later = schedule(clean_db, site, "theory", timedelta(hours=2))
    base = live_server.url
    with httpx.Client(base_url=base) as keeper_client, httpx.Client(base_url=base) as chief:
        keeper(keeper_client, clean_db, test_settings)
        staff(chief, clean_db, test_settings, "lichief", "chief")
        english(chief)

        page = keeper_client.get("/papers")
        assert page.status_code == 200
        card = sitting_card(page.text, soon)
        assert "Not assembled" in card
        assert f'<option value="{site.blueprint_id}">' in card
        assert "bound to this sitting for good" in card  # the confirmation says so
        for sitting, mode in ((soon, "per_candidate"), (later, "forms")):
            made = keeper_client.post(
                f"/papers/{sitting}/assemble",
                data={
                    "blueprint_id": str(site.blueprint_id),
                    "mode": mode,
                    "forms": "2",
                    "shuffle_items": "true",
                    "_csrf_token": csrf_token(keeper_client),
                },
                headers=HTMX,
            )
            assert made.status_code == 200
            assert 'data-testid="sitting-message"' in made.text, made.text
            assert "Sealed" in made.text
        shuffles = sql(clean_db, "SELECT shuffle_items, shuffle_options FROM paper_sets WHERE sitting_id = $1", soon)
        assert shuffles == [{"shuffle_items": True, "shuffle_options": False}]
        assert sql(clean_db, "SELECT forms_count FROM paper_sets WHERE sitting_id = $1", later)[0]["forms_count"] == 2
        again = keeper_client.post(
            f"/papers/{soon}/assemble",
            data={"blueprint_id": str(site.blueprint_id), "mode": "single", "_csrf_token": csrf_token(keeper_client)},
            headers=HTMX,
        )
        assert 'data-testid="sitting-error"' in again.text  # R-PAPER-4: never re-assembled
        assert "never re-assembled" in again.text

        page = chief.get("/papers")
        near, far = sitting_card(page.text, soon), sitting_card(page.text, later)
        assert 'data-testid="paper-status">Sealed' in near and "Sealed" in far
        assert " disabled" not in unseal_button(near)
        assert " disabled" in unseal_button(far)
        assert "Unsealing opens at" in far
        assert "Assemble the papers" not in near  # the chief does not assemble

        # A sealed paper cannot be read by anybody: the friendly 423.
        label = sql(clean_db, "SELECT p.label FROM papers p JOIN paper_sets s ON s.id = p.paper_set_id "
                              "WHERE s.sitting_id = $1 ORDER BY p.id LIMIT 1", soon)[0]["label"]  # fmt: skip
        for who in (chief, keeper_client):
            sealed = who.get(f"/papers/{soon}/{label}")
            assert sealed.status_code == 423
            assert "The papers of this sitting are sealed." in sealed.text

        early = chief.post(f"/papers/{later}/unseal", data={"_csrf_token": csrf_token(chief)}, headers=HTMX)
        assert 'data-testid="sitting-error"' in early.text
        assert "Papers can be unsealed from 30 minutes before the start" in early.text
        opened = chief.post(f"/papers/{soon}/unseal", data={"_csrf_token": csrf_token(chief)}, headers=HTMX)
        assert "The papers are unsealed." in opened.text
        assert f'href="/papers/{soon}/{label}"' in opened.text

        paper = chief.get(f"/papers/{soon}/{label}")
        assert paper.status_code == 200
        assert "no-store" in paper.headers["cache-control"]  # keys never stay in a browser cache
        assert paper.text.count('class="paper-item"') == 90
        assert 'data-testid="key"' not in paper.text
        keyed = chief.get(f"/papers/{soon}/{label}", params={"key": "1"})
        assert keyed.text.count('data-testid="key"') == 90

    assert {"assemble", "unseal", "read"} <= {r["action"] for r in sql(clean_db, "SELECT action FROM bank_usage")}


def test_the_chief_records_a_mock_exam_as_completed_from_the_papers_page(
    client: httpx.Client, clean_db: str, test_settings: Settings
) -> None:
    from examhall.papers import service as papers_service

    site = make_site(clean_db, seated=2)
    mock = schedule(clean_db, site, "mock", -timedelta(minutes=5))

    async def assemble(db: Database) -> None:
        async with db.session() as session:
            await papers_service.assemble_for_sitting(
                session, test_settings, papers_service.AssemblyRequest(mock, site.blueprint_id, "single"), ACTOR
            )

    run_db(clean_db, assemble)
    staff(client, clean_db, test_settings, "lichief", "chief")
    english(client)
    card = sitting_card(client.get("/papers").text, mock)
    assert "Mock exam completed without error" in card
    done = client.post(f"/papers/{mock}/complete-mock", data={"_csrf_token": csrf_token(client)}, headers=HTMX)
    assert "Recorded: the mock exam was completed without error." in done.text
    assert "Mock exam completed without error</button>" not in done.text
    assert sql(clean_db, "SELECT status FROM sittings WHERE id = $1", mock)[0]["status"] == "completed"
