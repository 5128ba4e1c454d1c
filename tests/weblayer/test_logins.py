"""Login throttling and bounded Argon2 (issue 18 finding 3). 200 wrong passwords at 8 at a time
were all answered, 40 logins at once took a node from 74 to 458 MiB, and an unknown username
answered in 35 ms against 150 ms for a wrong password. Real apps (Litestar's test client), real
Argon2."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from litestar.testing import TestClient

from edge_node.app import create_app
from edge_node.settings import Settings
from tests.support.builders import node_dir
from weblayer import passwords
from weblayer.throttle import ADDRESS_FAILURES, SUBJECT_FAILURES, WINDOW_S, Throttle, TooManyAttempts


@pytest.fixture
def client(tmp_path: Path):
    data = node_dir(tmp_path / "node", users=(("agent", "agent", "right-pw"), ("chief", "chief", "right-pw")))
    with TestClient(create_app(Settings(data_dir=data))) as client:
        yield client


def login(client: TestClient, username: str, password: str):
    return client.post("/api/login", json={"username": username, "password": password})


def test_an_account_is_locked_after_a_few_wrong_passwords_and_says_when_to_try_again(client):
    for _ in range(SUBJECT_FAILURES):
        assert login(client, "agent", "wrong").status_code == 401
    locked = login(client, "agent", "right-pw")  # the right password too: the account waits
    assert locked.status_code == 429 and locked.headers["retry-after"] and "分钟后再试" in locked.json()["detail"]
    assert locked.headers["content-type"].startswith("application/problem+json")
    assert login(client, "chief", "right-pw").status_code == 200  # another account is not held up


def test_the_login_page_says_it_in_chinese_too(client):
    import re

    for _ in range(SUBJECT_FAILURES):
        login(client, "agent", "wrong")
    token = re.search(r'name="_csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    page = client.post("/login", data={"username": "agent", "password": "right-pw", "_csrf_token": token})
    assert page.status_code == 429 and "分钟后再试" in page.text


def test_one_address_trying_many_accounts_is_held_up():
    throttle = Throttle("登录", clock=lambda: 0.0)
    for n in range(ADDRESS_FAILURES):
        throttle.failed(f"user{n}", "10.0.0.9")
    with pytest.raises(TooManyAttempts):
        throttle.check("someone-else", "10.0.0.9")
    throttle.check("someone-else", "10.0.0.10")  # another address may


def test_the_wait_ends_and_a_good_login_clears_the_count():
    now = [0.0]
    throttle = Throttle("登录", clock=lambda: now[0])
    for _ in range(SUBJECT_FAILURES):
        throttle.failed("agent", "a")
    with pytest.raises(TooManyAttempts) as held:
        throttle.check("agent", "b")
    assert held.value.retry_after_s == WINDOW_S
    now[0] = WINDOW_S + 1
    throttle.check("agent", "b")
    throttle.failed("agent", "b")
    throttle.succeeded("agent")
    for _ in range(SUBJECT_FAILURES - 1):
        throttle.failed("agent", "b")
    throttle.check("agent", "c")  # counted afresh after the good login


def test_an_unknown_user_costs_one_argon2_check_like_a_wrong_password(client):
    before = passwords.Work.checks
    assert login(client, "nobody", "x").status_code == 401
    assert passwords.Work.checks == before + 1
    assert login(client, "chief", "x").status_code == 401
    assert passwords.Work.checks == before + 2


def test_at_most_two_argon2_checks_run_at_once():
    stored = passwords.hash_password("pw")
    passwords.Work.most_at_once = 0
    threads = [threading.Thread(target=passwords.check_password, args=(stored, "wrong")) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert 1 <= passwords.Work.most_at_once <= passwords.ARGON2_AT_ONCE


def test_public_progress_lets_a_case_be_guessed_only_a_few_times(client):
    """Issue 18 finding 3: the progress query took 400 guesses a second, and the last four
    characters of an ID have about 11,000 values: any case in under a minute. Five wrong tries per
    receipt number in 15 minutes, whatever the address: a case's would take weeks."""
    for n in range(SUBJECT_FAILURES):
        page = client.get("/progress", params={"receipt_no": "shangcun-000001", "id_last4": f"{n:04d}"})
        assert page.status_code == 200 and "没有查到" in page.text
    held = client.get("/progress", params={"receipt_no": "shangcun-000001", "id_last4": "0005"})
    assert "查询失败次数过多" in held.text and "分钟后再试" in held.text
    assert (
        "查询失败次数过多" not in client.get("/progress", params={"receipt_no": "shangcun-000002", "id_last4": "0000"}).text
    )  # another case is not held up
