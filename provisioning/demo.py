"""`yiwang demo`: a whole county on one machine — NATS, the hub, a township node and two
village nodes — enrolled, with a sample catalog and demo accounts. Data stays in --dir, so a
second run resumes where the first stopped. Ctrl-C stops everything in order.

A component that dies is started again, and the demo says so (one that keeps dying is given up
after RESTARTS_ALLOWED tries). Typing ``nats`` and Enter in the demo's terminal stops the county's
NATS (the hub and every node carry on offline) and typing it again starts it: the offline day of
the README, without pulling a cable."""

from __future__ import annotations

import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from .federation import FederationError, LocalFederation, NodeSpec

AGENT, STAFF, APPROVER = "village_agent", "township_staff", "township_approver"
RESTARTS_ALLOWED = 5  # per component per run: past that it is broken, not unlucky


def demo_nodes(base_port: int) -> list[NodeSpec]:
    # a second account at every point: voids and refunds need a second person's approval
    return [
        NodeSpec(
            "qingshan",
            "青山镇便民服务中心",
            "township",
            base_port + 1,
            users=[("staff", "乡镇窗口 刘洋", STAFF), ("approver", "乡镇审批 周敏", APPROVER)],
        ),
        NodeSpec(
            "shangcun",
            "青山镇上村代办点",
            "village",
            base_port + 2,
            parent="qingshan",
            users=[("agent", "上村代办员 王秀兰", AGENT), ("cadre", "上村村委 张志强", AGENT)],
        ),
        NodeSpec(
            "xiacun",
            "青山镇下村代办点",
            "village",
            base_port + 3,
            parent="qingshan",
            users=[("agent", "下村代办员 李建国", AGENT), ("cadre", "下村村委 孙丽", AGENT)],
        ),
    ]


def run_demo(root: Path, nats_port: int, base_port: int) -> int:
    fed = LocalFederation(root=root.resolve(), nats_port=nats_port, hub_port=base_port)
    nodes = demo_nodes(base_port)
    stopping = False

    def request_stop(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        print(f"starting NATS on {fed.nats_url} …", flush=True)
        fed.start_nats()
        print(f"starting county hub on {fed.hub_url} …", flush=True)
        fed.start_hub()
        for spec in nodes:
            fed.enrol_node(spec)
            print(f"starting node {spec.node_id} on http://127.0.0.1:{spec.port} …", flush=True)
            fed.start_node(spec)
    except BaseException as exc:  # whatever stopped the start, leave no process behind
        fed.stop_all()
        if not isinstance(exc, (FederationError, OSError, subprocess.CalledProcessError)):
            raise
        print(f"\nfailed: {exc}", file=sys.stderr)
        return 1
    print(_banner(fed, nodes), flush=True)
    starters: dict[str, Callable[[], None]] = {"nats": fed.start_nats, "hub": fed.start_hub} | {
        spec.node_id: (lambda spec=spec: fed.start_node(spec)) for spec in nodes
    }
    restarts: dict[str, int] = {}
    nats_off = False
    try:
        while not stopping:
            for name, code in fed.exited():
                restarts[name] = restarts.get(name, 0) + 1
                if restarts[name] > RESTARTS_ALLOWED:
                    _say(f"{name} keeps stopping (exit code {code}, {RESTARTS_ALLOWED} restarts); giving up. See {fed.log_path(name)}", err=True)
                    fed.stop_all()
                    return 1
                _say(f"{name} stopped unexpectedly (exit code {code}); starting it again (see {fed.log_path(name)})", err=True)
                try:
                    starters[name]()
                except (FederationError, OSError) as exc:
                    _say(f"  {name} did not start again: {exc}", err=True)
                else:
                    _say(f"  {name} is running again")
            if _typed("nats"):
                nats_off = not nats_off
                if nats_off:
                    fed.stop("nats")
                    _say("NATS stopped: the county's network is down. The hub and every node keep working offline; type nats again to bring it back.")
                else:
                    try:
                        fed.start_nats()
                    except (FederationError, OSError) as exc:
                        _say(f"NATS did not start: {exc}; type nats to try again", err=True)
                        nats_off = True
                    else:
                        _say("NATS started again: the nodes reconnect and send what waited.")
            time.sleep(0.5)
    except BaseException:
        fed.stop_all()  # whatever went wrong while watching, no process is left behind
        raise
    _say("\nstopping nodes, hub and NATS …")
    fed.stop_all()
    _say(f"stopped. Data kept in {fed.root}; run the same command to resume.")
    return 0


def _say(text: str, err: bool = False) -> None:
    """Print, even when nobody reads any more (``yiwang demo | tee log`` and Ctrl-C: tee died of
    the same SIGINT), so that stopping the federation never depends on a print."""
    try:
        print(text, file=sys.stderr if err else sys.stdout, flush=True)
    except OSError:
        pass


def _typed(word: str) -> bool:
    """Whether a line reading ``word`` waits on standard input (never blocks; no input: False)."""
    try:
        ready, _, _ = select.select([sys.stdin], [], [], 0)
    except (OSError, ValueError):
        return False
    if not ready:
        return False
    line = sys.stdin.readline()
    return line.strip().lower() == word


def _banner(fed: LocalFederation, nodes: list[NodeSpec]) -> str:
    lines = [
        "",
        "一网 yiwang — local federation is running",
        "",
        f"  county hub        {fed.hub_url}",
        f"      operator / {fed.password}          (nodes, enrolment codes, alerts)",
        f"      clerk-mzj / {fed.password}         (民政局 queue; also clerk-rsj, clerk-ybj, clerk-gaj, clerk-cl, clerk-wjj, clerk-nyj, clerk-scj, clerk-tyjrj)",
    ]
    for spec in nodes:
        users = " · ".join(f"{u} / {fed.password}" for u, _, _ in spec.users)
        lines.append(f"  {spec.name:<12}  http://127.0.0.1:{spec.port}    {users}")
    lines += [
        "",
        f"  NATS              {fed.nats_url}",
        f"  data and logs     {fed.root}",
        "",
        "Type nats and Enter to cut the county's network (and again to restore it); Ctrl-C stops everything.",
    ]
    return "\n".join(lines)
