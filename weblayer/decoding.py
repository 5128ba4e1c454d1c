"""Strict JSON bodies for both APIs (issue 18 finding 4): Litestar converts a body to its struct
leniently (msgspec ``strict=False``), so ``"0"`` passed as a number, ``"true"`` as a boolean,
and a body sent as ``text/plain`` was read as JSON all the same. A script that sends a number as
text has a bug the county should hear about, not a record built on a guess.

The API router's ``before_request`` hook checks every JSON body against the handler's struct
with ``strict=True`` before Litestar reads it: numbers must be numbers, booleans booleans, and
the body must say ``application/json``. The field types below bound every string and list at
the edge, generously; the domain's own limits (and their Chinese messages) are tighter.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable
from typing import Annotated, Any

import msgspec
from litestar import Request
from litestar.enums import RequestEncodingType
from litestar.params import BodyKwarg

from .errors import InvalidInput, ServiceError

__all__ = ["MAX_ITEMS", "Body", "Items", "Line", "Text", "UnsupportedMediaType", "no_nul", "no_nul_in_forms", "strict_json"]

MAX_LINE = 200  # a name, a code, a number, a reference
MAX_TEXT = 4000  # free text: a reason, a note, a complaint (the domain allows 500 to 2,000)
MAX_ITEMS = 100  # entries in a list (materials ticked, dates, close ids)

NO_NUL = "^[^\x00]*$"  # PostgreSQL refuses NUL in text: "a\u0000b" in a body was a 500 there
Line = Annotated[str, msgspec.Meta(max_length=MAX_LINE, pattern=NO_NUL)]
Text = Annotated[str, msgspec.Meta(max_length=MAX_TEXT, pattern=NO_NUL)]
Items = Annotated[list[Line], msgspec.Meta(max_length=MAX_ITEMS)]

_TYPES = {"int": "整数", "str": "文本", "bool": "true 或 false", "array": "列表", "object": "对象", "float": "数字", "null": "null"}
_EXPECTED = re.compile(r"Expected `([^`]+)`, got `([^`]+)`")
_LONGEST = re.compile(r"Expected `(\w+)` of length <= (\d+)")
_UNKNOWN = re.compile(r"Object contains unknown field `(\w+)`")
_MISSING = re.compile(r"Object missing required field `(\w+)`")
_ENUM = re.compile(r"Invalid enum value (.+?)(?: - at |$)")
_AT = re.compile(r" - at `\$\.?([^`]*)`$")


_decoders: weakref.WeakKeyDictionary[Callable[..., Any], msgspec.json.Decoder[Any] | None] = weakref.WeakKeyDictionary()  # by handler function


class Body(msgspec.Struct, forbid_unknown_fields=True):
    """A request body: a field the API does not know is refused, naming it, instead of ignored
    (a typo such as ``materials_check`` was read as no materials at all)."""


class UnsupportedMediaType(ServiceError):
    status = 415
    type_slug = "unsupported-media-type"


def _decoder(request: Request[Any, Any, Any]) -> msgspec.json.Decoder[Any] | None:
    """The strict decoder of the handler's JSON body, made once per handler; None if it takes none."""
    handler = request.route_handler
    if handler.fn not in _decoders:
        data = handler.parsed_fn_signature.parameters.get("data")
        kwarg = data.kwarg_definition if data else None
        json_body = data is not None and (not isinstance(kwarg, BodyKwarg) or kwarg.media_type == RequestEncodingType.JSON)
        _decoders[handler.fn] = msgspec.json.Decoder(data.annotation, strict=True) if json_body and data else None
    return _decoders[handler.fn]


def _message(error: msgspec.ValidationError) -> tuple[str, str | None]:
    text = str(error)
    at = _AT.search(text)
    field = at.group(1) if at else None
    expected, longest, missing = _EXPECTED.search(text), _LONGEST.search(text), _MISSING.search(text)
    if missing:
        return f"请求内容不符合要求：缺少必填字段 {missing.group(1)}", missing.group(1)
    if unknown := _UNKNOWN.search(text):
        return f"请求内容不符合要求：没有 {unknown.group(1)} 这个字段，请核对字段名", unknown.group(1)
    if enum := _ENUM.search(text):
        what = f"不能是 {enum.group(1)}：可选的值见 /api/schema"
    elif "matching regex" in text:
        what = "不能含 NUL 字符（\\x00）"
    elif "out of range" in text:
        what = "数值超出范围"
    elif longest:
        what = f"最多 {longest.group(2)} {'个字' if longest.group(1) == 'str' else '项'}，请精简后再提交"
    elif expected:
        want, got = (_TYPES.get(t.split(" ")[0], t) for t in expected.groups())
        what = f"应为{want}，收到的是{got}"
    else:
        what = _AT.sub("", text)
    return f"请求内容不符合要求：{field or '请求体'} {what}", field


def no_nul(request: Request[Any, Any, Any]) -> None:
    """Both routers' first check: a NUL character in the path or the query. No field takes one,
    and PostgreSQL refuses it in text ("invalid byte sequence"), which was a 500 wherever a
    query parameter reached a query (adversarial pass, issue 22)."""
    if "\x00" in request.url.path or any("\x00" in k or "\x00" in v for k, v in request.query_params.multi_items()):
        raise InvalidInput("地址里有 NUL 字符（\\x00）：请去掉后再试")


async def no_nul_in_forms(request: Request[Any, Any, Any]) -> None:
    """The pages router's check: no_nul, and no NUL in a form's text fields either (a name typed
    with one was a 500 on PostgreSQL; second adversarial pass). Files are not text: left as sent."""
    no_nul(request)
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if request.method == "POST" and media_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.form()  # (parsed once: the CSRF check has read it already)
        if any("\x00" in k or (isinstance(v, str) and "\x00" in v) for k, v in form.multi_items()):
            raise InvalidInput("表单里有 NUL 字符（\\x00）：请去掉后再提交")


async def strict_json(request: Request[Any, Any, Any]) -> None:
    """The API router's before_request hook (see the module's docstring)."""
    no_nul(request)
    decoder = _decoder(request)
    if decoder is None:
        return
    body = await request.body()
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if body and not (media_type == "application/json" or media_type.endswith("+json")):
        raise UnsupportedMediaType("请求体应为 JSON，并声明 Content-Type: application/json")
    try:
        decoder.decode(body)
    except msgspec.ValidationError as exc:
        message, field = _message(exc)
        raise InvalidInput(message, field=field) from None
    except (msgspec.DecodeError, RecursionError):  # RecursionError: JSON nested a thousand deep
        raise InvalidInput("请求体不是有效的 JSON") from None
