"""An appointment round trip (issue 21 item 3) on real processes: a point offers its windows; with
its link down, its agent books a citizen from the point's own share and a citizen books on the
county's portal with an SMS code (read from the hub's file sink: the demo's gateway, no phone);
when the link is back the portal booking is on the point's list, the agent serves it with a case
and cancels the other (a no-show only once its time has come), and the county's figures say so."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta

import httpx
import pytest

from provisioning.federation import LocalFederation
from tests.support.api import Api
from tests.support.builders import SIGNATURE_PNG, checked, resident_id
from tests.support.federation import running_village
from tests.support.polling import eventually

pytestmark = pytest.mark.e2e

WINDOW = {"id": "w1", "name": "1号窗口", "days": [1, 2, 3, 4, 5, 6, 7], "start": "08:00", "end": "18:00", "minutes": 60, "capacity": 2, "online": 1}
PHONE = "13912345678"


def sms_code(federation: LocalFederation) -> str | None:
    sink = federation.root / "hub" / "sms.jsonl"
    lines = [json.loads(line) for line in sink.read_text(encoding="utf-8").splitlines()] if sink.exists() else []
    codes = [re.search(r"\d{6}", m["text"]).group(0) for m in lines if m["step"] == "verification" and m["phone"] == PHONE]
    return codes[-1] if codes else None


def test_an_appointment_round_trip_with_the_point_offline(federation: LocalFederation):
    spec = running_village(federation, "shangcun")
    agent = Api(f"http://127.0.0.1:{spec.port}", "agent", federation.password)
    operator = Api(federation.hub_url, "operator", federation.password)
    citizen = httpx.Client(base_url=federation.hub_url, timeout=30)  # no account: the portal's public API
    assert agent.put("/api/appointments/schedule", json={"windows": [WINDOW], "days_ahead": 14}).status_code == 200
    eventually(lambda: [p["node_id"] for p in citizen.get("/api/public/appointment-points").json()] == ["shangcun"], what="the windows at the hub")
    days = citizen.get("/api/public/appointment-points/shangcun/slots").json()["days"]
    day = next(d["day"] for d in days if date.fromisoformat(d["day"]) > date.today())  # a working day ahead
    chosen = citizen.get("/api/public/appointment-points/shangcun/slots", params={"day": day}).json()
    assert chosen["day"] == day and all(d["slots"] == [] for d in chosen["days"] if d["day"] != day)  # one day's slots at a time
    slots = next(d["slots"] for d in chosen["days"] if d["day"] == day)
    slot = slots[0]

    federation.stop("nats")  # the point's link is down
    eventually(lambda: agent.get("/api/status").json()["online"] is False, what="the point offline")
    own = agent.post("/api/appointments", json={"window": "w1", "day": day, "time": slot["time"], "name": "李大爷"})
    assert own.status_code == 201, own.text  # the point's own share, offline
    assert citizen.post("/api/public/phone-codes", json={"phone": PHONE}).status_code == 204
    eventually(lambda: sms_code(federation) is not None, what="the code in the hub's SMS file")
    booking = {
        "node_id": "shangcun",
        "window": "w1",
        "day": day,
        "time": slot["time"],
        "name": "周桂兰",
        "phone": PHONE,
        "code": sms_code(federation),
    }
    booked = citizen.post("/api/public/appointments", json=booking | {"item_code": "MZ-003"})
    assert booked.status_code == 201, booked.text
    full = citizen.post("/api/public/appointments", json=booking)
    assert full.status_code == 409 and "约满" in full.json()["detail"]  # the slot's one online place is taken
    later = slots[1]["time"]
    again = citizen.post("/api/public/appointments", json=booking | {"time": later})
    assert again.status_code == 400 and again.json()["field"] == "code"  # the code was used

    federation.start_nats()
    listed = lambda: {a["name"]: a for a in agent.get("/api/appointments", params={"day": day}).json()}  # noqa: E731
    eventually(lambda: "周桂兰" in listed(), timeout=60, what="the portal booking on the point's list")
    assert listed()["周桂兰"]["source"] == "portal" and listed()["李大爷"]["source"] == "window"
    case = agent.post(
        "/api/applications",
        json={
            "item_code": "MZ-003",
            "materials_checked": checked("MZ-003"),
            "applicant_name": "周桂兰",
            "applicant_id_number": resident_id(3),
            "by_proxy": True,
            "authorisation_png_base64": SIGNATURE_PNG,
            "appointment_id": listed()["周桂兰"]["id"],
        },
    )
    assert case.status_code == 201, case.text
    early = agent.post(f"/api/appointments/{listed()['李大爷']['id']}/status", json={"status": "no_show"})
    assert early.status_code == 409 and "时间还没到" in early.json()["detail"]  # a day ahead: not yet a no-show
    assert agent.post(f"/api/appointments/{listed()['李大爷']['id']}/status", json={"status": "cancelled"}).status_code == 204
    assert listed()["周桂兰"]["application_id"] == case.json()["id"]

    period = {"start": day, "end": (date.fromisoformat(day) + timedelta(days=1)).isoformat()}
    counts = {"portal": 1, "window": 1, "served": 1, "no_show": 0, "cancelled": 1}

    def figures() -> dict:
        return {
            k: v
            for row in operator.get("/api/services/figures", params=period).json()
            if row["node_id"] == "shangcun"
            for k, v in row.items()
            if k in counts
        }

    eventually(lambda: figures() == counts, timeout=60, what="the figures at the county")
    assert citizen.get(f"/api/public/appointments/{booked.json()['token']}").json()["status"] == "served"
