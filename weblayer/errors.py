"""The errors both apps raise from their domain code, each with a Chinese message for people and
an HTTP status and problem type for the API (RFC 9457); ``weblayer.problems`` is the one place that
maps them. Framework-free: domain modules import this and nothing of Litestar.

    ServiceError
    ├── InvalidInput        400  the request itself is wrong: fix the field named in ``field``
    │                            and submit again
    ├── NotAuthenticated    401  log in first
    ├── Forbidden           403  this role, department or point may not do this
    ├── NotFound            404
    ├── Conflict            409  the object is not in a state that allows this
    └── Unavailable         503  a part the service needs is down (its database, NATS): try later
"""

from __future__ import annotations

__all__ = ["Conflict", "Forbidden", "InvalidInput", "NotAuthenticated", "NotFound", "ServiceError", "Unavailable"]


class ServiceError(Exception):
    status = 400
    type_slug = "invalid-input"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(ServiceError):
    pass


class NotAuthenticated(ServiceError):
    status = 401
    type_slug = "not-authenticated"


class Forbidden(ServiceError):
    status = 403
    type_slug = "forbidden"


class NotFound(ServiceError):
    status = 404
    type_slug = "not-found"


class Conflict(ServiceError):
    status = 409
    type_slug = "conflict"


class Unavailable(ServiceError):
    status = 503
    type_slug = "unavailable"
