"""`yiwang node ...`: serve the node, add staff accounts. (Enrolment: `yiwang node enroll`, in provisioning.)"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from .settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="yiwang node", description="edge node at a village or township service point")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the web UI, API and sync worker")
    add = sub.add_parser("add-user", help="create a staff account")
    for p in (serve, add):
        p.add_argument("--dir", type=Path, help="data directory (default $YIWANG_NODE_DIR or var/node)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--nats-url", help="override the NATS URL received at enrolment")
    serve.add_argument("--tls-cert", type=Path, help="serve HTTPS with this certificate (e.g. from `yiwang hub issue-cert`)")
    serve.add_argument("--tls-key", type=Path, help="the certificate's private key")
    add.add_argument("username")
    add.add_argument("display_name")
    add.add_argument("role", choices=["village_agent", "township_staff", "township_approver"])
    add.add_argument("--password", required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        settings = Settings.from_env(
            data_dir=args.dir,
            host=getattr(args, "host", None),
            port=getattr(args, "port", None),
            nats_url=getattr(args, "nats_url", None),
            tls_cert=getattr(args, "tls_cert", None),
            tls_key=getattr(args, "tls_key", None),
        )
    except ValueError as exc:
        parser.error(str(exc))
    if args.command == "serve":
        from weblayer.serving import serve as serve_app

        from .app import create_app

        cert, key = (str(settings.tls_cert), str(settings.tls_key)) if settings.tls_cert else (None, None)
        serve_app(create_app(settings), settings.host, settings.port, cert, key)
    else:
        from .auth import add_user
        from .store import Store

        settings.data_dir.mkdir(parents=True, exist_ok=True)
        store = Store(settings.db_path)
        add_user(store, args.username, args.display_name, args.role, args.password)
        store.close()
    return 0
