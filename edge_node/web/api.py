"""JSON API of the node (what the UI does, for scripts and tests)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromPath, JSONBody, MultipartBody

from .. import auth, cases, catalog, materials
from ..errors import InvalidInput
from ..intake import mask_id
from .context import api_user, node, sync_status


MAX_UPLOAD = 21 * 1024 * 1024  # 20 MB of file plus the form around it; the domain enforces 20 MB


class LoginIn(msgspec.Struct):
    username: str
    password: str


class ApplicationIn(msgspec.Struct):
    item_code: str
    applicant_name: str
    applicant_id_number: str
    applicant_phone: str = ""
    by_proxy: bool = False


class PickupIn(msgspec.Struct):
    collector_name: str


def application_out(row: Any) -> dict[str, Any]:
    out = dict(row)
    out["applicant_id_number"] = mask_id(out["applicant_id_number"])
    out["status_text"] = cases.STATUS_TEXT.get(out["status"], out["status"])
    return out


@post("/api/login", sync_to_thread=True, status_code=200)
def api_login(request: Request, data: JSONBody[LoginIn]) -> dict[str, Any]:
    user, token = auth.log_in(node(request).store, data.username, data.password)
    return {"token": token} | user


@get("/api/status", sync_to_thread=True)
def api_status(request: Request) -> dict[str, Any]:
    return sync_status(node(request))


@get("/api/catalog", sync_to_thread=True)
def api_catalog(request: Request) -> list[dict[str, Any]]:
    api_user(request)
    return catalog.list_items(node(request).store)


@post("/api/applications", sync_to_thread=True, status_code=201)
def api_submit(request: Request, data: JSONBody[ApplicationIn]) -> dict[str, Any]:
    user = api_user(request)
    ctx = node(request)
    app = cases.submit_application(ctx.store, msgspec.structs.asdict(data), user)
    ctx.sync.wake_uplink()
    return application_out(app)


@get("/api/applications", sync_to_thread=True)
def api_list(request: Request) -> list[dict[str, Any]]:
    api_user(request)
    return [application_out(r) for r in node(request).store.query("SELECT * FROM applications ORDER BY created_at DESC")]


@get("/api/applications/{application_id:str}", sync_to_thread=True)
def api_get(request: Request, application_id: FromPath[str]) -> dict[str, Any]:
    api_user(request)
    return application_out(cases.get_application(node(request).store, application_id))


@post("/api/applications/{application_id:str}/pickup", sync_to_thread=True, status_code=200)
def api_pickup(request: Request, application_id: FromPath[str], data: JSONBody[PickupIn]) -> dict[str, Any]:
    user = api_user(request)
    ctx = node(request)
    row = cases.record_pickup(ctx.store, application_id, data.collector_name, user)
    ctx.sync.wake_uplink()
    return application_out(row)


@post("/api/applications/{application_id:str}/materials", sync_to_thread=True, status_code=201, request_max_body_size=MAX_UPLOAD)
def api_attach(request: Request, application_id: FromPath[str], data: MultipartBody[dict[str, Any]]) -> dict[str, Any]:
    """multipart/form-data: ``material`` (its name, e.g. 居民身份证) and ``file`` (JPG, PNG or PDF)."""
    user = api_user(request)
    ctx = node(request)
    upload = data.get("file")
    if not isinstance(upload, UploadFile):
        raise InvalidInput("请选择要上传的文件", field="file")
    row = materials.attach_material(ctx.store, ctx.blobs_dir, application_id, str(data.get("material", "")), upload.filename or "", upload.file.read(), user)
    ctx.sync.wake_uplink()
    return row


@get("/api/applications/{application_id:str}/materials", sync_to_thread=True)
def api_materials(request: Request, application_id: FromPath[str]) -> list[dict[str, Any]]:
    api_user(request)
    return materials.list_materials(node(request).store, application_id)


ROUTES = [api_attach, api_materials, api_login, api_status, api_catalog, api_submit, api_list, api_get, api_pickup]
