"""`yiwang hub …`: the county hub's commands (init, serve, worker, audit, user). The `yiwang` root
(yiwang.py) adds provisioning's NATS and trust commands beside them."""

from __future__ import annotations

import logging
import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from nacl.signing import SigningKey
from sqlmodel import Session, select

from sync_protocol import signing_key_to_text, verify_key_to_text
from weblayer import logs
from weblayer.accounts import display_name, require_password
from weblayer.display import local_time
from weblayer.errors import ServiceError
from weblayer.passwords import hash_password

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

dir_option = click.option(
    "--dir",
    "data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="YIWANG_HUB_DIR",
    required=True,
    help="the hub's data directory [env YIWANG_HUB_DIR; the `yiwang` command defaults it to /var/lib/yiwang/hub, %ProgramData%\\yiwang\\hub on Windows]",
)
db_option = click.option(
    "--db-url", help="database URL, e.g. postgresql+psycopg://yiwang@db/yiwang [env YIWANG_HUB_DB_URL; default the SQLite file in --dir]"
)
password_stdin = click.option(
    "--password-stdin",
    is_flag=True,
    help="read the password from the first line of standard input (scripts); otherwise it is asked for twice, unseen",
)


def new_password(from_stdin: bool, prompt: str = "新密码 (new password)") -> str:
    """Never from the command line, where `ps` and the shell's history show it."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(click.prompt(prompt, hide_input=True, confirmation_prompt="再输一次 (again)"))


def _settings(data_dir: Path, db_url: str | None = None, **overrides: object) -> Settings:
    logs.configure(None, "")
    return Settings.from_env(data_dir=data_dir, db_url=db_url, **overrides)


def _existing(data_dir: Path, db_url: str | None, **overrides: object) -> Settings:
    """The settings of a hub that has been initialised, else a line saying what to do."""
    settings = _settings(data_dir, db_url, **overrides)
    if not db_url and not settings.key_path.exists():
        raise click.ClickException(
            f"{settings.data_dir} 中没有县中枢（no hub in {settings.data_dir}）: give the hub's directory with --dir, or run `yiwang hub init --dir {settings.data_dir}` first"
        )
    return settings


@click.group(name="hub", help="The county hub: its database, web server, ingest workers, staff and audit trail.")
def hub() -> None:
    pass


def initialise(settings: Settings, operator_password: str | None, demo_password: str | None = None, operator_name: str = "县级运维 张伟") -> None:
    """The hub's key, schema, sample catalog and first operator (with ``operator_password``, else a
    random one printed once); with ``demo_password``, a demo clerk per sample department. Run again,
    it fills in what is missing and changes no existing account."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if not settings.key_path.exists():
        write_secret(settings.key_path, signing_key_to_text(SigningKey.generate()))
        click.echo(f"hub key created: {settings.key_path} (0600)")
    engine = make_engine(settings.database_url)
    try:
        create_schema(engine)
        load_catalog(engine, sample_catalog())
        with Session(engine) as session:
            has_operator = session.exec(select(User).where(User.role == "operator")).first() is not None
        if not has_operator:
            shown = operator_password or secrets.token_urlsafe(12)
            add_user(engine, "operator", operator_name, "operator", shown)
            click.echo("first operator account: operator" + ("" if operator_password else f" / {shown}  (shown once; keep it safe)"))
        elif operator_password:
            click.echo("the operator account exists already: its password is unchanged (yiwang hub user reset-password operator)", err=True)
        shared = hash_password(demo_password) if demo_password else None  # the demo clerks share a password: one hash serves
        for username, display, dept in DEMO_CLERKS if demo_password else []:
            add_user(engine, username, display, "clerk", demo_password or "", department=dept, password_hash=shared)
        from .keys import load_hub_key

        click.echo(f"hub public key: {verify_key_to_text(load_hub_key(settings.key_path).verify_key)}")
    finally:
        engine.dispose()


@hub.command(help="Create the hub's key, database and catalog, and its first operator account (again: fills in what is missing).")
@dir_option
@db_option
@password_stdin
@click.option("--operator-name", default="县级运维", show_default=True, help="the first operator's name as the pages and the action log show it")
@click.option("--demo-clerks", is_flag=True, help="also add one demo clerk per sample department, with the operator's password (the demo)")
def init(data_dir: Path, db_url: str | None, password_stdin: bool, operator_name: str, demo_clerks: bool) -> None:
    if demo_clerks and not password_stdin:
        raise click.UsageError("--demo-clerks takes the operator's password: give it with --password-stdin")
    settings = _settings(data_dir, db_url)
    password = new_password(password_stdin) if password_stdin or (sys.stdin.isatty() and not settings.key_path.exists()) else None
    if password is not None:
        try:
            require_password(password, "operator")
        except ServiceError as exc:
            raise click.UsageError(str(exc)) from None
    try:
        operator_name = display_name(operator_name)
    except ServiceError as exc:
        raise click.UsageError(str(exc)) from None
    initialise(settings, password, password if demo_clerks else None, operator_name)


@hub.command(help="Run the hub's web server, API, uplink ingest, downlink and SMS sender.")
@dir_option
@db_option
@click.option("--nats-url", help="NATS the hub uses [env YIWANG_NATS_URL; default tls://127.0.0.1:4700]")
@click.option("--host", help="address to listen on [env YIWANG_HUB_HOST; default 127.0.0.1]")
@click.option("--port", type=int, help="port to listen on [env YIWANG_HUB_PORT; default 8700]")
@click.option("--public-url", help="URL nodes use to reach this hub for enrolment [env YIWANG_HUB_PUBLIC_URL]")
@click.option(
    "--https", is_flag=True, default=None, help="serve HTTPS with the county-CA certificate from `yiwang hub init` [env YIWANG_HUB_HTTPS=1]"
)
@click.option("--check", is_flag=True, hidden=True, help="check the arguments and stop (install-service)")
def serve(
    data_dir: Path,
    db_url: str | None,
    nats_url: str | None,
    host: str | None,
    port: int | None,
    public_url: str | None,
    https: bool | None,
    check: bool,
) -> None:
    settings = _existing(data_dir, db_url, nats_url=nats_url, host=host, port=port, public_url=public_url, https=https)
    if problems := settings.url_problems():
        raise click.UsageError("; ".join(problems))
    certfile = keyfile = None
    if settings.https:
        cert, key = settings.tls_files
        if not cert.exists() or not key.exists():
            raise click.ClickException(f"{cert} not found: run `yiwang hub init --dir {settings.data_dir} --nats-name <this machine's name>` first")
        certfile, keyfile = str(cert), str(key)
        _warn_if_not_named(cert, settings.public_url)
    if check:
        return
    with _one_serve(settings.data_dir):  # before the log: a second one writes nothing into the first's
        _serve(settings, certfile, keyfile)


def _serve(settings: Settings, certfile: str | None, keyfile: str | None) -> None:
    from weblayer.serving import serve as serve_app

    from .app import create_app

    try:
        logs.configure(settings.data_dir / "logs", "hub")
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    from datetime import UTC, datetime

    from .certificates import expiring

    for ending in expiring(settings.nats_dir):
        ended = ending.not_after < datetime.now(UTC)
        logging.getLogger("yiwang.hub").warning(
            "%s (%s) %s %s: renew it with `yiwang hub init` (docs/operations.md, Certificates)",
            ending.file,
            ending.name,
            "ended" if ended else "ends",
            ending.not_after.date(),
        )
    with _in_use(settings.database_url):  # a restore refuses meanwhile (central/inuse.py)
        serve_app(create_app(settings), settings.host, settings.port, certfile, keyfile)


@contextmanager
def _one_serve(data_dir: Path) -> Iterator[None]:
    from .inuse import InUse, serving_alone

    try:
        with serving_alone(data_dir):
            yield
    except InUse:
        raise click.ClickException(
            f"a `yiwang hub serve` already runs on {data_dir} (the service? systemctl status yiwang-hub): one hub per directory"
        ) from None


@contextmanager
def _in_use(url: str) -> Iterator[None]:
    from .inuse import InUse, holding

    try:
        with holding(url, alone=False):
            yield
    except InUse as exc:
        raise click.ClickException(f"the database {exc} is being restored (`yiwang hub restore`): start the hub once it has finished") from None


def _warn_if_not_named(cert: Path, public_url: str) -> None:
    """The address on enrolment slips must be one the certificate names, or no point can enrol."""
    from urllib.parse import urlsplit

    from cryptography import x509

    host = urlsplit(public_url).hostname if public_url else None
    if not host:
        return
    names = x509.load_pem_x509_certificate(cert.read_bytes()).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    known = {str(n) for n in names.get_values_for_type(x509.DNSName)} | {str(n) for n in names.get_values_for_type(x509.IPAddress)}
    if host not in known:
        click.echo(
            f"warning: {cert} names {', '.join(sorted(known))}, not {host}: points cannot enrol at {public_url} over HTTPS. "
            f"Run `yiwang hub init --nats-name {host}` (it adds the name to the certificates) and start again.",
            err=True,
        )


@hub.command(
    help="An extra uplink ingest worker beside `serve`: the same database and NATS (nats/hub.nk and nats/ca.pem from --dir; not the signing key)."
)
@dir_option
@db_option
@click.option("--nats-url", help="NATS the hub uses [env YIWANG_NATS_URL; default tls://127.0.0.1:4700]")
def worker(data_dir: Path, db_url: str | None, nats_url: str | None) -> None:
    import asyncio
    import signal

    from .db import LATEST, schema_version
    from .sync import HubSync

    settings = _settings(data_dir, db_url, nats_url=nats_url)
    engine = make_engine(settings.database_url)
    where = engine.url.render_as_string(hide_password=True)
    version = schema_version(engine)
    if version != LATEST:
        engine.dispose()
        found = "has no yiwang schema yet" if version is None else f"is at schema version {version}"
        raise click.ClickException(
            f"the database at {where} {found}; this worker needs version {LATEST}: start `yiwang hub serve` (it creates and upgrades the schema) first"
        )

    async def run() -> None:
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        await HubSync(engine, None, settings.nats_url, settings.blobs_dir, settings.nats_dir).run()

    logging.getLogger("yiwang.hub").info("ingest worker started: database %s, NATS %s", where, settings.nats_url)
    try:
        with _in_use(settings.database_url):
            asyncio.run(run())
    except (KeyboardInterrupt, asyncio.CancelledError):
        pass
    finally:
        engine.dispose()


@hub.group(help="The stored audit trail.")
def audit() -> None:
    pass


@audit.command(help="Re-verify every stored batch of every node from the raw bytes; exit status 1 if any chain is bad.")
@dir_option
@db_option
def verify(data_dir: Path, db_url: str | None) -> None:
    from .audit import format_reports, verify_all
    from .keys import load_hub_key

    settings = _existing(data_dir, db_url)
    engine = make_engine(settings.database_url)
    reports = verify_all(engine, load_hub_key(settings.key_path).verify_key)
    engine.dispose()
    click.echo(format_reports(reports))
    if not all(r.ok for r in reports):
        sys.exit(1)


@hub.group(help="Staff accounts at the hub: operators and department clerks (also on the 账号管理 page).")
def user() -> None:
    pass


def _accounts(data_dir: Path, db_url: str | None, action: str, *args: object) -> object:
    from . import accounts

    engine = make_engine(_existing(data_dir, db_url).database_url)
    try:
        create_schema(engine)
        return getattr(accounts, action)(engine, accounts.SYSTEM, *args)
    except ServiceError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        engine.dispose()


@user.command(name="add", help="Add an account; ROLE is operator or clerk (a clerk needs --department). The password is asked for.")
@click.argument("username")
@click.argument("display_name")
@click.argument("role", type=click.Choice(["operator", "clerk"]))
@click.option("--department", help="the clerk's department code, e.g. mzj")
@dir_option
@db_option
@password_stdin
def user_add(username: str, display_name: str, role: str, department: str | None, data_dir: Path, db_url: str | None, password_stdin: bool) -> None:
    _existing(data_dir, db_url)
    user = _accounts(data_dir, db_url, "add", username, display_name, role, new_password(password_stdin), department)
    assert isinstance(user, User)
    click.echo(f"added {user.role} {user.username} ({user.display_name}){f', department {user.department}' if user.department else ''}")


@user.command(name="reset-password", help="Give an account a new password (asked for); its open sessions end.")
@click.argument("username")
@dir_option
@db_option
@password_stdin
def user_reset(username: str, data_dir: Path, db_url: str | None, password_stdin: bool) -> None:
    _existing(data_dir, db_url)
    _accounts(data_dir, db_url, "reset_password", username, new_password(password_stdin))
    click.echo(f"password of {username} reset; its sessions ended")


def _switch(name: str, disabled: bool, help: str) -> None:
    @user.command(name=name, help=help)
    @click.argument("username")
    @dir_option
    @db_option
    def command(username: str, data_dir: Path, db_url: str | None) -> None:
        from .accounts import Change

        _accounts(data_dir, db_url, "change", username, Change(disabled=disabled))
        click.echo(f"{username} {name}d")


_switch("disable", True, "Stop an account from logging in (its sessions end); the last working operator cannot be disabled.")
_switch("enable", False, "Let a disabled account log in again.")


@user.command(name="list", help="Every account: username, role, department, name, and whether it is disabled.")
@dir_option
@db_option
def user_list(data_dir: Path, db_url: str | None) -> None:
    from .accounts import all_users

    engine = make_engine(_existing(data_dir, db_url).database_url)
    try:
        create_schema(engine)
        for u in all_users(engine):
            click.echo(
                f"{u.username}\t{u.role}\t{u.department or '-'}\t{u.display_name}\t{'disabled ' + local_time(u.disabled_at) + ' (Beijing)' if u.disabled_at else 'active'}"
            )
    finally:
        engine.dispose()


@hub.command(
    help="Back the hub up while it runs: database (SQLite online backup, or pg_dump), keys, CA, settings and material files, in one .tar.gz."
)
@dir_option
@db_option
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="directory the archive goes to (yiwang-hub-<UTC time>.tar.gz)"
)
@click.option("--no-blobs", is_flag=True, help="leave the material files out (back blobs/ up on its own: it only grows, and files never change)")
def backup(data_dir: Path, db_url: str | None, out: Path, no_blobs: bool) -> None:
    from .backup import BackupError
    from .backup import backup as take

    settings = _existing(data_dir, db_url)
    try:
        path = take(settings, out, with_blobs=not no_blobs)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{path} ({path.stat().st_size:,} bytes); restore with: yiwang hub restore {path}")


@hub.command(
    help="Restore a backup into --dir (stop the hub first). What is there is moved aside, never deleted; the points then resend what the backup lacks."
)
@click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@dir_option
@db_option
def restore(archive: Path, data_dir: Path, db_url: str | None) -> None:
    from .backup import BackupError
    from .backup import restore as put_back

    try:
        manifest = put_back(archive, _settings(data_dir, db_url))
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"restored the hub as it was at {manifest['taken_at']} (yiwang {manifest['app_version']}, schema {manifest['schema_version']})")
    if manifest["set_aside"]:
        click.echo(f"what was in {data_dir} before: {manifest['set_aside']}")
    click.echo("start the hub: each point's uplink is asked for again from the restored position, its downlink continues where the point stands")
