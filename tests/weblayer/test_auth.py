"""Who may call what is decided once, before anything else (issue 18 item 3): about 75 handlers
called api_user/page_user by hand, after Litestar had already decoded and checked the body, so
a caller without a session learnt the shape of every form (a 400 listing the fields) and a clerk
could probe the operator's endpoints the same way. Now middleware sets request.user from a bearer
token under /api or the session cookie on pages, guards check roles per controller, and a handler
anybody may call says so. Every route of both real apps is tried."""

from __future__ import annotations

import re
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from weblayer.auth import PUBLIC
from weblayer.problems import PROBLEM_BASE

JUNK = {"junk": ["not", "a", "valid", "body"]}


def routes(app: Litestar) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path with its parameters filled in, handler opt) of every HTTP route."""
    found = []
    for route in app.routes:
        path = re.sub(r"\{\w+:int\}", "1", re.sub(r"\{\w+:str\}", "x", route.path))
        for handler in getattr(route, "route_handlers", []):
            for method in sorted(getattr(handler, "http_methods", ())):
                if method not in ("HEAD", "OPTIONS") and handler.handler_name not in ("OpenAPIController",):
                    found.append((method, path, handler.opt))
    return found


def private_routes(client: TestClient) -> list[tuple[str, str]]:
    listed = [(method, path) for method, path, opt in routes(client.app) if not opt.get(PUBLIC) and not path.startswith("/api/schema")]
    assert len(listed) > 20  # both apps have dozens; an empty list would pass vacuously
    return listed


@pytest.mark.parametrize("app", ["node_client", "hub_client"])
def test_no_route_but_the_public_ones_answers_without_a_session(app, request):
    client: TestClient = request.getfixturevalue(app)
    client.cookies.clear()
    for method, path in private_routes(client):
        answer = client.request(method, path, json=JUNK, follow_redirects=False)
        if path.startswith("/api/"):
            assert (answer.status_code, answer.json()["type"]) == (401, PROBLEM_BASE + "not-authenticated"), f"{method} {path}"
        else:
            assert (answer.status_code, answer.headers.get("location")) in ((302, "/login"), (303, "/login")), f"{method} {path}"


def _token(client: TestClient, username: str, password: str) -> dict[str, str]:
    answer = client.post("/api/login", json={"username": username, "password": password})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def test_a_clerk_is_refused_the_operators_routes_before_the_body_is_read(hub_client):
    clerk, operator = _token(hub_client, "clerk-mzj", "pw"), _token(hub_client, "operator", "op-pass")
    for method, path, body in (
        ("PUT", "/api/catalog/items/x", JUNK),
        ("POST", "/api/enrolment-codes", JUNK),
        ("POST", "/api/nodes/x/revoke", JUNK),
        ("POST", "/api/calendar", JUNK),
        ("GET", "/api/dashboard", None),
    ):
        answer = hub_client.request(method, path, json=body, headers=clerk)
        assert (answer.status_code, answer.json()["type"]) == (403, PROBLEM_BASE + "forbidden"), f"{method} {path}"
    answer = hub_client.post("/api/applications/x/decision", json=JUNK, headers=operator)  # and the other way round
    assert answer.status_code == 403


def test_the_api_takes_no_cookie_and_the_pages_no_bearer_token(node_client):
    token = re.search(r'name="_csrf_token" value="([^"]+)"', node_client.get("/login").text).group(1)
    node_client.post("/login", data={"username": "agent", "password": "pw", "_csrf_token": token})
    assert node_client.get("/fees").status_code == 200  # the session cookie serves the pages
    assert node_client.get("/api/fees").status_code == 401  # not the API: a cookie there would be a CSRF hole
    bearer = _token(node_client, "agent", "pw")
    node_client.cookies.clear()
    assert node_client.get("/api/fees", headers=bearer).status_code == 200
    assert node_client.get("/fees", headers=bearer, follow_redirects=False).headers["location"] == "/login"
