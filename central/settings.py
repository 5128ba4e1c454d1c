"""Hub settings: a frozen dataclass read from the environment (or the CLI), passed in."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 8700
    nats_url: str = "tls://127.0.0.1:4700"
    db_url: str = ""  # default: sqlite file in data_dir
    public_url: str = ""  # how nodes reach this hub over HTTP (enrolment); default from host/port
    nats_public_url: str = ""  # how points reach this hub's NATS (told at enrolment); default nats_url_for_points
    citizen_url: str = ""  # how citizens' phones reach this hub's public pages (the slip's QR code); default public_url
    silent_minutes: int = 60  # a node not heard from for this long is flagged on the dashboard
    https: bool = False  # serve HTTPS with the county-CA certificate `yiwang hub init` made (nats/web.pem)
    county_name: str = "示范县"  # the county on reports and documents of record
    county_phone: str = "12345"  # the enquiry number documents give where the item names none
    # citizens' SMS (central/sms.py): the county's gateway (central/sms_gateways.py); without a
    # URL they are written to <data_dir>/sms.jsonl (the demo: nothing reaches a phone)
    sms_url: str = ""
    sms_token: str = ""  # sent as Authorization: Bearer to the gateway
    sms_sign: str = ""  # the signature (签名) the provider registered; default 〈county〉政务服务
    sms_templates: str = ""  # the provider's template id per step: "accepted=SMS_123,decided=SMS_456"
    sms_report_token: str = ""  # what the gateway's delivery reports carry (POST /api/sms/reports); empty: none taken
    metrics_token: str = ""  # what a Prometheus scrape of /metrics must carry; empty: the hub's own machine only

    @property
    def sms_signature(self) -> str:
        return self.sms_sign or f"{self.county_name}政务服务"

    @property
    def sms_template_ids(self) -> dict[str, str]:
        pairs = (part.split("=", 1) for part in self.sms_templates.split(",") if "=" in part)
        return {step.strip(): template.strip() for step, template in pairs}

    @property
    def database_url(self) -> str:
        return self.db_url or f"sqlite:///{self.data_dir / 'hub.sqlite3'}"

    @property
    def blobs_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def nats_dir(self) -> Path:
        """CA, the hub's NATS nkey and nats-server's configuration (made by `yiwang hub init`)."""
        return self.data_dir / "nats"

    @property
    def tls_files(self) -> tuple[Path, Path]:
        """The hub's HTTPS certificate and key, signed by the county CA for the hub's names."""
        return self.nats_dir / "web.pem", self.nats_dir / "web.key"

    @property
    def key_path(self) -> Path:
        return self.data_dir / "hub.key"

    @property
    def base_url(self) -> str:
        return self.public_url or f"{'https' if self.https else 'http'}://{self.host}:{self.port}"

    def url_problems(self) -> list[str]:
        """What is wrong with the addresses points and citizens are given: one without its scheme
        (`hub.county:8700`) went onto every enrolment slip, and the points enrolled from it were
        told to find NATS on themselves (new-user pass)."""
        problems = []
        for name, url, schemes in (
            ("--public-url (YIWANG_HUB_PUBLIC_URL)", self.public_url, ("http", "https")),
            ("YIWANG_HUB_CITIZEN_URL", self.citizen_url, ("http", "https")),
            ("YIWANG_NATS_PUBLIC_URL", self.nats_public_url, ("tls", "nats")),
        ):
            for part in url.split(",") if url else []:
                parsed = urlsplit(part.strip())
                if parsed.scheme not in schemes or not parsed.hostname:
                    problems.append(f"{name} {part.strip()!r}: give the whole address, starting {' or '.join(s + '://' for s in schemes)}")
        if self.https and self.public_url.startswith("http://"):
            problems.append(f"--public-url {self.public_url!r}: this hub serves HTTPS (--https), so its address starts https://")
        return problems

    @property
    def nats_url_for_points(self) -> str:
        """What a point is told at enrolment. The hub's own NATS URL names the machine as the hub
        sees it, usually 127.0.0.1, where a point would look on itself and never sync: a loopback
        host is replaced by the public URL's host (the name `hub init --nats-name` put in the
        certificates), unless YIWANG_NATS_PUBLIC_URL says otherwise."""
        if self.nats_public_url:
            return self.nats_public_url
        public = urlsplit(self.public_url).hostname if self.public_url else None
        reach = public if public and public not in LOOPBACK else None  # else one machine: as the hub has it

        def told(server: str) -> str:  # never with the hub's own user:password (points use their nkeys)
            url = urlsplit(server.strip())
            host = reach if reach and url.hostname in LOOPBACK else url.hostname or ""
            return url._replace(netloc=_bracketed(host) + (f":{url.port}" if url.port else "")).geturl()

        return ",".join(told(server) for server in self.nats_url.split(","))

    @property
    def progress_url(self) -> str:
        """The public progress page a point prints on its slips (it learns it at enrolment)."""
        return (self.citizen_url or self.base_url).rstrip("/") + "/progress"

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        env = os.environ
        values: dict[str, object] = {
            "data_dir": env.get("YIWANG_HUB_DIR"),  # no default here: the `yiwang` command gives an absolute one
            "host": env.get("YIWANG_HUB_HOST", "127.0.0.1"),
            "port": int(env.get("YIWANG_HUB_PORT", "8700")),
            "nats_url": env.get("YIWANG_NATS_URL", "tls://127.0.0.1:4700"),
            "db_url": env.get("YIWANG_HUB_DB_URL", ""),
            "public_url": env.get("YIWANG_HUB_PUBLIC_URL", ""),
            "nats_public_url": env.get("YIWANG_NATS_PUBLIC_URL", ""),
            "citizen_url": env.get("YIWANG_HUB_CITIZEN_URL", ""),
            "silent_minutes": int(env.get("YIWANG_SILENT_MINUTES", "60")),
            "https": env.get("YIWANG_HUB_HTTPS", "").lower() in ("1", "true", "yes"),
            "county_name": env.get("YIWANG_COUNTY_NAME", "示范县"),
            "county_phone": env.get("YIWANG_COUNTY_PHONE", "12345"),
            "sms_url": env.get("YIWANG_SMS_URL", ""),
            "sms_token": env.get("YIWANG_SMS_TOKEN", ""),
            "sms_sign": env.get("YIWANG_SMS_SIGN", ""),
            "sms_templates": env.get("YIWANG_SMS_TEMPLATES", ""),
            "sms_report_token": env.get("YIWANG_SMS_REPORT_TOKEN", ""),
            "metrics_token": env.get("YIWANG_METRICS_TOKEN", ""),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        if not values["data_dir"]:
            raise ValueError("no data directory: give --dir or set YIWANG_HUB_DIR")
        values["data_dir"] = Path(values["data_dir"])  # type: ignore[arg-type]
        return cls(**values)  # type: ignore[arg-type]
