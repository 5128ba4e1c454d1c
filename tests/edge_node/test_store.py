"""The node's store under concurrent writers: group commit must keep every block atomic and
durable before it returns, and roll back a failing block alone."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from edge_node.store import Store


def test_concurrent_writes_are_grouped_yet_each_is_atomic_and_committed_before_it_returns(tmp_path: Path):
    store = Store(tmp_path / "node.sqlite3")
    with store.write() as conn:
        conn.execute("CREATE TABLE t (writer INTEGER, n INTEGER, part INTEGER)")
    commits: list[str] = []
    store.conn.set_trace_callback(lambda sql: commits.append(sql) if sql == "COMMIT" else None)
    invisible: list[tuple[int, int]] = []

    def writer(w: int) -> None:
        for n in range(25):
            try:
                with store.write() as conn:
                    conn.execute("INSERT INTO t VALUES (?, ?, 1)", (w, n))
                    conn.execute("INSERT INTO t VALUES (?, ?, 2)", (w, n))
                    if (w + n) % 7 == 0:
                        raise ValueError("refused half-way")
            except ValueError:
                continue
            fresh = sqlite3.connect(tmp_path / "node.sqlite3")  # another connection: only committed data
            if fresh.execute("SELECT COUNT(*) FROM t WHERE writer = ? AND n = ?", (w, n)).fetchone()[0] != 2:
                invisible.append((w, n))
            fresh.close()

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rows = store.query("SELECT writer, n, COUNT(*) AS parts FROM t GROUP BY writer, n")
    expected = {(w, n) for w in range(20) for n in range(25) if (w + n) % 7}
    assert {(r["writer"], r["n"]) for r in rows} == expected  # no failed block left anything behind
    assert all(r["parts"] == 2 for r in rows)  # and no block is half there
    assert invisible == []  # a write that returned was already committed
    assert 0 < len(commits) < len(expected)  # and writers shared commits
    store.close()


def test_a_write_inside_a_write_is_refused(tmp_path: Path):
    store = Store(tmp_path / "node.sqlite3")
    with pytest.raises(RuntimeError, match="one transaction at a time"):
        with store.write():
            with store.write():
                pass
    with store.write() as conn:  # and the store still works
        assert conn.execute("PRAGMA user_version").fetchone()[0] > 0
    store.close()


def test_closing_while_other_threads_read_ends_their_reads_cleanly(tmp_path: Path):
    """The app stopping (store.close) while a worker thread still reads (a purge, a sync step)
    closed the thread's connection under it: SQLite crashed the process (a segfault), in about
    five stops out of six of a node that had just started. Now each reader is closed once it is
    not in use, and a later read is a ProgrammingError."""
    store = Store(tmp_path / "node.sqlite3")
    with store.write() as conn:
        conn.execute("CREATE TABLE t (n INTEGER)")
        conn.executemany("INSERT INTO t VALUES (?)", [(n,) for n in range(2000)])
    reading = threading.Barrier(5)
    ended: list[type[BaseException]] = []

    def reader() -> None:
        reading.wait()
        try:
            while True:
                assert len(store.query("SELECT a.n FROM t a JOIN t b ON b.n = a.n")) == 2000
        except sqlite3.ProgrammingError as exc:  # "Cannot operate on a closed database"
            ended.append(type(exc))

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for thread in threads:
        thread.start()
    reading.wait()
    store.close()
    for thread in threads:
        thread.join(timeout=30)
    assert ended == [sqlite3.ProgrammingError] * 4
