"""电子监察 against a scenario with known answers (issue 20, "Supervision that acts"): cards are
issued as records, once, with the time and the rule; a red card raises a numbered 督办单 the
department must answer, and an unanswered one escalates with an alert; a department's red card
means that department was late (a stage with its own days is judged by them); the figures per
department and per clerk and the monthly report give the scenario's answers.

Clerk actions run at the real time; the scenario's dates are then set with SQL."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import text
from sqlmodel import Session, select

from central import approval, cards, figures
from central.auth import add_user
from central.db import transaction
from central.ingest import ingest_batch
from central.models import Alert, Card, Node, User
from tests.support.builders import HUB_KEY, T, chain, received
from weblayer.errors import Conflict, Forbidden, InvalidInput

MON = "2026-11-02T02:00:00.000000Z"


def beijing_noon(day: str) -> datetime:
    return datetime.fromisoformat(f"{day}T04:00:00+00:00").astimezone(UTC)


def clerk(engine, username: str) -> User:
    with Session(engine) as s:
        return s.get(User, username)


def sql(engine, statement: str, **values) -> None:
    with engine.begin() as conn:
        conn.execute(text(statement), values)


def issued(engine) -> list[tuple[str, str, str, str, str]]:
    with Session(engine) as s:
        return [(c.application_id, c.department, c.clock, c.colour, c.rule) for c in s.exec(select(Card).order_by(Card.id)).all()]


@pytest.fixture
def hub(engine):
    """shangcun (a village under the township qingshan) sent app1 (高龄津贴, mzj, 10 days) and
    app2 (残疾人两项补贴: 乡镇初审 5 days → 残联审核 5 → 民政审批 5, township accepts)."""
    with Session(engine) as s:
        s.add(Node(id="qingshan", name="青山镇", kind="township", public_key="x" * 64, enrolled_at=T))
        s.get(Node, "shangcun").parent = "qingshan"
        s.commit()
    add_user(engine, "clerk-cl", "赵芳", "clerk", "pw", department="cl")
    ingest_batch(engine, "yiwang.up.shangcun", chain([received(1), received(2, item="MZ-005")])[0])
    sql(engine, "UPDATE application SET received_at = :t, submitted_at = :t", t=MON)
    return engine


def township_decides(engine, app_id: str, stage: int, at: str) -> None:
    with transaction(engine) as session:
        approval.decide_township_stage(
            session, "qingshan", {"application_id": app_id, "stage": stage, "decision": "approved", "decided_by": "乡镇 李审核", "decided_at": at}, at
        )


def test_cards_are_issued_once_with_their_rule_and_a_red_card_raises_an_order_that_escalates(hub):
    # app1 awaits 受理 since Monday 11-02: its pre-review ends 11-04; app2's township 初审 (5 days) ends 11-09
    assert cards.issue_due(hub, beijing_noon("2026-11-03")) == {"yellow": 1, "red": 0, "escalated": 0, "complaints_escalated": 0}
    assert cards.issue_due(hub, beijing_noon("2026-11-03")) == {"yellow": 0, "red": 0, "escalated": 0, "complaints_escalated": 0}  # once
    assert cards.issue_due(hub, beijing_noon("2026-11-05")) == {"yellow": 0, "red": 1, "escalated": 0, "complaints_escalated": 0}
    assert issued(hub) == [
        ("app1", "mzj", "pre_review", "yellow", "预审 2 个工作日，2026-11-04 截止：剩余 1 个工作日（黄牌）"),
        ("app1", "mzj", "pre_review", "red", "预审 2 个工作日，2026-11-04 截止：已超期 1 个工作日（红牌）"),
    ]
    [order] = cards.orders_of(hub)
    assert (order.number, order.department, order.reply_due) == ("督办〔2026〕第 1 号", "mzj", "2026-11-09")  # 2 working days after 11-05
    # app2's township is late too; app1's order, unanswered past its reply day, goes up a level with an alert
    assert cards.issue_due(hub, beijing_noon("2026-11-10")) == {"yellow": 0, "red": 1, "escalated": 1, "complaints_escalated": 0}
    assert issued(hub)[-1] == ("app2", "township", "stage", "red", "初审环节 5 个工作日，2026-11-09 截止：已超期 1 个工作日（红牌）")
    township_order, order = cards.orders_of(hub)
    assert township_order.number == "督办〔2026〕第 2 号" and (order.escalations, order.reply_due) == (1, "2026-11-12")
    with Session(hub) as s:
        alerts = [a.message for a in s.exec(select(Alert).where(Alert.kind == "supervision.escalated")).all()]
    assert alerts == ["督办〔2026〕第 1 号（mzj）逾期未回复，已升级至部门负责人督办"]
    with pytest.raises(Forbidden):
        cards.reply(hub, clerk(hub, "clerk-rsj"), order.id, "不是本部门")
    with pytest.raises(InvalidInput, match="超期原因"):
        cards.reply(hub, clerk(hub, "clerk-mzj"), order.id, " ")
    cards.reply(hub, clerk(hub, "clerk-mzj"), order.id, "材料核查耗时，已调整人手")
    with pytest.raises(Conflict):
        cards.reply(hub, clerk(hub, "clerk-mzj"), order.id, "再答一次")
    assert cards.issue_due(hub, beijing_noon("2026-11-16"))["escalated"] == 1  # only the township's, still unanswered
    with pytest.raises(Forbidden):
        cards.reply(hub, clerk(hub, "clerk-mzj"), township_order.id, "代乡镇答")
    add_user(hub, "op", "县政务办", "operator", "pw")
    assert cards.reply(hub, clerk(hub, "op"), township_order.id, "乡镇：入户核查延误，已补派人员").replied_by == "op"
    assert [o.number for o in cards.orders_of(hub, open_only=True)] == []


def test_a_departments_red_card_means_that_department_was_late(hub):
    """app2: the township accepted and passed its 初审 on 11-02; 残联 took until 11-20 for its 5
    days (red, its own); 民政 then has its own 5 days, so on 11-24 — when the case's 15 days
    have run out — it has no card, and a yellow one on its last day but one."""
    township_decides(hub, "app2", 0, "2026-11-02T03:00:00.000000Z")
    cards.issue_due(hub, beijing_noon("2026-11-10"))
    assert [r[1:4] for r in issued(hub) if r[0] == "app2"] == [("cl", "stage", "red")]
    approval.decide(hub, clerk(hub, "clerk-cl"), "app2", "approve", "", HUB_KEY)
    sql(hub, "UPDATE application SET stage_started_at = '2026-11-20T02:00:00.000000Z' WHERE id = 'app2'")
    sql(hub, "UPDATE approvaltask SET decided_at = '2026-11-20T02:00:00.000000Z' WHERE application_id = 'app2' AND stage = 1")
    cards.issue_due(hub, beijing_noon("2026-11-24"))
    assert [r[1:4] for r in issued(hub) if r[0] == "app2"] == [("cl", "stage", "red")]
    cards.issue_due(hub, beijing_noon("2026-11-26"))  # one working day left of its five
    assert [r[1:4] for r in issued(hub) if r[0] == "app2"][-1] == ("mzj", "stage", "yellow")
    got = {d["code"]: d for d in figures.figures(hub, date(2026, 11, 1), date(2026, 11, 30))["departments"]}
    assert (got["cl"]["decided"], got["cl"]["on_time"], got["cl"]["average_working_days"], got["cl"]["red_cards"]) == (1, 0, 14.0, 1)
    assert (got["township"]["decided"], got["township"]["on_time"], got["township"]["average_working_days"]) == (1, 1, 0.0)


def test_figures_per_department_and_clerk_and_the_monthly_report(hub):
    """Known answers: 民政局 (王敏) decided app1 accepted 11-02 on 11-10 (6 working days, on time
    within 10) and 不予受理 app3 on 11-05, its materials having come 11-02 (3 days > 2: late)."""
    ingest_batch(hub, "yiwang.up.shangcun", chain([received(1), received(2, item="MZ-005")], [received(3)])[1])
    mzj = clerk(hub, "clerk-mzj")
    approval.accept(hub, mzj, "app1")
    approval.decide(hub, mzj, "app1", "approve", "", HUB_KEY)
    approval.not_accept(hub, mzj, "app3", "不属于本县户籍")
    sql(hub, "UPDATE application SET accepted_at = :a, decided_at = :d WHERE id = 'app1'", a=MON, d="2026-11-10T02:00:00.000000Z")
    sql(hub, "UPDATE approvaltask SET decided_at = '2026-11-10T02:00:00.000000Z' WHERE application_id = 'app1'")
    sql(hub, "UPDATE application SET received_at = :r, decided_at = :d WHERE id = 'app3'", r=MON, d="2026-11-05T02:00:00.000000Z")
    cards.issue_due(hub, beijing_noon("2026-11-10"))  # app2's township 初审 is late: red, order 1
    got = figures.figures(hub, date(2026, 11, 1), date(2026, 11, 30))
    mzj_row = next(d for d in got["departments"] if d["code"] == "mzj")
    assert {k: mzj_row[k] for k in ("name", "decided", "on_time", "on_time_rate", "average_working_days", "red_cards", "orders")} == {
        "name": "县民政局",
        "decided": 2,
        "on_time": 1,
        "on_time_rate": 0.5,
        "average_working_days": 4.5,  # (6 + 3) / 2
        "red_cards": 0,
        "orders": 0,
    }
    assert [(c["code"], c["name"], c["decided"]) for c in got["clerks"]] == [("clerk-mzj", "王敏", 2)]
    township = next(d for d in got["departments"] if d["code"] == "township")
    assert (township["red_cards"], township["orders"], township["orders_unanswered"]) == (1, 1, 1)
    assert figures.figures(hub, date(2026, 12, 1), date(2026, 12, 31))["departments"] == []
    report = figures.monthly_report(hub, "2026-11", "示范县", "2026-12-01T00:00:00.000000Z")
    assert (report["format"], report["county"], report["month"]) == ("yiwang.e-supervision.v1", "示范县", "2026-11")
    assert [(o["number"], o["receipt_no"]) for o in report["orders"]] == [("督办〔2026〕第 1 号", "shangcun-000002")]
    assert [c["colour"] for c in report["cards"]] == ["red"]


def test_the_report_is_exported_as_json_and_csv_and_a_bad_month_is_a_problem(tmp_path, hub_db_url):
    from litestar.testing import TestClient

    from central.app import create_app
    from central.cli import initialise
    from central.settings import Settings

    settings = Settings(data_dir=tmp_path / "hub", nats_url="nats://127.0.0.1:9", db_url=hub_db_url, county_name="青山县")
    initialise(settings, operator_password="op-pass", demo_password="pw")
    with TestClient(create_app(settings)) as client:
        api = {"Authorization": "Bearer " + client.post("/api/login", json={"username": "operator", "password": "op-pass"}).json()["token"]}
        report = client.get("/api/supervision/report?month=2026-11", headers=api)
        assert report.status_code == 200 and report.json()["county"] == "青山县" and report.json()["departments"] == []
        exported = client.get("/api/supervision/report.csv?month=2026-11", headers=api)
        assert exported.status_code == 200 and exported.content.startswith("\ufeff".encode())
        assert next(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))[:4] == ["月份", "部门代码", "部门", "办结环节数"]
        assert exported.headers["content-type"].count("charset") == 1
        bad = client.get("/api/supervision/report?month=2026-13", headers=api)
        assert bad.status_code == 400 and bad.json()["field"] == "month"
        for month in ("9999-12", "0001-01"):  # adversarial pass: these overflowed the date arithmetic into a 500
            assert client.get(f"/api/supervision/report?month={month}", headers=api).status_code == 400
            assert client.get(f"/api/supervision/report.csv?month={month}", headers=api).status_code == 400
        assert client.get("/api/supervision/figures?start=9999-12-30&end=9999-12-31", headers=api).status_code == 400
        for order in ("99999999999999999999", "9223372036854775808", "2147483648"):
            assert client.post(f"/api/supervision/orders/{order}/reply", json={"reply": "x"}, headers=api).status_code == 404
        assert client.get("/api/supervision/figures?start=2026-11-30&end=2026-11-01", headers=api).status_code == 400
        clerk_api = {"Authorization": "Bearer " + client.post("/api/login", json={"username": "clerk-mzj", "password": "pw"}).json()["token"]}
        assert client.get("/api/supervision/report?month=2026-11", headers=clerk_api).status_code == 403
        assert client.get("/api/supervision/orders", headers=clerk_api).json() == []


def test_the_clerk_answers_an_order_on_the_page_and_the_operator_sees_the_figures_and_downloads_the_month(tmp_path, hub_db_url):
    import re

    from litestar.testing import TestClient

    from central.app import create_app
    from central.cli import initialise
    from central.db import make_engine
    from central.settings import Settings
    from sync_protocol import verify_key_to_text
    from tests.support.builders import NODE_KEY

    settings = Settings(data_dir=tmp_path / "hub", nats_url="nats://127.0.0.1:9", db_url=hub_db_url)
    initialise(settings, operator_password="op-pass", demo_password="pw")
    engine = make_engine(settings.database_url)
    with TestClient(create_app(settings)) as client:
        with Session(engine) as s:
            s.add(Node(id="shangcun", name="上村", kind="village", public_key=verify_key_to_text(NODE_KEY.verify_key), enrolled_at=T))
            s.commit()
        ingest_batch(engine, "yiwang.up.shangcun", chain([received(1)])[0])
        sql(engine, "UPDATE application SET received_at = :t", t=MON)
        cards.issue_due(engine, beijing_noon("2026-11-05"))

        def log_in(username: str, password: str) -> None:
            client.cookies.clear()
            token = re.search(r'name="_csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
            client.post("/login", data={"username": username, "password": password, "_csrf_token": token})

        log_in("clerk-mzj", "pw")
        assert "1 张督办单待回复" in client.get("/queue").text
        page = client.get("/supervision").text
        assert "督办〔2026〕第 1 号" in page and 'id="submit-reply-1"' in page
        case = client.get("/cases/app1").text
        assert 'id="cards"' in case and "红牌" in case and "已超期" in case
        token = re.search(r'name="_csrf_token" value="([^"]+)"', page).group(1)
        empty = client.post("/supervision/orders/1/reply", data={"_csrf_token": token, "reply": ""})
        assert empty.status_code == 400 and "超期原因" in empty.text
        done = client.post("/supervision/orders/1/reply", data={"_csrf_token": token, "reply": "预审人员休假，已安排 AB 岗"})
        assert done.status_code == 200 and "预审人员休假" in done.text and 'id="submit-reply-1"' not in done.text
        assert client.get("/supervision/report.csv?month=2026-11").status_code in (401, 403)
        log_in("operator", "op-pass")
        figures_page = client.get("/supervision?start=2026-11-01&end=2026-11-30").text
        assert 'id="by-department"' in figures_page and "县民政局" in figures_page
        table = figures_page.split('id="by-department"')[1].split("</table>")[0]
        row = next(r for r in table.split("<tr") if "县民政局" in r)
        assert re.findall(r"<td>([^<]*)</td>", row) == ["县民政局", "0", "0", "—", "—", "0", "1", "1", "0", "0"]  # one red card, its order answered
        download = client.get("/supervision/report.csv?month=2026-11")
        assert download.status_code == 200 and download.content.startswith("\ufeff".encode()) and "mzj" in download.content.decode("utf-8-sig")
        bad = client.get("/supervision?start=2026-11-30&end=2026-11-01")
        assert bad.status_code == 400 and "从早到晚" in bad.text
    engine.dispose()
