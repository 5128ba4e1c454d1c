"""`yiwang node backup` (issue 22 item 5): the point's database copied online (one moment, while
a writer holds it open), its keys and enrolment beside it, logs left out."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import tarfile
from pathlib import Path

from edge_node.store import Store
from tests.support.builders import node_dir


def test_a_node_backup_holds_its_database_keys_and_enrolment(tmp_path: Path):
    data = node_dir(tmp_path / "node", users=(("agent", "代办员", "agent-pw"),))
    (data / "logs").mkdir()
    (data / "logs" / "node.log").write_text("log\n")
    store = Store(data / "node.sqlite3")  # the node running: its writer open
    with store.write() as conn:
        conn.execute("INSERT INTO meta (key, value) VALUES ('up_seq', '7') ON CONFLICT(key) DO UPDATE SET value = '7'")
    done = subprocess.run(
        [sys.executable, "-m", "yiwang", "node", "backup", "--dir", str(data), "--out", str(tmp_path / "out")], capture_output=True, text=True
    )
    store.close()
    assert done.returncode == 0, done.stderr
    archive = next((tmp_path / "out").glob("yiwang-node-*.tar.gz"))
    with tarfile.open(archive) as tar:
        members = set(tar.getnames())
        tar.extract("node.sqlite3", tmp_path / "x", filter="data")
    assert {"manifest.json", "node.sqlite3", "node.json", "node.key"} <= members and "logs/node.log" not in members
    copy = sqlite3.connect(tmp_path / "x" / "node.sqlite3")
    assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert copy.execute("SELECT username FROM users").fetchall() == [("agent",)]
    assert copy.execute("SELECT value FROM meta WHERE key = 'up_seq'").fetchone()[0] == "7"
    done = subprocess.run(
        [sys.executable, "-m", "yiwang", "node", "backup", "--dir", str(tmp_path / "none"), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1 and "not found" in done.stderr


def test_a_backup_into_the_directory_above_keeps_the_keys_and_only_its_owner_reads_it(tmp_path: Path):
    """Adversarial pass: --out at or above the node's directory left out node.key and node.json."""
    import stat

    data = node_dir(tmp_path / "node", users=(("agent", "代办员", "agent-pw"),))
    for out in (tmp_path, data):
        done = subprocess.run(
            [sys.executable, "-m", "yiwang", "node", "backup", "--dir", str(data), "--out", str(out)], capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        archive = sorted(out.glob("yiwang-node-*.tar.gz"))[-1]
        assert stat.S_IMODE(archive.stat().st_mode) == 0o600
        with tarfile.open(archive) as tar:
            names = tar.getnames()
        assert {"node.key", "node.json"} <= set(names) and not any(n.startswith("yiwang-node-") for n in names)


def test_two_backups_in_the_same_second_are_two_whole_archives(tmp_path: Path):
    """Adversarial pass: two backups started in one second wrote one `.partial` file together;
    the archive left was corrupt, and one or both said they had succeeded. Here the clock stands
    still, so both are in the same second whatever the machine's speed."""
    import os

    from tests.support.faketime import faked

    data = node_dir(tmp_path / "node", users=(("agent", "代办员", "agent-pw"),))
    (data / "blobs").mkdir()
    (data / "blobs" / "photo").write_bytes(os.urandom(2_000_000))  # a backup that takes a while
    argv = [sys.executable, "-m", "yiwang", "node", "backup", "--dir", str(data), "--out", str(tmp_path / "out")]
    env = os.environ | faked("2026-12-07 10:00:00")
    both = [subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    said = [p.communicate(timeout=120) for p in both]
    assert [p.returncode for p in both] == [0, 0], said
    archives = sorted((tmp_path / "out").iterdir())
    assert [a.name for a in archives] == ["yiwang-node-20261207T100000Z-2.tar.gz", "yiwang-node-20261207T100000Z.tar.gz"]
    assert sorted(out.split(" (")[0] for out, _ in said) == [str(a) for a in archives]  # each says its own
    for archive in archives:
        with tarfile.open(archive) as tar:
            assert tar.extractfile("blobs/photo").read() == (data / "blobs" / "photo").read_bytes()
