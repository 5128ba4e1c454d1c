"""The one `yiwang` command tree (issue 22 item 2): every command has help, no password is ever
an argument, data directories default to absolute paths, the node's accounts are managed like the
hub's, and `yiwang hub nats` runs nats-server as a child it stops, not by exec (Windows has none:
a service wrapper saw the process end at once, and Ctrl-C was lost)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import click
from click.testing import CliRunner

from edge_node.auth import log_in, user_for_token
from edge_node.store import Store
from provisioning.federation import free_port, port_open
from tests.support.polling import eventually
from weblayer.errors import NotAuthenticated
from yiwang import BRANCHES, main


def walk(command: click.Command, path: tuple[str, ...] = ()):
    yield path, command
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from walk(sub, (*path, name))


def every_command():
    for name, (_, build, _) in BRANCHES.items():
        yield from walk(build(), (name,))


def test_every_command_and_option_has_help_and_none_takes_a_password():
    commands = list(every_command())
    assert len(commands) > 20
    for path, command in commands:
        assert (command.help or "").strip(), f"yiwang {' '.join(path)} has no help"
        done = CliRunner().invoke(main, [*path, "--help"])
        assert done.exit_code == 0 and "Usage: yiwang " + " ".join(path) in done.output, done.output
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help or (param.is_flag and param.name == "help"), f"yiwang {' '.join(path)} {param.opts} has no help"
                assert "password" not in param.name or param.name == "password_stdin", f"yiwang {' '.join(path)} takes {param.opts}"
    # new-user pass: --dir said "[required]" beside the default its help names
    shown = CliRunner().invoke(main, ["hub", "backup", "--help"]).output
    assert "--dir" in shown and "[required]" not in shown.split("--dir", 1)[1].split("--db-url", 1)[0]
    emptied = CliRunner().invoke(main, ["hub", "backup", "--out", "x"], env={"YIWANG_HUB_DIR": ""})
    assert emptied.exit_code == 2 and "Missing option '--dir'" in emptied.output
    names = {" ".join(p) for p, _ in commands}
    for wanted in ("hub user add", "hub user disable", "hub user reset-password", "hub user list", "node user add", "node user disable"):
        assert wanted in names


def test_python_m_yiwang_runs_the_tree_and_the_data_directories_are_absolute(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("YIWANG_")}
    done = subprocess.run([sys.executable, "-m", "yiwang", "hub", "user", "list"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert done.returncode == 1 and "no hub in /var/lib/yiwang/hub" in done.stderr, done.stderr
    done = subprocess.run([sys.executable, "-m", "yiwang", "node", "user", "list"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert done.returncode == 1 and "no node in /var/lib/yiwang/node" in done.stderr, done.stderr
    assert not list(tmp_path.iterdir())  # nothing made in the working directory
    assert subprocess.run([sys.executable, "-m", "yiwang", "--version"], capture_output=True, text=True).stdout.startswith("yiwang, version ")


def test_a_township_point_manages_its_accounts_and_keeps_one_staff(tmp_path: Path):
    node = str(tmp_path / "node")

    def run(*args: str, input: str | None = None):
        return CliRunner().invoke(main, ["node", "user", *args, "--dir", node], input=input)

    assert run("add", "staff", "乡镇窗口 刘洋", "township_staff", input="secret1\nsecret1\n").exit_code == 0
    assert run("add", "agent", "代办员", "village_agent", "--password-stdin", input="agent-pw\n").exit_code == 0
    done = run("add", "agent", "又一个", "village_agent", "--password-stdin", input="other-pw\n")
    assert done.exit_code == 1 and "已存在" in done.output
    assert run("add", "short", "短", "village_agent", "--password-stdin", input="abc\n").exit_code == 1
    done = run("disable", "staff")
    assert done.exit_code == 1 and "最后一个" in done.output
    store = Store(tmp_path / "node" / "node.sqlite3")
    _, token = log_in(store, "agent", "agent-pw")
    assert run("reset-password", "agent", "--password-stdin", input="agent-pw2\n").exit_code == 0
    assert user_for_token(store, token) is None  # the reset ended the open session
    assert run("disable", "agent").exit_code == 0
    try:
        log_in(store, "agent", "agent-pw2")
        raise AssertionError("a disabled account logged in")
    except NotAuthenticated as exc:
        assert "停用" in str(exc)
    assert "agent\tvillage_agent\t代办员\tdisabled" in run("list").output
    assert [r["action"] for r in store.query("SELECT action FROM account_log ORDER BY id")] == [
        "user.added",
        "user.added",
        "user.password_reset",
        "user.changed",
    ]
    store.close()


def test_hub_nats_runs_nats_server_as_a_child_and_stops_it_with_itself(tmp_path: Path):
    port = free_port()
    hub = tmp_path / "hub"
    done = subprocess.run(
        [sys.executable, "-m", "yiwang", "hub", "init", "--dir", str(hub), "--nats-host", "127.0.0.1", "--nats-port", str(port)],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    proc = subprocess.Popen([sys.executable, "-m", "yiwang", "hub", "nats", "--dir", str(hub)])
    try:
        eventually(lambda: port_open(port), timeout=30, what="nats-server to listen")
        children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
        assert len(children) == 1  # nats-server runs beside our process, which stays (no exec)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0  # nats-server stops cleanly on the SIGTERM passed on
        eventually(lambda: not port_open(port), timeout=10, what="nats-server to stop")
        assert not Path(f"/proc/{children[0]}").exists() or "Z" in Path(f"/proc/{children[0]}/stat").read_text().split()[2]
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_village_point_takes_agents_only(tmp_path: Path):
    """New-user pass: `node user add` made a 乡镇审批人 at a village point."""
    from tests.support.builders import node_dir

    node = str(node_dir(tmp_path / "village"))
    for role in ("township_approver", "township_staff"):
        done = CliRunner().invoke(main, ["node", "user", "add", "boss", "周敏", role, "--dir", node, "--password-stdin"], input="secret1\n")
        assert done.exit_code == 1 and "村代办点只有村代办员" in done.output, done.output
    done = CliRunner().invoke(main, ["node", "user", "add", "agent", "王秀兰", "village_agent", "--dir", node, "--password-stdin"], input="secret1\n")
    assert done.exit_code == 0 and "agent\tvillage_agent\t王秀兰\tactive" in CliRunner().invoke(main, ["node", "user", "list", "--dir", node]).output
