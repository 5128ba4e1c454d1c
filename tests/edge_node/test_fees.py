"""Fees to the fen: receipts without gaps, void and refund only with a reason and a second person,
daily close with discrepancies kept, remittance, and reconciliation with a provider statement."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge_node import cases, fees
from edge_node import reconcile as reconcile_module
from edge_node.auth import add_user
from edge_node.catalog import install_catalog
from edge_node.reconcile import StatementLine, parse_statement, reconcile, reconcile_lines
from edge_node.store import Store, set_meta
from tests.support.builders import resident_id
from weblayer.errors import Conflict, Forbidden, InvalidInput

AGENT = {"username": "agent", "display_name": "代办员 王秀兰"}
CATALOG = {
    "version": 1,
    "items": [
        {
            "code": "YB-001",
            "name": "城乡居民医保参保缴费",
            "department": "ybj",
            "department_name": "县医疗保障局",
            "time_limit_days": 1,
            "fee_fen": 38000,
        },
        {"code": "GA-001", "name": "居民身份证换领", "department": "gaj", "department_name": "县公安局", "time_limit_days": 20, "fee_fen": 2000},
        {"code": "MZ-003", "name": "高龄津贴申领", "department": "mzj", "department_name": "县民政局", "time_limit_days": 10, "fee_fen": 0},
    ],
}


@pytest.fixture
def store(tmp_path: Path):
    store = Store(tmp_path / "node.sqlite3")
    with store.write() as conn:
        set_meta(conn, "node_id", "shangcun")
    install_catalog(store, CATALOG)
    add_user(store, "agent", "代办员 王秀兰", "village_agent", "pw1")
    add_user(store, "chief", "站长 李建国", "township_staff", "pw2")
    yield store
    store.close()


def pay(store: Store, n: int, item: str = "YB-001", method: str = "cash", reference: str = "") -> dict:
    form = {"item_code": item, "applicant_name": f"申请人{n}", "applicant_id_number": resident_id(n)}
    return cases.submit_application(store, form, AGENT, payment=(method, reference))["fee_receipt"]


def outbox_kinds(store: Store) -> list[str]:
    return [r["kind"] for r in store.query("SELECT kind FROM outbox ORDER BY seq")]


def test_fee_is_collected_with_the_intake_in_one_transaction_from_the_catalog_amount(store):
    receipt = pay(store, 1)
    assert (receipt["receipt_no"], receipt["amount_fen"], receipt["method"]) == ("shangcun-F000001", 38000, "cash")
    assert outbox_kinds(store) == ["application.received", "fee.collected"]
    event = json.loads(store.one("SELECT data_json FROM outbox WHERE kind = 'fee.collected'")["data_json"])
    assert event["amount_fen"] == 38000 and event["application_id"] == receipt["application_id"]


@pytest.mark.parametrize("payment, field", [(None, "payment_method"), (("bitcoin", ""), "payment_method"), (("wechat", " "), "payment_reference")])
def test_a_fee_item_without_a_proper_payment_saves_nothing_and_burns_no_number(store, payment, field):
    form = {"item_code": "YB-001", "applicant_name": "张三", "applicant_id_number": resident_id(1)}
    with pytest.raises(InvalidInput) as err:
        cases.submit_application(store, form, AGENT, payment=payment)
    assert err.value.field == field
    assert store.one("SELECT COUNT(*) FROM applications")[0] == 0 and outbox_kinds(store) == []
    assert pay(store, 2)["receipt_no"] == "shangcun-F000001"  # no gap


def test_free_items_issue_no_fee_receipt(store):
    app = cases.submit_application(store, {"item_code": "MZ-003", "applicant_name": "张三", "applicant_id_number": resident_id(1)}, AGENT)
    assert "fee_receipt" not in app and store.one("SELECT COUNT(*) FROM fee_receipts")[0] == 0


def test_void_needs_a_reason_and_a_second_person(store):
    no = pay(store, 1)["receipt_no"]
    with pytest.raises(InvalidInput):
        fees.void_receipt(store, no, " ", AGENT, "chief", "pw2")
    with pytest.raises(Forbidden, match="另一名"):
        fees.void_receipt(store, no, "收错了", AGENT, "agent", "pw1")  # oneself is not a second person
    with pytest.raises(Forbidden, match="密码"):
        fees.void_receipt(store, no, "收错了", AGENT, "chief", "wrong")
    voided = fees.void_receipt(store, no, "收错了", AGENT, "chief", "pw2")
    assert voided["status"] == "voided" and voided["void_approved_by"] == "chief"
    with pytest.raises(Conflict):
        fees.void_receipt(store, no, "again", AGENT, "chief", "pw2")
    assert outbox_kinds(store)[-1] == "fee.voided"
    assert pay(store, 2)["receipt_no"] == "shangcun-F000002"  # the voided number is never reused


def test_refunds_are_partial_or_full_never_more_than_paid(store):
    no = pay(store, 1, item="GA-001", method="alipay", reference="2026112322001")["receipt_no"]
    fees.refund(store, no, 500, "多收", AGENT, "chief", "pw2")
    with pytest.raises(InvalidInput, match=r"15\.00"):
        fees.refund(store, no, 1501, "多收", AGENT, "chief", "pw2")
    done = fees.refund(store, no, 1500, "办理不成功", AGENT, "chief", "pw2")
    assert (done["refunded_fen"], done["status"]) == (2000, "refunded")
    assert [r["amount_fen"] for r in store.query("SELECT amount_fen FROM fee_refunds")] == [500, 1500]


def test_daily_close_totals_every_method_and_keeps_a_discrepancy(store):
    pay(store, 1)  # cash 380.00
    pay(store, 2, item="GA-001")  # cash  20.00
    voided = pay(store, 3, item="GA-001")["receipt_no"]  # cash  20.00, voided
    fees.void_receipt(store, voided, "收错了", AGENT, "chief", "pw2")
    refunded = pay(store, 4, method="wechat", reference="4200001")["receipt_no"]  # wechat 380.00
    fees.refund(store, refunded, 8000, "部分退费", AGENT, "chief", "pw2")  # −80.00 wechat
    totals = fees.day_totals(store, "agent", fees.business_date(fees.utcnow()))
    assert totals["net"] == {"cash": 40000, "wechat": 30000, "alipay": 0, "unionpay": 0}
    assert totals["receipts"] == 3 and totals["refunds"] == 1 and totals["cash_expected_fen"] == 40000
    with pytest.raises(InvalidInput, match=r"短少 0\.50"):
        fees.close_day(store, AGENT, 39950)  # 50 fen short and no explanation: refused
    closed = fees.close_day(store, AGENT, 39950, note="找零时少收 5 角")
    assert closed["discrepancy_fen"] == -50
    assert store.one("SELECT discrepancy_fen, note FROM daily_closes")[:] == (-50, "找零时少收 5 角")
    with pytest.raises(Conflict, match="没有尚未日结"):
        fees.close_day(store, AGENT, 0)  # nothing left to close
    closed_one = store.one("SELECT receipt_no FROM fee_receipts WHERE close_id IS NOT NULL AND status = 'paid' LIMIT 1")["receipt_no"]
    with pytest.raises(Conflict, match="日结"):
        fees.void_receipt(store, closed_one, "晚了", AGENT, "chief", "pw2")  # closed: refund, not void
    pay(store, 5, item="GA-001")  # a citizen comes after the close: the next close covers only that
    second = fees.close_day(store, AGENT, 2000)
    assert second["close_id"].endswith("-2") and second["totals"]["net"]["cash"] == 2000 and second["discrepancy_fen"] == 0
    event = json.loads(store.query("SELECT data_json FROM outbox WHERE kind = 'fee.daily_closed'")[0]["data_json"])
    assert event["discrepancy_fen"] == -50 and event["totals_fen"]["cash"] == 40000


def test_remittance_must_equal_the_cash_counted(store):
    pay(store, 1)
    close = fees.close_day(store, AGENT, 38000)
    with pytest.raises(InvalidInput, match=r"380\.00"):
        fees.record_remittance(store, AGENT, [close["close_id"]], 37000, "BANK-1")
    done = fees.record_remittance(store, AGENT, [close["close_id"]], 38000, "BANK-1")
    assert done["remittance_id"] == "shangcun-R000001"
    with pytest.raises(Conflict):
        fees.record_remittance(store, AGENT, [close["close_id"]], 38000, "BANK-2")


@pytest.mark.parametrize("text, fen", [("380", 38000), ("380.5", 38050), ("380.50", 38050), ("0.01", 1), ("1,024.00", 102400)])
def test_yuan_text_becomes_exact_fen(text, fen):
    assert fees.parse_fen(text, "amount") == fen


@pytest.mark.parametrize("text", ["1.234", "-1", "abc", "", "1e3", "0.1.2"])
def test_bad_amounts_are_refused(text):
    with pytest.raises(InvalidInput):
        fees.parse_fen(text, "amount")


def test_reconciliation_report_to_the_fen():
    receipts = [
        {"receipt_no": "F1", "reference": "A", "amount_fen": 38000, "refunded_fen": 0},
        {"receipt_no": "F2", "reference": "B", "amount_fen": 2000, "refunded_fen": 500},
        {"receipt_no": "F3", "reference": "C", "amount_fen": 2000, "refunded_fen": 0},
    ]
    lines = [StatementLine(2, "A", 38000, ""), StatementLine(3, "B", 2000, ""), StatementLine(4, "Z", 100, "")]
    report = reconcile_lines(receipts, lines)
    assert [m["receipt_no"] for m in report["matched"]] == ["F1"]
    assert report["amount_differs"] == [{"receipt_no": "F2", "reference": "B", "ours_fen": 1500, "statement_fen": 2000}]
    assert [m["receipt_no"] for m in report["missing_from_statement"]] == ["F3"]
    assert [e["reference"] for e in report["extra_in_statement"]] == ["Z"]
    assert report["totals_fen"] == {"ours": 41500, "statement": 40100, "matched": 38000} and report["balanced"] is False


def test_statement_csv_with_chinese_headers_bom_and_currency_signs(store):
    wechat = pay(store, 1, method="wechat", reference="4200001")
    today = fees.business_date(fees.utcnow())
    csv_text = "\ufeff交易时间,交易单号,金额(元)\n2026-11-23 10:00:00,`4200001,¥380.00\n2026-11-23 11:00:00,`4200999,¥1.00\n"
    report = reconcile(store, "wechat", csv_text, today, today)
    assert [m["receipt_no"] for m in report["matched"]] == [wechat["receipt_no"]]
    assert [e["amount_fen"] for e in report["extra_in_statement"]] == [100]
    with pytest.raises(InvalidInput, match="第 2 行"):
        parse_statement("交易单号,金额\nX,abc\n")
    with pytest.raises(InvalidInput, match="金额"):
        parse_statement("交易单号,备注\nX,y\n")


@pytest.mark.parametrize("counted", [2**63, 2**63 - 1, 1_000_000_001])
def test_an_amount_no_window_handles_is_refused_and_saves_nothing(store, counted):
    """Issue 18 finding 4: cash_counted_fen >= 2^63 was a 500 (SQLite overflow) and 2^63 - 1 was
    accepted and sent to the county, past what the hub's PostgreSQL columns hold."""
    pay(store, 1)
    before = outbox_kinds(store)
    with pytest.raises(InvalidInput, match="金额超出上限") as refused:
        fees.close_day(store, AGENT, counted, note="点错了")
    assert refused.value.field == "cash_counted" and outbox_kinds(store) == before
    assert store.one("SELECT COUNT(*) FROM daily_closes")[0] == 0


def test_the_receipt_names_the_item_and_the_payee_and_writes_the_amount_in_capitals(store):
    """Issue 20 finding: the receipt showed YB-001 and the username, and no amount in capitals."""
    no = pay(store, 1)["receipt_no"]
    receipt = fees.get_receipt(store, no)
    assert (receipt["item_name"], receipt["payee_name"]) == ("城乡居民医保参保缴费", "代办员 王秀兰")


@pytest.mark.parametrize(
    "fen, words",
    [
        (38000, "叁佰捌拾元整"),
        (2000, "贰拾元整"),
        (1205, "壹拾贰元零伍分"),
        (50, "伍角"),
        (0, "零元整"),
        (10000100, "壹拾万零壹元整"),
        (123456789, "壹佰贰拾叁万肆仟伍佰陆拾柒元捌角玖分"),
    ],
)
def test_amounts_in_capitals(fen, words):
    from weblayer.display import rmb_capitals

    assert rmb_capitals(fen) == words


def test_a_refused_case_raises_a_refund_task_until_the_fee_is_given_back(store):
    """Issue 20 finding: nothing prompted a refund when a case was not accepted or refused."""
    paid = pay(store, 1, item="GA-001")
    kept = pay(store, 2, item="GA-001")
    with store.write() as conn:
        cases.apply_non_acceptance(
            conn, {"application_id": paid["application_id"], "reason": "不属于本县户籍", "by": "王敏", "at": "2026-11-23T09:00:00.000000Z"}
        )
        cases.apply_decision(
            conn,
            {"application_id": kept["application_id"], "decision": "approved", "decided_by": "王敏", "decided_at": "2026-11-23T09:00:00.000000Z"},
        )
    due = fees.refunds_due(store)
    assert [(r["receipt_no"], r["refund_due"], r["amount_fen"]) for r in due] == [(paid["receipt_no"], "不予受理", 2000)]
    fees.void_receipt(store, paid["receipt_no"], "不予受理，退还现金", AGENT, "chief", "pw2")  # the same day: voided
    assert fees.refunds_due(store) == []


def test_a_township_cannot_conclude_its_own_case_whose_fee_was_voided(store):
    """Issue 20 finding: a voided fee left the case live. The township's own instant item."""
    from edge_node import reviews

    app_id = pay(store, 1)["application_id"]
    with store.write() as conn:  # 医保缴费 is decided on the spot by the township: its review, as intake leaves it there
        conn.execute(
            "INSERT INTO reviews (application_id, stage, stage_name, final, assigned_at) VALUES (?, 0, '决定', 1, ?)",
            (app_id, "2026-11-23T09:00:00.000000Z"),
        )
    fees.void_receipt(store, "shangcun-F000001", "收错", AGENT, "chief", "pw2")
    approver = {"username": "chief", "display_name": "站长 李建国", "role": reviews.APPROVER}
    with pytest.raises(Conflict, match=r"380\.00 元费用未收"):
        reviews.decide(store, app_id, 0, "approved", "", approver)
    assert store.one("SELECT status FROM reviews WHERE application_id = ?", (app_id,))[0] == "pending"  # nothing changed
    reviews.decide(store, app_id, 0, "denied", "未缴费", approver)  # refusing stays possible


STATEMENTS = Path(__file__).parent / "statements"  # shaped like the real exports: GBK, a preamble, a summary after the data


@pytest.mark.parametrize(
    "export, method, reference, extra",
    [
        ("wechat_merchant_gbk.csv", "wechat", "4200002026120700000000001", [100, 2000]),
        ("alipay_merchant_gbk.csv", "alipay", "2026120722001401231234567890", [500]),
        ("wechat_personal_utf8.csv", "wechat", "10001000012026120700001", [0]),  # 0: paid, then refunded in full
    ],
)
def test_real_statement_exports_are_read_as_they_come(store, export, method, reference, extra):
    """Issue 22 item 10: the import took only UTF-8 with the header on the first row; WeChat and
    Alipay exports come in GBK with summary lines before and after the data."""
    receipt = pay(store, 1, method=method, reference=reference)  # 380.00, as the statement has it
    text = reconcile_module.statement_text((STATEMENTS / export).read_bytes())
    today = fees.business_date(fees.utcnow())
    report = reconcile(store, method, text, today, today)
    assert [m["receipt_no"] for m in report["matched"]] == [receipt["receipt_no"]]
    assert not report["missing_from_statement"] and not report["amount_differs"]
    assert sorted(e["amount_fen"] for e in report["extra_in_statement"]) == extra


def test_a_statement_in_no_known_encoding_or_without_its_columns_is_refused_in_chinese():
    with pytest.raises(InvalidInput, match="编码无法识别"):
        reconcile_module.statement_text(b"\x81\x30\xff\xff")
    with pytest.raises(InvalidInput, match="交易单号"):
        parse_statement("#支付宝账务明细查询\n账号,余额\n1,2\n")
