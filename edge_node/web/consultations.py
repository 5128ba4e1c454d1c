"""咨询导办 at the window (edge_node/consultations.py): the quick form and the day's list; the API."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, get, post
from litestar.params import FromQuery, JSONBody, URLEncodedBody
from litestar.response import Redirect, Response, Template

from weblayer.decoding import Body, Line, Text
from weblayer.errors import ServiceError

from .. import catalog, consultations
from ..appointments import today
from .appointments import day_of
from .context import Ctx, NodeContext, NodeRequest, page


class ConsultationIn(Body):
    question: Line
    answer: Text = ""
    item_code: Line = ""
    case_followed: bool = False  # the citizen's case was taken in (or will be, with the one-time notice)


class ConsultationOut(msgspec.Struct):
    id: str
    item_code: str
    question: str
    answer: str
    case_followed: bool
    at: str
    agent: str


def _page(ctx: NodeContext, user: Any, status_code: int = 200, error: ServiceError | None = None, form: dict[str, str] | None = None) -> Template:
    return page(
        ctx,
        "consultations.html",
        status_code=status_code,
        user=user,
        rows=consultations.of_day(ctx.store, today()),
        items=catalog.list_items(ctx.store),
        error=error,
        form=form or {},
    )


class ConsultationPages(Controller):
    @get("/consultations", sync_to_thread=True)
    def consultations_page(self, request: NodeRequest, ctx: Ctx) -> Template:
        return _page(ctx, request.user)

    @post("/consultations", sync_to_thread=True)
    def record(self, request: NodeRequest, ctx: Ctx, data: URLEncodedBody[dict[str, str]]) -> Response:
        try:
            consultations.record(
                ctx.store, request.user, data.get("question", ""), data.get("answer", ""), data.get("item_code", ""), data.get("case_followed") == "1"
            )
        except ServiceError as exc:
            return _page(ctx, request.user, exc.status, exc, data)
        ctx.sync.wake_uplink()
        return Redirect("/consultations")


class ConsultationsApi(Controller):
    path = "/consultations"

    @get("/", sync_to_thread=True)
    def api_day(self, ctx: Ctx, day: FromQuery[str] = "") -> list[ConsultationOut]:
        """The consultations recorded at this point on a day (default today, Beijing time)."""
        return [
            msgspec.convert(r | {"case_followed": bool(r["case_followed"])}, ConsultationOut) for r in consultations.of_day(ctx.store, day_of(day))
        ]

    @post("/", sync_to_thread=True, status_code=201)
    def api_record(self, request: NodeRequest, ctx: Ctx, data: JSONBody[ConsultationIn]) -> ConsultationOut:
        """Record a consultation at the window: what was asked, the answer given, whether a case followed."""
        row = consultations.record(ctx.store, request.user, data.question, data.answer, data.item_code, data.case_followed)
        ctx.sync.wake_uplink()
        return msgspec.convert(row | {"case_followed": bool(row["case_followed"])}, ConsultationOut)


API = [ConsultationsApi]
PAGES = [ConsultationPages]
