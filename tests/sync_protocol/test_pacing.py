"""The link meter driven through a simulated slow link, in milliseconds: sends are sized and
timed for the link measured, a cut costs at most one send, and nothing acknowledged is sent again."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from sync_protocol import LinkMeter
from sync_protocol._pacing import MAX_SEND_BYTES, MIN_SEND_BYTES, TARGET_SEND_S


@dataclass
class SimulatedLink:
    """``bytes_per_s`` each way, ``one_way_s`` latency, and down for ``down_s`` every ``cut_every_s``."""

    bytes_per_s: float
    one_way_s: float
    cut_every_s: float = 1e9
    down_s: float = 5.0

    def up(self, t: float) -> bool:
        return t % self.cut_every_s >= self.down_s or t < self.cut_every_s

    def next_up(self, t: float) -> float:
        while not self.up(t):
            t += 0.1
        return t

    def cut_between(self, start: float, end: float) -> bool:
        return any(not self.up(start + i * (end - start) / 50) for i in range(51))


def deliver(link: SimulatedLink, meter: LinkMeter, payload: int, t: float = 0.0) -> tuple[float, int, int]:
    """Send ``payload`` bytes the way the node does: one send of ``meter.send_bytes()`` at a time,
    each waited for within ``meter.timeout_for``; after a timeout, ask (one round trip) what
    arrived before sending anything again. Returns (time taken, bytes put on the link, sends)."""
    sent_total, sends, remaining = 0, 0, payload
    meter.round_trip(2 * link.one_way_s)  # the node's first words on connecting: its status, answered
    while remaining > 0:
        t = link.next_up(t)
        size = min(meter.send_bytes(), remaining)
        transfer = size / link.bytes_per_s
        ack_after = transfer + 2 * link.one_way_s
        budget = meter.timeout_for(size)
        sends += 1
        if link.cut_between(t, t + min(ack_after, budget)):
            # the bytes that went out before the cut are spent; the send did not arrive
            cut_at = next(t + i * 0.05 for i in range(int(budget / 0.05) + 1) if not link.up(t + i * 0.05))
            sent_total += min(size, int((cut_at - t) * link.bytes_per_s))
            meter.timed_out()
            t = link.next_up(cut_at) + 2 * link.one_way_s  # reconnect, then ask what arrived: nothing
            continue
        sent_total += size
        if ack_after > budget:
            meter.timed_out()
            # "what arrived?": the ask queues behind the bytes, which did arrive; its answer times the send
            confirmed_after = ack_after + 2 * link.one_way_s
            meter.sent(size, confirmed_after)
            t += confirmed_after
            remaining -= size  # arrived: never sent again
            continue
        meter.sent(size, ack_after)
        meter.round_trip(2 * link.one_way_s)
        t += ack_after
        remaining -= size
    return t, sent_total, sends


@pytest.mark.parametrize("kbit", [64, 100, 256, 1000])
def test_a_queued_day_crosses_a_slow_link_without_resending(kbit):
    link = SimulatedLink(kbit * 1000 / 8, 0.3)
    meter = LinkMeter()
    payload = 466_000  # 1,000 applications before compression: the field report's backlog
    took, sent, sends = deliver(link, meter, payload)
    assert sent == payload  # nothing acknowledged or arrived went again
    assert took <= 1.25 * payload / link.bytes_per_s + sends * 2 * link.one_way_s + 1
    assert abs(meter.bytes_per_s - link.bytes_per_s) / link.bytes_per_s < 0.2  # it measured the link
    assert meter.send_bytes() <= max(MIN_SEND_BYTES, 1.3 * TARGET_SEND_S * link.bytes_per_s)


def test_cut_every_90_s_at_64_kbit_costs_at_most_a_few_partial_sends():
    link = SimulatedLink(8000, 0.3, cut_every_s=90, down_s=5)
    payload = 400_000
    took, sent, _sends = deliver(link, LinkMeter(), payload)
    assert sent <= 1.3 * payload
    cuts = int(took // 90)
    assert sent - payload <= (cuts + 1) * TARGET_SEND_S * 8000 * 1.3  # each cut wasted at most one send


def test_an_optimistic_estimate_on_a_slower_link_backs_off_instead_of_timing_out_forever():
    link = SimulatedLink(6400 / 8 * 10, 0.5)  # 64 kbit/s with 1 s round trips...
    meter = LinkMeter(bytes_per_s=1_000_000, rtt_s=0.01, rate_measured=True, rtt_measured=True)  # ...believed a LAN
    _took, sent, sends = deliver(link, meter, 2_000_000)
    assert sent == 2_000_000 and sends < 80
    assert meter.bytes_per_s < 3 * link.bytes_per_s


def test_the_old_fixed_budget_livelocks_where_the_meter_does_not():
    """The field report: a 232 KB batch with a 5 s PubAck timeout at 256 kbit/s, 100 ms one way."""
    link = SimulatedLink(256_000 / 8, 0.1)
    assert 232_000 / link.bytes_per_s + 0.2 > 5  # the old code's batch can never be acked in time
    meter = LinkMeter()
    assert meter.timeout_for(232_000) > 232_000 / link.bytes_per_s + 0.2  # even at first sight
    assert meter.send_bytes() / link.bytes_per_s < 5


def test_a_fast_link_grows_sends_to_the_cap_within_a_few_sends():
    meter = LinkMeter()
    for _ in range(5):
        size = meter.send_bytes()
        meter.sent(size, 0.002 + size / 100e6)
    assert meter.send_bytes() == MAX_SEND_BYTES
    assert meter.timeout_for(MAX_SEND_BYTES) < 10


def test_round_trip_sized_sends_do_not_shrink_the_estimate():
    meter = LinkMeter()
    meter.round_trip(0.6)
    before = meter.bytes_per_s
    for _ in range(20):
        meter.sent(300, 0.65)  # a one-record batch: all latency
    assert meter.bytes_per_s >= before


def test_sends_in_a_window_measure_the_link_between_their_acknowledgements():
    """Pipelined sends (blobs.py's window): the gap between two PubAcks is the later send's
    transfer time; taken as a whole send's time (round trip included), it would read a link that
    is busy all the time as slower than it is."""
    link = SimulatedLink(bytes_per_s=8_000, one_way_s=0.3)
    meter = LinkMeter()
    meter.round_trip(2 * link.one_way_s)
    size = meter.send_bytes()
    meter.sent(size, size / link.bytes_per_s + 2 * link.one_way_s)  # the first: nothing ahead of it
    for _ in range(10):  # the rest queued behind it, back to back
        meter.followed(size, size / link.bytes_per_s)
    assert abs(meter.bytes_per_s - link.bytes_per_s) <= 0.02 * link.bytes_per_s
    assert abs(meter.send_bytes() - TARGET_SEND_S * link.bytes_per_s) <= 0.02 * TARGET_SEND_S * link.bytes_per_s
    meter.followed(size, size / 3_000)  # the link got much slower: believed at once
    assert meter.bytes_per_s <= 3_100
