"""`yiwang hub nats --member NAME`: one server of the hub's NATS cluster, admitting whom the hub
admits.

Every server of a cluster needs the same access list (the accounts file: which nkeys may log in,
with which permissions). The hub rewrites its own copy and signals the servers on its machine;
a member on another machine cannot be signalled, and its copy would go stale — a node enrolled
today refused there, a revoked one still let in. So this command runs nats-server for the member
as a child process and, beside it, watches the access bucket the hub publishes every new list to
(``ACCESS_BUCKET`` in sync_protocol): when the list changes it replaces the member's accounts file
and tells its nats-server to reload it. It logs in as the hub (``nats/hub.nk`` of the copied hub
directory) on the member's own port, so it keeps working while other members are down.

The member's configuration is written again at every start from ``nats/cluster.json``, for the
directory where it is now, so the hub's ``nats/`` directory copied to any path on another machine
works as it is.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import ssl
import subprocess
import sys
import time
from pathlib import Path

import nats
import nats.errors
import nats.js.errors

from sync_protocol import ACCESS_BUCKET, ACCESS_KEY, RELOAD_GAP_S, RELOADS

from .natsd import member_config, nats_server_binary

log = logging.getLogger("yiwang.nats.member")


def replace_access_list(nats_dir: Path, text: str, server: subprocess.Popen) -> bool:
    """Write ``text`` as the member's accounts file and reload its server, if it differs."""
    path = nats_dir / "accounts.conf"
    if path.exists() and path.read_text() == text:
        return False
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    for n in range(RELOADS):  # a new account's imports take the second reload (sync_protocol.RELOADS)
        time.sleep(RELOAD_GAP_S if n else 0)
        server.send_signal(signal.SIGHUP)
    log.info("access list updated from the hub (%d identities); nats-server reloaded", text.count('"nkey"'))
    return True


async def follow(nats_dir: Path, port: int, server: subprocess.Popen) -> None:
    """Apply every access list the hub publishes, until cancelled; reconnect and re-read the
    bucket after any failure (the member restarting, the bucket not made yet)."""
    tls = ssl.create_default_context(cafile=str(nats_dir / "ca.pem"))
    seed = (nats_dir / "hub.nk").read_text().strip()

    async def on_error(exc: Exception) -> None:
        log.debug("NATS: %s", exc or type(exc).__name__)  # the member starting or restarting

    while True:
        nc = None
        try:
            nc = await nats.connect(
                f"tls://127.0.0.1:{port}",
                nkeys_seed_str=seed,
                tls=tls,
                name="yiwang-access-follower",
                connect_timeout=2,
                max_reconnect_attempts=-1,
                reconnect_time_wait=1,
                error_cb=on_error,
            )
            kv = await nc.jetstream().key_value(ACCESS_BUCKET)
            watcher = await kv.watch(ACCESS_KEY)
            log.info("watching the hub's access list")
            async for entry in watcher:
                if entry is not None and entry.value:
                    replace_access_list(nats_dir, entry.value.decode(), server)
        except asyncio.CancelledError:
            raise
        except nats.js.errors.BucketNotFoundError:
            log.info("the hub has not published an access list yet; waiting")
        except (TimeoutError, OSError, nats.errors.Error) as exc:
            log.warning("access list watch interrupted (%s); retrying", exc or type(exc).__name__)
        finally:
            if nc is not None and not nc.is_closed:
                await nc.close()
        await asyncio.sleep(2)


async def _supervise(nats_dir: Path, port: int, server: subprocess.Popen) -> int:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, server.send_signal, sig)  # stop the server; we end when it has
    follower = asyncio.create_task(follow(nats_dir, port, server))
    while server.poll() is None:
        await asyncio.sleep(0.2)
    follower.cancel()
    try:
        await follower
    except asyncio.CancelledError:
        pass
    return server.returncode


def run_member(hub_dir: Path, name: str) -> int:
    """Run cluster member ``name`` from ``hub_dir/nats`` until its nats-server exits."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    nats_dir = hub_dir / "nats"
    conf, me = member_config(nats_dir, name)
    server = subprocess.Popen([str(nats_server_binary()), "-c", str(conf)])
    log.info("cluster member %s: nats-server pid %d, client port %d", name, server.pid, me.port)
    code = asyncio.run(_supervise(nats_dir, me.port, server))
    log.info("cluster member %s: nats-server exited with %d", name, code)
    return code
