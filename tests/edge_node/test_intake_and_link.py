"""The node's domain on a real SQLite file: validation, intake + outbox atomicity, sealing, downlink."""

from __future__ import annotations

import base64
import json
import sqlite3

import pytest
from stdnum.cn import ric

from edge_node import cases, link, materials
from edge_node.catalog import install_catalog, list_items
from edge_node.intake import validate_resident_id
from edge_node.store import Store
from sync_protocol import GENESIS, Accepted, Duplicate, IngestCursor, Record, Rejected, seal_next
from tests.support.builders import AGENT, FORM, GOOD_ID, HUB_KEY, NODE_KEY, counts, resident_id
from weblayer.display import mask_id
from weblayer.errors import Conflict, InvalidInput

from ..images import photo, signature


@pytest.mark.parametrize(
    "value, message",
    [
        ("", "请填写"),
        ("1101051949123100", "18 位"),
        ("110105194912310021", "校验位"),
        ("11010519491331002" + ric.calc_check_digit("11010519491331002?"), "出生日期"),  # 13th month, valid check digit
        ("11010519491231002A", "末位的 X"),  # a letter other than X is a format error, not a checksum one
    ],
)
def test_bad_resident_ids_get_a_clear_chinese_message(value, message):
    with pytest.raises(InvalidInput) as err:
        validate_resident_id(value)
    assert message in err.value.message and err.value.field == "applicant_id_number"


def test_lowercase_x_and_spaces_are_accepted():
    assert validate_resident_id(" 11010519491231002x ") == GOOD_ID


def test_intake_writes_application_and_outbox_event_together(store):
    app = cases.submit_application(store, FORM, AGENT)
    assert app["receipt_no"] == "shangcun-000001"
    assert counts(store) == (1, 1)
    event = store.one("SELECT * FROM outbox")
    assert event["kind"] == "application.received"
    assert json.loads(event["data_json"])["application_id"] == app["id"]


@pytest.mark.parametrize(
    "field, value",
    [
        ("applicant_id_number", "110105194912310021"),
        ("item_code", "NOPE"),
        ("applicant_name", " "),
        ("applicant_phone", "12345"),
        ("applicant_name", "\u200b\u200d\u2060"),
        ("applicant_name", "张\x00三"),
    ],
)  # zero-width only; a NUL (issue 18 finding 4)
def test_bad_input_saves_nothing(store, field, value):
    with pytest.raises(InvalidInput) as err:
        cases.submit_application(store, FORM | {field: value}, AGENT)
    assert err.value.field == field
    assert counts(store) == (0, 0)


def test_sms_consent_is_recorded_and_sent_up_and_needs_a_number(store):
    """Issue 21 item 1: the applicant agrees at the window, the number read back; without a number
    there is nothing to agree to. Without consent the record says nothing (the hub sends none)."""
    with pytest.raises(InvalidInput) as err:
        cases.submit_application(store, FORM | {"sms_consent": "1"}, AGENT)
    assert err.value.field == "applicant_phone" and "手机号码" in err.value.message and counts(store) == (0, 0)
    told = cases.submit_application(store, FORM | {"sms_consent": "1", "applicant_phone": "13800138000"}, AGENT)
    silent = cases.submit_application(store, FORM | {"applicant_phone": "13800138001"}, AGENT)
    events = {json.loads(e["data_json"])["application_id"]: json.loads(e["data_json"]) for e in store.query("SELECT * FROM outbox")}
    assert events[told["id"]]["sms_consent"] is True and "sms_consent" not in events[silent["id"]]
    assert store.one("SELECT sms_consent FROM applications WHERE id = ?", (told["id"],))["sms_consent"] == 1


def test_failure_inside_the_transaction_leaves_neither_application_nor_event(store, monkeypatch):
    """If the outbox write fails, the application row is rolled back with it."""

    def broken_outbox(*args, **kwargs):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(cases, "add_outbox", broken_outbox)
    with pytest.raises(sqlite3.OperationalError):
        cases.submit_application(store, FORM, AGENT)
    assert counts(store) == (0, 0)
    # and the receipt counter did not advance: numbers stay gap-free
    monkeypatch.undo()
    assert cases.submit_application(store, FORM, AGENT)["receipt_no"] == "shangcun-000001"


def test_sealed_batches_chain_and_verify_at_the_receiver(store):
    for _ in range(5):
        cases.submit_application(store, FORM, AGENT)
    assert link.seal_pending(store, "shangcun", NODE_KEY, limit=2, max_batches=1) == 1  # the uplink seals one, sends it, seals the next
    assert link.seal_pending(store, "shangcun", NODE_KEY, limit=2) == 2
    assert link.backlog(store) == {"events": 5, "batches": 3, "set_aside": 0}
    cursor, hashes = IngestCursor("shangcun", "up", NODE_KEY.verify_key, GENESIS), {}
    for row in link.unpublished(store):
        verdict = cursor.receive(row["wire"], hashes.get)
        assert isinstance(verdict, Accepted)
        hashes[verdict.batch.seq] = verdict.hash
        link.mark_published(store, row["seq"])
    assert link.backlog(store) == {"events": 0, "batches": 0, "set_aside": 0}
    assert link.seal_pending(store, "shangcun", NODE_KEY) == 0


def test_downlink_decision_is_applied_once_and_forgeries_are_quarantined(store):
    app = cases.submit_application(store, FORM, AGENT)
    decision = Record(
        "decision.made",
        "d1",
        "2026-11-23T09:00:00.000000Z",
        {"application_id": app["id"], "decision": "approved", "decided_by": "王敏", "decided_at": "2026-11-23T09:00:00.000000Z"},
    )
    wire, _ = seal_next("shangcun", "down", GENESIS, [decision], "2026-11-23T09:00:00.000000Z", HUB_KEY)
    assert isinstance(link.apply_downlink(store, "shangcun", HUB_KEY.verify_key, wire), Accepted)
    assert isinstance(link.apply_downlink(store, "shangcun", HUB_KEY.verify_key, wire), Duplicate)
    assert cases.get_application(store, app["id"])["status"] == "approved"
    forged, _ = seal_next("shangcun", "down", GENESIS, [decision], "2026-11-23T09:00:00.000000Z", NODE_KEY)
    assert isinstance(link.apply_downlink(store, "shangcun", HUB_KEY.verify_key, forged), Rejected)
    assert store.one("SELECT COUNT(*) FROM quarantine")[0] == 1


def test_pickup_needs_a_result_and_goes_into_the_outbox(store):
    app = cases.submit_application(store, FORM, AGENT)
    blobs = store.path.parent / "blobs"
    with pytest.raises(Conflict):
        cases.record_pickup(store, blobs, app["id"], "张三", AGENT, GOOD_ID, signature(), (cases.PICKUP_AUTHORISATION, "a.jpg", photo(1)))
    assert not blobs.exists() or not any(blobs.rglob("*"))  # refused before any file was written
    with store.write() as conn:
        cases.apply_decision(
            conn, {"application_id": app["id"], "decision": "approved", "decided_by": "王敏", "decided_at": "2026-11-23T09:00:00.000000Z"}
        )
    with pytest.raises(InvalidInput) as err:
        cases.record_pickup(store, blobs, app["id"], "张三", AGENT, "", signature())  # the collector's ID is checked
    assert err.value.field == "collector_id_number" and "领取人" in err.value.message
    # issue 20, 送达回证: the collector signs on screen; someone else needs the applicant's authorisation
    with pytest.raises(InvalidInput) as err:
        cases.record_pickup(store, blobs, app["id"], "张三", AGENT, GOOD_ID)
    assert err.value.field == "signature" and "签名" in err.value.message
    with pytest.raises(InvalidInput) as err:  # a PDF is no signature drawn on screen
        cases.record_pickup(store, blobs, app["id"], "张三", AGENT, GOOD_ID, b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF")
    assert err.value.field == "signature"
    with pytest.raises(InvalidInput) as err:
        cases.record_pickup(store, blobs, app["id"], "李四", AGENT, resident_id(9), signature())
    assert err.value.field == "authorisation" and "授权委托书" in err.value.message
    assert store.one("SELECT status FROM applications WHERE id = ?", (app["id"],))[0] == "approved"  # refused: nothing changed
    letter = (cases.PICKUP_AUTHORISATION, "letter.jpg", photo(3))
    assert cases.record_pickup(store, blobs, app["id"], "李四", AGENT, resident_id(9), signature(), letter)["status"] == "picked_up"
    picked = json.loads(store.one("SELECT data_json FROM outbox WHERE kind = 'application.picked_up'")[0])
    attached = {
        json.loads(r[0])["material"]: json.loads(r[0])["sha256"]
        for r in store.query("SELECT data_json FROM outbox WHERE kind = 'materials.attached'")
    }
    assert picked["signature"] == attached[cases.PICKUP_SIGNATURE] and picked["authorisation"] == attached[cases.PICKUP_AUTHORISATION]
    assert picked["collector_is_applicant"] is False
    kinds = [r["kind"] for r in store.query("SELECT kind FROM outbox ORDER BY seq")]
    assert kinds == ["application.received", "materials.attached", "materials.attached", "application.picked_up"]


def test_mask_id_hides_the_middle():
    assert mask_id(GOOD_ID) == "1101**********002X"


def test_signed_downlink_with_a_malformed_record_is_quarantined_and_changes_nothing(store):
    app = cases.submit_application(store, FORM, AGENT)
    bad = Record("decision.made", "d1", "2026-11-23T09:00:00.000000Z", {"decision": "approved"})  # no application_id
    wire, _ = seal_next("shangcun", "down", GENESIS, [bad], "2026-11-23T09:00:00.000000Z", HUB_KEY)
    verdict = link.apply_downlink(store, "shangcun", HUB_KEY.verify_key, wire)
    assert isinstance(verdict, Rejected) and verdict.reason == "invalid_record"
    assert cases.get_application(store, app["id"])["status"] == "submitted"
    assert store.one("SELECT COUNT(*) FROM downlink_batches")[0] == 0 and store.one("SELECT COUNT(*) FROM quarantine")[0] == 1


def test_resend_request_queues_stored_batches_again_under_a_fresh_message_id(store):
    for _ in range(3):
        cases.submit_application(store, FORM, AGENT)
        link.seal_pending(store, "shangcun", NODE_KEY)
    for row in link.unpublished(store):
        link.mark_published(store, row["seq"])
    before = {r["seq"]: r["wire"] for r in store.query("SELECT seq, wire FROM uplink_batches")}
    request = Record("resend.request", "rr1", "2026-11-23T09:00:00.000000Z", {"from_seq": 2})
    wire, _ = seal_next("shangcun", "down", GENESIS, [request], "2026-11-23T09:00:00.000000Z", HUB_KEY)
    assert isinstance(link.apply_downlink(store, "shangcun", HUB_KEY.verify_key, wire), Accepted)
    again = link.unpublished(store)
    assert [r["seq"] for r in again] == [2, 3]
    assert all(r["wire"] == before[r["seq"]] for r in again)  # the same signed bytes, never re-signed
    assert [link.message_id(r) for r in again] == [f"{r['hash']}.1" for r in again]


def test_a_node_file_from_migration_1_is_upgraded_in_place(tmp_path):
    import sqlite3 as sql

    path = tmp_path / "old.sqlite3"
    conn = sql.connect(path)
    from sqlite_utils import Database

    from edge_node.store import MIGRATIONS

    MIGRATIONS[0](Database(conn))
    conn.execute("PRAGMA user_version = 1")
    conn.execute("INSERT INTO uplink_batches (seq, hash, wire, created_at) VALUES (1, 'h', x'00', 't')")
    conn.commit()
    conn.close()
    store = Store(path)
    assert store.one("SELECT resends FROM uplink_batches WHERE seq = 1")["resends"] == 0
    assert store.one("PRAGMA user_version")[0] == len(MIGRATIONS)
    store.close()


ITEM = {
    "code": "MZ-001",
    "name": "最低生活保障申请",
    "materials": [
        {"name": "居民身份证", "shared": False},
        {"name": "户口簿", "shared": True},
        {"name": "家庭经济状况核对授权书", "shared": False},
        {"name": "家庭收入情况声明", "shared": False},
    ],
}


def test_missing_materials_are_all_listed_and_shared_ones_are_never_demanded():
    assert cases.missing_materials(ITEM, {}, []) == ["居民身份证", "家庭经济状况核对授权书", "家庭收入情况声明"]
    form = {"have_0": "1", "have_2": "on"}
    assert cases.checked_materials(ITEM, form) == ["居民身份证", "家庭收入情况声明"]
    assert cases.missing_materials(ITEM, form, [("家庭经济状况核对授权书", "a.jpg", b"\xff\xd8\xff")]) == []


def test_one_time_notice_is_numbered_records_everything_missing_and_saves_no_application_but_goes_up(store):
    missing = cases.missing_materials(ITEM, {"have_0": "1"}, [])
    notice = cases.issue_notice(store, FORM | {"item_code": "MZ-001"}, ITEM, missing, AGENT)
    assert notice["notice_no"] == "shangcun-N000001" and notice["missing"] == ["家庭经济状况核对授权书", "家庭收入情况声明"]
    assert cases.issue_notice(store, FORM | {"item_code": "MZ-001"}, ITEM, missing, AGENT)["notice_no"] == "shangcun-N000002"
    # no application; the notices go up (issue 20: one-time notices are recorded and sent up)
    assert counts(store) == (0, 2)
    sent = [json.loads(r[0]) for r in store.query("SELECT data_json FROM outbox WHERE kind = 'notice.given' ORDER BY seq")]
    assert [(n["notice_no"], n["missing"]) for n in sent] == [("shangcun-N000001", missing), ("shangcun-N000002", missing)]
    assert cases.get_notice(store, "shangcun-N000001")["missing"] == missing  # kept, to print again


def test_known_applicant_brings_back_details_and_history(store):
    assert cases.known_applicant(store, GOOD_ID) is None
    cases.submit_application(store, FORM | {"applicant_phone": "13800138000"}, AGENT, checked=["居民身份证"])
    known = cases.known_applicant(store, GOOD_ID)
    assert known["applicant_name"] == "张三" and known["applicant_phone"] == "13800138000" and len(known["history"]) == 1
    event = json.loads(store.one("SELECT data_json FROM outbox")["data_json"])
    assert event["materials_checked"] == ["居民身份证"]


def test_a_bad_upload_refuses_the_whole_intake(store, tmp_path):
    with pytest.raises(InvalidInput) as err:
        cases.submit_application(store, FORM, AGENT, tmp_path / "blobs", [("居民身份证", "a.exe", b"MZ\x90")])
    assert err.value.field == "file_0" and counts(store) == (0, 0)
    assert not (tmp_path / "blobs").exists()  # nothing was written, not even the file


def test_legal_person_items_take_a_checked_unified_social_credit_code(store):
    install_catalog(
        store,
        {
            "version": 2,
            "items": [
                {
                    "code": "SC-001",
                    "name": "个体工商户登记",
                    "department": "scj",
                    "department_name": "县市场监督管理局",
                    "time_limit_days": 3,
                    "fee_fen": 0,
                    "service_object": "legal",
                }
            ],
        },
    )
    form = {"item_code": "SC-001", "applicant_name": "青山镇小卖部"}
    with pytest.raises(InvalidInput, match="统一社会信用代码校验位"):
        cases.submit_application(store, form | {"applicant_id_number": "91110000600037341X"}, AGENT)
    with pytest.raises(InvalidInput, match="18 位"):
        cases.submit_application(store, form | {"applicant_id_number": GOOD_ID[:10]}, AGENT)
    app = cases.submit_application(store, form | {"applicant_id_number": "91110000600037341l"}, AGENT)
    assert app["applicant_id_number"] == "91110000600037341L"


def test_a_catalog_version_on_the_downlink_replaces_the_catalog_and_an_older_one_is_ignored(store):
    newer = {
        "version": 5,
        "items": [{"code": "RS-009", "name": "新事项", "department": "rsj", "department_name": "县人社局", "time_limit_days": 5, "fee_fen": 0}],
    }
    older = {"version": 3, "items": []}
    pos, wires = GENESIS, []
    for i, catalog in enumerate((newer, older)):
        wire, pos = seal_next(
            "shangcun",
            "down",
            pos,
            [Record("catalog.version", f"c{i}", "2026-11-23T09:00:00.000000Z", catalog)],
            "2026-11-23T09:00:00.000000Z",
            HUB_KEY,
        )
        wires.append(wire)
    for wire in wires:
        assert isinstance(link.apply_downlink(store, "shangcun", HUB_KEY.verify_key, wire), Accepted)
    assert [i["code"] for i in list_items(store)] == ["RS-009"]


def test_a_proxy_application_needs_the_applicants_authorisation(store, tmp_path):
    with pytest.raises(InvalidInput, match="授权") as err:
        cases.submit_application(store, FORM | {"by_proxy": "1"}, AGENT, tmp_path)
    assert err.value.field == "signature" and counts(store) == (0, 0)
    for bad in ("data:image/jpeg;base64,AAAA", "data:image/png;base64,!!!not base64"):
        with pytest.raises(InvalidInput, match="签名"):
            cases.authorisation_uploads(bad, None)
    png = "data:image/png;base64," + base64.b64encode(signature()).decode()
    app = cases.submit_application(store, FORM | {"by_proxy": "1"}, AGENT, tmp_path, cases.authorisation_uploads(png, None))
    assert app["proxy_agent"] == "代办员 王秀兰"
    assert [m["material"] for m in materials.list_materials(store, tmp_path, app["id"])] == [cases.SIGNATURE]


def test_a_result_whose_licence_the_hub_did_not_sign_is_refused(store):
    from sync_protocol import seal_licence

    app = cases.submit_application(store, FORM, AGENT)
    doc = {
        "licence_no": "YW1",
        "kind": "x",
        "item_code": "MZ-003",
        "item_name": "x",
        "holder_name": "张三",
        "holder_id": GOOD_ID,
        "application_id": app["id"],
        "issued_at": "t",
        "issuer": "x",
    }
    for key, expected in ((NODE_KEY, Rejected), (HUB_KEY, Accepted)):  # a refused batch does not advance: both are seq 1
        record = Record(
            "result.issued",
            f"r-{expected.__name__}",
            "2026-11-23T09:00:00.000000Z",
            {"application_id": app["id"], "licence_no": "YW1", "licence": seal_licence(doc, key)},
        )
        wire, _ = seal_next("shangcun", "down", GENESIS, [record], "2026-11-23T09:00:00.000000Z", HUB_KEY)
        assert isinstance(link.apply_downlink(store, "shangcun", HUB_KEY.verify_key, wire), expected)
    assert [r["licence_no"] for r in store.query("SELECT licence_no FROM licences")] == ["YW1"]


@pytest.mark.parametrize("name", ["买买提·艾力", "\U00020000\U0002a6d6", "\ue000明", "王 小 二"])
def test_names_of_every_kind_are_kept(store, name):
    """Rare characters (CJK Extension B, private-use code points some systems type 生僻字 as),
    the middle dot of minority names and spaces stay; only invisible or control characters go."""
    app = cases.submit_application(store, FORM | {"applicant_name": name}, AGENT)
    assert cases.get_application(store, app["id"])["applicant_name"] == name


def test_a_complaint_with_a_nul_is_refused():
    from edge_node.cases import bounded

    with pytest.raises(InvalidInput, match="控制字符"):
        bounded("窗口\x00排队", "text")
    assert bounded("第一行\n第二行\t完", "text") == "第一行\n第二行\t完"
