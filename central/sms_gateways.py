"""Where the hub's SMS go (central/sms.py): the county's SMS gateway, or a file for the demo.

The interface a gateway implements (docs/integration.md):
- ``send(message: Outgoing) -> str`` hands one message over and returns the gateway's id for it;
  ``message.key`` is an idempotency key: handed over again after a crash, the same key must not
  send a second SMS (the gateway answers with the id it gave the first time);
- it raises ``SmsRetry`` when it cannot take the message now (unreachable, 429, 5xx) and
  ``SmsRefused`` when it never will (a bad number or template: 4xx).

``HttpGateway`` speaks a generic JSON contract that a county's SMS platform, or a small relay in
front of a provider's SDK, implements: ``POST <url>`` with ``Authorization: Bearer <token>``,
``Idempotency-Key: <key>`` and ``{id, phone, template, params, sign, text}``; it answers 2xx
``{"id": "<its id>"}``. Template ids per step come from the settings (the provider's approved
templates); ``text`` is the whole message, for platforms that take free text.

``FileSink`` appends each message as a JSON line to a file (the demo's default,
``<hub dir>/sms.jsonl``): nothing reaches a phone. It keeps the keys it wrote, so it too sends a
key once. At ``MAX_FILE_BYTES`` the file moves to ``sms.jsonl.1`` (replacing the one before) and a
new one starts: a hub left without a gateway for months does not fill its disk.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Protocol

import httpx

from .clock import utcnow
from .sms import Outgoing, SmsRefused, SmsRetry


class SmsGateway(Protocol):
    def send(self, message: Outgoing) -> str: ...


class HttpGateway:
    def __init__(self, url: str, token: str, sign: str, templates: dict[str, str], timeout: float = 10.0) -> None:
        self.url, self.sign, self.templates = url, sign, templates
        self.client = httpx.Client(timeout=timeout, headers={"Authorization": f"Bearer {token}"} if token else {})

    def send(self, message: Outgoing) -> str:
        body = {
            "id": message.key,
            "phone": message.phone,
            "template": self.templates.get(message.step, message.step),
            "params": message.params,
            "sign": self.sign,
            "text": f"【{self.sign}】{message.text}",
        }
        try:
            response = self.client.post(self.url, json=body, headers={"Idempotency-Key": message.key})
        except httpx.HTTPError as exc:
            raise SmsRetry(f"短信网关无法连接：{type(exc).__name__}") from exc
        if response.status_code == 429 or response.status_code >= 500:
            raise SmsRetry(f"短信网关暂时不可用（HTTP {response.status_code}）")
        if response.status_code >= 400:
            raise SmsRefused(f"短信网关拒收（HTTP {response.status_code}）：{response.text[:150]}")
        try:
            provider_id = response.json().get("id")
        except (ValueError, AttributeError):
            provider_id = None
        return str(provider_id or message.key)


MAX_FILE_BYTES = 10 * 1024 * 1024  # about 40,000 messages


class FileSink:
    """The demo's gateway: one JSON line per message in ``path`` (see the module docstring)."""

    def __init__(self, path: Path, sign: str) -> None:
        self.path, self.sign = path, sign
        self._lock = threading.Lock()
        self._sent: set[str] = set()
        if path.exists():
            if path.stat().st_size and not path.read_bytes().endswith(b"\n"):
                with open(path, "a", encoding="utf-8") as f:  # end a line a crash cut, so the next one stands alone
                    f.write("\n")
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                try:
                    self._sent.add(json.loads(line)["id"])
                except (ValueError, KeyError, TypeError):
                    continue  # a line cut by a crash: its message was not taken, and goes again

    def send(self, message: Outgoing) -> str:
        with self._lock:
            if message.key not in self._sent:
                line = {"id": message.key, "at": utcnow(), "phone": message.phone, "step": message.step, "text": f"【{self.sign}】{message.text}"}
                self.path.parent.mkdir(parents=True, exist_ok=True)
                if self.path.exists() and self.path.stat().st_size >= MAX_FILE_BYTES:
                    self.path.replace(self.path.with_name(self.path.name + ".1"))
                    self._sent = set()  # (one handed over again just as the file moved is written twice: a demo's file, not a phone)
                with open(self.path, "a", encoding="utf-8") as f:
                    f.write(json.dumps(line, ensure_ascii=False) + "\n")
                    f.flush()
                    os.fsync(f.fileno())
                self._sent.add(message.key)
        return message.key


def gateway_for(url: str, token: str, sign: str, templates: dict[str, str], data_dir: Path) -> SmsGateway:
    """The configured gateway (``YIWANG_SMS_URL``), else the demo's file sink in ``data_dir``."""
    if url:
        return HttpGateway(url, token, sign, templates)
    return FileSink(data_dir / "sms.jsonl", sign)
