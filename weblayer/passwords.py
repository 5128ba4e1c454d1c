"""Staff passwords: Argon2id hashes (PyNaCl, its interactive limits: 64 MiB and about 0.1 s each).

At most ARGON2_AT_ONCE are worked out at a time, in either app: forty logins at once took a
node from 74 to 458 MiB. A login for a user that does not exist checks a dummy hash, so it costs
the same as a wrong password and the time taken does not tell which usernames exist.
"""

from __future__ import annotations

import functools
import secrets
import threading

import nacl.exceptions
import nacl.pwhash

ARGON2_AT_ONCE = 2  # the machines are 2-core; more at once only adds memory
_slots = threading.BoundedSemaphore(ARGON2_AT_ONCE)
_gauge = threading.Lock()


class Work:
    """How many Argon2 verifications ran, and the most at once (what the tests count)."""

    checks = 0
    in_flight = 0
    most_at_once = 0


def hash_password(password: str) -> str:
    with _slots:
        return nacl.pwhash.argon2id.str(password.encode()).decode()


@functools.cache
def _dummy() -> str:
    return hash_password(secrets.token_urlsafe(16))


def check_password(stored: str | None, password: str) -> bool:
    """Whether ``password`` matches ``stored``; for ``None`` (no such user) a dummy hash is
    checked all the same and the answer is False."""
    target = stored if stored is not None else _dummy()
    with _slots:
        with _gauge:
            Work.checks += 1
            Work.in_flight += 1
            Work.most_at_once = max(Work.most_at_once, Work.in_flight)
        try:
            return nacl.pwhash.verify(target.encode(), password.encode()) and stored is not None
        except nacl.exceptions.InvalidkeyError:
            return False
        finally:
            with _gauge:
                Work.in_flight -= 1
