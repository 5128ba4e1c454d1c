"""systemd units for a hub machine and a point's machine (`yiwang hub install-service`,
`yiwang node install-service`): each process a service of its own, restarted when it dies, run
by a dedicated system user that alone may read the data directory (keys, databases, files).

The units run the `yiwang` of the installation that wrote them. A Windows point runs the same
`yiwang node serve` under WinSW instead (docs/operations.md).
"""

from __future__ import annotations

import os
import pwd
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

HARDENING = """NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=read-only
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectControlGroups=yes
RestrictSUIDSGID=yes
UMask=0077"""


@dataclass
class Unit:
    name: str
    description: str
    command: str
    after: list[str] = field(default_factory=list)
    wants: list[str] = field(default_factory=list)
    stop_seconds: int = 30

    def render(self, user: str, data_dir: Path, env_var: str, env_file: Path) -> str:
        after = " ".join(["network-online.target", *self.after])
        wants = " ".join(["network-online.target", *self.wants])
        return f"""# written by `yiwang … install-service`; put settings in {env_file}, not here
[Unit]
Description={self.description}
Documentation=https://github.com/yiwang-county/yiwang/blob/main/docs/operations.md
After={after}
Wants={wants}
StartLimitIntervalSec=600
StartLimitBurst=20

[Service]
Type=simple
User={user}
Group={user}
Environment={env_var}={data_dir}
EnvironmentFile=-{env_file}
ExecStart={self.command}
Restart=always
RestartSec=5
TimeoutStopSec={self.stop_seconds}
KillMode=control-group
ReadWritePaths={data_dir}
{HARDENING}

[Install]
WantedBy=multi-user.target
"""


USER = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
UNSAFE = re.compile(r"[\x00-\x20\x7f\"'\\$%;]")  # whitespace, quotes, and what systemd expands in a unit


def plain(what: str, value: str, user: bool = False) -> str:
    """A value written into a unit as it is: refused if systemd would read more into it (a new
    line starts a new setting, a space splits a path, ``%`` and ``$`` are expanded)."""
    if user and not USER.fullmatch(value):
        raise ValueError(f"{what} {value!r}: a user name is lower-case letters, digits, - and _, starting with a letter")
    if UNSAFE.search(value):
        raise ValueError(f"{what} {value!r}: no spaces, quotes, $, % or ; please (choose a path without them)")
    return value


SHARED = {"--db-url": "YIWANG_HUB_DB_URL", "--nats-url": "YIWANG_NATS_URL"}  # the hub's and its workers' alike


def checked_args(role: str, serve_args: str, env_var: str, data_dir: Path) -> str:
    """``serve_args`` as `yiwang ROLE serve` will take them: each word plain, and the command
    itself happy with them (it parses them and stops, ``--check``)."""
    try:
        words = shlex.split(serve_args)
    except ValueError as exc:
        raise ValueError(f"--serve-args: {exc}") from None
    for word in words:
        plain("--serve-args", word)
        option = word.split("=")[0]
        if option == "--dir":  # the unit names the directory (and may write only there); workers too
            raise ValueError("--serve-args: give the directory to install-service itself (--dir), not to serve")
        if role == "hub" and option in SHARED:
            raise ValueError(
                f"--serve-args: {option} is for the settings file, not the unit: put {SHARED[option]}=… in --env-file, "
                "where the workers read it too and `ps` does not show it (a database URL holds its password)"
            )
    done = subprocess.run(
        [sys.executable, "-m", "yiwang", role, "serve", *words, "--check"],
        capture_output=True,
        text=True,
        env=dict(os.environ) | {env_var: str(data_dir)},
    )
    if done.returncode != 0:
        raise ValueError(
            f"--serve-args: `yiwang {role} serve` refuses them: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else done.returncode}"
        )
    return " ".join(words)


def yiwang_command() -> str:
    """This installation's `yiwang` (its venv's script, else `python -m yiwang`); refused if its
    path is not one a unit can hold as it is."""
    script = Path(sys.executable).parent / "yiwang"
    if script.exists():
        return plain("the installation's `yiwang`", str(script))
    python = plain("the installation's python", sys.executable)
    return f"{python} -m yiwang"


def hub_units(workers: int, serve_args: str) -> list[Unit]:
    yiwang = yiwang_command()
    units = [
        Unit("yiwang-nats", "yiwang county NATS (JetStream, TLS, nkeys)", f"{yiwang} hub nats"),
        Unit(
            "yiwang-hub",
            "yiwang county hub (web, API, ingest, downlink, SMS)",
            f"{yiwang} hub serve {serve_args}".rstrip(),
            ["yiwang-nats.service"],
            ["yiwang-nats.service"],
        ),
    ]
    units += [
        Unit(
            f"yiwang-worker-{n}",
            f"yiwang county hub: extra ingest worker {n}",
            f"{yiwang} hub worker",
            ["yiwang-hub.service"],
            ["yiwang-hub.service"],
        )
        for n in range(1, workers + 1)
    ]
    return units


def node_units(serve_args: str) -> list[Unit]:
    return [Unit("yiwang-node", "yiwang service point (web UI, API, sync)", f"{yiwang_command()} node serve {serve_args}".rstrip())]


def known_user(user: str) -> bool:
    try:
        pwd.getpwnam(user)
    except KeyError:
        return False
    return True


def ensure_user(user: str, data_dir: Path) -> None:
    """A system user with no login shell, owning ``data_dir`` (0700: keys and databases in it)."""
    try:
        pwd.getpwnam(user)
    except KeyError:
        subprocess.run(["useradd", "--system", "--home-dir", str(data_dir), "--no-create-home", "--shell", "/usr/sbin/nologin", user], check=True)
    data_dir.mkdir(parents=True, exist_ok=True)
    entry = pwd.getpwnam(user)
    for path in [data_dir, *data_dir.rglob("*")]:
        os.chown(path, entry.pw_uid, entry.pw_gid, follow_symlinks=False)
    data_dir.chmod(0o700)


def seeded(data_dir: Path) -> dict[str, str]:
    """Settings a new file starts with: the hub's NATS address, from the port `hub init` wrote."""
    conf = data_dir / "nats" / "nats.conf"
    listen = re.search(r'^listen: "[^"]*:(\d+)"', conf.read_text(), re.M) if conf.exists() else None
    return {"YIWANG_NATS_URL": f"tls://127.0.0.1:{listen[1]}"} if listen else {}


def install(units: list[Unit], user: str, data_dir: Path, env_var: str, unit_dir: Path, env_file: Path, create_user: bool) -> list[Path]:
    """Write the units (and an empty settings file if there is none); return the unit files."""
    if create_user:
        ensure_user(user, data_dir)
    unit_dir.mkdir(parents=True, exist_ok=True)
    env_file.parent.mkdir(parents=True, exist_ok=True)
    if not env_file.exists():
        env_file.write_text(
            "# settings of the yiwang services (README, Configuration)\n" + "".join(f"{k}={v}\n" for k, v in seeded(data_dir).items())
        )
        env_file.chmod(0o640)
        if create_user:
            shutil.chown(env_file, group=user)
    written = []
    for unit in units:
        path = unit_dir / f"{unit.name}.service"
        path.write_text(unit.render(user, data_dir, env_var, env_file))
        path.chmod(0o644)  # no secret in it (those are in env_file), and systemd's tools read units as any user
        written.append(path)
    return written
