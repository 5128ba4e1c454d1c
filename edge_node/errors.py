"""Domain errors of the edge node, each with a Chinese message; web/errors.py maps them to HTTP.

    NodeError
    ├── InvalidInput        400  fix the field named in ``field`` and submit again
    ├── NotAuthenticated    401
    ├── Forbidden           403
    ├── NotFound            404
    └── Conflict            409  the case is not in a state that allows this
"""

from __future__ import annotations


class NodeError(Exception):
    status = 400
    type_slug = "invalid-input"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(NodeError):
    pass


class NotAuthenticated(NodeError):
    status = 401
    type_slug = "not-authenticated"


class Forbidden(NodeError):
    status = 403
    type_slug = "forbidden"


class NotFound(NodeError):
    status = 404
    type_slug = "not-found"


class Conflict(NodeError):
    status = 409
    type_slug = "conflict"
