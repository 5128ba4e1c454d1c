"""The session-wide log check (conftest.no_full_resident_id_in_any_log) must recognise a full
resident ID and nothing else; otherwise its silence would prove nothing."""

from tests.support.builders import resident_id
from tests.support.logs import full_resident_ids


def test_the_log_check_finds_full_ids_and_ignores_masked_ids_hashes_and_times():
    full = resident_id(7)
    assert full_resident_ids(f"INFO applied application of {full} at shangcun") == [full]
    assert full_resident_ids(f"masked {full[:4]}**********{full[-4:]}") == []
    assert full_resident_ids("hash 1234567890123456780abc and time 20261123083000123456") == []
    assert full_resident_ids(f"{full[:-1]}{'0' if full[-1] != '0' else '1'}") == []  # wrong check digit
