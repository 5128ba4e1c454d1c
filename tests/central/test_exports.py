"""Exports and the readable action log (issue 22 item 6): CSV that Excel opens (a BOM), XLSX,
filtered by period, point and department; an incremental feed a BI tool pages through; and an
action log in the operator's words (it showed English codes, raw JSON and UUID prefixes)."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session

from central import actions, exports
from central.approval import decide
from central.ingest import ingest_batch
from central.models import FeeReceipt, User
from central.workdays import today
from tests.support.builders import chain, received
from weblayer.errors import InvalidInput

ROOT = Path(__file__).resolve().parents[2]


def scope(**extra: str) -> exports.Scope:
    return exports.Scope(today() - timedelta(days=1), today(), **extra)


def test_every_logged_action_has_a_name_in_chinese():
    code = "\n".join(p.read_text() for p in (ROOT / "central").rglob("*.py"))
    literal = set(re.findall(r'record_action\(\s*[\w.]+,\s*[\w."]+,\s*"([a-z_]+\.[a-z_]+)"', code))
    expanded = {"case.approved", "case.denied", "case.township_approved", "case.township_denied", "card.yellow", "card.red"}
    expanded |= {"postcheck.verified", "postcheck.false", "guidance.announcement_withdrawn", "guidance.faq_withdrawn"}
    expanded |= {"complaint.answered_first", "complaint.answered_final"}
    assert len(literal) > 30
    assert (literal | expanded) - set(actions.ACTION_NAMES) == set()


def test_cases_and_fees_export_as_csv_excel_opens_and_as_xlsx(engine):
    ingest_batch(engine, "yiwang.up.shangcun", chain([received(1), received(2, item="RS-001")])[0])
    with Session(engine) as s:
        s.add(
            FeeReceipt(
                receipt_no="shangcun-F000001",
                node_id="shangcun",
                application_id="app1",
                amount_fen=38000,
                method="cash",
                agent="agent",
                collected_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            )
        )
        s.commit()
    data = exports.to_csv(exports.cases(engine, scope()))
    assert data.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads UTF-8
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0][:3] == ["受理编号", "事项编码", "事项"] and len(rows) == 3
    assert "1101**********002X" in rows[1] and "11010519491231002X" not in data.decode("utf-8-sig")  # IDs masked
    assert [r[0] for r in list(csv.reader(io.StringIO(exports.to_csv(exports.cases(engine, scope(department="rsj"))).decode("utf-8-sig"))))[1:]] == [
        "shangcun-000002"
    ]
    assert len(exports.cases(engine, scope(node="xiacun")).rows) == 0
    old = exports.Scope(today() - timedelta(days=40), today() - timedelta(days=30))
    assert exports.cases(engine, old).rows == []  # the period filters
    fees = exports.fees(engine, scope(department="mzj"))
    assert fees.rows[0][:5] == ["shangcun-F000001", "上村", "shangcun-000001", "县民政局", 380.0] and fees.rows[0][6] == "现金"
    book = zipfile.ZipFile(io.BytesIO(exports.to_xlsx(exports.cases(engine, scope()))))
    assert "xl/worksheets/sheet1.xml" in book.namelist() and "shangcun-000002" in book.read("xl/sharedStrings.xml").decode()
    # new-user pass: 380 yuan showed as 380.0 in the CSV and 380 in Excel; times and IDs got columns 8 and 12 wide
    fee_rows = list(csv.reader(io.StringIO(exports.to_csv(fees).decode("utf-8-sig"))))
    assert fee_rows[1][4:6] == ["380.00", "0.00"]
    averages = exports.supervision(engine, scope())  # second new-user pass: 平均用时 had no number format
    assert "平均用时（工作日）" in averages.tenths and averages.shown(averages.columns.index("平均用时（工作日）"), 2.25) == "2.2"
    sheet = zipfile.ZipFile(io.BytesIO(exports.to_xlsx(fees))).read("xl/worksheets/sheet1.xml").decode()
    styles = zipfile.ZipFile(io.BytesIO(exports.to_xlsx(fees))).read("xl/styles.xml").decode()
    assert 'formatCode="0.00"' in styles and "<v>380</v>" in sheet  # a number, shown with two decimals
    cases_sheet = zipfile.ZipFile(io.BytesIO(exports.to_xlsx(exports.cases(engine, scope())))).read("xl/worksheets/sheet1.xml").decode()
    widths = {
        c: float(w) for lo, hi, w in re.findall(r'<col min="(\d+)" max="(\d+)" width="([\d.]+)"', cases_sheet) for c in range(int(lo), int(hi) + 1)
    }
    assert widths[7] >= 18 and widths[11] >= 16, widths  # the masked ID (column 7) and the 收件 time (11) fit


def test_the_feed_pages_through_changes_and_brings_a_changed_case_again(engine):
    ingest_batch(engine, "yiwang.up.shangcun", chain([received(n) for n in range(1, 6)])[0])
    later = datetime.now(UTC) + timedelta(minutes=1)
    first = exports.feed(engine, "", 2, now=later)
    assert len(first["items"]) == 2
    assert first["more"] and "applicant_name" not in first["items"][0] and "applicant_id_number" not in first["items"][0]
    seen = [i["id"] for i in first["items"]]
    page = first
    while page["more"]:
        page = exports.feed(engine, page["next"], 2, now=later)
        seen += [i["id"] for i in page["items"]]
    assert sorted(seen) == [f"app{n}" for n in range(1, 6)]  # each once, nothing skipped
    assert exports.feed(engine, page["next"], 2, now=later)["items"] == []
    with Session(engine) as s:
        clerk = s.get(User, "clerk-mzj")
    decide(engine, clerk, "app3", "approve", "")
    again = exports.feed(engine, page["next"], 10, now=datetime.now(UTC) + timedelta(minutes=2))
    assert [(i["id"], i["status"]) for i in again["items"]] == [("app3", "approved")]
    assert exports.feed(engine, "", 10, now=datetime.now(UTC) - timedelta(days=1))["items"] == []  # not yet settled
    for cut in (
        "garbage",
        "9999|",
        page["next"][:12],
        "|app1",
        "20261201T000000|a",
        "2026-W48|a",
        "2026-12-07T20:00:00+08:00|a",
    ):  # adversarial pass: answered "nothing new", forever
        with pytest.raises(InvalidInput, match="next"):
            exports.feed(engine, cut, 10)


def test_the_action_log_names_actions_people_and_cases(engine):
    ingest_batch(engine, "yiwang.up.shangcun", chain([received(1)])[0])
    with Session(engine) as s:
        clerk = s.get(User, "clerk-mzj")
    decide(engine, clerk, "app1", "deny", "不符合条件")
    entries = actions.search(engine, actions.Filter(target="shangcun-000001"))
    assert entries and entries[0]["action_name"] == "不予批准" and entries[0]["target_name"] == "shangcun-000001"
    assert entries[0]["actor_name"] == clerk.display_name and "理由：不符合条件" in entries[0]["detail"]
    assert actions.search(engine, actions.Filter(actor=clerk.display_name[:2], action="case"))[0]["case_id"] == "app1"
    assert actions.search(engine, actions.Filter(action="user")) == []
    # new-user pass: part of a receipt number, or the point, found nothing; adversarial pass: % and _ found everything
    for part in ("000001", "shangcun", "上村"):
        assert [e["action_name"] for e in actions.search(engine, actions.Filter(target=part))] == ["不予批准"], part
    for wild in ("%", "_", "%%"):
        assert actions.search(engine, actions.Filter(actor=wild)) == [] and actions.search(engine, actions.Filter(target=wild)) == [], wild
    table = exports.action_log(engine, scope())
    assert table.rows[-1][3] == "不予批准"  # oldest first in the file


def test_a_name_typed_as_a_formula_stays_text_in_both_formats():
    table = exports.Table("cases", "办件", ["申请人", "金额"], [['=HYPERLINK("http://x","点我")', -5], ["@SUM(A1)", 3]])
    rows = list(csv.reader(io.StringIO(exports.to_csv(table).decode("utf-8-sig"))))
    assert rows[1] == ['\'=HYPERLINK("http://x","点我")', "-5"] and rows[2][0] == "'@SUM(A1)"
    sheet = zipfile.ZipFile(io.BytesIO(exports.to_xlsx(table))).read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet  # written as a string, not a formula


def test_the_log_keeps_names_as_they_were_and_finds_points_people_and_the_system(engine):
    """New-user pass: a renamed operator's old entries took the new name; 系统, a point's name or
    a person's name found nothing; details were raw codes."""
    from central import accounts

    with Session(engine) as s:
        clerk = s.get(User, "clerk-mzj")
    accounts.add(engine, accounts.SYSTEM, "clerk-z", "审批员 赵", "clerk", "secret1", "mzj")
    accounts.change(engine, clerk, "clerk-z", accounts.Change(department="rsj", display_name="审批员 钱"))
    accounts.change(engine, accounts.SYSTEM, "clerk-mzj", accounts.Change(display_name="王敏（改名）"))
    entries = actions.search(engine, actions.Filter(target="clerk-z"))
    assert [e["actor_name"] for e in entries] == [clerk.display_name, "本机命令行"]  # as they were named then
    assert "部门：县人力资源和社会保障局" in entries[0]["detail"] and "rsj" not in entries[0]["detail"]
    assert [e["target"] for e in actions.search(engine, actions.Filter(actor="命令行"))][-1] == "clerk-z"
    assert actions.search(engine, actions.Filter(target="审批员 钱"))  # a person by name
    assert actions.search(engine, actions.Filter(target="上村")) == []  # (nothing logged about the point yet)
    # new-user pass: the command line was 系统, as what the hub does by itself; kinds and townships were codes
    from central import enrolment
    from central.models import Node

    with Session(engine) as s:
        s.add(Node(id="qingshan", name="青山镇", kind="township", public_key="x", enrolled_at="2026-01-01T00:00:00Z"))
        s.commit()
    enrolment.create_code(engine, "xicun", "西村", "village", "qingshan", accounts.SYSTEM)
    with Session(engine) as s:  # second new-user pass: a restore's 备份时间 was raw ISO UTC, and its archive not found by part of its name
        actions.record_action(s, "console", "hub.restored", "yiwang-hub-20261207T165849Z.tar.gz", taken_at="2026-12-07T16:58:49.420160+00:00")
        s.commit()
    [restored] = actions.search(engine, actions.Filter(target="yiwang-hub"))
    assert "备份时间：2026-12-08 00:58" in restored["detail"], restored
    [made] = actions.search(engine, actions.Filter(target="xicun"))
    assert made["actor_name"] == "本机命令行" and "类型：村代办点" in made["detail"] and "所属乡镇：青山镇" in made["detail"], made
