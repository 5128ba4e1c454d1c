"""Log files (issue 22 item 8): the hub and the nodes keep theirs in <dir>/logs for six months and
more (网络安全法 art. 21; they went to stderr only), with an access log, and without the TLS EOF
warning nats-py caused at every disconnect."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import httpx

from provisioning.federation import free_port
from tests.support.builders import node_dir, resident_id
from tests.support.polling import eventually
from weblayer import logs


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_a_running_node_writes_its_log_and_an_access_log(tmp_path: Path):
    data, port = node_dir(tmp_path / "node"), free_port()
    node = subprocess.Popen([sys.executable, "-m", "yiwang", "node", "serve", "--dir", str(data), "--port", str(port)], stderr=subprocess.DEVNULL)
    try:
        eventually(lambda: _answers(f"http://127.0.0.1:{port}/api/health"), timeout=60, what="the node to serve")
        httpx.get(f"http://127.0.0.1:{port}/no-such-page", timeout=5)
        httpx.get(f"http://127.0.0.1:{port}/api/people/{resident_id(3)}/county", params={"q": resident_id(4)}, timeout=5)
        spaced = f"{resident_id(5)[:6]} {resident_id(5)[6:14]} {resident_id(5)[14:]}"  # adversarial pass: as people type it, and taken so
        encoded = "".join(f"%{ord(c):02X}" for c in resident_id(8))  # second adversarial pass: as the app decodes them, and taken so
        wide = "".join(chr(0xFF10 + int(c)) if c.isdigit() else c for c in resident_id(9))
        odd_gaps = f"{resident_id(10)[:6]}%E3%80%80{resident_id(10)[6:14]}%09{resident_id(10)[14:]}"  # an ideographic space, a tab
        paths = (f"/api/people/{spaced}/county", f"/zz{resident_id(6)}", f"/api/people/a{resident_id(7)}b/county", f"/api/people/{encoded}/county")
        for path in (*paths, f"/api/people/{wide}/county", f"/api/people/{odd_gaps}/county", "/x%0Aforged line"):
            httpx.get(f"http://127.0.0.1:{port}{path}", timeout=5)
        eventually(lambda: "/no-such-page" in (data / "logs" / "access.log").read_text(), timeout=10, what="the access log line")
    finally:
        node.terminate()
        node.wait(30)
    access = (data / "logs" / "access.log").read_text()
    assert '"GET /api/health HTTP/1.1" 200' in access and '"GET /no-such-page HTTP/1.1" 404' in access
    assert f"/api/people/{resident_id(3)[:4]}**********{resident_id(3)[-4:]}/county?… HTTP" in access  # whose data: not in the log
    assert resident_id(3) not in access and resident_id(4) not in access
    assert "\nforged line" not in access and "/x%0Aforged line" in access  # a new line stays encoded
    for n in (5, 6, 7, 8, 9, 10):
        assert f"{resident_id(n)[:4]}**********{resident_id(n)[-4:]}" in access and resident_id(n)[4:14] not in access, access
    main_log = (data / "logs" / "node.log").read_text()
    assert "Uvicorn running on" in main_log and "GET /api/health" not in main_log  # requests only in access.log


def test_files_are_kept_for_the_configured_days_and_the_tls_eof_warning_is_dropped(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("YIWANG_LOG_DAYS", "3")
    root = logging.getLogger()
    before = root.handlers[:], root.level
    try:
        logs.configure(tmp_path, "hub")
        for day in range(1, 8):
            (tmp_path / f"hub.log.2026-01-0{day}").write_text("old\n")
        logging.getLogger("asyncio").warning("returning true from eof_received() has no effect when using ssl")
        logging.getLogger("asyncio").warning("something else went wrong")
        handler = next(h for h in root.handlers if isinstance(h, logs.TimedRotatingFileHandler))
        handler.flush()
        text = (tmp_path / "hub.log").read_text()
        assert "something else went wrong" in text and "eof_received" not in text
        handler.doRollover()
        kept = sorted(p.name for p in tmp_path.glob("hub.log.*"))
        assert len(kept) == 3 and "hub.log.2026-01-01" not in kept  # the oldest went
    finally:
        for h in root.handlers[:]:
            if h not in before[0]:
                root.removeHandler(h)
                h.close()
        root.setLevel(before[1])
        logging.getLogger("uvicorn.access").propagate = True
    assert logs.DEFAULT_DAYS >= 183  # six months


def test_a_bad_number_of_days_is_refused_with_what_to_give(monkeypatch):
    import pytest

    for bad in ("abc", "1e3", "-3", "0"):
        monkeypatch.setenv("YIWANG_LOG_DAYS", bad)
        with pytest.raises(ValueError, match="at least 1"):
            logs.log_days()
    monkeypatch.setenv("YIWANG_LOG_DAYS", "")  # an empty line in a settings file: the default
    assert logs.log_days() == logs.DEFAULT_DAYS


def test_a_clean_stop_of_a_node_and_the_hub_writes_no_warning_or_error(federation):
    """New-user pass: every clean stop of a node wrote `ERROR asyncio: Task exception was never
    retrieved` with two tracebacks, and the hub's `NATS disconnected; reconnecting`: the lines
    operators are told to watch for."""
    from tests.support.federation import running_village

    running_village(federation, "shangcun")
    hub_log, node_log = federation.root / "hub" / "logs" / "hub.log", federation.root / "nodes" / "shangcun" / "logs" / "node.log"
    eventually(lambda: "connected to NATS" in node_log.read_text(), timeout=60, what="the point on NATS")
    before = len(hub_log.read_text().splitlines())
    federation.stop("shangcun")
    federation.stop("hub")
    for name, lines in (("node", node_log.read_text().splitlines()), ("hub", hub_log.read_text().splitlines()[before:])):
        loud = [line for line in lines if " WARNING " in line or " ERROR " in line or "Traceback" in line]
        assert not loud, f"{name}: {loud}"
    assert "NATS connection closed" in node_log.read_text()
