"""What both apps share lives once, in weblayer (issue 18 finding 7): about 270 lines of web code
stood twice, once in each app (error mapping, error classes, layout and CSS, the login, verify,
progress and error pages, display helpers, app wiring) and had begun to drift (two wordings of
the same 500). Read from the source, and rendered by both real apps."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import weblayer
from weblayer import auth, config, display, errors, problems

ROOT = Path(weblayer.__file__).parent.parent
APPS = ("edge_node", "central")
SHARED_NAMES = {name for module in (auth, config, display, errors, problems) for name in module.__all__} | {"EXCEPTION_HANDLERS", "_web_secret"}


def test_no_app_defines_again_what_weblayer_holds():
    again = []
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            for node in ast.parse(path.read_text(encoding="utf-8")).body:
                if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name in SHARED_NAMES:
                    again.append(f"{path.relative_to(ROOT)}: {node.name}")
    assert again == []


def test_no_app_keeps_its_own_copy_of_a_shared_page():
    shared = {p.name for p in (ROOT / "weblayer" / "templates").iterdir()}
    copies = [f"{app}: {p.name}" for app in APPS for p in (ROOT / app / "web" / "templates").iterdir() if p.name in shared]
    assert copies == []  # an app's copy would shadow the shared page (the app's directory comes first)


def test_both_apps_render_the_shared_pages_in_their_own_frame(node_client, hub_client):
    css = (ROOT / "weblayer" / "templates" / "layout.css").read_text(encoding="utf-8").splitlines()[0]
    for client, heading, frame in ((node_client, "代办员登录", "上村代办点"), (hub_client, "工作人员登录", "县级政务服务中枢")):
        page = client.get("/login").text
        assert css in page and f"<h1>{heading}</h1>" in page and f"一网 · {frame}" in page
        for path, marker in (("/verify", "电子证照核验"), ("/progress?receipt_no=X1", 'value="X1"')):
            answer = client.get(path)
            assert answer.status_code == 200 and marker in answer.text and css in answer.text


def test_both_apps_answer_errors_alike(node_client, hub_client):
    for client in (node_client, hub_client):
        page = client.get("/no-such-page")
        assert page.status_code == 404 and page.headers["content-type"].startswith("text/html") and "<h1>没有找到</h1>" in page.text
        api = client.get("/api/no-such-thing")
        assert api.status_code == 404 and api.headers["content-type"] == "application/problem+json"
        assert api.json()["type"] == problems.PROBLEM_BASE + "http-404" and api.json()["title"] == "没有找到"
        assert client.get("/api/applications").json()["type"] == problems.PROBLEM_BASE + "not-authenticated"


def test_a_method_not_allowed_and_options_say_which_methods_are(node_client, hub_client):
    """A 405 lost Litestar's Allow header in the problem mapping, and OPTIONS listed only the first
    method registered on a path (litestar#4169): GET /api/applications but not POST (schemathesis
    ST204, ST205)."""
    for client in (node_client, hub_client):
        refused = client.delete("/api/login")
        assert refused.status_code == 405 and set(refused.headers["allow"].split(", ")) == {"OPTIONS", "POST"}
    token = node_client.post("/api/login", json={"username": "agent", "password": "pw"}).json()["token"]
    options = node_client.options("/api/applications", headers={"Authorization": f"Bearer {token}"})
    assert options.status_code == 204 and options.headers["allow"] == "GET, OPTIONS, POST"


def test_an_e_licence_is_checked_by_a_posted_form_so_no_url_holds_its_id(node_client, hub_client):
    """The node's 离线核验 was a link with the whole licence in its query, and the licence holds the
    holder's full ID: it stayed in browser history (new-user pass, issue 18)."""
    node = (ROOT / "edge_node" / "web" / "templates" / "case.html").read_text(encoding="utf-8")
    assert "/verify?licence" not in node and 'action="/verify"' in node
    for client in (node_client, hub_client):
        form = client.get("/verify").text
        assert 'method="post" action="/verify"' in form
        token = re.search(r'name="_csrf_token" value="([^"]+)"', form).group(1)
        answer = client.post("/verify", data={"licence": "YWL1.not-a-licence", "_csrf_token": token})
        assert answer.status_code == 200 and "无效" in answer.text


def test_the_hub_and_a_point_on_one_host_keep_their_own_form_tokens(hub_client, node_client):
    """Issue 20 new-user pass: browsers share cookies across ports, and both apps named their CSRF
    cookie "csrftoken": logging in at a point then at the hub (the demo, one browser) failed the
    hub's CSRF check for good. Each app names its own, as it does its session cookie."""
    hub = {c.split("=")[0] for c in hub_client.get("/login").headers.get_list("set-cookie")}
    node = {c.split("=")[0] for c in node_client.get("/login").headers.get_list("set-cookie")}
    assert hub and node and not hub & node, (hub, node)
