"""`yiwang node …`: serve the point, manage its staff accounts. (Enrolment, `yiwang node enroll`,
is provisioning's; the `yiwang` root, yiwang.py, puts it beside these.)"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from weblayer import logs
from weblayer.display import local_time
from weblayer.errors import ServiceError

from .auth import ROLES
from .settings import Settings
from .store import Store

dir_option = click.option(
    "--dir",
    "data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="YIWANG_NODE_DIR",
    required=True,
    help="the node's data directory [env YIWANG_NODE_DIR; the `yiwang` command defaults it to /var/lib/yiwang/node, %ProgramData%\\yiwang\\node on Windows]",
)
password_stdin = click.option(
    "--password-stdin",
    is_flag=True,
    help="read the password from the first line of standard input (scripts); otherwise it is asked for twice, unseen",
)


def new_password(from_stdin: bool) -> str:
    """Never from the command line, where `ps` and the shell's history show it."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(click.prompt("新密码 (new password)", hide_input=True, confirmation_prompt="再输一次 (again)"))


def _settings(data_dir: Path, **overrides: object) -> Settings:
    logs.configure(None, "")
    try:
        return Settings.from_env(data_dir=data_dir, **overrides)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


@click.group(name="node", help="An edge node at a village or township service point.")
def node() -> None:
    pass


@node.command(help="Run the point's web UI, API and sync worker.")
@dir_option
@click.option("--host", help="address to listen on [env YIWANG_NODE_HOST; default 127.0.0.1]")
@click.option("--port", type=int, help="port to listen on [env YIWANG_NODE_PORT; default 8701]")
@click.option("--nats-url", help="override the NATS URL received at enrolment")
@click.option(
    "--tls-cert", type=click.Path(dir_okay=False, path_type=Path), help="serve HTTPS with this certificate (e.g. from `yiwang hub issue-cert`)"
)
@click.option("--tls-key", type=click.Path(dir_okay=False, path_type=Path), help="the certificate's private key")
@click.option("--check", is_flag=True, hidden=True, help="check the arguments and stop (install-service)")
def serve(data_dir: Path, host: str | None, port: int | None, nats_url: str | None, tls_cert: Path | None, tls_key: Path | None, check: bool) -> None:
    from weblayer.serving import serve as serve_app

    from .app import create_app

    settings = _settings(data_dir, host=host, port=port, nats_url=nats_url, tls_cert=tls_cert, tls_key=tls_key)
    if check:
        return
    cert, key = (str(settings.tls_cert), str(settings.tls_key)) if settings.tls_cert else (None, None)
    try:
        logs.configure(settings.data_dir / "logs", "node")
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    from .instance import AlreadyServing, only_instance

    try:
        with only_instance(settings.data_dir):
            serve_app(create_app(settings), settings.host, settings.port, cert, key)
    except AlreadyServing:
        raise click.ClickException(
            f"a `yiwang node serve` already runs on {settings.data_dir} (the service?): one point, one process (systemctl status yiwang-node)"
        ) from None


@node.group(help="The point's staff accounts (at a township point also on the 账号管理 page).")
def user() -> None:
    pass


def _store(data_dir: Path, create: bool = False) -> Store:
    settings = _settings(data_dir)
    if create:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    elif not settings.db_path.exists():
        raise click.ClickException(f"{settings.data_dir} 中没有节点（no node in {settings.data_dir}）: give the node's directory with --dir")
    return Store(settings.db_path)


def _accounts(data_dir: Path, action: str, *args: object) -> None:
    from . import accounts

    store = _store(data_dir, create=action == "add")
    try:
        getattr(accounts, action)(store, accounts.SYSTEM, *args)
    except ServiceError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        store.close()


@user.command(name="add", help=f"Add an account; ROLE is one of {', '.join(f'{k} ({v})' for k, v in ROLES.items())}. The password is asked for.")
@click.argument("username")
@click.argument("display_name")
@click.argument("role", type=click.Choice(list(ROLES)))
@dir_option
@password_stdin
def user_add(username: str, display_name: str, role: str, data_dir: Path, password_stdin: bool) -> None:
    enrolled = data_dir / "node.json"
    kind = json.loads(enrolled.read_text(encoding="utf-8")).get("kind", "") if enrolled.exists() else ""
    _accounts(data_dir, "add", username, display_name, role, new_password(password_stdin), kind)
    click.echo(f"added {role} {username} ({display_name})")


@user.command(name="reset-password", help="Give an account a new password (asked for); its open sessions end.")
@click.argument("username")
@dir_option
@password_stdin
def user_reset(username: str, data_dir: Path, password_stdin: bool) -> None:
    _accounts(data_dir, "reset_password", username, new_password(password_stdin))
    click.echo(f"password of {username} reset; its sessions ended")


def _switch(name: str, disabled: bool, help: str) -> None:
    @user.command(name=name, help=help)
    @click.argument("username")
    @dir_option
    def command(username: str, data_dir: Path) -> None:
        from .accounts import Change

        _accounts(data_dir, "change", username, Change(disabled=disabled))
        click.echo(f"{username} {name}d")


_switch("disable", True, "Stop an account from logging in (its sessions end); a point's last working township staff account cannot be.")
_switch("enable", False, "Let a disabled account log in again.")


@user.command(name="list", help="Every account: username, role, name, and whether it is disabled.")
@dir_option
def user_list(data_dir: Path) -> None:
    from .accounts import all_users

    store = _store(data_dir)
    try:
        for u in all_users(store):
            click.echo(
                f"{u['username']}\t{u['role']}\t{u['display_name']}\t{'disabled ' + local_time(u['disabled_at']) + ' (Beijing)' if u['disabled_at'] else 'active'}"
            )
    finally:
        store.close()


@node.command(help="Back the point up while it runs: its database (SQLite online backup), keys, enrolment and unsent material files, in one .tar.gz.")
@dir_option
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="directory the archive goes to (yiwang-node-<UTC time>.tar.gz)"
)
def backup(data_dir: Path, out: Path) -> None:
    from .backup import backup as take

    _settings(data_dir)
    try:
        path = take(data_dir, out)
    except FileNotFoundError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{path} ({path.stat().st_size:,} bytes)")
