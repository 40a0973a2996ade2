"""The ``examhall`` command: serve, db, user, audit, demo."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from examhall.config import Settings, SettingsError, load_settings
from examhall.db import Database, DatabaseUnavailable, EmbeddedPostgres, resolve_database_url, upgrade
from examhall.security.audit import Actor

T = TypeVar("T")


def _settings(**overrides: Any) -> Settings:
    from examhall import i18n

    try:
        settings = load_settings(**{k: v for k, v in overrides.items() if v is not None})
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc
    i18n.set_timezone(settings.timezone)
    return settings


@contextlib.contextmanager
def database(settings: Settings) -> Iterator[str]:
    """The database URL: the external one, or the embedded server started for this command."""
    embedded = None if settings.database_url else EmbeddedPostgres(settings.pg_dir)
    try:
        yield resolve_database_url(settings, embedded)
    except DatabaseUnavailable as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        if embedded is not None:
            embedded.stop()


def run_with_db(url: str, settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    async def main() -> T:
        db = Database(url, pool_size=2)
        try:
            return await work(db)
        finally:
            await db.close()

    return asyncio.run(main())


def cli_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


@click.group()
@click.version_option(package_name="examhall")
def main() -> None:
    """examhall — exam-room LAN server for computer-based theory exams."""


# --- serve -------------------------------------------------------------------------------


@main.command()
@click.option("--host", default=None, help="Address to listen on (EXAMHALL_HOST, default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (EXAMHALL_PORT, default 8000).")
@click.option("--workers", type=int, default=None, help="Worker processes (EXAMHALL_WORKERS, default 1).")
@click.option("--demo", is_flag=True, help="Load the demo site (users, candidates) and print its logins.")
def serve(host: str | None, port: int | None, workers: int | None, demo: bool) -> None:
    """Run the server: start the embedded database if needed, migrate, then serve."""
    import uvicorn

    settings = _settings(host=host, port=port, workers=workers)
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    with database(settings) as url:
        click.echo("examhall: applying database migrations …")
        upgrade(url)
        logins: list[tuple[str, str, str]] = []
        facts: list[str] = []
        if demo:
            from examhall.demo import seed_demo

            site = run_with_db(url, settings, lambda db: seed_demo(db, settings))
            logins, facts = site.logins, site.facts
        # Worker processes read their settings from the environment.
        os.environ["EXAMHALL_DATABASE_URL"] = url
        os.environ["EXAMHALL_DATA"] = str(settings.data_dir)
        os.environ["EXAMHALL_HOST"] = settings.host
        os.environ["EXAMHALL_PORT"] = str(settings.port)
        os.environ["EXAMHALL_WORKERS"] = str(settings.workers)
        shown_host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host  # noqa: S104
        click.echo("")
        click.echo(f"examhall is starting at http://{shown_host}:{settings.port}/  (Ctrl+C stops it)")
        where = "external" if settings.database_url else f"embedded PostgreSQL in {settings.pg_dir}"
        click.echo(f"  database: {where}")
        click.echo(f"  workers:  {settings.workers}")
        for fact in facts:
            click.echo(f"  demo {fact}")
        if logins:
            click.echo("  demo logins (staff at /login, candidates at /candidate/login):")
            for role, login, secret in logins:
                click.echo(f"    {role:<22} {login:<16} {secret}")
        click.echo("")
        sys.stdout.flush()
        uvicorn.run(
            "examhall.app:app_from_env",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            log_level=settings.log_level.lower(),
            ws="websockets-sansio",
            # Small JSON messages on a LAN: compressing them costs CPU and, per connection, the
            # memory of two zlib streams (thousands of terminals on exam day), and saves nothing.
            ws_per_message_deflate=False,
        )


# --- db ----------------------------------------------------------------------------------


@main.group()
def db() -> None:
    """Database: migrations."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply the migrations (the server also does this at start)."""
    settings = _settings()
    with database(settings) as url:
        upgrade(url, revision)
        click.echo(f"database migrated to {revision}")


# --- user --------------------------------------------------------------------------------


@main.group()
def user() -> None:
    """Staff accounts and roles."""


@user.command("create")
@click.option("--username", prompt=True)
@click.option("--display-name", default="", help="Name shown on screens (default: the user name).")
@click.option("--role", "roles", multiple=True, required=True, help="Repeat for several roles, e.g. --role admin.")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
def user_create(username: str, display_name: str, roles: tuple[str, ...], password: str) -> None:
    """Create a staff account, e.g. the first admin: examhall user create --role admin."""
    from examhall.security import service
    from examhall.security.passwords import Passwords

    settings = _settings()

    async def work(db: Database) -> str:
        async with db.session() as session:
            created = await service.create_user(
                session,
                Passwords(settings),
                username=username,
                display_name=display_name or username,
                password=password,
                roles=list(roles),
                actor=cli_actor(),
            )
            return created.username

    with database(settings) as url:
        upgrade(url)
        try:
            name = run_with_db(url, settings, work)
        except service.AccountError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"created user {name} with role(s) {', '.join(sorted(set(roles)))}")


@user.command("roles")
@click.argument("username")
@click.option("--role", "roles", multiple=True, required=True, help="The complete new set of roles.")
def user_roles(username: str, roles: tuple[str, ...]) -> None:
    """Replace a user's roles (audited; their open sessions end)."""
    from examhall.security import service

    settings = _settings()

    async def work(db: Database) -> None:
        async with db.session() as session:
            found = await service.find_user(session, username)
            if found is None:
                raise service.AccountError(f"no user named {username!r}")
            await service.set_roles(session, found.id, list(roles), actor=cli_actor())

    with database(settings) as url:
        try:
            run_with_db(url, settings, work)
        except service.AccountError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"{username}: roles are now {', '.join(sorted(set(roles)))}")


# --- audit -------------------------------------------------------------------------------


@main.group()
def audit() -> None:
    """The hash-chained audit log (R-SEC-3)."""


@audit.command("verify")
def audit_verify() -> None:
    """Check every entry's hash and link; exit 1 naming the first bad entry."""
    from examhall.security import audit as audit_log

    settings = _settings()

    async def work(db: Database) -> tuple[int, Any]:
        async with db.session() as session:
            return await audit_log.verify(session)

    with database(settings) as url:
        checked, problem = run_with_db(url, settings, work)
    if problem is None:
        click.echo(f"audit chain intact: {checked} entries verified")
        return
    click.echo(f"audit chain BROKEN at entry {problem.entry_id}: {problem.reason}", err=True)
    click.echo(f"({checked} entries verified before it)", err=True)
    sys.exit(1)


# --- bank --------------------------------------------------------------------------------


def _progress_reader(path: Path, existing: Any) -> Any:
    """Read a bank file with a progress bar on the terminal."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from examhall.bank.io import read_bank

    with Progress(TextColumn("reading {task.description}"), BarColumn(), MofNCompleteColumn()) as bar:
        task = bar.add_task(path.name, total=None)

        def tick(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        return read_bank(path, existing=existing, progress=tick)


@main.group()
def bank() -> None:
    """The question bank (题库): import, export, versions (R-BANK)."""


@bank.command("import")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--skip-bad", is_flag=True, help="Import the good rows even when some rows are bad.")
@click.option("--version-id", type=int, default=None, help="For a .csv of items: the bank version it belongs to.")
def bank_import(path: Path, skip_bad: bool, version_id: int | None) -> None:
    """Import a bank: a canonical folder, .json, .xlsx or .csv (R-BANK-5).

    Every bad row is listed with its row number and reason; nothing is imported from a file
    with errors unless --skip-bad is given.
    """
    from examhall.bank import service

    settings = _settings()
    with database(settings) as url:
        upgrade(url)

        async def existing_doc(db: Database) -> Any:
            if version_id is None:
                return None
            async with db.session() as session:
                return await service.bank_document(session, version_id)

        try:
            existing = run_with_db(url, settings, existing_doc)
        except service.BankError as exc:
            raise click.ClickException(str(exc)) from exc
        result = _progress_reader(path, existing)
        for warning in result.warnings:
            click.echo(f"warning: {warning}", err=True)
        for error in result.errors:
            where = f"row {error.row}" if error.row else "file"
            ident = f" ({error.item_id})" if error.item_id else ""
            click.echo(f"{error.source}: {where}{ident} {error.field}: {error.message}", err=True)
        if result.document is None:
            raise click.ClickException(f"{path.name} cannot be read; nothing was imported")
        if result.errors and not skip_bad:
            raise click.ClickException(
                f"{len(result.errors)} bad row(s) in {path.name}; nothing was imported "
                "(fix them, or use --skip-bad to import the good rows)"
            )

        async def store(db: Database) -> Any:
            async with db.session() as session:
                return await service.import_bank(session, result.document, Actor(cli_actor()))

        try:
            summary = run_with_db(url, settings, store)
        except service.BankError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(
        f"bank version {summary.bank_version_id}: {summary.items_added} item(s) added, "
        f"{summary.items_revised} revised, {summary.items_unchanged} unchanged, "
        f"{summary.knowledge_points_added} knowledge point(s) added, {summary.blueprints_saved} blueprint(s) saved"
        + (f"; {len(result.errors)} bad row(s) skipped" if result.errors else "")
    )


@bank.command("export")
@click.option("--version-id", type=int, required=True)
@click.option("--format", "fmt", type=click.Choice(["yaml", "json", "xlsx", "csv"]), default="xlsx", show_default=True)
@click.argument("out", type=click.Path(path_type=Path))
def bank_export(version_id: int, fmt: str, out: Path) -> None:
    """Export a bank version (registered in the bank usage register, R-BANK-4)."""
    from examhall.bank import io, service

    settings = _settings()

    async def work(db: Database) -> Any:
        async with db.session() as session:
            return await service.export_bank(session, version_id, Actor(cli_actor()), fmt)

    with database(settings) as url:
        try:
            doc = run_with_db(url, settings, work)
        except service.BankError as exc:
            raise click.ClickException(str(exc)) from exc
    writer = {"yaml": io.write_folder, "json": io.write_json, "xlsx": io.write_xlsx, "csv": io.write_csv}[fmt]
    writer(doc, out)
    click.echo(f"exported {len(doc.items)} item(s) of bank version {version_id} to {out}")


@bank.command("versions")
def bank_versions() -> None:
    """List the bank versions and their status (draft, trial, live, retired)."""
    from examhall.bank import service

    settings = _settings()

    async def work(db: Database) -> list[tuple[Any, ...]]:
        async with db.session() as session:
            return [
                (v.id, v.occupation.name, v.version, v.standard_year, v.status)
                for v in await service.list_versions(session)
            ]

    with database(settings) as url:
        rows = run_with_db(url, settings, work)
    for row in rows:
        click.echo("{:>4}  {}  {}  ({})  {}".format(*row))


@bank.command("status")
@click.argument("version_id", type=int)
@click.argument("target", type=click.Choice(["trial", "live", "retired"]))
def bank_status(version_id: int, target: str) -> None:
    """Move a bank version along draft → trial → live → retired (R-BANK-2/3)."""
    from examhall.bank import service

    settings = _settings()

    async def work(db: Database) -> str:
        async with db.session() as session:
            version = await service.set_version_status(session, version_id, target, Actor(cli_actor()))
            return version.status

    with database(settings) as url:
        try:
            status = run_with_db(url, settings, work)
        except service.BankError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"bank version {version_id} is now {status}")


# --- demo --------------------------------------------------------------------------------


# --- exam day ----------------------------------------------------------------------------


@main.group()
def receipt() -> None:
    """Candidates' submission receipts (R-SCORE-7)."""


RECEIPT_VERDICTS = {
    "valid": "VALID: the stored answers are exactly those the receipt was issued for",
    "answers_changed": "CHANGED: the stored answers differ from those the receipt was issued for",
    "code_mismatch": "MISMATCH: the code does not belong to this attempt's signature",
    "invalid_key": "KEY: the site's receipt key cannot check this signature (another site or a lost key?)",
    "unknown": "UNKNOWN: no submitted attempt carries this receipt code",
    "malformed": "MALFORMED: a receipt code is 16 letters and digits, e.g. ABCD-EFGH-JKLM-NPQR",
}


@receipt.command("verify")
@click.argument("code")
def receipt_verify(code: str) -> None:
    """Check a receipt code against the stored answers; exit 0 only when valid."""
    from examhall.sittings import examday

    settings = _settings()

    async def work(db: Database) -> tuple[str, Any]:
        async with db.session() as session:
            verdict, attempt = await examday.verify_receipt(session, settings, code)
            facts = None
            if attempt is not None:
                facts = (attempt.id, attempt.sitting_id, attempt.candidate_id, attempt.closed_at, attempt.outcome)
            return verdict, facts

    with database(settings) as url:
        verdict, facts = run_with_db(url, settings, work)
    click.echo(RECEIPT_VERDICTS.get(verdict, verdict))
    if facts is not None:
        attempt_id, sitting_id, candidate_id, closed_at, outcome = facts
        click.echo(
            f"  attempt {attempt_id}, sitting {sitting_id}, candidate {candidate_id}, "
            f"{outcome} at {closed_at.isoformat()}"
        )
    if verdict != "valid":
        sys.exit(1)


@main.group()
def terminal() -> None:
    """Exam-room terminals (R-SEC-2)."""


@terminal.command("code")
@click.option("--room", "room_id", type=int, required=True, help="Room id.")
@click.option("--seat", "seat_no", type=int, default=None, help="Seat number; leave out for a spare terminal.")
def terminal_code(room_id: int, seat_no: int | None) -> None:
    """Issue a one-time enrollment code; type it at /terminal on the exam PC."""
    from examhall.security import terminals

    settings = _settings()

    async def work(db: Database) -> str:
        async with db.session() as session:
            return await terminals.issue_code(session, room_id, seat_no, Actor(cli_actor()), datetime.now(UTC))

    with database(settings) as url:
        try:
            code = run_with_db(url, settings, work)
        except terminals.TerminalError as exc:
            raise click.ClickException(str(exc)) from exc
    where = f"seat {seat_no}" if seat_no is not None else "a spare terminal"
    click.echo(f"{code}  (room {room_id}, {where}; valid {terminals.CODE_VALID_HOURS} hours, once)")


@main.command()
def demo() -> None:
    """Load the demo site into the database (what serve --demo does) and print the logins."""
    from examhall.demo import seed_demo

    settings = _settings()
    with database(settings) as url:
        upgrade(url)
        site = run_with_db(url, settings, lambda db: seed_demo(db, settings))
    for fact in site.facts:
        click.echo(fact)
    for role, login, secret in site.logins:
        click.echo(f"{role:<22} {login:<16} {secret}")


if __name__ == "__main__":
    main()
