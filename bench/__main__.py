"""`just bench [NAME…]`: run the benchmarks (all, or those named: ingest catchup intake latency
county weaklink province), print each figure beside its same-run baseline and target, and write the results table
between the markers in docs/performance.md (the analysis around it is written by hand)."""

from __future__ import annotations

import argparse
import logging
import os
import platform
import re
import sqlite3
from collections.abc import Callable
from datetime import date
from pathlib import Path

from . import catchup, county, ingest, intake, latency, province, weaklink

DOC = Path(__file__).resolve().parent.parent / "docs" / "performance.md"
START, END = "<!-- bench:start -->", "<!-- bench:end -->"
Row = tuple[str, str, str, str, str]  # benchmark, figure, baseline, target, met


def machine() -> str:
    model = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")),
        platform.machine(),
    )
    memory = next((int(line.split()[1]) // 1024**2 for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")), 0)
    return f"{model}, {os.cpu_count()} cores, {memory} GiB, Linux {platform.release()}, Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}"


def met(ok: bool) -> str:
    return "met" if ok else "**not met**"


def ingest_rows() -> list[Row]:
    r = ingest.run()
    shape = f"{r['records']:,} records, {r['batches']} batches from {r['nodes']} nodes, median of {r['rounds']}"
    lite = r["sqlite"]
    rows = [
        (
            "hub ingest, SQLite (bench/ingest.py)",
            f"{lite['one_rps']:,.0f} records/s, one worker; two worker processes {lite['two_rps']:,.0f} records/s together ({shape}); one-record batches: {lite['small_bps']:,.0f} batches/s",
            f"{lite['raw_rps']:,.0f} records/s: the same rows into the hub's tables by raw executemany (bare table: {lite['bare_rps']:,.0f})",
            "≥ 25 % of baseline",
            f"{met(lite['ratio'] >= 0.25)}: {lite['ratio']:.1%}",
        )
    ]
    if isinstance(r.get("postgresql"), str):
        print(f"\nhub ingest on PostgreSQL NOT measured: {r['postgresql']}")
        return rows
    pg = r["postgresql"]
    rows.append(
        (
            "hub ingest, PostgreSQL (bench/ingest.py)",
            f"{pg['one_rps']:,.0f} records/s, one worker; two worker processes {pg['two_rps']:,.0f} records/s together ({pg['two_rps'] / pg['one_rps']:.2f}×; {shape}); one-record batches: {pg['small_bps']:,.0f} batches/s",
            f"{pg['raw_rps']:,.0f} records/s: the same rows into the hub's tables by psycopg executemany, same server",
            "report",
            f"{pg['ratio']:.1%} of baseline",
        )
    )
    return rows


def catchup_rows() -> list[Row]:
    r = catchup.run()
    return [
        (
            "catch-up (bench/catchup.py)",
            f"{r['catchup_s']:.2f} s from online to {r['events']:,} applied ({r['batches']} batches; process start to online {r['start_to_online_s']:.2f} s)",
            f"{r['floor_s']:.2f} s: the same batches through JetStream, bare client and consumer",
            "≤ 2 s",
            met(r["catchup_s"] <= 2.0),
        )
    ]


def intake_rows() -> list[Row]:
    r = intake.run()
    i, t = r["intake"], r["trivial"]
    peak, ten = r["open_loop"]["peak"], r["open_loop"]["ten_times"]
    return [
        (
            "intake API, open loop (bench/intake.py)",
            f"township peak ({intake.PEAK_WINDOWS} windows, {peak['rate'] * 60:.0f} applications/min): p50 {peak['p50_ms']:.1f} ms, p99 {peak['p99_ms']:.1f} ms ({peak['n']} requests); "
            f"10 × peak ({ten['rate'] * 60:.0f}/min): p50 {ten['p50_ms']:.1f} ms, p99 {ten['p99_ms']:.1f} ms ({ten['n']} requests)",
            f"GET /api/health, same server, closed loop: p50 {t['p50_ms']:.1f} ms, p99 {t['p99_ms']:.1f} ms",
            "p99 ≤ 50 ms at 10 × peak",
            met(ten["p99_ms"] <= 50),
        ),
        (
            "intake API, 20 clients (bench/intake.py)",
            f"p50 {i['p50_ms']:.1f} ms, p99 {i['p99_ms']:.1f} ms, {i['rps']:.0f} req/s ({i['n']:,} requests)",
            f"GET /api/health, same server and clients: p50 {t['p50_ms']:.1f} ms, p99 {t['p99_ms']:.1f} ms, {t['rps']:.0f} req/s",
            "p99 ≤ 50 ms",
            met(i["p99_ms"] <= 50),
        ),
        (
            "node memory (bench/intake.py)",
            f"idle {r['rss_idle_mb']:.0f} MB, after {r['applications']:,} applications {r['rss_loaded_mb']:.0f} MB",
            f"{r['rss_bare_mb']:.0f} MB: bare Python with the same libraries imported",
            "≤ 150 MB",
            met(r["rss_loaded_mb"] <= 150),
        ),
    ]


def latency_rows() -> list[Row]:
    r = latency.run()
    e, t = r["end_to_end"], r["transport"]
    return [
        (
            "online end-to-end (bench/latency.py)",
            f"p50 {e['p50_ms']:.1f} ms, p99 {e['p99_ms']:.1f} ms ({e['n']} intakes)",
            f"one {t['bytes']} B JetStream message, bare client to waiting pull consumer: p50 {t['p50_ms']:.1f} ms, p99 {t['p99_ms']:.1f} ms",
            "p50 ≤ 200 ms",
            met(e["p50_ms"] <= 200),
        )
    ]


def county_rows() -> list[Row]:
    r = county.run()
    return [
        (
            "simulated county (bench/county.py)",
            f"{r['points']} points, {r['seconds']:.0f} s, {r['records']:,} applications: hub CPU {r['cpu_share']:.0%} of a core, RSS peak {r['rss_peak_mb']:.0f} MB, "
            f"lag p50 {r['lag_p50_ms']:.0f} ms / p99 {r['lag_p99_ms']:.0f} ms, drained {r['drain_s']:.2f} s after the senders stopped (senders' own CPU {r['senders_cpu_share']:.0%})",
            f"same hub, 300 points connected and idle: CPU {r['idle_cpu_share']:.0%}, RSS {r['idle_rss_mb']:.0f} MB",
            "report",
            "—",
        )
    ]


def weaklink_rows() -> list[Row]:
    r = weaklink.run()
    day, b, idle = r["day"], r["bytes"], r["idle"]
    return [
        (
            "village day over 64 kbit/s (bench/weaklink.py)",
            f"{day['cases']} cases, {day['photos']} photos (12 MP): all applied {day['took_s']:.0f} s after the link came up ({day['cuts']} cuts, {day['wire_up']:,} bytes up for "
            f"{day['batches']:,} of batches + {day['files']:,} of optimised photos)",
            f"the link's physical limit for those bytes: {day['limit_s']:.0f} s; the originals uncompressed ({day['plain_batches'] + day['originals']:,} bytes, computed): {day['originals_s']:.0f} s",
            "≤ 1.25 × the limit",
            f"{met(day['took_s'] <= 1.25 * day['limit_s'])}: {day['took_s'] / day['limit_s']:.2f} ×",
        ),
        (
            "bytes on the wire per application (bench/weaklink.py)",
            f"{b['wire_per_app']:.0f} B through the proxy upwards per application ({b['count']} queued, 256 kbit/s; TLS, NATS framing, statuses and keep-alives included)",
            f"the batches' own wire bytes: {b['batch_per_app']:.0f} B per application compressed, {b['plain_per_app']:.0f} B uncompressed",
            "≤ 150 B",
            met(b["wire_per_app"] <= 150),
        ),
        (
            "idle point per day (bench/weaklink.py)",
            f"hub database {idle['db_per_day']:,.0f} B, JetStream {idle['js_per_day']:,.0f} B (from {idle['beats']} heartbeats, scaled to one a minute); link {idle['link_per_day'] / 1024:,.0f} KB both ways (heartbeats and keep-alives)",
            f"heartbeats as chain records (older nodes): hub database {idle['old_db_per_day']:,.0f} B, {idle['old_wire_per_day']:,.0f} B of batches",
            "≤ 10 KB at the hub",
            met(idle["db_per_day"] + idle["js_per_day"] <= 10_000),
        ),
    ]


def province_rows() -> list[Row]:
    r = province.run()
    if isinstance(r, str):
        print(f"\nprovince rate NOT measured: {r}")
        return []
    return [
        (
            "province rate, PostgreSQL, two workers (bench/province.py)",
            f"{r['heartbeats_per_s']:.0f} heartbeats/s (20,000 points at one a minute) + {r['applications'] / r['seconds']:.0f} applications/s (a peak hour) from {r['points']} real points for {r['seconds']:.0f} s: "
            f"answer p50 {r['answer_p50_ms']:.0f} ms / p99 {r['answer_p99_ms']:.0f} ms ({r['unanswered']} unanswered), application lag p50 {r['lag_p50_ms']:.0f} ms / p99 {r['lag_p99_ms']:.0f} ms; hub CPU {r['cpu_share']:.0%} of a core",
            f"trivial request/reply through the same NATS server: p50 {r['floor_p50_ms']:.1f} ms / p99 {r['floor_p99_ms']:.1f} ms",
            "lag p99 ≤ 2 s",
            met(r["lag_p99_ms"] <= 2000 and r["answer_p99_ms"] <= 2000),
        )
    ]


BENCHMARKS: dict[str, Callable[[], list[Row]]] = {
    "ingest": ingest_rows,
    "catchup": catchup_rows,
    "intake": intake_rows,
    "latency": latency_rows,
    "county": county_rows,
    "weaklink": weaklink_rows,
    "province": province_rows,
}


def write_doc(rows: list[Row]) -> None:
    """Replace this run's rows in the table between the markers; rows of benchmarks not run this
    time stay, each with the date and machine it was measured on."""
    text = DOC.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.S)
    found = pattern.search(text)
    kept: dict[str, str] = {}
    for line in found.group(0).splitlines() if found else []:
        cells = [c.strip() for c in line.strip("|").split("|")]
        if line.startswith("| ") and len(cells) == 6 and cells[0] not in ("benchmark",):
            kept[cells[0]] = line
    when = f"{date.today():%Y-%m-%d}"
    for row in rows:
        kept[row[0]] = f"| {' | '.join(row)} | {when} |"

    def place(name: str) -> int:  # the order of BENCHMARKS, by the module the row names
        module = re.search(r"bench/(\w+)\.py", name)
        return list(BENCHMARKS).index(module.group(1)) if module and module.group(1) in BENCHMARKS else len(BENCHMARKS)

    table = [
        START,
        f"Measured by `just bench` on {machine()}:",
        "",
        "| benchmark | figure | baseline (same run) | target | | when |",
        "|---|---|---|---|---|---|",
        *(kept[name] for name in sorted(kept, key=place)),
        END,
    ]
    text = pattern.sub(lambda _: "\n".join(table), text) if found else text + "\n" + "\n".join(table) + "\n"
    DOC.write_text(text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(prog="just bench", description=__doc__)
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"some of: {' '.join(BENCHMARKS)} (default: all)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/performance.md alone")
    args = parser.parse_args()
    logging.getLogger("asyncio").setLevel(logging.ERROR)  # nats-py's TLS close chatter
    names = args.names or list(BENCHMARKS)
    if unknown := set(names) - set(BENCHMARKS):
        parser.error(f"no benchmark called {', '.join(sorted(unknown))}; choose from {' '.join(BENCHMARKS)}")
    print(f"machine: {machine()}")
    rows: list[Row] = []
    for name in names:
        for row in BENCHMARKS[name]():
            rows.append(row)
            print(f"\n{row[0]}\n  figure    {row[1]}\n  baseline  {row[2]}\n  target    {row[3]}: {row[4]}", flush=True)
    if not args.no_write:
        write_doc(rows)
        print(f"\nwritten to {DOC}")


main()
