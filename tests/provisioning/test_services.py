"""`yiwang hub install-service` and `yiwang node install-service` (issue 22 item 3): units
systemd accepts (`systemd-analyze verify`, which refuses an unknown setting value or a missing
program), restarted when they die, run by a dedicated system user that alone reads the data."""

from __future__ import annotations

import pwd
import re
import secrets
import stat
import subprocess
import sys
from pathlib import Path

import pytest

SYSTEMD_ANALYZE = Path("/usr/bin/systemd-analyze")


def yiwang(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "yiwang", *args], capture_output=True, text=True)


@pytest.fixture
def system_user():
    name = f"yiwang-t{secrets.token_hex(3)}"
    yield name
    subprocess.run(["userdel", name], capture_output=True)


def verify(paths: list[Path]) -> str:
    """What systemd finds wrong with the units: "" when nothing (it exits 0 even for a setting it
    ignores, so its warnings are the verdict)."""
    done = subprocess.run([str(SYSTEMD_ANALYZE), "verify", *map(str, paths)], capture_output=True, text=True)
    return done.stderr.strip() + ("" if done.returncode == 0 else f" (exit {done.returncode})")


def test_hub_units_pass_systemd_analyze_and_a_dedicated_user_owns_the_data(tmp_path: Path, system_user: str):
    assert SYSTEMD_ANALYZE.exists(), "systemd-analyze is missing: scripts/ensure-chromium installs it"
    hub, units = tmp_path / "hub", tmp_path / "units"
    done = yiwang("hub", "init", "--dir", str(hub))
    assert done.returncode == 0, done.stderr
    args = ["--dir", str(hub), "--unit-dir", str(units), "--env-file", str(tmp_path / "hub.env"), "--user", system_user]
    done = yiwang("hub", "install-service", *args, "--workers", "2", "--serve-args", "--host 0.0.0.0 --https")
    assert done.returncode == 0, done.stderr
    written = sorted(units.iterdir())
    assert [p.name for p in written] == ["yiwang-hub.service", "yiwang-nats.service", "yiwang-worker-1.service", "yiwang-worker-2.service"]
    assert verify(written) == ""
    hub_unit = (units / "yiwang-hub.service").read_text()
    assert f"User={system_user}" in hub_unit and "Restart=always" in hub_unit and f"Environment=YIWANG_HUB_DIR={hub}" in hub_unit
    port = re.search(r'listen: "[^"]*:(\d+)"', (hub / "nats" / "nats.conf").read_text())[1]
    assert f"YIWANG_NATS_URL=tls://127.0.0.1:{port}" in (tmp_path / "hub.env").read_text()  # the NATS hub init wrote
    assert "hub serve --host 0.0.0.0 --https" in hub_unit and "After=network-online.target yiwang-nats.service" in hub_unit
    entry = pwd.getpwnam(system_user)
    assert entry.pw_shell == "/usr/sbin/nologin" and entry.pw_uid < 1000  # a system user nobody logs in as
    assert stat.S_IMODE(hub.stat().st_mode) == 0o700
    assert all(p.stat().st_uid == entry.pw_uid for p in [hub, *hub.rglob("*")])  # keys, database, certificates
    bad = tmp_path / "bad.service"
    bad.write_text(hub_unit.replace("Restart=always", "Restart=sometimes"))
    assert "sometimes" in verify([bad])  # the check does see a setting systemd would ignore


def test_a_node_unit_passes_systemd_analyze(tmp_path: Path, system_user: str):
    from tests.support.builders import node_dir

    node, units = node_dir(tmp_path / "node"), tmp_path / "units"
    args = ["--dir", str(node), "--unit-dir", str(units), "--env-file", str(tmp_path / "node.env"), "--user", system_user]
    done = yiwang("node", "install-service", *args, "--serve-args", "--host 0.0.0.0 --port 8701")
    assert done.returncode == 0, done.stderr
    assert [p.name for p in units.iterdir()] == ["yiwang-node.service"]
    assert verify(list(units.iterdir())) == ""
    assert "node serve --host 0.0.0.0 --port 8701" in (units / "yiwang-node.service").read_text()
    assert (tmp_path / "node.env").exists() and stat.S_IMODE((tmp_path / "node.env").stat().st_mode) == 0o640


def test_what_a_unit_would_not_run_is_refused_before_anything_is_written(tmp_path: Path):
    """New-user and adversarial passes: arguments `serve` does not take went into ExecStart (the
    help's own example made a node unit that crash-looped), a new line in --user or --serve-args
    wrote settings of its own (``User=root``), a space in --dir split the path, and a directory
    never initialised was accepted."""
    from tests.support.builders import node_dir

    node, units = node_dir(tmp_path / "node"), tmp_path / "units"
    base = ["--dir", str(node), "--unit-dir", str(units), "--env-file", str(tmp_path / "n.env"), "--no-user"]
    for extra, said in (
        (["--serve-args", "--host 0.0.0.0 --https"], "No such option"),
        (["--serve-args", "--port abc"], "not a valid integer"),
        (["--serve-args", "--port 8700\nExecStartPre=/bin/touch /tmp/pwned"], "--serve-args"),
        (["--user", "yiwang\nUser=root"], "--user"),
    ):
        done = yiwang("node", "install-service", *base, *extra)
        assert done.returncode == 2 and said in done.stderr, (extra, done.stderr)
        assert not units.exists()
    spaced = tmp_path / "my dir"
    done = yiwang("node", "install-service", *base[2:], "--dir", str(node_dir(spaced)))
    assert done.returncode == 2 and "no spaces" in done.stderr
    done = yiwang("hub", "install-service", "--dir", str(tmp_path / "never"), "--unit-dir", str(units), "--no-user")
    assert done.returncode == 1 and "yiwang hub init" in done.stderr and not units.exists()
    done = yiwang("node", "install-service", *base, "--user", "yiwang-nobody-here")  # --no-user: the user must be there
    assert done.returncode == 2 and "leave out --no-user" in done.stderr and not units.exists()


def test_the_database_url_goes_in_the_settings_file_not_the_unit(tmp_path: Path):
    """Adversarial pass: `--serve-args "--db-url postgresql://yiwang:secret@…"` put the password in
    the unit and in `ps`, and the workers' units, without it, ingested into another database."""
    hub, units = tmp_path / "hub", tmp_path / "units"
    assert yiwang("hub", "init", "--dir", str(hub)).returncode == 0
    base = ["--dir", str(hub), "--unit-dir", str(units), "--env-file", str(tmp_path / "hub.env"), "--no-user", "--user", "root", "--workers", "1"]
    for args in ("--db-url postgresql+psycopg://yiwang:S3cret@db/yiwang", "--nats-url=tls://hub.county:4700"):
        done = yiwang("hub", "install-service", *base, "--serve-args", args)
        assert done.returncode == 2 and "put YIWANG_" in done.stderr and "--env-file" in done.stderr, done.stderr
        assert not units.exists()
    done = yiwang("hub", "install-service", *base, "--serve-args", f"--dir={tmp_path / 'other'}")  # serve and workers on two directories
    assert done.returncode == 2 and "install-service itself (--dir)" in done.stderr and not units.exists()


def test_an_installation_whose_path_a_unit_cannot_hold_is_refused(tmp_path: Path):
    """Adversarial pass: a virtual environment under "/tmp/adv venv%h" wrote `ExecStart=/tmp/adv
    venv%h/bin/yiwang …`: systemd split it at the space and expanded %h."""
    import os
    import sys

    from tests.support.builders import node_dir

    odd = tmp_path / "adv venv%h"
    odd.symlink_to(Path(sys.prefix))
    units = tmp_path / "units"
    args = ["node", "install-service", "--dir", str(node_dir(tmp_path / "node")), "--unit-dir", str(units), "--no-user", "--user", "root"]
    done = subprocess.run(
        [str(odd / "bin" / "python"), "-m", "yiwang", *args], capture_output=True, text=True, env=os.environ | {"PYTHONPATH": os.getcwd()}
    )
    assert done.returncode == 2 and "installation" in done.stderr and "no spaces" in done.stderr, done.stderr
    assert not units.exists()
