"""Pseudonyms (keyed HMAC-SHA256) and the encrypted identity vault (Fernet).

The secret key file lives outside the warehouse: ``$JINGZHUN_KEY_FILE`` or
``~/.jingzhun/secret.key``; it is created on first use with mode 0600 and holds two keys: one for
the HMAC pseudonyms, one for the vault. Losing it means pseudonyms of new data no longer match
old ones and the vault cannot be read: back it up apart from the warehouse.

A pseudonym is the first 32 hex digits (128 bits) of HMAC-SHA256(key, source id). It is computed
inside DuckDB (HMAC written out from its definition, RFC 2104, over DuckDB's ``sha256``) so that a
file of any size is pseudonymised at DuckDB's speed; a test checks it against Python's ``hmac``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet

from jingzhun.errors import ConfigError

KEY_ENV_VAR = "JINGZHUN_KEY_FILE"
PSEUDONYM_HEX_DIGITS = 32
_BLOCK = 64  # SHA-256 block size, bytes


def default_key_path() -> Path:
    """``$JINGZHUN_KEY_FILE``, else ``~/.jingzhun/secret.key``."""
    env = os.environ.get(KEY_ENV_VAR)
    return Path(env) if env else Path.home() / ".jingzhun" / "secret.key"


@dataclass(frozen=True)
class Secrets:
    """The HMAC key (bytes) and the vault's Fernet key."""

    hmac_key: bytes
    vault_key: bytes

    def pseudonym(self, source_id: str) -> str:
        """The pseudonym of one source id (Python reference of ``pseudonym_sql``)."""
        digest = hmac.new(self.hmac_key, source_id.encode("utf-8"), hashlib.sha256).hexdigest()
        return digest[:PSEUDONYM_HEX_DIGITS]

    def pseudonym_sql(self, text_sql: str) -> str:
        """DuckDB expression of the pseudonym of the VARCHAR expression ``text_sql``."""
        key = self.hmac_key.ljust(_BLOCK, b"\0")
        ipad = bytes(b ^ 0x36 for b in key).hex()
        opad = bytes(b ^ 0x5C for b in key).hex()
        inner = f"sha256(unhex('{ipad}') || encode({text_sql}))"
        return (f"CASE WHEN {text_sql} IS NOT NULL THEN "
                f"left(sha256(unhex('{opad}') || unhex({inner})), {PSEUDONYM_HEX_DIGITS}) END")

    def encrypt(self, values: list[str | None]) -> list[str | None]:
        """Fernet tokens of ``values`` (None stays None)."""
        f = Fernet(self.vault_key)
        return [None if v is None else f.encrypt(v.encode("utf-8")).decode("ascii")
                for v in values]

    def decrypt(self, token: str) -> str:
        """The plain text of one vault token."""
        return Fernet(self.vault_key).decrypt(token.encode("ascii")).decode("utf-8")


def load_secrets(path: str | Path | None = None) -> Secrets:
    """Read the key file, creating it (mode 0600, folder 0700) on first use."""
    path = Path(path) if path else default_key_path()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        data = {"hmac_key": secrets.token_hex(32), "vault_key": Fernet.generate_key().decode()}
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh)
    try:
        data = json.loads(path.read_text())
        return Secrets(bytes.fromhex(data["hmac_key"]), data["vault_key"].encode())
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(f"cannot read the key file {path} ({exc})",
                          hint=f"restore it from your backup, or point ${KEY_ENV_VAR} at it") from exc
