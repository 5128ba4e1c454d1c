"""The `yiwang` command.

    yiwang demo                      start a local federation (NATS + hub + 3 nodes)
    yiwang hub init [--nats-host H --nats-port P --nats-name NAME …]
                                     hub key, NATS config with TLS (county CA) and nkeys, operator
    yiwang hub init --nats-cluster n1=HOST:4700:6222 --nats-cluster n2=… --nats-cluster n3=…
                                     the same for a 3-server JetStream cluster (city / province)
    yiwang hub nats [--member n1]    run nats-server with that configuration (a cluster member's,
                                     kept in line with the hub's access list)
    yiwang hub nats-bundle --out DIR what a cluster member on another machine needs (no CA key)
    yiwang hub issue-cert NAME… --out DIR   an HTTPS certificate from the county CA (township nodes)
    yiwang hub serve|add-user|audit  the county hub            (runs `python -m central`)
    yiwang hub worker                an extra uplink ingest worker beside `hub serve`
    yiwang node enroll CODE --hub URL --ca sha256:… [--dir D]   enrol this machine as a node
    yiwang node serve|add-user       an edge node              (runs `python -m edge_node`)

The hub and node commands run in their own interpreter (exec) so that this module imports
neither package: provisioning depends only on sync_protocol.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def hub_nats(argv: list[str]) -> list[str]:
    """`hub init`: write the NATS side here (provisioning owns trust), then let central make the
    database and the operator from the remaining arguments. `hub nats`: run nats-server."""
    parser = argparse.ArgumentParser(prog=f"yiwang hub {argv[1]}", add_help=False)
    parser.add_argument("--dir", type=Path, default=Path(os.environ.get("YIWANG_HUB_DIR", "var/hub")))
    parser.add_argument("--nats-host", default="0.0.0.0", help="address nats-server listens on (default all)")
    parser.add_argument("--nats-port", type=int, default=4700)
    parser.add_argument(
        "--nats-name", action="append", default=[], help="a DNS name or IP nodes use to reach NATS (repeat); goes into the TLS certificate"
    )
    parser.add_argument(
        "--nats-cluster",
        action="append",
        default=[],
        metavar="NAME=HOST:PORT:ROUTE_PORT",
        help="a JetStream cluster member (repeat, three for replicated streams): writes nats/cluster/NAME/nats.conf for each",
    )
    parser.add_argument("--member", help="`hub nats`: run this cluster member")
    known, rest = parser.parse_known_args(argv[2:])
    nats_dir = known.dir / "nats"
    if argv[1] == "nats":
        from .natsd import nats_server_binary

        if known.member:
            from .natsfollow import run_member

            if not (nats_dir / "cluster.json").exists():
                raise SystemExit(
                    f"{nats_dir / 'cluster.json'} not found: run `yiwang hub init --dir {known.dir} --nats-cluster …` (or copy the hub's nats/ directory here) first"
                )
            raise SystemExit(run_member(known.dir, known.member))
        conf = nats_dir / "nats.conf"
        if not conf.exists():
            raise SystemExit(f"{conf} not found: run `yiwang hub init --dir {known.dir}` first")
        os.execv(str(nats_server_binary()), ["nats-server", "-c", str(conf)])
    from sync_protocol import ca_fingerprint

    from .natsd import ClusterMember, cluster_url, init_nats

    try:
        cluster = [ClusterMember.parse(text) for text in known.nats_cluster]
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    conf = init_nats(nats_dir, known.nats_host, known.nats_port, known.nats_name, cluster=cluster or None)
    if cluster:
        print(
            f"NATS cluster configuration: {', '.join(str(nats_dir / 'cluster' / m.name / 'nats.conf') for m in cluster)} (TLS required, routes verified both ways)"
        )
        print(f"on each NATS machine, with a copy of {nats_dir} in <dir>/nats: yiwang hub nats --dir <dir> --member NAME")
        print(f"NATS address for the hub and its workers: --nats-url {cluster_url(cluster)}")
        if len(cluster) < 3:
            print("warning: fewer than three members: streams are not replicated, and losing one server stops JetStream", file=sys.stderr)
    else:
        print(f"NATS configuration: {conf} (TLS required)")
    print(f"county CA: {nats_dir / 'ca.pem'}, fingerprint {ca_fingerprint((nats_dir / 'ca.pem').read_text())} (printed on every enrolment slip)")
    print(f"hub HTTPS certificate: {nats_dir / 'web.pem'} (used by `yiwang hub serve --https`)")
    if not cluster:
        print(f"start NATS with: yiwang hub nats --dir {known.dir}")
    if any(a == "--help" or a == "-h" for a in rest):
        parser.print_help()
    return ["hub", "init", "--dir", str(known.dir), *rest]


def nats_bundle(argv: list[str]) -> int:
    """`hub nats-bundle --out DIR`: what a cluster member's machine needs, without the CA's key."""
    parser = argparse.ArgumentParser(
        prog="yiwang hub nats-bundle", description="copy what a NATS cluster member on another machine needs (not the CA's private key) into DIR/nats"
    )
    parser.add_argument(
        "--out", type=Path, required=True, help="directory to copy to the member's machine; run `yiwang hub nats --dir DIR --member NAME` there"
    )
    parser.add_argument("--dir", type=Path, default=Path(os.environ.get("YIWANG_HUB_DIR", "var/hub")))
    args = parser.parse_args(argv)
    from .natsd import member_bundle

    try:
        target = member_bundle(args.dir / "nats", args.out)
    except FileNotFoundError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(f"{target}: copy {args.out} to the member's machine and run `yiwang hub nats --dir {args.out} --member NAME` there")
    return 0


def issue_cert(argv: list[str]) -> int:
    """`hub issue-cert NAME… --out DIR`: a county-CA certificate for a township node's web server."""
    parser = argparse.ArgumentParser(
        prog="yiwang hub issue-cert", description="issue an HTTPS certificate from the county CA, e.g. for a township node's LAN name"
    )
    parser.add_argument("names", nargs="+", help="DNS names or IP addresses browsers use to reach that machine")
    parser.add_argument(
        "--out", type=Path, required=True, help="directory for web.pem and web.key (copy them to the node, then run it with --tls-cert/--tls-key)"
    )
    parser.add_argument("--dir", type=Path, default=Path(os.environ.get("YIWANG_HUB_DIR", "var/hub")))
    args = parser.parse_args(argv)
    if not (args.dir / "nats" / "ca.key").exists():
        print(f"{args.dir / 'nats' / 'ca.key'} not found: run `yiwang hub init --dir {args.dir}` first", file=sys.stderr)
        return 2
    from .tls import issue_server_cert

    issue_server_cert(args.dir / "nats", args.names, args.out, stem="web")
    print(
        f"{args.out / 'web.pem'} and {args.out / 'web.key'} (0600) for {', '.join(args.names)}; browsers that trust the county CA ({args.dir / 'nats' / 'ca.pem'}) accept it"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:2] == ["hub", "issue-cert"]:
        return issue_cert(argv[2:])
    if argv[:2] == ["hub", "nats-bundle"]:
        return nats_bundle(argv[2:])
    if argv[:2] in (["hub", "init"], ["hub", "nats"]):
        argv = hub_nats(argv)
    if argv[:1] == ["hub"]:
        os.execv(sys.executable, [sys.executable, "-m", "central", *argv[1:]])
    if argv[:1] == ["node"] and argv[1:2] != ["enroll"]:
        os.execv(sys.executable, [sys.executable, "-m", "edge_node", *argv[1:]])

    parser = argparse.ArgumentParser(prog="yiwang", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="start a local federation: NATS, county hub, township and village nodes")
    demo.add_argument("--dir", type=Path, default=Path("var/demo"), help="data and logs (default var/demo; kept between runs)")
    demo.add_argument("--nats-port", type=int, default=4700)
    demo.add_argument("--base-port", type=int, default=8700, help="hub on this port, nodes on the next ones")
    node = sub.add_parser("node", help="edge node commands")
    node_sub = node.add_subparsers(dest="node_command", required=True)
    enroll_p = node_sub.add_parser("enroll", help="enrol this machine with a one-time code from the county operator")
    enroll_p.add_argument("code")
    enroll_p.add_argument("--hub", required=True, help="the county hub's URL, e.g. https://hub.example:8700")
    enroll_p.add_argument("--ca", required=True, help="the county CA fingerprint printed on the enrolment slip (sha256:…)")
    enroll_p.add_argument(
        "--allow-http", action="store_true", help="enrol over plain HTTP to a hub that is not on this machine (a trusted network only)"
    )
    enroll_p.add_argument("--dir", type=Path, default=Path(os.environ.get("YIWANG_NODE_DIR", "var/node")))
    sub.add_parser("hub", help="county hub commands: init, serve, add-user")
    args = parser.parse_args(argv)

    if args.command == "demo":
        from .demo import run_demo

        return run_demo(args.dir, args.nats_port, args.base_port)
    from .enrol import EnrolmentFailed, enroll

    try:
        answer = enroll(args.code, args.hub, args.dir, args.ca, allow_http=args.allow_http)
    except EnrolmentFailed as exc:
        print(exc, file=sys.stderr)
        return 2
    print(
        f"已登记：节点 {answer['node_id']}（{answer['name']}），配置写入 {args.dir}。下一步：yiwang node add-user … 然后 yiwang node serve --dir {args.dir}"
    )
    return 0
