"""Provisioning's commands in the `yiwang` tree (yiwang.py puts them beside the apps' own):

    yiwang hub init …  (its NATS half)  NATS config with TLS (county CA) and nkeys; or, with
                       --nats-cluster n1=HOST:4700:6222 …, a 3-server JetStream cluster
    yiwang hub nats [--member n1]       run nats-server with that configuration
    yiwang hub nats-bundle --out DIR    what a cluster member on another machine needs (no CA key)
    yiwang hub issue-cert NAME… --out DIR  an HTTPS certificate from the county CA
    yiwang node enroll CODE --hub URL --ca sha256:…   enrol this machine as a node
    yiwang demo                         a local federation (NATS + hub + 3 nodes)

Nothing here imports central or edge_node: provisioning depends only on sync_protocol.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import click


def _dir_option(envvar: str, what: str) -> Any:
    return click.option(
        "--dir",
        "data_dir",
        type=click.Path(file_okay=False, path_type=Path),
        envvar=envvar,
        required=True,
        help=f"the {what}'s data directory [env {envvar}; default /var/lib/yiwang/{what}]",
    )


hub_dir = _dir_option("YIWANG_HUB_DIR", "hub")

# the NATS half of `yiwang hub init` (yiwang.py adds these options to central's init)
NATS_INIT_OPTIONS = [
    click.Option(["--nats-host"], default="0.0.0.0", show_default=True, help="address nats-server listens on"),
    click.Option(["--nats-port"], type=int, default=4700, show_default=True, help="port nats-server listens on"),
    click.Option(["--nats-name"], multiple=True, help="a DNS name or IP nodes use to reach NATS (repeat); goes into the TLS certificate"),
    click.Option(
        ["--nats-cluster"],
        multiple=True,
        metavar="NAME=HOST:PORT:ROUTE_PORT",
        help="a JetStream cluster member (repeat, three for replicated streams): writes nats/cluster/NAME/nats.conf for each",
    ),
]


def init_trust(data_dir: Path, nats_host: str, nats_port: int, nats_name: tuple[str, ...], nats_cluster: tuple[str, ...]) -> None:
    """`hub init`: the county CA, the NATS configuration and the hub's nkey (provisioning owns
    trust); central then makes the database and the operator."""
    from sync_protocol import ca_fingerprint

    from .natsd import ClusterMember, cluster_url, init_nats

    nats_dir = data_dir / "nats"
    try:
        cluster = [ClusterMember.parse(text) for text in nats_cluster]
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--nats-cluster") from None
    conf = init_nats(nats_dir, nats_host, nats_port, list(nats_name), cluster=cluster or None)
    if cluster:
        click.echo(
            f"NATS cluster configuration: {', '.join(str(nats_dir / 'cluster' / m.name / 'nats.conf') for m in cluster)} (TLS required, routes verified both ways)"
        )
        click.echo(f"on each NATS machine, with a copy of {nats_dir} in <dir>/nats: yiwang hub nats --dir <dir> --member NAME")
        click.echo(f"NATS address for the hub and its workers: --nats-url {cluster_url(cluster)}")
        if len(cluster) < 3:
            click.echo("warning: fewer than three members: streams are not replicated, and losing one server stops JetStream", err=True)
    else:
        click.echo(f"NATS configuration: {conf} (TLS required)")
    click.echo(f"county CA: {nats_dir / 'ca.pem'}, fingerprint {ca_fingerprint((nats_dir / 'ca.pem').read_text())} (printed on every enrolment slip)")
    click.echo(f"hub HTTPS certificate: {nats_dir / 'web.pem'} (used by `yiwang hub serve --https`)")
    if not cluster:
        click.echo(f"start NATS with: yiwang hub nats --dir {data_dir}")


def run_child(argv: list[str]) -> int:
    """Run a program in the foreground until it exits; SIGTERM and Ctrl-C are passed on to it, so
    a service manager stopping us stops it (in place of exec, which Windows does not have)."""
    child = subprocess.Popen(argv)
    previous = signal.signal(signal.SIGTERM, lambda *_: child.terminate())
    try:
        while True:
            try:
                return child.wait()
            except KeyboardInterrupt:
                child.send_signal(signal.SIGINT)
    finally:
        signal.signal(signal.SIGTERM, previous)


@click.command(
    help="Run nats-server with the configuration `yiwang hub init` wrote (or a cluster member's, kept in line with the hub's access list)."
)
@hub_dir
@click.option("--member", help="run this cluster member (its configuration from --dir/nats/cluster.json)")
def nats(data_dir: Path, member: str | None) -> None:
    from .natsd import nats_server_binary

    nats_dir = data_dir / "nats"
    if member:
        from .natsfollow import run_member

        if not (nats_dir / "cluster.json").exists():
            raise click.ClickException(
                f"{nats_dir / 'cluster.json'} not found: run `yiwang hub init --dir {data_dir} --nats-cluster …` (or copy the hub's nats/ directory here) first"
            )
        sys.exit(run_member(data_dir, member))
    conf = nats_dir / "nats.conf"
    if not conf.exists():
        raise click.ClickException(f"{conf} not found: run `yiwang hub init --dir {data_dir}` first")
    sys.exit(run_child([str(nats_server_binary()), "-c", str(conf)]))


@click.command(name="nats-bundle", help="Copy what a NATS cluster member on another machine needs (not the CA's private key) into OUT/nats.")
@hub_dir
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="directory to copy to the member's machine")
def nats_bundle(data_dir: Path, out: Path) -> None:
    from .natsd import member_bundle

    try:
        target = member_bundle(data_dir / "nats", out)
    except FileNotFoundError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{target}: copy {out} to the member's machine and run `yiwang hub nats --dir {out} --member NAME` there")


@click.command(
    name="issue-cert", help="Issue an HTTPS certificate from the county CA for NAMES (DNS names or IP addresses), e.g. a township node's LAN name."
)
@click.argument("names", nargs=-1, required=True)
@hub_dir
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="directory for web.pem and web.key (copy them to the node; --tls-cert/--tls-key)",
)
def issue_cert(names: tuple[str, ...], data_dir: Path, out: Path) -> None:
    if not (data_dir / "nats" / "ca.key").exists():
        raise click.ClickException(f"{data_dir / 'nats' / 'ca.key'} not found: run `yiwang hub init --dir {data_dir}` first")
    from .tls import issue_server_cert

    issue_server_cert(data_dir / "nats", list(names), out, stem="web")
    click.echo(
        f"{out / 'web.pem'} and {out / 'web.key'} (0600) for {', '.join(names)}; browsers that trust the county CA ({data_dir / 'nats' / 'ca.pem'}) accept it"
    )


@click.command(help="Enrol this machine as a node, with the one-time CODE from the county operator.")
@click.argument("code")
@click.option("--hub", "hub_url", required=True, help="the county hub's URL, e.g. https://hub.example:8700")
@click.option("--ca", required=True, help="the county CA fingerprint printed on the enrolment slip (sha256:…)")
@click.option("--allow-http", is_flag=True, help="enrol over plain HTTP to a hub that is not on this machine (a trusted network only)")
@_dir_option("YIWANG_NODE_DIR", "node")
def enroll(code: str, hub_url: str, ca: str, allow_http: bool, data_dir: Path) -> None:
    from .enrol import EnrolmentFailed
    from .enrol import enroll as enrol_node

    try:
        answer: dict[str, Any] = enrol_node(code, hub_url, data_dir, ca, allow_http=allow_http)
    except EnrolmentFailed as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"已登记：节点 {answer['node_id']}（{answer['name']}），配置写入 {data_dir}。下一步：yiwang node user add … 然后 yiwang node serve --dir {data_dir}"
    )


@click.command(help="Start a local federation: NATS, the county hub, a township node and two village nodes (Ctrl-C stops it).")
@click.option(
    "--dir",
    "data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("var/demo"),
    show_default=True,
    help="data and logs, kept between runs",
)
@click.option("--nats-port", type=int, default=4700, show_default=True, help="the port NATS listens on (TLS)")
@click.option("--base-port", type=int, default=8700, show_default=True, help="hub on this port, nodes on the next ones")
def demo(data_dir: Path, nats_port: int, base_port: int) -> None:
    from .demo import run_demo

    sys.exit(run_demo(data_dir, nats_port, base_port))


SERVE_EXAMPLES = {"hub": "--https --host 0.0.0.0 --public-url https://hub.county:8700", "node": "--host 0.0.0.0"}
MARKERS = {"hub": "hub.key", "node": "node.json"}  # what `hub init` / `node enroll` leave in the directory


def _install_service(role: str, env_var: str) -> click.Command:
    @click.command(
        name="install-service",
        help=f"Write systemd units for the {role}'s processes (restarted when they die) and create the system user that runs them and alone reads --dir.",
    )
    @_dir_option(env_var, role)
    @click.option("--user", default="yiwang", show_default=True, help="the system user the services run as (created if missing)")
    @click.option(
        "--unit-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=Path("/etc/systemd/system"),
        show_default=True,
        help="where the units go",
    )
    @click.option(
        "--env-file",
        type=click.Path(dir_okay=False, path_type=Path),
        default=Path(f"/etc/yiwang/{role}.env"),
        show_default=True,
        help="settings (YIWANG_… variables) the units read; created if missing",
    )
    @click.option("--no-user", is_flag=True, help="do not create the user or change the owner of --dir (it exists and owns it already)")
    @click.option(
        "--serve-args", default="", help=f'arguments for `yiwang {role} serve`, e.g. "{SERVE_EXAMPLES[role]}" (checked before anything is written)'
    )
    def command(data_dir: Path, user: str, unit_dir: Path, env_file: Path, no_user: bool, serve_args: str, workers: int = 0) -> None:
        from .services import checked_args, hub_units, install, known_user, node_units, plain

        data_dir = data_dir.resolve()
        if not (data_dir / MARKERS[role]).exists():
            first = "yiwang hub init" if role == "hub" else "yiwang node enroll …"
            raise click.ClickException(f"{data_dir / MARKERS[role]} not found: run `{first} --dir {data_dir}` first")
        try:
            args = checked_args(role, serve_args, env_var, data_dir)
            for what, value in (("--dir", str(data_dir)), ("--unit-dir", str(unit_dir)), ("--env-file", str(env_file)), ("--user", user)):
                plain(what, value, user=what == "--user")
            if no_user and not known_user(user):
                raise ValueError(f"--no-user: there is no user {user!r} here; leave out --no-user to create it, or name one with --user")
            units = hub_units(workers, args) if role == "hub" else node_units(args)
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
        written = install(units, user, data_dir, env_var, unit_dir, env_file, create_user=not no_user)
        for path in written:
            click.echo(f"wrote {path}")
        names = " ".join(p.name for p in written)
        click.echo(f"settings: {env_file}; then: systemctl daemon-reload && systemctl enable --now {names}   (logs: journalctl -u yiwang-{role})")

    return command


hub_service = click.option("--workers", type=int, default=0, show_default=True, help="extra ingest workers, one unit each")(
    _install_service("hub", "YIWANG_HUB_DIR")
)

HUB_COMMANDS = [
    nats,
    nats_bundle,
    issue_cert,
    hub_service,
]
NODE_COMMANDS = [enroll, _install_service("node", "YIWANG_NODE_DIR")]
