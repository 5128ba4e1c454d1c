"""Domain errors of the hub. Each carries a Chinese message for people, an HTTP status and a
problem type for the API (RFC 9457); web/errors.py is the one place that maps them.

    HubError
    ├── InvalidInput        400  the request itself is wrong; fix it and try again
    ├── NotAuthenticated    401  log in first
    ├── Forbidden           403  your role or department may not do this
    ├── NotFound            404
    └── Conflict            409  the case is not in a state that allows this
"""

from __future__ import annotations


class HubError(Exception):
    status = 400
    type_slug = "invalid-input"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(HubError):
    pass


class NotAuthenticated(HubError):
    status = 401
    type_slug = "not-authenticated"


class Forbidden(HubError):
    status = 403
    type_slug = "forbidden"


class NotFound(HubError):
    status = 404
    type_slug = "not-found"


class Conflict(HubError):
    status = 409
    type_slug = "conflict"
