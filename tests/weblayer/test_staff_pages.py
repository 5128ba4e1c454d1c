"""账号管理 (issue 22 item 4): at the hub operators manage operators and clerks, at a township
point its staff manage the point's accounts — pages and API, each change logged, the last
working operator or staff account kept, bad input refused with a clear error and nothing changed."""

from __future__ import annotations

import re
from pathlib import Path

from litestar.testing import TestClient

from edge_node.auth import add_user
from edge_node.store import Store
from tests.support.builders import node_dir


def csrf_of(html: str) -> str:
    return re.search(r'name="_csrf_token" value="([^"]+)"', html).group(1)


def form_login(client: TestClient, username: str, password: str) -> str:
    csrf = csrf_of(client.get("/login").text)
    client.post("/login", data={"username": username, "password": password, "_csrf_token": csrf})
    return csrf_of(client.get("/users").text)


def test_hub_operators_manage_accounts(hub_client: TestClient):
    token = hub_client.post("/api/login", json={"username": "operator", "password": "op-pass"}).json()["token"]
    op = {"Authorization": f"Bearer {token}"}
    clerk = {"Authorization": "Bearer " + hub_client.post("/api/login", json={"username": "clerk-mzj", "password": "pw"}).json()["token"]}
    added = hub_client.post(
        "/api/users",
        json={"username": "clerk-x", "display_name": "新审批员", "role": "clerk", "password": "secret1", "department": "mzj"},
        headers=op,
    )
    assert added.status_code == 201 and added.json() == {
        "username": "clerk-x",
        "display_name": "新审批员",
        "role": "clerk",
        "department": "mzj",
        "disabled_at": None,
    }
    again = hub_client.post(
        "/api/users", json={"username": "clerk-x", "display_name": "又一个", "role": "clerk", "password": "secret1", "department": "mzj"}, headers=op
    )
    assert again.status_code == 409 and again.headers["content-type"].startswith("application/problem+json")
    short = hub_client.post(
        "/api/users", json={"username": "y", "display_name": "Y", "role": "clerk", "password": "123", "department": "mzj"}, headers=op
    )
    assert short.status_code == 400 and short.json()["field"] == "password"
    # new-user pass: 123456, or the account's own name, was taken
    for guessed in (
        "123456",
        "888888",
        "aaaaaaaa",
        "clerk-y",
        "CLERK-Y",
        "Password",
        "password1",
        "woaini1314",
        "1q2w3e4r",
        "qwerty123",
        "１２３４５６",
        "123456 ",
    ):
        weak = {"username": "clerk-y", "display_name": "Y", "role": "clerk", "password": guessed, "department": "mzj"}
        refused = hub_client.post("/api/users", json=weak, headers=op)
        assert refused.status_code == 400 and "太容易猜到" in refused.json()["detail"], guessed
    assert hub_client.post("/api/users/clerk-x/password", json={"password": "clerk-x"}, headers=op).status_code == 400
    nodept = hub_client.post("/api/users", json={"username": "z", "display_name": "Z", "role": "clerk", "password": "secret1"}, headers=op)
    assert nodept.status_code == 400 and nodept.json()["field"] == "department"
    assert hub_client.get("/api/users", headers=clerk).status_code == 403
    last = hub_client.put("/api/users/operator", json={"disabled": True}, headers=op)
    assert last.status_code == 409 and "最后一个" in last.json()["detail"]
    assert hub_client.put("/api/users/nobody", json={"disabled": True}, headers=op).status_code == 404
    assert hub_client.post("/api/users/clerk-x/password", json={"password": "secret2"}, headers=op).status_code == 204
    assert hub_client.post("/api/login", json={"username": "clerk-x", "password": "secret2"}).status_code == 200
    moved = hub_client.put("/api/users/clerk-x", json={"department": "rsj", "display_name": "改名审批员"}, headers=op).json()
    assert (moved["department"], moved["display_name"]) == ("rsj", "改名审批员")
    assert hub_client.put("/api/users/clerk-mzj", json={"disabled": True}, headers=op).json()["disabled_at"]
    assert hub_client.get("/api/queue", headers=clerk).status_code == 401  # a disabled clerk's session ends at once

    csrf = form_login(hub_client, "operator", "op-pass")
    mismatch = hub_client.post(
        "/users",
        data={
            "act": "add",
            "username": "w",
            "display_name": "W",
            "role": "clerk",
            "department": "mzj",
            "password": "secret1",
            "password2": "secret9",
            "_csrf_token": csrf,
        },
    )
    assert mismatch.status_code == 400 and "两次输入的密码不一致" in mismatch.text
    done = hub_client.post(
        "/users",
        data={
            "act": "add",
            "username": "w",
            "display_name": "王五",
            "role": "clerk",
            "department": "mzj",
            "password": "secret1",
            "password2": "secret1",
            "_csrf_token": csrf,
        },
    )
    assert done.status_code == 200 and "已新增账号 w" in done.text and 'id="user-w"' in done.text
    assert "已新增账号 nobody" not in hub_client.get("/users", params={"done": "add", "who": "nobody"}).text  # says only what is so
    actions = hub_client.get("/api/actions", headers=op).json()
    assert {(a["action"], a["actor"]) for a in actions} >= {
        ("user.added", "operator"),
        ("user.password_reset", "operator"),
        ("user.changed", "operator"),
    }


def test_township_staff_manage_the_points_accounts(tmp_path: Path):
    from edge_node.app import create_app
    from edge_node.settings import Settings

    data = node_dir(tmp_path / "node", identity={"kind": "township"}, users=(("agent", "代办员", "agent-pw"),))
    store = Store(data / "node.sqlite3")
    add_user(store, "staff", "窗口 刘洋", "township_staff", "staff-pw")
    store.close()
    with TestClient(create_app(Settings(data_dir=data))) as client:
        staff = {"Authorization": "Bearer " + client.post("/api/login", json={"username": "staff", "password": "staff-pw"}).json()["token"]}
        agent = {"Authorization": "Bearer " + client.post("/api/login", json={"username": "agent", "password": "agent-pw"}).json()["token"]}
        assert client.get("/api/users", headers=agent).status_code == 403  # an agent manages nobody
        added = client.post(
            "/api/users", json={"username": "cadre", "display_name": "村委 张", "role": "village_agent", "password": "cadre-pw"}, headers=staff
        )
        assert added.status_code == 201 and added.json()["role"] == "village_agent"
        assert (
            client.post(
                "/api/users", json={"username": "bad name", "display_name": "X", "role": "village_agent", "password": "secret1"}, headers=staff
            ).json()["field"]
            == "username"
        )
        assert (
            client.post("/api/users", json={"username": "x", "display_name": "X", "role": "mayor", "password": "secret1"}, headers=staff).json()[
                "field"
            ]
            == "role"
        )
        assert client.put("/api/users/staff", json={"disabled": True}, headers=staff).status_code == 409  # the last staff account
        # new-user pass: staff could make an approver, i.e. approve their own intake
        assert (
            client.post(
                "/api/users", json={"username": "appr", "display_name": "审批", "role": "township_approver", "password": "secret1"}, headers=staff
            ).status_code
            == 403
        )
        assert client.put("/api/users/cadre", json={"role": "township_approver"}, headers=staff).status_code == 403
        assert client.put("/api/users/agent", json={"disabled": True}, headers=staff).json()["disabled_at"]
        assert client.get("/api/applications", headers=agent).status_code == 401
        csrf = form_login(client, "staff", "staff-pw")
        page = client.post("/users", data={"act": "reset", "username": "cadre", "password": "new-pw1", "password2": "new-pw1", "_csrf_token": csrf})
        assert page.status_code == 200 and "已重置 cadre 的密码" in page.text and "重置密码" in page.text
        assert 'id="account-log"' in page.text and page.text.count("新增账号") >= 2
    store = Store(data / "node.sqlite3")
    assert [(r["actor"], r["action"], r["username"]) for r in store.query("SELECT actor, action, username FROM account_log ORDER BY id")] == [
        ("staff", "user.added", "cadre"),
        ("staff", "user.changed", "agent"),
        ("staff", "user.password_reset", "cadre"),
    ]
    store.close()


def test_a_page_refused_to_a_signed_in_clerk_keeps_their_own_header(hub_client: TestClient):
    """New-user pass: a clerk opening /users got the 403 page with the public header, as if signed out."""
    import re

    token = re.search(r'name="_csrf_token" value="([^"]+)"', hub_client.get("/login").text).group(1)
    hub_client.post("/login", data={"username": "clerk-mzj", "password": "pw", "_csrf_token": token})
    refused = hub_client.get("/users")
    assert refused.status_code == 403 and "没有权限" in refused.text
    assert 'href="/queue"' in refused.text and "退出" in refused.text  # their navigation, and a way out
