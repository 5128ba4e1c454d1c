"""`yiwang hub add-user` as docs/integration.md has a county run it: a clear line and exit status 2,
never a traceback, for a directory with no hub, an account that exists or an unknown department
(found by a newcomer following the integration guide with the wrong --dir)."""

from __future__ import annotations

from pathlib import Path

from central.cli import main


def test_add_user_says_what_is_wrong_instead_of_a_traceback(tmp_path: Path, capsys):
    hub = tmp_path / "hub"
    assert main(["add-user", "--dir", str(hub), "cl-system", "残联审批系统", "clerk", "--password", "pw", "--department", "cl"]) == 2
    assert "no hub in" in capsys.readouterr().err and not hub.joinpath("hub.sqlite3").exists()
    assert main(["init", "--dir", str(hub), "--operator-password", "op"]) == 0
    capsys.readouterr()
    assert main(["add-user", "--dir", str(hub), "cl-system", "残联审批系统", "clerk", "--password", "pw", "--department", "cl"]) == 0
    assert "added clerk cl-system" in capsys.readouterr().out
    assert main(["add-user", "--dir", str(hub), "cl-system", "又一个", "clerk", "--password", "pw2", "--department", "cl"]) == 2
    assert "exists already" in capsys.readouterr().err
    assert main(["add-user", "--dir", str(hub), "x", "X", "clerk", "--password", "pw", "--department", "zz"]) == 2
    assert "no department 'zz'" in capsys.readouterr().err


def test_the_demo_has_a_clerk_for_every_department_of_the_sample_catalog():
    """New-user pass: 退役军人事务局 joined the sample catalog without a demo clerk, so its items'
    county stages could not be decided in the demo."""
    from central.catalog import sample_catalog
    from central.cli import DEMO_CLERKS

    assert {d["code"] for d in sample_catalog()["departments"]} == {dept for _, _, dept in DEMO_CLERKS}
