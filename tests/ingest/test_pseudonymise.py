"""Pseudonyms computed in DuckDB equal Python's HMAC; the key file is private."""

from __future__ import annotations

import stat

import duckdb

from jingzhun.ingest.pseudonymise import load_secrets


def test_sql_hmac_equals_python_hmac(tmp_path):
    s = load_secrets(tmp_path / "k")
    con = duckdb.connect()
    for raw in ["U000123", "客户-7", "", "a" * 200]:
        got = con.execute(f"SELECT {s.pseudonym_sql('$1')}", [raw]).fetchone()[0]
        assert got == s.pseudonym(raw)
    assert con.execute(f"SELECT {s.pseudonym_sql('NULL')}").fetchone()[0] is None


def test_key_file_is_created_private_and_reused(tmp_path):
    path = tmp_path / "keys" / "secret.key"
    first = load_secrets(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_secrets(path) == first
    assert first.decrypt(first.encrypt(["13800000000"])[0]) == "13800000000"


def test_different_keys_give_unlinkable_pseudonyms(tmp_path):
    a, b = load_secrets(tmp_path / "a"), load_secrets(tmp_path / "b")
    assert a.pseudonym("U1") != b.pseudonym("U1")
