"""`yiwang hub ...`: initialise, serve, add staff accounts."""

from __future__ import annotations

import argparse
import logging
import secrets
import sys
from pathlib import Path

from nacl.signing import SigningKey
from sqlmodel import Session, select

from sync_protocol import signing_key_to_text, verify_key_to_text

from .auth import add_user
from .catalog import load_catalog, sample_catalog
from .db import create_schema, make_engine
from .keys import write_secret
from .models import User
from .settings import Settings

DEMO_CLERKS = [
    ("clerk-mzj", "民政局审批员 王敏", "mzj"),
    ("clerk-rsj", "人社局审批员 李强", "rsj"),
    ("clerk-ybj", "医保局审批员 赵蕾", "ybj"),
    ("clerk-gaj", "公安局审批员 陈刚", "gaj"),
    ("clerk-cl", "残联审批员 刘芳", "cl"),
    ("clerk-wjj", "卫健局审批员 孙悦", "wjj"),
    ("clerk-nyj", "农业农村局审批员 周杰", "nyj"),
    ("clerk-scj", "市场监管局审批员 吴静", "scj"),
    ("clerk-tyjrj", "退役军人事务局审批员 郑伟", "tyjrj"),
]


def init(settings: Settings, operator_password: str | None, demo_password: str | None) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if not settings.key_path.exists():
        write_secret(settings.key_path, signing_key_to_text(SigningKey.generate()))
        print(f"hub key created: {settings.key_path} (0600)")
    engine = make_engine(settings.database_url)
    create_schema(engine)
    load_catalog(engine, sample_catalog())
    with Session(engine) as session:
        has_operator = session.exec(select(User).where(User.role == "operator")).first() is not None
    if operator_password or not has_operator:
        shown = operator_password or secrets.token_urlsafe(12)
        add_user(engine, "operator", "县级运维 张伟", "operator", shown)
        if not operator_password:
            print(f"first operator account: operator / {shown}  (shown once; keep it safe)")
    if demo_password:
        for username, display, dept in DEMO_CLERKS:
            add_user(engine, username, display, "clerk", demo_password, department=dept)
    from .keys import load_hub_key

    print(f"hub public key: {verify_key_to_text(load_hub_key(settings.key_path).verify_key)}")
    engine.dispose()


def audit_verify(settings: Settings) -> int:
    """Print every chain's head and first bad position; exit status 1 if any chain is bad."""
    from .audit import format_reports, verify_all
    from .keys import load_hub_key

    engine = make_engine(settings.database_url)
    reports = verify_all(engine, load_hub_key(settings.key_path).verify_key)
    engine.dispose()
    print(format_reports(reports))
    return 0 if all(r.ok for r in reports) else 1


def serve(settings: Settings) -> None:
    from weblayer.serving import serve as serve_app

    from .app import create_app

    certfile = keyfile = None
    if settings.https:
        cert, key = settings.tls_files
        if not cert.exists() or not key.exists():
            raise SystemExit(f"{cert} not found: run `yiwang hub init --dir {settings.data_dir} --nats-name <this machine's name>` first")
        certfile, keyfile = str(cert), str(key)
    serve_app(create_app(settings), settings.host, settings.port, certfile, keyfile)


def worker(settings: Settings) -> int:
    """An extra ingest worker: the uplink ingest loop alone, on the hub's database and NATS
    identity (``nats/hub.nk`` and ``nats/ca.pem`` from the hub's directory; not the signing key)."""
    import asyncio
    import signal

    from .db import LATEST, schema_version
    from .sync import HubSync

    engine = make_engine(settings.database_url)
    where = engine.url.render_as_string(hide_password=True)
    version = schema_version(engine)
    if version != LATEST:
        found = "has no yiwang schema yet" if version is None else f"is at schema version {version}"
        print(
            f"the database at {where} {found}; this worker needs version {LATEST}: start `yiwang hub serve` (it creates and upgrades the schema) first",
            file=sys.stderr,
        )
        return 2

    async def run() -> None:
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        await HubSync(engine, None, settings.nats_url, settings.blobs_dir, settings.nats_dir).run()

    logging.getLogger("yiwang.hub").info("ingest worker started: database %s, NATS %s", where, settings.nats_url)
    try:
        asyncio.run(run())
    except (KeyboardInterrupt, asyncio.CancelledError):
        pass
    engine.dispose()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="yiwang hub", description="county hub")
    sub = parser.add_subparsers(dest="command", required=True)
    audit = sub.add_parser("audit", help="re-verify the stored audit trail")
    audit.add_argument("action", choices=["verify"], help="verify: every stored batch of every node, from the raw bytes")
    audit.add_argument("--dir", type=Path, help="data directory (default $YIWANG_HUB_DIR or var/hub)")
    audit.add_argument("--db-url", help="database URL (default: SQLite file in --dir)")
    for name in ("init", "serve", "worker", "add-user"):
        p = sub.add_parser(name, help="an extra uplink ingest worker beside `serve` (same database and NATS)" if name == "worker" else None)
        p.add_argument("--dir", type=Path, help="data directory (default $YIWANG_HUB_DIR or var/hub)")
        p.add_argument("--db-url", help="database URL (default: SQLite file in --dir)")
        if name in ("serve", "worker"):
            p.add_argument("--nats-url")
        if name == "serve":
            p.add_argument("--host")
            p.add_argument("--port", type=int)
            p.add_argument("--public-url", help="URL nodes use to reach this hub for enrolment")
            p.add_argument(
                "--https",
                action="store_true",
                default=None,
                help="serve HTTPS with the county-CA certificate from `yiwang hub init` (or YIWANG_HUB_HTTPS=1)",
            )
        if name == "init":
            p.add_argument("--operator-password", help="create the account 'operator' with this password")
            p.add_argument("--demo-password", help="create demo clerk accounts with this password")
        if name == "add-user":
            p.add_argument("username")
            p.add_argument("display_name")
            p.add_argument("role", choices=["operator", "clerk"])
            p.add_argument("--department")
            p.add_argument("--password", required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    settings = Settings.from_env(
        data_dir=args.dir,
        db_url=args.db_url,
        host=getattr(args, "host", None),
        port=getattr(args, "port", None),
        nats_url=getattr(args, "nats_url", None),
        public_url=getattr(args, "public_url", None),
        https=getattr(args, "https", None),
    )
    if args.command in ("serve", "audit", "add-user") and not args.db_url and not settings.key_path.exists():
        print(
            f"{settings.data_dir} 中没有县中枢（no hub in {settings.data_dir}）: give the hub's directory with --dir, or run `yiwang hub init --dir {settings.data_dir}` first",
            file=sys.stderr,
        )
        return 2
    if args.command == "init":
        init(settings, args.operator_password, args.demo_password)
    elif args.command == "serve":
        serve(settings)
    elif args.command == "worker":
        return worker(settings)
    elif args.command == "audit":
        return audit_verify(settings)
    else:
        return _add_user(settings, args)
    return 0


def _add_user(settings: Settings, args: argparse.Namespace) -> int:
    """A clear line, not a traceback, for an account that exists or a department that does not."""
    from .models import Department

    engine = make_engine(settings.database_url)
    create_schema(engine)
    try:
        with Session(engine) as session:
            if session.get(User, args.username) is not None:
                print(f"not added: the account {args.username} exists already", file=sys.stderr)
                return 2
            if args.department and session.get(Department, args.department) is None:
                print(
                    f"not added: no department {args.department!r} (the catalog's are {', '.join(d.code for d in session.exec(select(Department)).all())})",
                    file=sys.stderr,
                )
                return 2
        add_user(engine, args.username, args.display_name, args.role, args.password, department=args.department)
    finally:
        engine.dispose()
    print(f"added {args.role} {args.username} ({args.display_name}){f', department {args.department}' if args.department else ''}")
    return 0
