"""Node staff credentials: Argon2id hashes, sessions that expire."""

from __future__ import annotations

from edge_node import auth
from edge_node.store import Store


def test_passwords_are_argon2id_and_sessions_expire(tmp_path):
    store = Store(tmp_path / "node.sqlite3")
    auth.add_user(store, "agent", "代办员", "village_agent", "s3cret-pass")
    stored = store.query("SELECT password_hash FROM users WHERE username = 'agent'")[0][0]
    assert stored.startswith("$argon2id$") and "s3cret-pass" not in stored
    _, token = auth.log_in(store, "agent", "s3cret-pass")
    assert auth.user_for_token(store, token)["username"] == "agent"
    with store.write() as conn:  # 12 hours later
        conn.execute("UPDATE login_sessions SET expires_at = '2020-01-01T00:00:00.000000Z'")
    assert auth.user_for_token(store, token) is None
    store.close()
