"""Citizens told of each step by SMS (issue 21 item 1): written with the step, once per step, only
with consent and only what the step needs; sent through the gateway once, retried with backoff,
refused ones failed with an alert, at most so many per number; the result's arrival at the point
announced only once the point's status says it holds it.

The gateway is the one boundary faked here (``Phones``: a stand-in for the county's SMS provider,
which yiwang does not own); ``HttpGateway`` is tested against a stand-in HTTP server, and the file
sink is the real one."""

from __future__ import annotations

import json
import re
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlmodel import Session, col, select

from central import approval, document_texts, downlink, sms, supervision
from central.clock import utcnow
from central.ingest import ingest_batch
from central.linkstatus import receive_status
from central.models import Alert, Application, DownlinkEvent, SmsMessage, User
from central.sms import Outgoing, SmsRefused, SmsRetry
from central.sms_gateways import FileSink, HttpGateway
from sync_protocol import Record, parse_time, seal_status
from tests.support.builders import HUB_KEY, NODE_KEY, T, chain, received

PHONE = "13912345678"


def consenting(n: int, item: str = "MZ-003", phone: str = PHONE) -> Record:
    record = received(n, item)
    return Record(record.kind, record.id, record.at, record.data | {"applicant_phone": phone, "sms_consent": True})


def clerk(engine, username: str = "clerk-mzj") -> User:
    with Session(engine) as s:
        return s.get(User, username)


def issue(engine) -> None:
    while document_texts.issue_pending(engine, HUB_KEY, "示范县", "12345"):
        pass


def messages(engine, app_id: str | None = None) -> list[SmsMessage]:
    with Session(engine) as s:
        query = select(SmsMessage).order_by(col(SmsMessage.id))
        return list(s.exec(query.where(SmsMessage.application_id == app_id) if app_id else query).all())


def status(**extra) -> bytes:
    fields = {"node": "shangcun", "at": T, "up_seq": 1, "outbox_depth": 0, "app_version": "0.2.0", "catalog_version": 0}
    return seal_status(fields | extra, NODE_KEY)


class Phones:
    """STAND-IN for the county's SMS gateway (the boundary we do not own): what was handed over,
    keyed like a provider that honours idempotency keys; ``fail`` raises for the next sends."""

    def __init__(self) -> None:
        self.handed: list[Outgoing] = []
        self.delivered: dict[str, Outgoing] = {}
        self.fail: list[Exception] = []

    def send(self, message: Outgoing) -> str:
        self.handed.append(message)
        if self.fail:
            raise self.fail.pop(0)
        self.delivered.setdefault(message.key, message)
        return f"p-{message.key}"


def test_each_step_is_told_once_and_says_only_what_the_step_needs(engine):
    batches = chain(
        [consenting(1), received(2)], [Record("supplement.provided", "ev9", T, {"application_id": "app1", "materials": [], "agent": "agent"})]
    )
    ingest_batch(engine, "yiwang.up.shangcun", batches[0])
    mzj = clerk(engine)
    approval.request_supplement(engine, mzj, "app1", ["户口簿", "银行卡"])
    issue(engine)
    ingest_batch(engine, "yiwang.up.shangcun", batches[1])
    approval.accept(engine, mzj, "app1")
    approval.accept(engine, mzj, "app2")
    approval.decide(engine, mzj, "app1", "approve", "", HUB_KEY)
    issue(engine)
    issue(engine)  # nothing twice
    told = messages(engine, "app1")
    assert [m.step for m in told] == ["collected", "supplement", "accepted", "decided", "ready"]
    assert [m.status for m in told] == ["queued"] * 4 + ["held"]  # ready: once the point holds the result
    assert all(m.phone == PHONE for m in told)
    texts = {m.step: m.text for m in told}
    assert "户口簿、银行卡" in texts["supplement"] and "上村" in texts["supplement"]
    assert "准予给付" in texts["decided"] and "shangcun-000001" in texts["decided"]  # 高龄津贴 is a benefit
    assert "月" in texts["accepted"] and "日前办结" in texts["accepted"]
    for m in told:  # no name, no ID number: what the step needs only
        assert "张三" not in m.text and "11010519491231002X" not in m.text and "1002X" not in m.params_json
        assert set(json.loads(m.params_json)) <= {"item", "receipt_no", "point", "date", "materials", "result"}
    assert messages(engine, "app2") == []  # no consent at the window: no SMS


def test_consent_without_a_mobile_number_sends_nothing(engine):
    ingest_batch(engine, "yiwang.up.shangcun", chain([consenting(1, phone=""), consenting(2, phone="0571-8888888")])[0])
    issue(engine)
    with Session(engine) as s:
        assert s.get(Application, "app1").sms_consent is False  # no number: nothing to consent to
    assert messages(engine) == []  # a landline gets no SMS


def test_the_result_is_announced_once_the_point_says_it_holds_it(engine):
    ingest_batch(engine, "yiwang.up.shangcun", chain([consenting(1), consenting(2)])[0])
    for app_id in ("app1", "app2"):
        approval.accept(engine, clerk(engine), app_id)
        approval.decide(engine, clerk(engine), app_id, "approve", "", HUB_KEY)
    issue(engine)
    downlink.seal_pending(engine, HUB_KEY)
    with Session(engine) as s:
        last = max(e.batch_seq for e in s.exec(select(DownlinkEvent).where(DownlinkEvent.kind == "document.issued")).all())
    receive_status(engine, "shangcun", status(down_applied=last - 1))
    assert {m.step: m.status for m in messages(engine, "app1")}["ready"] == "held"
    receive_status(engine, "shangcun", status())  # an older node says nothing of its downlink: still held
    assert {m.step: m.status for m in messages(engine, "app1")}["ready"] == "held"
    pickup = {"application_id": "app2", "collector_name": "张三", "agent": "agent", "collector_is_applicant": True}
    ingest_batch(engine, "yiwang.up.shangcun", chain([consenting(1), consenting(2)], [Record("application.picked_up", "ev5", T, pickup)])[1])
    receive_status(engine, "shangcun", status(down_applied=last))
    assert {m.step: m.status for m in messages(engine, "app1")}["ready"] == "queued"
    assert {m.step: m.status for m in messages(engine, "app2")}["ready"] == "dropped"  # collected already: not announced


def test_a_dispatch_and_a_complaints_answers_are_told(engine):
    ingest_batch(engine, "yiwang.up.shangcun", chain([consenting(1)])[0])
    approval.accept(engine, clerk(engine), "app1")
    approval.decide(engine, clerk(engine), "app1", "approve", "", HUB_KEY)
    issue(engine)
    records = [
        Record("application.dispatched", "ev2", T, {"application_id": "app1", "courier": "EMS", "tracking_no": "E1", "agent": "agent"}),
        Record("complaint.filed", "ev3", T, {"complaint_id": "shangcun-T000001", "application_id": "app1", "text": "等了很久", "contact": ""}),
        Record("complaint.filed", "ev4", T, {"complaint_id": "shangcun-T000002", "text": "窗口没人", "contact": "13700001111"}),
    ]
    ingest_batch(engine, "yiwang.up.shangcun", chain([consenting(1)], records)[1])
    steps = {m.step: m.status for m in messages(engine, "app1")}
    assert steps["dispatched"] == "queued" and steps["ready"] == "dropped"
    operator = User(username="op", display_name="运维", role="operator", password_hash="")
    supervision.answer_complaint(engine, operator, "shangcun-T000001", "已催办", final=False)
    supervision.answer_complaint(engine, operator, "shangcun-T000001", "已办结并送达")
    supervision.answer_complaint(engine, operator, "shangcun-T000002", "已安排值班")
    answered = [m for m in messages(engine) if m.step == "complaint_answered"]
    assert [(m.phone, m.key) for m in answered] == [
        (PHONE, "complaint:shangcun-T000001:first"),  # the case's consenting applicant
        (PHONE, "complaint:shangcun-T000001:final"),
        ("13700001111", "complaint:shangcun-T000002:final"),  # the number the complainant gave
    ]
    assert "初步答复" in answered[0].text and "正式答复" in answered[1].text


def test_each_message_is_handed_over_once_and_its_fate_is_on_the_case(engine):
    ingest_batch(engine, "yiwang.up.shangcun", chain([consenting(1)])[0])
    issue(engine)
    phones = Phones()
    assert sms.send_due(engine, phones) == 1 and sms.send_due(engine, phones) == 0
    [sent] = messages(engine, "app1")
    assert (sent.status, sent.provider_id, sent.attempts) == ("sent", f"p-{sent.key}", 1)
    assert sms.report(engine, [{"id": sent.provider_id, "status": "delivered", "at": T}, {"id": "nobody", "status": "delivered"}]) == 1
    [shown] = sms.of_case(engine, "app1")
    assert shown["status_label"] == "已送达" and shown["phone"] == "139****5678" and shown["step_label"] == "收件"


def test_a_gateway_that_cannot_take_it_now_is_asked_again_with_backoff_and_a_refusal_fails_it(engine):
    ingest_batch(engine, "yiwang.up.shangcun", chain([consenting(1), consenting(2, phone="13600000000")])[0])
    issue(engine)
    phones = Phones()
    phones.fail = [SmsRetry("短信网关暂时不可用（HTTP 503）"), SmsRefused("号码停机")]
    assert sms.send_due(engine, phones) == 2
    first, second = messages(engine, "app1")[0], messages(engine, "app2")[0]
    assert first.status == "queued" and "503" in first.error
    wait = parse_time(first.next_attempt_at) - parse_time(first.attempted_at)
    assert timedelta(seconds=29) < wait <= timedelta(seconds=31)  # BACKOFF[0]
    assert second.status == "failed" and second.error == "号码停机"
    with Session(engine) as s:
        assert [a.kind for a in s.exec(select(Alert).where(Alert.kind == "sms.failed")).all()] == ["sms.failed"]
    assert sms.send_due(engine, phones) == 0  # not before its time
    with Session(engine) as s:  # its time comes
        s.exec(update(SmsMessage).values(next_attempt_at=utcnow()))  # type: ignore[call-overload]
        s.commit()
    assert sms.send_due(engine, phones) == 1 and messages(engine, "app1")[0].status == "sent"
    assert [m.key for m in phones.handed].count(first.key) == 2 and len(phones.delivered) == 1


def test_a_gateway_that_breaks_on_one_message_does_not_stop_the_others(engine):
    ingest_batch(engine, "yiwang.up.shangcun", chain([consenting(1), consenting(2, phone="13600000000")])[0])
    issue(engine)
    phones = Phones()
    phones.fail = [UnicodeEncodeError("ascii", "号", 0, 1, "not ascii")]  # a gateway's own bug, not a verdict
    assert sms.send_due(engine, phones) == 2
    first, second = messages(engine, "app1")[0], messages(engine, "app2")[0]
    assert first.status == "queued" and "UnicodeEncodeError" in first.error and second.status == "sent"


def test_a_message_never_taken_fails_after_the_last_attempt(engine):
    ingest_batch(engine, "yiwang.up.shangcun", chain([consenting(1)])[0])
    issue(engine)
    phones = Phones()
    for _ in range(sms.MAX_ATTEMPTS):
        phones.fail = [SmsRetry("超时")]
        with Session(engine) as s:
            s.exec(update(SmsMessage).values(next_attempt_at=utcnow()))  # type: ignore[call-overload]
            s.commit()
        sms.send_due(engine, phones)
    [message] = messages(engine, "app1")
    assert (message.status, message.attempts, len(phones.handed)) == ("failed", sms.MAX_ATTEMPTS, sms.MAX_ATTEMPTS)


def test_a_send_cut_by_a_crash_goes_again_with_the_same_key_after_its_lease(engine):
    ingest_batch(engine, "yiwang.up.shangcun", chain([consenting(1)])[0])
    issue(engine)
    phones = Phones()
    [claimed] = sms.claim(engine)
    phones.send(claimed)  # handed over; the process dies before it records the answer
    assert sms.claim(engine) == []  # under its lease: nobody else sends it
    with Session(engine) as s:
        s.exec(update(SmsMessage).values(next_attempt_at=utcnow()))  # type: ignore[call-overload]  # the lease ran out
        s.commit()
    assert sms.send_due(engine, phones) == 1
    assert [m.key for m in phones.handed] == [claimed.key, claimed.key] and len(phones.delivered) == 1  # the gateway took it once
    assert messages(engine, "app1")[0].status == "sent"


def test_no_number_gets_more_than_its_share_and_the_rest_wait(engine):
    ingest_batch(engine, "yiwang.up.shangcun", chain([consenting(n) for n in range(1, 8)])[0])  # one family's seven cases
    issue(engine)
    phones = Phones()
    assert sms.send_due(engine, phones) == 5  # PER_NUMBER: 5 an hour
    waiting = [m for m in messages(engine) if m.status == "queued"]
    first_sent = min(parse_time(m.attempted_at) for m in messages(engine) if m.status == "sent")
    assert len(waiting) == 2 and all(parse_time(m.next_attempt_at) == first_sent + timedelta(hours=1) for m in waiting)
    assert sms.send_due(engine, phones) == 0 and len(phones.handed) == 5


def test_the_file_sink_writes_each_key_once_and_survives_a_cut_line(tmp_path: Path):
    path = tmp_path / "sms.jsonl"
    sink = FileSink(path, "示范县政务服务")
    message = Outgoing("doc:1", PHONE, "accepted", {"item": "x"}, "您的x申请已受理。")
    sink.send(message)
    sink.send(message)
    path.write_text(path.read_text(encoding="utf-8") + '{"id": "doc:2", "te', encoding="utf-8")  # a crash mid-line
    again = FileSink(path, "示范县政务服务")
    again.send(message)
    again.send(Outgoing("doc:2", PHONE, "accepted", {}, "再次"))
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.startswith('{"id": "doc:') and line.endswith("}")]
    assert [line["id"] for line in lines] == ["doc:1", "doc:2"]
    assert lines[0]["text"] == "【示范县政务服务】您的x申请已受理。"


class StandInProvider(BaseHTTPRequestHandler):
    """STAND-IN for an SMS provider's HTTP API (a boundary we do not own): answers by phone number."""

    seen: list[tuple[dict, dict]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        StandInProvider.seen.append((dict(self.headers), body))
        code = {"13900000503": 503, "13900000400": 400}.get(body["phone"], 200)
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps({"id": "P-1"} if code == 200 else {"error": "bad number"}).encode())

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def provider():
    server = ThreadingHTTPServer(("127.0.0.1", 0), StandInProvider)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    StandInProvider.seen = []
    yield f"http://127.0.0.1:{server.server_address[1]}/sms"
    server.shutdown()


def test_the_http_gateway_sends_the_template_the_key_and_the_token(provider: str):
    gateway = HttpGateway(provider, "tok", "示范县政务服务", {"accepted": "SMS_123"})
    assert gateway.send(Outgoing("doc:7", PHONE, "accepted", {"item": "x"}, "已受理。")) == "P-1"
    headers, body = StandInProvider.seen[0]
    assert headers["Authorization"] == "Bearer tok" and headers["Idempotency-Key"] == "doc:7"
    assert body == {
        "id": "doc:7",
        "phone": PHONE,
        "template": "SMS_123",
        "params": {"item": "x"},
        "sign": "示范县政务服务",
        "text": "【示范县政务服务】已受理。",
    }
    with pytest.raises(SmsRetry):
        gateway.send(Outgoing("doc:8", "13900000503", "accepted", {}, ""))
    with pytest.raises(SmsRefused, match="bad number"):
        gateway.send(Outgoing("doc:9", "13900000400", "accepted", {}, ""))
    with pytest.raises(SmsRetry, match="无法连接"):
        HttpGateway("http://127.0.0.1:9/sms", "", "s", {}, timeout=2).send(Outgoing("doc:10", PHONE, "accepted", {}, ""))


def test_the_hub_sends_through_its_file_sink_and_records_the_gateways_reports_on_the_case(tmp_path, hub_db_url):
    """The hub as it runs (its sender in the background, the demo's file sink), the reports'
    token checked, the case's API and page showing what became of each message."""
    from litestar.testing import TestClient

    from central.app import create_app
    from central.cli import initialise
    from central.db import make_engine
    from central.models import Node
    from central.settings import Settings
    from sync_protocol import verify_key_to_text
    from tests.support.polling import eventually

    settings = Settings(data_dir=tmp_path / "hub", nats_url="nats://127.0.0.1:9", db_url=hub_db_url, sms_report_token="report-token")
    initialise(settings, operator_password="op-pass", demo_password="pw")
    engine = make_engine(settings.database_url)
    with Session(engine) as s:
        s.add(Node(id="shangcun", name="上村", kind="village", public_key=verify_key_to_text(NODE_KEY.verify_key), enrolled_at=T))
        s.commit()
    ingest_batch(engine, "yiwang.up.shangcun", chain([consenting(1)])[0])
    issue(engine)
    sink = settings.data_dir / "sms.jsonl"
    with TestClient(create_app(settings)) as client:
        eventually(lambda: sink.exists() and "doc:" in sink.read_text(encoding="utf-8"), timeout=20, what="the collected SMS in the file sink")
        [line] = [json.loads(text) for text in sink.read_text(encoding="utf-8").splitlines()]
        assert line["phone"] == PHONE and line["text"].startswith("【示范县政务服务】您申请的")
        report = {"reports": [{"id": line["id"], "status": "delivered", "at": T}]}
        assert client.post("/api/sms/reports", json=report).status_code == 401
        assert client.post("/api/sms/reports", json=report, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert client.post("/api/sms/reports", json={"reports": "x"}, headers={"Authorization": "Bearer report-token"}).status_code == 400
        answer = client.post("/api/sms/reports", json=report, headers={"Authorization": "Bearer report-token"})
        assert answer.status_code == 200 and answer.json() == {"recorded": 1}
        token = client.post("/api/login", json={"username": "clerk-mzj", "password": "pw"}).json()["token"]
        [told] = client.get("/api/applications/app1", headers={"Authorization": f"Bearer {token}"}).json()["notifications"]
        assert (told["step"], told["status"], told["phone"]) == ("collected", "delivered", "139****5678")
        login = re.search(r'name="_csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
        client.post("/login", data={"username": "clerk-mzj", "password": "pw", "_csrf_token": login})
        page = client.get("/cases/app1")
        section = page.text.split('id="notifications"')[1].split("</div>")[0]
        assert "短信通知" in section and "收件" in section and "已送达" in section and "139****5678" in section


def test_the_file_sink_moves_aside_a_full_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from central import sms_gateways

    monkeypatch.setattr(sms_gateways, "MAX_FILE_BYTES", 300)  # a few messages' worth
    path = tmp_path / "sms.jsonl"
    sink = FileSink(path, "示范县政务服务")
    for n in range(6):
        sink.send(Outgoing(f"doc:{n}", PHONE, "accepted", {}, "您的申请已受理。" * 3))
    kept = [json.loads(line)["id"] for line in (tmp_path / "sms.jsonl.1").read_text(encoding="utf-8").splitlines()]
    current = [json.loads(line)["id"] for line in path.read_text(encoding="utf-8").splitlines()]
    assert (kept, current) == (["doc:2", "doc:3"], ["doc:4", "doc:5"])  # two files at most: the oldest lines leave


def test_codes_asked_for_a_number_never_hold_back_its_cases_news_and_a_stale_code_is_not_sent(engine):
    """Adversarial pass (issue 21): anyone could ask for a code for someone's number once a minute;
    the codes used up the number's hourly share, the case's messages waited behind them, and codes
    sent after an hour had long expired."""
    ingest_batch(engine, "yiwang.up.shangcun", chain([consenting(1)])[0])
    with Session(engine) as s:
        for n in range(8):
            sms.queue(s, f"code:{PHONE}:{n}", "verification", PHONE, {"code": f"{n:06d}"})
        s.commit()
    issue(engine)  # the case's 收件 message, behind eight codes
    phones = Phones()
    sms.send_due(engine, phones, limit=50)
    handed = [m.step for m in phones.handed]
    assert handed.count("verification") == 5 and handed.count("collected") == 1  # codes have their own share
    with Session(engine) as s:  # the three codes left waiting grow stale
        s.exec(update(SmsMessage).where(SmsMessage.status == "queued").values(created_at="2026-01-01T00:00:00.000000Z", next_attempt_at=utcnow()))  # type: ignore[call-overload]
        s.commit()
    sms.send_due(engine, phones, limit=50)
    assert len(phones.handed) == 6
    assert sorted(m.status for m in messages(engine) if m.step == "verification") == ["dropped"] * 3 + ["sent"] * 5
