"""`yiwang` (or `python -m yiwang`): the one command tree of the county hub, the points and the
demo. Each branch is imported only when it is used, so a village laptop installed with
`yiwang[node]` never imports the hub's packages, and one without them is told what to install.

This module is the only place that composes the packages' commands: provisioning's NATS and
trust commands sit beside central's under `hub`, enrolment beside edge_node's under `node`.
It also gives the data directories their absolute defaults (a service's working directory is
`/` or `System32`, so a relative default put the data anywhere).
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

OWN = ("central", "edge_node", "provisioning", "sync_protocol", "weblayer")


def data_root() -> Path:
    """/var/lib/yiwang, or %ProgramData%\\yiwang on Windows."""
    if sys.platform == "win32":
        return Path(os.environ.get("ProgramData", r"C:\ProgramData")) / "yiwang"
    return Path("/var/lib/yiwang")


@functools.cache
def _hub() -> click.Group:
    from central.cli import hub
    from provisioning.cli import HUB_COMMANDS, NATS_INIT_OPTIONS, init_trust

    for command in HUB_COMMANDS:
        hub.add_command(command)
    init = hub.commands["init"]
    database_half = init.callback
    assert database_half is not None
    names = [o.name for o in NATS_INIT_OPTIONS]

    def both_halves(**values: Any) -> Any:
        trust = {n: values.pop(n) for n in names if n is not None}
        database_half(**values)  # first: a refused password changes nothing of the trust half
        init_trust(values["data_dir"], **trust)

    init.params[1:1] = NATS_INIT_OPTIONS
    init.callback = both_halves
    return hub


@functools.cache
def _node() -> click.Group:
    from edge_node.cli import node
    from provisioning.cli import NODE_COMMANDS

    for command in NODE_COMMANDS:
        node.add_command(command)
    return node


def _demo() -> click.Command:
    from provisioning.cli import demo

    return demo


def _dir_from_root(command: click.Command) -> click.Command:
    """Under this root ``--dir`` always has a value (the defaults main() sets), so its help no
    longer says ``[required]`` beside the default it names; an emptied variable is still refused."""
    for param in command.params:
        if param.name == "data_dir" and param.required:
            param.required = False
            param.callback = _given
    for sub in getattr(command, "commands", {}).values():
        _dir_from_root(sub)
    return command


def _given(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    if value is None:
        raise click.MissingParameter(ctx=ctx, param=param)
    return value


# name: (one line of help, the builder, the extra that installs what it needs)
BRANCHES: dict[str, tuple[str, Callable[[], click.Command], str]] = {
    "hub": ("the county hub: init, nats, serve, worker, user, backup, restore, audit, install-service", _hub, "yiwang[hub]"),
    "node": ("an edge node at a service point: enroll, serve, user, backup, install-service", _node, "yiwang[node]"),
    "demo": ("a local federation: NATS, the hub, a township and two village nodes", _demo, "yiwang[demo]"),
}


class Tree(click.Group):
    """Branches imported on use; a missing third-party package names the extra to install."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(BRANCHES)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in BRANCHES:
            return None
        _, build, extra = BRANCHES[cmd_name]
        try:
            return _dir_from_root(build())
        except ModuleNotFoundError as exc:
            if (exc.name or "").split(".")[0] in OWN:
                raise
            raise click.ClickException(f"`yiwang {cmd_name}` needs packages this installation lacks ({exc.name}): pip install '{extra}'") from None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, line) for name, (line, _, _) in BRANCHES.items()])


@click.group(name="yiwang", cls=Tree, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 120})
@click.version_option(package_name="yiwang", prog_name="yiwang")
def main() -> None:
    """一网 yiwang: offline-first service points and a county hub. `yiwang COMMAND --help` for more."""
    os.umask(0o077)  # keys, databases, logs and backups: their owner's only (as the units' UMask=0077)
    root = data_root()
    os.environ.setdefault("YIWANG_HUB_DIR", str(root / "hub"))
    os.environ.setdefault("YIWANG_NODE_DIR", str(root / "node"))


if __name__ == "__main__":
    main(prog_name="yiwang")
