"""Fit the link: how big the next send may be and how long to wait for its acknowledgement.

Rules of this file:
- No I/O and no clock: the caller measures (bytes sent, seconds until the ack, a round trip of a
  tiny request) and feeds the numbers in; the meter only decides. A test drives it through a
  simulated 64 kbit/s link in milliseconds (tests/sync_protocol/test_pacing.py).
- A send is sized to take about ``TARGET_SEND_S`` on the link measured, so a cut costs at most
  that much work, and the NATS keep-alive behind it is never starved for long.
- A send's time budget follows its size: the time its bytes need at the measured throughput, with
  a safety factor, plus the round trip. A timeout therefore means "the link got slower or went
  away", never "the send was too big for its budget" — which is what made a 232 KB batch time out
  forever at 256 kbit/s (the livelock this replaces).
- A timeout halves the throughput estimate (the next budget doubles for the same bytes, the next
  send is smaller); it never means "send again": the caller first asks what already arrived.
- The estimate follows a slowdown at once and a speed-up gradually, as TCP does.
- Sends may follow each other without waiting for the one before (a window): then the time
  between two acknowledgements is the later send's transfer time (``followed``).
- The estimate starts at a 2G-class 64 kbit/s, so the first send over an unknown link is small;
  on a good link it grows quickly, since every acked send is a measurement.
"""

from __future__ import annotations

from dataclasses import dataclass

TARGET_SEND_S = 5.0
MIN_SEND_BYTES = 4 * 1024  # below this a send is all round trip
MAX_SEND_BYTES = 800 * 1024  # under MAX_BATCH_BYTES and NATS' max_payload
INITIAL_BYTES_PER_S = 64_000 / 8
MIN_BYTES_PER_S = 1_000  # 8 kbit/s: below this a link is treated as down, not measured
MAX_BYTES_PER_S = 100 * 1024 * 1024
INITIAL_RTT_S = 1.0
SAFETY = 3.0  # a send may take this many times its expected transfer time before it times out
GRACE_S = 3.0  # plus this, for the server's fsync and a scheduler's hiccup
SMOOTHING = 0.3  # weight of a new throughput sample


@dataclass
class LinkMeter:
    """What the sender knows of its link, from measurements: throughput in bytes per second and
    the round trip of a tiny request (its smallest recent value: queueing only ever adds)."""

    bytes_per_s: float = INITIAL_BYTES_PER_S
    rtt_s: float = INITIAL_RTT_S
    rate_measured: bool = False
    rtt_measured: bool = False

    def round_trip(self, seconds: float) -> None:
        """A tiny request was answered after ``seconds``."""
        seconds = max(seconds, 0.0)
        # down at once (queueing only ever adds to a round trip), up slowly (a new route)
        self.rtt_s = seconds if not self.rtt_measured or seconds < self.rtt_s else 0.8 * self.rtt_s + 0.2 * seconds
        self.rtt_measured = True

    def sent(self, nbytes: int, seconds: float) -> None:
        """``nbytes`` were acknowledged ``seconds`` after the send began."""
        if seconds < self.rtt_s:
            self.round_trip(seconds)  # it cannot have been faster than a round trip
        transfer = seconds - self.rtt_s
        if nbytes < MIN_SEND_BYTES / 4 or transfer <= 0.05 * seconds:
            # all round trip: says nothing about throughput, except that it is at least this
            floor = nbytes / max(seconds, 1e-3)
            self.bytes_per_s = _clamp(max(self.bytes_per_s, floor), MIN_BYTES_PER_S, MAX_BYTES_PER_S)
            return
        self._sample(nbytes / transfer)

    def followed(self, nbytes: int, seconds: float) -> None:
        """``nbytes`` were acknowledged ``seconds`` after the send before them, behind which they
        had queued: the link carried them all that time, with no round trip in between (a window
        of sends, blobs.py)."""
        if nbytes >= MIN_SEND_BYTES / 4 and seconds > 0:
            self._sample(nbytes / seconds)

    def _sample(self, sample: float) -> None:
        # believe a much slower link at once (sends must fit it now), a faster one gradually
        weight = SMOOTHING if self.rate_measured and sample >= self.bytes_per_s / 2 else 1.0
        self.bytes_per_s = _clamp(self.bytes_per_s * (1 - weight) + sample * weight, MIN_BYTES_PER_S, MAX_BYTES_PER_S)
        self.rate_measured = True

    def timed_out(self) -> None:
        """A send was not acknowledged within its budget: assume the link is half as fast."""
        self.bytes_per_s = max(self.bytes_per_s / 2, MIN_BYTES_PER_S)

    def send_bytes(self) -> int:
        """How many bytes the next send should carry (one batch, one attachment chunk)."""
        return int(_clamp(self.bytes_per_s * TARGET_SEND_S, MIN_SEND_BYTES, MAX_SEND_BYTES))

    def timeout_for(self, nbytes: int) -> float:
        """How long to wait for the acknowledgement of a send of ``nbytes``."""
        return self.rtt_s + SAFETY * nbytes / self.bytes_per_s + GRACE_S

    def kbit_per_s(self) -> int:
        return round(self.bytes_per_s * 8 / 1000)


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(value, high))
