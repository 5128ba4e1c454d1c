"""The operator's dashboard against a scenario with known answers: which nodes are behind, which
cases are late, how many needed at most one trip, and whether every fee reached the county.

The records go through the real ingest and the real clerk actions; afterwards the scenario's
times (when the hub received, decided and last heard) are set with SQL, so the figures do not
depend on the day the test runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from nacl.signing import SigningKey
from sqlalchemy import text
from sqlmodel import Session

from central import approval
from central.auth import add_user
from central.catalog import load_catalog, sample_catalog
from central.dashboard import dashboard
from central.db import create_schema, make_engine
from central.ingest import ingest_batch
from central.models import Node, User
from sync_protocol import GENESIS, Record, seal_next, verify_key_to_text

HUB_KEY = SigningKey(bytes(range(5, 37)))
NOW = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)  # Monday, 12:00 in Beijing
NODES = {
    "qingshan": ("青山镇便民服务中心", "township", None),
    "shangcun": ("上村代办点", "village", "qingshan"),
    "baishui": ("白水镇便民服务中心", "township", None),
}
KEYS = {node_id: SigningKey(bytes([i + 1]) * 32) for i, node_id in enumerate(NODES)}


def at(day: str, hour: int = 2) -> str:
    return f"2026-11-{day}T{hour:02d}:00:00.000000Z"


def received(n: int, item: str, day: str, proxy: str = "", node: str = "shangcun") -> Record:
    return Record(
        "application.received",
        f"r{n}",
        at(day),
        {
            "application_id": f"A{n}",
            "receipt_no": f"{node}-{n:06d}",
            "item_code": item,
            "applicant_name": f"申请人{n}",
            "applicant_id_number": "11010519491231002X",
            "agent": "agent",
            "proxy_agent": proxy,
        },
    )


def rec(kind: str, n: int, **data) -> Record:
    return Record(kind, f"{kind}{n}{sorted(data)}", at("20"), data)


@pytest.fixture
def scenario(hub_db_url: str):
    engine = make_engine(hub_db_url)
    create_schema(engine)
    load_catalog(engine, sample_catalog())
    with Session(engine) as s:
        for node_id, (name, kind, parent) in NODES.items():
            s.add(
                Node(id=node_id, name=name, kind=kind, parent=parent, public_key=verify_key_to_text(KEYS[node_id].verify_key), enrolled_at=at("01"))
            )
        s.commit()
    add_user(engine, "clerk-mzj", "王敏", "clerk", "pw", department="mzj")
    add_user(engine, "clerk-rsj", "李强", "clerk", "pw", department="rsj")
    pos = {node_id: GENESIS for node_id in NODES}

    def send(node_id: str, *records: Record) -> None:
        wire, pos[node_id] = seal_next(node_id, "up", pos[node_id], list(records), at("20"), KEYS[node_id])
        ingest_batch(engine, f"yiwang.up.{node_id}", wire)

    def clerk(name: str) -> User:
        with Session(engine) as s:
            return s.get(User, name)

    # 上村 (青山镇): A1 waiting since 11-02 (red), A2 since 11-20 (yellow: pre-review ends 11-24),
    # A3 approved on time and collected by the applicant (2 trips), A4 proxied, approved late, by courier (0 trips)
    send(
        "shangcun",
        received(1, "MZ-003", "02"),
        received(2, "MZ-003", "20"),
        received(3, "RS-001", "02"),
        received(4, "RS-001", "02", proxy="代办员 王秀兰"),
    )
    # 青山镇: A5 not accepted (on time) and the notice collected by the applicant (2 trips)
    send("qingshan", received(5, "MZ-003", "02", node="qingshan"))
    # 白水镇: A6 proxied, one supplement round, approved on time, collected by the agent (0 trips)
    send("baishui", received(6, "RS-001", "16", proxy="代办员 李红", node="baishui"))
    approval.decide(engine, clerk("clerk-rsj"), "A3", "approve", "", HUB_KEY)
    approval.decide(engine, clerk("clerk-rsj"), "A4", "approve", "", HUB_KEY)
    approval.not_accept(engine, clerk("clerk-mzj"), "A5", "不属于本事项受理范围")
    approval.request_supplement(engine, clerk("clerk-rsj"), "A6", ["户口簿"])
    send("baishui", rec("supplement.provided", 6, application_id="A6", materials=["户口簿"], agent="agent"))
    approval.decide(engine, clerk("clerk-rsj"), "A6", "approve", "", HUB_KEY)
    send(
        "shangcun",
        rec("application.picked_up", 3, application_id="A3", collector_name="申请人3", agent="agent", collector_is_applicant=True),
        rec("application.dispatched", 4, application_id="A4", courier="EMS", tracking_no="E1", agent="agent"),
        # fees: 20.00 cash (5.00 refunded), 40.00 cash voided, 380.00 by WeChat; the day closed with 15.00 counted, all of it remitted
        rec("fee.collected", 1, fee_receipt_no="shangcun-F000001", amount_fen=2000, method="cash", agent="agent"),
        rec("fee.collected", 2, fee_receipt_no="shangcun-F000002", amount_fen=4000, method="cash", agent="agent"),
        rec("fee.voided", 2, fee_receipt_no="shangcun-F000002", reason="录错", approved_by="站长", agent="agent"),
        rec("fee.collected", 3, fee_receipt_no="shangcun-F000003", amount_fen=38000, method="wechat", reference="wx1", agent="agent"),
        rec("fee.refunded", 1, fee_receipt_no="shangcun-F000001", amount_fen=500, reason="多收", approved_by="站长", agent="agent"),
        rec(
            "fee.daily_closed",
            1,
            close_id="shangcun-C20261120-agent-1",
            business_date="2026-11-20",
            agent="agent",
            totals_fen={"cash": 1500, "wechat": 38000},
            cash_expected_fen=1500,
            cash_counted_fen=1500,
            discrepancy_fen=0,
        ),
        rec(
            "fee.remitted",
            1,
            remittance_id="shangcun-R000001",
            amount_fen=1500,
            close_ids=["shangcun-C20261120-agent-1"],
            bank_reference="B1",
            agent="agent",
        ),
        rec("node.heartbeat", 1, app_version="0.1.0", catalog_version=1, outbox_depth=0, clock=at("23", 3)),
    )
    send(
        "qingshan",
        rec("application.picked_up", 5, application_id="A5", collector_name="申请人5", agent="agent", collector_is_applicant=True),
        rec("node.heartbeat", 5, app_version="0.1.0", catalog_version=1, outbox_depth=0, clock=at("23", 1)),
    )
    send(
        "baishui",
        rec("application.picked_up", 6, application_id="A6", collector_name="代办员 李红", agent="agent", collector_is_applicant=False),
        rec("fee.collected", 6, fee_receipt_no="baishui-F000001", amount_fen=3800, method="cash", agent="agent"),  # collected, never remitted
        rec("node.heartbeat", 6, app_version="0.0.9", catalog_version=0, outbox_depth=7, clock=at("23", 3)),
    )  # not updated yet
    with engine.begin() as conn:  # the scenario's times
        conn.execute(text("UPDATE application SET received_at = submitted_at"))
        # accepted on arrival (A6: after its supplement), so the decision clocks run from there (行政许可法 第四十二条)
        for app_id, accepted, decided in (("A3", at("02"), at("06")), ("A4", at("02"), at("12")), ("A5", None, at("03")), ("A6", at("19"), at("19"))):
            conn.execute(text("UPDATE application SET accepted_at = :a, decided_at = :d WHERE id = :id"), {"a": accepted, "d": decided, "id": app_id})
        for node_id, seen in (
            ("shangcun", "2026-11-23T03:55:00.000000Z"),
            ("qingshan", "2026-11-23T01:00:00.000000Z"),
            ("baishui", "2026-11-23T03:58:00.000000Z"),
        ):
            conn.execute(text("UPDATE node SET last_seen_at = :s WHERE id = :id"), {"s": seen, "id": node_id})
    yield engine
    engine.dispose()


def test_which_nodes_are_behind(scenario):
    board = dashboard(scenario, silent_after=timedelta(minutes=60), now=NOW)
    assert board["nodes_behind"] == ["baishui", "qingshan"]
    reasons = {n["id"]: n["reasons"] for n in board["nodes"]}
    assert reasons == {"baishui": ["目录第 0 版（最新第 1 版）"], "qingshan": ["超过 60 分钟没有消息"], "shangcun": []}
    assert {n["id"]: n["up_seq"] for n in board["nodes"]} == {"baishui": 3, "qingshan": 2, "shangcun": 2}


def test_which_cases_are_late(scenario):
    board = dashboard(scenario, silent_after=timedelta(minutes=60), now=NOW)
    late = [(c["receipt_no"], c["card"], c["clock"], c["due"]) for c in board["late_cases"]]
    assert late == [("shangcun-000001", "red", "pre_review", "2026-11-04"), ("shangcun-000002", "yellow", "pre_review", "2026-11-24")]


def test_cases_timeliness_and_trips_per_township_and_county(scenario):
    board = dashboard(scenario, silent_after=timedelta(minutes=60), now=NOW)
    qingshan, baishui = (next(t for t in board["townships"] if t["name"] == name) for name in ("青山镇便民服务中心", "白水镇便民服务中心"))
    assert {k: v for k, v in qingshan["cases"].items() if v} == {"received": 2, "delivered": 1, "dispatched": 1, "not_accepted": 1}
    assert (qingshan["concluded"], qingshan["on_time"], qingshan["overdue_open"], qingshan["yellow_open"]) == (3, 2, 1, 1)
    assert (qingshan["handed_over"], qingshan["at_most_one_trip"], qingshan["zero_trips"]) == (3, 1, 1)
    assert (baishui["total"], baishui["concluded"], baishui["on_time"], baishui["handed_over"], baishui["zero_trips"]) == (1, 1, 1, 1, 1)
    county = board["county"]
    assert (county["total"], county["concluded"], county["on_time"], county["on_time_rate"]) == (6, 4, 3, 0.75)
    assert (county["at_most_one_trip_rate"], county["zero_trips_rate"]) == (0.5, 0.5)


def test_did_every_fee_reach_the_county(scenario):
    board = dashboard(scenario, silent_after=timedelta(minutes=60), now=NOW)
    fees = {f["node_id"]: f for f in board["fees"]}
    assert fees["shangcun"] == {
        "node_id": "shangcun",
        "cash_collected_fen": 2000,
        "cash_refunded_fen": 500,
        "epay_collected_fen": 38000,
        "cash_remitted_fen": 1500,
        "cash_outstanding_fen": 0,
        "cash_to_return_fen": 0,
        "closes_with_discrepancy": 0,
        "all_reached_county": True,
    }
    assert (fees["baishui"]["cash_outstanding_fen"], fees["baishui"]["all_reached_county"]) == (3800, False)
    county = board["county"]["fees"]
    assert county == {
        "cash_collected_fen": 5800,
        "cash_refunded_fen": 500,
        "cash_remitted_fen": 1500,
        "cash_outstanding_fen": 3800,
        "cash_to_return_fen": 0,
        "epay_collected_fen": 38000,
    }


def test_a_refund_of_cash_already_remitted_is_owed_to_the_point_not_negative_cash(scenario):
    """Issue 20 finding: after a refund of remitted cash the headline said "尚有现金 -370.00 元未解缴"
    — and summed over the county, that refund hid another point's unremitted cash."""
    from central.db import transaction
    from central.fees import apply_fee_record
    from sync_protocol import Record

    with transaction(scenario) as session:  # 上村 refunds the rest of F000001 (15.00) after remitting it
        apply_fee_record(
            session,
            "shangcun",
            Record(
                "fee.refunded",
                "late",
                at("22"),
                {"fee_receipt_no": "shangcun-F000001", "amount_fen": 1500, "reason": "不予受理", "approved_by": "站长", "agent": "agent"},
            ),
        )
    board = dashboard(scenario, silent_after=timedelta(minutes=60), now=NOW)
    shangcun = next(f for f in board["fees"] if f["node_id"] == "shangcun")
    assert (shangcun["cash_outstanding_fen"], shangcun["cash_to_return_fen"], shangcun["all_reached_county"]) == (0, 1500, True)
    county = board["county"]["fees"]
    assert (county["cash_outstanding_fen"], county["cash_to_return_fen"]) == (3800, 1500)  # 白水's 38.00 still shows


def test_metrics_carry_the_same_figures(scenario):
    """Issue 22 item 7: values were written with {value:g} (12,345,678 fen as 1.23457e+07) and
    cumulative counts were gauges; now prometheus-client writes them exactly, counters as _total."""
    from central.metrics import render

    board = dashboard(scenario, silent_after=timedelta(minutes=60), now=NOW)
    text_ = render(board, now=NOW)
    for line in (
        'yiwang_node_up{node="baishui"} 0.0',
        'yiwang_node_up{node="shangcun"} 1.0',
        'yiwang_node_outbox_depth{node="baishui"} 7.0',
        "yiwang_cases_overdue 1.0",
        "yiwang_cases_concluded_on_time_total 3.0",
        'yiwang_fees_cash_outstanding_fen{node="baishui"} 3800.0',
        'yiwang_node_last_seen_age_seconds{node="qingshan"} 10800.0',
        "# TYPE yiwang_cases_concluded_total counter",
    ):
        assert line in text_.splitlines(), line
    board["fees"][0]["cash_outstanding_fen"] = 12_345_678
    assert f'yiwang_fees_cash_outstanding_fen{{node="{board["fees"][0]["node_id"]}"}} 1.2345678e+07' in render(board, now=NOW)  # every digit


def test_a_scrape_is_cheap_the_figures_computed_once_in_a_while(scenario):
    from central.metrics import Scrapes

    scrapes = Scrapes(lambda: dashboard(scenario, silent_after=timedelta(minutes=60), now=NOW))
    for _ in range(5):
        text_ = scrapes.text().decode()
    assert scrapes.computed == 1 and "yiwang_cases_overdue 1.0" in text_ and "process_cpu_seconds_total" in text_
