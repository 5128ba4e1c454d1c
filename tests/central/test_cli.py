"""`yiwang hub user …` as docs/integration.md has a county run it: a clear line and a non-zero
exit, never a traceback, for a directory with no hub, an account that exists or an unknown
department (found by a newcomer following the integration guide with the wrong --dir); passwords
asked for, never on the command line; an existing name refused instead of silently keeping its
old password (issue 22: there was no password reset at all)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from central.auth import log_in
from central.db import make_engine
from central.settings import Settings
from weblayer.errors import NotAuthenticated
from yiwang import main


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(main, ["hub", *args], input=input)


def test_user_commands_say_what_is_wrong_instead_of_a_traceback(tmp_path: Path):
    hub = str(tmp_path / "hub")
    done = run("user", "add", "--dir", hub, "cl-system", "残联审批系统", "clerk", "--department", "cl", input="secret1\nsecret1\n")
    assert done.exit_code == 1 and "no hub in" in done.output and not (tmp_path / "hub" / "hub.sqlite3").exists()
    assert run("init", "--dir", hub, "--password-stdin", input="op-secret\n").exit_code == 0
    done = run("user", "add", "--dir", hub, "cl-system", "残联审批系统", "clerk", "--department", "cl", input="secret1\nsecret1\n")
    assert done.exit_code == 0, done.output
    assert "added clerk cl-system" in done.output and "secret1" not in done.output  # asked for, unseen
    done = run("user", "add", "--dir", hub, "cl-system", "又一个", "clerk", "--department", "cl", "--password-stdin", input="secret2\n")
    assert done.exit_code == 1 and "已存在" in done.output
    done = run("user", "add", "--dir", hub, "x", "X", "clerk", "--department", "zz", "--password-stdin", input="secret2\n")
    assert done.exit_code == 1 and "没有部门 zz" in done.output
    done = run("user", "add", "--dir", hub, "y", "Y", "clerk", "--department", "cl", input="secret1\nsecret9\nsecret1\nsecret1\n")
    assert done.exit_code == 0 and "again" in done.output  # a mistyped confirmation asks once more
    assert run("user", "add", "--dir", hub, "z", "Z", "clerk", "--department", "cl", "--password", "pw").exit_code == 2  # no such option


def test_a_password_is_reset_an_account_disabled_and_the_last_operator_kept(tmp_path: Path):
    hub = tmp_path / "hub"
    assert run("init", "--dir", str(hub), "--password-stdin", input="op-secret\n").exit_code == 0
    engine = make_engine(Settings.from_env(data_dir=hub).database_url)
    _, token = log_in(engine, "operator", "op-secret")
    assert run("user", "reset-password", "operator", "--dir", str(hub), "--password-stdin", input="new-secret\n").exit_code == 0
    log_in(engine, "operator", "new-secret")
    from central.auth import user_for_token

    assert user_for_token(engine, token) is None  # the old session ended with the reset
    done = run("user", "disable", "operator", "--dir", str(hub))
    assert done.exit_code == 1 and "最后一个" in done.output
    assert run("user", "add", "--dir", str(hub), "op2", "县级运维 李", "operator", "--password-stdin", input="op2-secret\n").exit_code == 0
    assert run("user", "disable", "operator", "--dir", str(hub)).exit_code == 0
    try:
        log_in(engine, "operator", "new-secret")
        raise AssertionError("a disabled account logged in")
    except NotAuthenticated as exc:
        assert "停用" in str(exc)
    listed = run("user", "list", "--dir", str(hub)).output.splitlines()
    assert any(line.startswith("operator\toperator") and "disabled" in line for line in listed)
    assert any(line.startswith("op2\toperator") and line.endswith("active") for line in listed)
    assert run("user", "enable", "operator", "--dir", str(hub)).exit_code == 0
    log_in(engine, "operator", "new-secret")
    from central.actions import find

    assert [a.action for a in find(engine)][:4] == ["user.changed", "user.changed", "user.added", "user.password_reset"]
    engine.dispose()


def test_the_demo_has_a_clerk_for_every_department_of_the_sample_catalog():
    """New-user pass: 退役军人事务局 joined the sample catalog without a demo clerk, so its items'
    county stages could not be decided in the demo."""
    from central.catalog import sample_catalog
    from central.cli import DEMO_CLERKS

    assert {d["code"] for d in sample_catalog()["departments"]} == {dept for _, _, dept in DEMO_CLERKS}


def test_serving_https_at_a_name_the_certificate_lacks_is_warned(tmp_path: Path):
    """New-user pass: `hub serve --https --public-url https://hub.county:…` said nothing, and no
    point could then enrol at that address."""
    hub = str(tmp_path / "hub")
    assert CliRunner().invoke(main, ["hub", "init", "--dir", hub, "--nats-port", "4799"]).exit_code == 0
    done = subprocess.run(
        [sys.executable, "-m", "yiwang", "hub", "serve", "--dir", hub, "--https", "--public-url", "https://hub.county:8700", "--check"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0 and "not hub.county" in done.stderr and "--nats-name hub.county" in done.stderr
    done = subprocess.run(
        [sys.executable, "-m", "yiwang", "hub", "serve", "--dir", hub, "--https", "--public-url", "https://127.0.0.1:8700", "--check"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0 and "warning" not in done.stderr
