"""Throttling of guesses (issue 18 finding 3): 200 wrong passwords at 8 at a time were all
answered, and the public progress query took 400 guesses a second.

Failures are counted per subject (an account; a receipt number) and per address over WINDOW.
Past SUBJECT_FAILURES for a subject (or ADDRESS_FAILURES from one address) every try there is
refused, right or not, until the oldest failure in the window is WINDOW old; the message says how
many minutes. A success clears its subject's count. Per subject, so many addresses do not help:
the last four characters of an ID have about 11,000 values, and five tries a quarter of an hour
make one case's a matter of weeks. Kept in memory, per process: a restart forgets, which costs an
attacker a restart of the service, not a shortcut. At most MAX_KEYS keys are kept.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any, TypeVar

from litestar import Request

T = TypeVar("T")

WINDOW_S = 15 * 60.0
SUBJECT_FAILURES = 5  # an agent who mistypes five times waits a quarter of an hour
ADDRESS_FAILURES = 20  # one machine trying many accounts
MAX_KEYS = 10_000


def client_address(request: Request[Any, Any, Any]) -> str:
    """The address a login came from: the connection's, or the client's as a trusted reverse proxy
    forwards it (``YIWANG_TRUSTED_PROXY``, weblayer.serving.trusted_proxy; docs/operations.md)."""
    return request.client.host if request.client else ""


class TooManyAttempts(Exception):
    """Refused without checking; ``retry_after_s`` until the next try counts."""

    def __init__(self, retry_after_s: float, what: str = "登录", hint: str = "", too_many: str = "失败次数过多") -> None:
        self.retry_after_s = max(1, math.ceil(retry_after_s))
        minutes = max(1, math.ceil(retry_after_s / 60))
        super().__init__(f"{what}{too_many}，请 {minutes} 分钟后再试" + (f"；{hint}" if hint else ""))
        self.message = str(self)


class Throttle:
    def __init__(self, what: str, hint: str = "", clock: Callable[[], float] = time.monotonic) -> None:
        self.what, self.hint, self.clock = what, hint, clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, username: str, address: str) -> None:
        """Raise TooManyAttempts if this subject or address may not try now."""
        now = self.clock()
        with self._lock:
            for key, most in ((f"subject:{username.strip().lower()}", SUBJECT_FAILURES), (f"addr:{address}", ADDRESS_FAILURES)):
                failures = self._recent(key, now)
                if len(failures) >= most:
                    raise TooManyAttempts(failures[0] + WINDOW_S - now, self.what, self.hint)

    def failed(self, username: str, address: str) -> None:
        now = self.clock()
        with self._lock:
            for key in (f"subject:{username.strip().lower()}", f"addr:{address}"):
                self._recent(key, now).append(now)
                self._failures.move_to_end(key)
            while len(self._failures) > MAX_KEYS:
                self._failures.popitem(last=False)

    def attempt(self, username: str, address: str, login: Callable[[], T], refused: type[Exception]) -> T:
        """Run ``login`` unless throttled; a ``refused`` (a wrong password, an unknown user, no
        such case) counts against the subject and the address."""
        self.check(username, address)
        try:
            result = login()
        except refused:
            self.failed(username, address)
            raise
        self.succeeded(username)
        return result

    def succeeded(self, username: str) -> None:
        with self._lock:
            self._failures.pop(f"subject:{username.strip().lower()}", None)

    def _recent(self, key: str, now: float) -> deque[float]:
        failures = self._failures.setdefault(key, deque())
        while failures and failures[0] <= now - WINDOW_S:
            failures.popleft()
        return failures


class SubmissionLimit:
    """What anybody may send without logging in (a question, a complaint, a booking): at most
    ``most`` per address in WINDOW_S, counted whether it was taken or not; in memory, per process,
    at most MAX_KEYS addresses."""

    def __init__(self, what: str, most: int = 5, clock: Callable[[], float] = time.monotonic) -> None:
        self.what, self.most, self.clock = what, most, clock
        self._sent: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, address: str) -> None:
        """Count one from ``address``; TooManyAttempts when it has sent its share."""
        now = self.clock()
        with self._lock:
            sent = self._sent.setdefault(address, deque())
            while sent and sent[0] <= now - WINDOW_S:
                sent.popleft()
            if len(sent) >= self.most:
                raise TooManyAttempts(sent[0] + WINDOW_S - now, self.what, too_many="过于频繁")
            sent.append(now)
            self._sent.move_to_end(address)
            while len(self._sent) > MAX_KEYS:
                self._sent.popitem(last=False)


def login_throttle() -> Throttle:
    return Throttle("登录", "忘记密码请联系站长或县级运维人员重置")


def lookup_throttle() -> Throttle:
    """Public progress, keyed by receipt number."""
    return Throttle("查询", "请核对受理编号和身份证号码后四位")
