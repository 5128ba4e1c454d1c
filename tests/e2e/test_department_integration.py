"""A department with its own approval system: it receives its cases on yiwang.dept.<code>.cases
(a durable JetStream consumer, as its system would run one) and posts its decision back through
the hub's API with a service account — in a parallel approval led by a department that uses the
hub's own workspace."""

from __future__ import annotations

import json
import ssl

import nats
import pytest
from nats.js.api import AckPolicy, ConsumerConfig

from central.keys import load_hub_key
from central.settings import Settings as HubSettings
from provisioning.federation import LocalFederation
from provisioning.natsd import new_user_seed
from sync_protocol import user_nkey_from_seed, verify_feed, verify_key_to_text
from tests.support.api import Api
from tests.support.builders import birth_form, checked, resident_id
from tests.support.federation import running_village
from tests.support.polling import eventually, run_async

pytestmark = pytest.mark.e2e


SEED = new_user_seed()  # the department's system makes its own NATS key; the hub gets the public half


def department_inbox(federation: LocalFederation, department: str) -> list[dict]:
    """What the department's system has been sent so far (acked: it will not come again), read
    with the department's own NATS identity: its consumer, its inbox, nothing else. Each event
    must verify with the hub's key, as docs/integration.md tells the department to check."""
    hub_key = hub_public_key(federation)

    async def fetch() -> list[dict]:
        tls = ssl.create_default_context(cafile=str(federation.nats_dir / "ca.pem"))
        nc = await nats.connect(federation.nats_url, nkeys_seed_str=SEED, inbox_prefix=f"_INBOX_dept-{department}", tls=tls)
        try:
            js = nc.jetstream()
            consumer = f"dept-{department}"
            config = ConsumerConfig(
                name=consumer, durable_name=consumer, filter_subject=f"yiwang.dept.{department}.cases", ack_policy=AckPolicy.EXPLICIT
            )
            await js.add_consumer("YIWANG_DEPT", config=config)
            sub = await js.pull_subscribe_bind(consumer, stream="YIWANG_DEPT")
            try:
                msgs = await sub.fetch(20, timeout=1)
            except (nats.errors.TimeoutError, TimeoutError):
                return []
            for msg in msgs:
                verify_feed(msg.subject, msg.headers, msg.data, hub_key)  # raises BadSignature
                await msg.ack()
            return [json.loads(m.data) for m in msgs]
        finally:
            await nc.close()

    return run_async(fetch())


def hub_public_key(federation: LocalFederation):
    return load_hub_key(HubSettings(data_dir=federation.root / "hub").key_path).verify_key


def test_an_integrated_department_gets_its_cases_and_decides_through_the_api(federation: LocalFederation):
    spec = running_village(federation, "shangcun", kind="township")  # 新生儿出生“一件事” is a township item
    operator = Api(federation.hub_url, "operator", federation.password)
    bad = operator.put("/api/departments/ybj/integration", json={"integration": "webhook?"})
    assert bad.status_code == 400 and bad.json()["field"] == "integration"
    keyless = operator.put("/api/departments/ybj/integration", json={"integration": "nats"})
    assert keyless.status_code == 400 and keyless.json()["field"] == "nats_public_key"
    answer = operator.put("/api/departments/ybj/integration", json={"integration": "nats", "nats_public_key": user_nkey_from_seed(SEED)}).json()
    assert (answer["subject"], answer["consumer"], answer["inbox_prefix"]) == ("yiwang.dept.ybj.cases", "dept-ybj", "_INBOX_dept-ybj")
    assert answer["hub_public_key"] == verify_key_to_text(hub_public_key(federation))  # what the department pins
    agent = Api(f"http://127.0.0.1:{spec.port}", "agent", federation.password)
    app = agent.post(
        "/api/applications",
        json={
            "item_code": "GA-007",
            "applicant_name": "周建国",
            "applicant_id_number": resident_id(31),
            "materials_checked": checked("GA-007"),
            "form": birth_form(31),
        },
    ).json()

    received: list[dict] = []
    eventually(lambda: received.extend(department_inbox(federation, "ybj")) or received, what="the case on yiwang.dept.ybj.cases")
    [routed] = received
    assert routed["event"] == "case.routed" and routed["case"]["application_id"] == app["id"] and routed["case"]["departments"] == ["gaj", "ybj"]
    assert routed["case"]["applicant_id_number"] == resident_id(31)

    gaj, ybj_system = Api(federation.hub_url, "clerk-gaj", federation.password), Api(federation.hub_url, "clerk-ybj", federation.password)
    assert ybj_system.post(f"/api/applications/{app['id']}/decision", json={"decision": "approve"}).status_code == 409  # not accepted yet
    assert gaj.post(f"/api/applications/{app['id']}/acceptance").status_code == 200
    eventually(
        lambda: [e["event"] for e in department_inbox(federation, "ybj")] == ["case.accepted"], what="case.accepted for the department's system"
    )
    assert ybj_system.post(f"/api/applications/{app['id']}/decision", json={"decision": "approve", "reason": "参保信息核实"}).status_code == 200
    assert gaj.post(f"/api/applications/{app['id']}/decision", json={"decision": "approve"}).status_code == 200
    eventually(lambda: agent.get(f"/api/applications/{app['id']}").json()["status"] == "approved", what="the joint approval at the node")
    [concluded] = eventually(lambda: department_inbox(federation, "ybj"), what="case.concluded for the department's system")
    assert concluded["event"] == "case.concluded" and concluded["case"]["status"] == "approved"
    actions = operator.get("/api/actions", params={"target": app["id"]}).json()
    assert [(a["actor"], a["action"]) for a in reversed(actions)] == [
        ("clerk-gaj", "case.accepted"),
        ("clerk-ybj", "case.approved"),
        ("clerk-gaj", "case.approved"),
    ]


def test_a_department_event_verifies_only_as_sent():
    """The feed's signature binds the body, the subject and the event id: an event moved to
    another department, replayed under another id, or altered does not verify."""
    from nacl.signing import SigningKey

    from sync_protocol import BadSignature, sign_feed

    key = SigningKey.generate()
    body = b'{"event": "case.routed", "case": {"application_id": "a1"}}'
    headers = sign_feed("yiwang.dept.cl.cases", "ev-1", body, key)
    verify_feed("yiwang.dept.cl.cases", headers, body, key.verify_key)
    for subject, changed, payload, verify_key in [
        ("yiwang.dept.mzj.cases", {}, body, key.verify_key),
        ("yiwang.dept.cl.cases", {"Nats-Msg-Id": "ev-2"}, body, key.verify_key),
        ("yiwang.dept.cl.cases", {}, body.replace(b"a1", b"a2"), key.verify_key),
        ("yiwang.dept.cl.cases", {}, body, SigningKey.generate().verify_key),
        ("yiwang.dept.cl.cases", {"Yiwang-Signature": "not base64!"}, body, key.verify_key),
    ]:
        with pytest.raises(BadSignature):
            verify_feed(subject, headers | changed, payload, verify_key)
    with pytest.raises(BadSignature):
        verify_feed("yiwang.dept.cl.cases", None, body, key.verify_key)  # unsigned: what an older hub sent
