"""Limits at the door (issue 17, finding 1): a record larger than its kind's bound is refused
when it is written, with a clear Chinese message, and nothing is saved; the sealer never fails on
a committed event; an event no batch can carry (written by an older version) is set aside and
never blocks the events behind it."""

from __future__ import annotations

import json
import re
import sqlite3

import pytest

from edge_node import cases, link
from edge_node.store import add_outbox
from sync_protocol import COMPLAINT_FILED, MAX_BATCH_BYTES, MAX_RECORD_BYTES, open_batch
from tests.support.api import login
from tests.support.builders import AGENT, FORM, NODE_KEY, counts
from weblayer.errors import InvalidInput

MEGABYTE_OF_TEXT = "投" * 350_000  # about 1 MB in UTF-8


def outbox_and_complaints(db) -> tuple[int, int]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT (SELECT COUNT(*) FROM outbox), (SELECT COUNT(*) FROM complaints)").fetchone()


def test_a_megabyte_complaint_or_checked_material_is_refused_and_saves_nothing(client, tmp_path):
    token = client.post("/api/login", json={"username": "agent", "password": "pw"}).json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    db = tmp_path / "node" / "node.sqlite3"
    before = outbox_and_complaints(db)
    big = client.post("/api/complaints", json={"text": MEGABYTE_OF_TEXT}, headers=auth)
    assert big.status_code == 400 and big.headers["content-type"].startswith("application/problem+json")
    assert (big.json()["field"], big.json()["detail"]) == ("text", "请求内容不符合要求：text 最多 4000 个字，请精简后再提交")  # at the API's edge
    checked = client.post("/api/applications", json=FORM | {"materials_checked": ["身份证" + "x" * 1_000_000]}, headers=auth)
    assert checked.status_code == 400 and "最多 200 个字" in checked.json()["detail"]
    many = client.post("/api/applications", json=FORM | {"materials_checked": [f"材料{n}" for n in range(51)]}, headers=auth)
    assert many.status_code == 400 and "最多 50 项" in many.json()["detail"]
    assert outbox_and_complaints(db) == before
    assert client.get("/api/status").json()["waiting_events"] == 0

    login(client)  # the same through the page: the form says what to do, in Chinese
    page = client.get("/")
    token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text).group(1)
    form = client.post("/complaints", data={"text": MEGABYTE_OF_TEXT, "_csrf_token": token})
    assert form.status_code == 400 and "投诉内容最多 2000 个字" in form.text
    assert outbox_and_complaints(db) == before


def test_any_record_over_its_bound_rolls_back_the_whole_write(store):
    before = counts(store)
    with pytest.raises(InvalidInput) as err:
        with store.write() as conn:
            conn.execute("INSERT INTO complaints (complaint_id, text, agent_username, created_at) VALUES ('x-T1', 'text', 'agent', 'now')")
            add_outbox(conn, COMPLAINT_FILED, {"complaint_id": "x-T1", "text": "备" * (MAX_RECORD_BYTES // 3 + 1)})
    assert "内容太长" in err.value.message and "没有保存" in err.value.message
    assert counts(store) == before and store.one("SELECT COUNT(*) FROM complaints")[0] == 0


def test_an_event_no_batch_can_carry_is_set_aside_and_the_events_behind_it_go_on(store):
    first = cases.submit_application(store, FORM, AGENT)
    with store.write() as conn:  # as a version without the bound at the door wrote it
        conn.execute(
            "INSERT INTO outbox (id, kind, at, data_json) VALUES ('old', ?, '2026-12-01T08:00:00Z', ?)",
            (COMPLAINT_FILED, json.dumps({"complaint_id": "shangcun-T000001", "text": "诉" * 400_000}, ensure_ascii=False)),
        )
    second = cases.submit_application(store, FORM | {"applicant_name": "李四"}, AGENT)
    assert link.seal_pending(store, "shangcun", NODE_KEY) == 2  # never raises: the sealer cannot fail on a committed event
    batches = [open_batch(r["wire"], NODE_KEY.verify_key) for r in store.query("SELECT wire FROM uplink_batches ORDER BY seq")]
    assert [r.data["application_id"] for b in batches for r in b.records] == [first["id"], second["id"]]
    assert store.one("SELECT set_aside FROM outbox WHERE id = 'old'")["set_aside"].startswith("TooLarge")
    assert link.backlog(store) == {"events": 2, "batches": 2, "set_aside": 1}  # the two in the unpublished batches
    link.mark_published(store, 1)
    link.mark_published(store, 2)
    assert link.backlog(store)["events"] == 0 and not link.records_waiting(store)  # nothing wedged behind it
    assert link.status_fields(store, "0.3.0")["set_aside"] == 1  # the county hears of it with the next status
    assert link.seal_pending(store, "shangcun", NODE_KEY) == 0  # and it is not tried again


def test_a_long_offline_day_over_900_kB_seals_into_batches_that_each_fit(store):
    for n in range(500):
        cases.file_complaint(store, f"第{n}件：" + "办事窗口排队时间太长" * 190, AGENT)
    made = link.seal_pending(store, "shangcun", NODE_KEY)
    sizes = [len(r["wire"]) for r in store.query("SELECT wire FROM uplink_batches")]
    assert sum(sizes) > 2 * MAX_BATCH_BYTES and made == len(sizes) >= 3
    assert max(sizes) <= MAX_BATCH_BYTES and link.backlog(store)["events"] == 500 and link.backlog(store)["set_aside"] == 0


def test_an_unencodable_event_between_two_others_is_set_aside_and_not_stamped_with_their_batch(store):
    first = cases.submit_application(store, FORM, AGENT)
    with store.write() as conn:  # a float: no batch can carry it (money is integer fen)
        conn.execute(
            "INSERT INTO outbox (id, kind, at, data_json) VALUES ('float', ?, '2026-12-01T08:00:00Z', ?)",
            (COMPLAINT_FILED, json.dumps({"complaint_id": "shangcun-T000009", "text": "x", "amount": 1.5})),
        )
    second = cases.submit_application(store, FORM | {"applicant_name": "李四"}, AGENT)
    assert link.seal_pending(store, "shangcun", NODE_KEY) == 1
    batch = open_batch(store.one("SELECT wire FROM uplink_batches")["wire"], NODE_KEY.verify_key)
    assert [r.data["application_id"] for r in batch.records] == [first["id"], second["id"]]
    row = store.one("SELECT batch_seq, set_aside FROM outbox WHERE id = 'float'")
    assert row["batch_seq"] is None and row["set_aside"].startswith("UnencodableValue")


def test_a_statement_with_a_giant_field_or_a_name_that_reorders_text_is_refused(client):
    """Adversarial pass, issue 18: a CSV field over 128 KiB was a 500 at reconcile (csv.Error), and
    a right-to-left override in a name was accepted, printing a different name on the slip."""
    auth = {"Authorization": "Bearer " + client.post("/api/login", json={"username": "agent", "password": "pw"}).json()["token"]}
    statement = ('"' + "x" * 200_000 + "\n").encode()
    answer = client.post("/api/fees/reconcile", data={"method": "unionpay"}, files={"file": ("s.csv", statement, "text/csv")}, headers=auth)
    assert answer.status_code == 400 and answer.json()["field"] == "file" and "CSV" in answer.json()["detail"]
    for name in ("a\u202eb", "\u2067张三"):
        refused = client.post("/api/applications", json=FORM | {"applicant_name": name}, headers=auth)
        assert refused.status_code == 400 and refused.json()["field"] == "applicant_name" and "方向" in refused.json()["detail"]
    assert client.get("/api/applications", headers=auth).json() == []
