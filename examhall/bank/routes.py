"""Question bank JSON API under /api/v1/bank (bank keepers only, R-BANK-4); pages in bank/pages.py."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromPath, FromQuery, JSONBody, MultipartBody
from litestar.response import File
from litestar.status_codes import HTTP_200_OK, HTTP_400_BAD_REQUEST, HTTP_404_NOT_FOUND, HTTP_409_CONFLICT

from examhall.bank import io, service
from examhall.bank.rules import ITEM_TYPES
from examhall.deps import DbSession
from examhall.papers import service as papers_service
from examhall.security.rules import BANK_KEEPER
from examhall.security.web import actor_of, requires

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
EXPORT_TYPES = {
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", io.write_xlsx),
    "csv": ("text/csv; charset=utf-8", io.write_csv),
    "json": ("application/json", io.write_json),
}


class StatusIn(msgspec.Struct):
    target: str


class ImportForm(msgspec.Struct):
    file: UploadFile
    skip_bad: bool = False
    version_id: FromPath[int] | None = None


def bank_error(exc: Exception, status: int = HTTP_409_CONFLICT) -> Response[Any]:
    return Response({"error": "refused", "message": str(exc)}, status_code=status)


def version_out(v: Any, items: int | None = None) -> dict[str, Any]:
    return {
        "id": v.id,
        "occupation": v.occupation.name,
        "version": v.version,
        "standard": f"{v.standard_title} ({v.standard_year})",
        "levels": list(v.levels),
        "status": v.status,
        "items": items,
    }


async def import_upload(
    db_session: Any, upload: UploadFile, skip_bad: bool, version_id: FromPath[int] | None, actor: Any
) -> dict[str, Any]:
    """Read an uploaded bank file and store it unless it has errors (R-BANK-5). Shared by API and page."""
    content = await upload.read()
    name = Path(upload.filename or "upload").name
    report: dict[str, Any] = {"file": name, "errors": [], "warnings": [], "imported": None}
    if not content:
        report["errors"].append({"row": 0, "item_id": None, "field": "file", "message": "the file is empty"})
        return report
    if len(content) > MAX_UPLOAD_BYTES:
        report["errors"].append(
            {"row": 0, "item_id": None, "field": "file", "message": "the file is larger than 20 MB"}
        )
        return report
    existing = await service.bank_document(db_session, version_id) if version_id else None
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(content)
        result = io.read_bank(path, existing=existing)
    report["warnings"] = list(result.warnings)
    report["errors"] = [
        {"row": e.row, "item_id": e.item_id, "field": e.field, "message": e.message} for e in result.errors
    ]
    report["rows_read"] = result.rows_read
    if result.document is None or (result.errors and not skip_bad):
        return report
    summary = await service.import_bank(db_session, result.document, actor)
    report["imported"] = {
        "bank_version_id": summary.bank_version_id,
        "items_added": summary.items_added,
        "items_revised": summary.items_revised,
        "items_unchanged": summary.items_unchanged,
        "knowledge_points_added": summary.knowledge_points_added,
        "blueprints_saved": summary.blueprints_saved,
        "bad_rows_skipped": len(result.errors),
    }
    return report


class BankApi(Controller):
    path = "/api/v1/bank"
    tags = ["bank"]
    guards = [requires(BANK_KEEPER)]

    @get("/versions")
    async def versions(self, db_session: DbSession) -> list[dict[str, Any]]:
        counts = await service.item_counts(db_session)
        return [version_out(v, counts.get(v.id, 0)) for v in await service.list_versions(db_session)]

    @post("/versions/{version_id:int}/status", status_code=HTTP_200_OK)
    async def set_status(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        version_id: FromPath[int],
        data: JSONBody[StatusIn],
    ) -> Response[Any]:
        """draft → trial (after a completed mock exam) → live → retired (R-BANK-2/3)."""
        try:
            version = await service.set_version_status(db_session, version_id, data.target, actor_of(request))
        except service.BankError as exc:
            return bank_error(exc)
        return Response(version_out(version))

    @get("/versions/{version_id:int}/items")
    async def items(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        version_id: FromPath[int],
        kp: FromQuery[str | None] = None,
        type: FromQuery[str | None] = None,
        difficulty: FromQuery[int | None] = None,
        level: FromQuery[int | None] = None,
        q: FromQuery[str | None] = None,
        offset: FromQuery[int] = 0,
        limit: FromQuery[int] = 50,
    ) -> Response[Any]:
        if type and type not in ITEM_TYPES:
            return Response(
                {"error": "bad_type", "message": f"type must be one of {', '.join(ITEM_TYPES)}"},
                status_code=HTTP_400_BAD_REQUEST,
            )
        flt = service.ItemFilter(kp=kp, type=type, difficulty=difficulty, level=level, text=q)
        rows, total = await service.search_items(
            db_session, version_id, flt, offset=max(offset, 0), limit=min(max(limit, 1), 200)
        )
        await service.register_use(
            db_session,
            actor_of(request),
            "read",
            version_id,
            detail={"list": True, "filter": {k: v for k, v in vars(flt).items() if v}},
        )
        return Response({"total": total, "items": [service.item_out(r.item, r.revision) for r in rows]})

    @get("/items/{item_id:int}")
    async def item(
        self, request: Request[Any, Any, Any], db_session: DbSession, item_id: FromPath[int]
    ) -> Response[Any]:
        detail = await service.item_detail(db_session, item_id, actor_of(request))
        if detail is None:
            return Response({"error": "not_found", "message": "no such item"}, status_code=HTTP_404_NOT_FOUND)
        return Response(detail)

    @post("/import", status_code=HTTP_200_OK)
    async def import_file(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        data: MultipartBody[ImportForm],
    ) -> Response[Any]:
        """Upload a bank file; every bad row is reported and nothing is stored unless skip_bad (R-BANK-5)."""
        try:
            report = await import_upload(db_session, data.file, data.skip_bad, data.version_id, actor_of(request))
        except service.BankError as exc:
            await db_session.rollback()  # nothing of a refused file stays (R-BANK-5)
            return bank_error(exc)
        status = HTTP_200_OK if report["imported"] else HTTP_400_BAD_REQUEST
        return Response(report, status_code=status)

    @get("/versions/{version_id:int}/export")
    async def export(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        version_id: FromPath[int],
        format: FromQuery[str] = "xlsx",
    ) -> Response[Any]:
        if format not in EXPORT_TYPES:
            return Response(
                {"error": "bad_format", "message": "format must be xlsx, csv or json"}, status_code=HTTP_400_BAD_REQUEST
            )
        try:
            doc = await service.export_bank(db_session, version_id, actor_of(request), format)
        except service.BankError as exc:
            return bank_error(exc, HTTP_404_NOT_FOUND)
        media_type, writer = EXPORT_TYPES[format]
        folder = Path(tempfile.mkdtemp(prefix="examhall-export-"))
        path = folder / f"bank-{version_id}.{format}"
        writer(doc, path)
        return File(path=path, filename=f"{doc.occupation_name}-{doc.version}.{format}", media_type=media_type)

    @post("/versions/{version_id:int}/blueprints/check", status_code=HTTP_200_OK)
    async def check_blueprint(
        self, db_session: DbSession, version_id: FromPath[int], data: JSONBody[dict[str, Any]]
    ) -> Response[Any]:
        """Live feasibility check of a blueprint against the bank (R-PAPER-6)."""
        try:
            spec, problems = await papers_service.feasibility(db_session, version_id, data)
        except papers_service.PaperError as exc:
            return Response({"feasible": False, "problems": exc.params.get("problems", [str(exc)])})
        return Response(
            {
                "feasible": not problems,
                "problems": problems,
                "items": sum(sum(r.counts.values()) for r in spec.rows),
                "total_points": str(spec.total_points),
            }
        )

    @post("/versions/{version_id:int}/blueprints", status_code=HTTP_200_OK)
    async def save_blueprint(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        version_id: FromPath[int],
        data: JSONBody[dict[str, Any]],
    ) -> Response[Any]:
        try:
            blueprint = await papers_service.save_blueprint(db_session, version_id, data, actor_of(request))
        except papers_service.PaperError as exc:
            return Response(
                {"error": exc.code, "message": str(exc), "problems": exc.params.get("problems", [])},
                status_code=HTTP_400_BAD_REQUEST,
            )
        return Response({"id": blueprint.id, "name": blueprint.name, "level": blueprint.level})
