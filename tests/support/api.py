"""Clients of the apps' HTTP interfaces: a logged-in JSON API client, a form login through Litestar's test client."""

from __future__ import annotations

import re

import httpx
from litestar.testing import TestClient


class Api:
    """A logged-in JSON API client for one service (hub or node)."""

    def __init__(self, base_url: str, username: str, password: str) -> None:
        self.client = httpx.Client(base_url=base_url, timeout=30)
        response = self.client.post("/api/login", json={"username": username, "password": password})
        response.raise_for_status()
        self.client.headers["Authorization"] = f"Bearer {response.json()['token']}"

    def get(self, path: str, **kw):
        return self.client.get(path, **kw)

    def post(self, path: str, **kw):
        return self.client.post(path, **kw)

    def put(self, path: str, **kw):
        return self.client.put(path, **kw)


def login(client: TestClient) -> None:
    token = re.search(r'name="_csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    client.post("/login", data={"username": "agent", "password": "pw", "_csrf_token": token})
