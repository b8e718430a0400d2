"""meshsec.fields beside the raw `cryptography` primitives and a plain `re` pass.

1. FieldCipher.encrypt + decrypt of a 16-byte string versus raw AES-GCM-SIV
   with a fresh nonce and base64url done by hand (target: at most 2x). The
   meshsec side also type-tags the value, builds the associated data from
   field and record context, counts key usage and parses the envelope
   strictly.
2. FieldProtector.protect and .reveal of a 20-field record (5 encrypted,
   3 tokenized, 5 masked, 7 untouched) versus a raw twin doing the same 5
   AES-GCM-SIV operations and 3 HMAC-SHA256 tokens; records/s as context.
3. DLP scan of a 10 KiB JSON document versus one plain `re` pass over the
   same text; MB/s as context.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets

from cryptography.hazmat.primitives.ciphers.aead import AESGCMSIV

from benchmarks._harness import compare, row
from meshsec.fields import FieldCipher, FieldProtector, Keyring, scan

_KEYRING = Keyring.generate("bench")
_CIPHER = FieldCipher(_KEYRING)
_CONTEXT = {"tenant": "acme", "record_id": 1234}
_VALUE = "4111111111111111"  # 16 bytes
_RAW = AESGCMSIV(AESGCMSIV.generate_key(256))
_AAD = b"ms1\x00bench-v1\x00card.number"
_MAC_KEY = secrets.token_bytes(32)


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def raw_roundtrip() -> object:
    nonce = secrets.token_bytes(12)
    box = _b64e(nonce) + "." + _b64e(_RAW.encrypt(nonce, _VALUE.encode(), _AAD))
    n, c = box.split(".")
    return _RAW.decrypt(_b64d(n), _b64d(c), _AAD).decode()


def mine_roundtrip() -> object:
    box = _CIPHER.encrypt(_VALUE, field="card.number", context=_CONTEXT)
    return _CIPHER.decrypt(box, field="card.number", context=_CONTEXT)


SCHEMA = {
    **{f"secret.s{i}": {"action": "encrypt", "reveal_mask": "last4"} for i in range(5)},
    **{f"lookup.t{i}": "tokenize" for i in range(3)},
    **{f"shown.m{i}": "mask:last4" for i in range(5)},
}
RECORD = {
    "secret": {f"s{i}": f"4111-1111-1111-111{i}" for i in range(5)},
    "lookup": {f"t{i}": f"user{i}@example.com" for i in range(3)},
    "shown": {f"m{i}": f"+1 555 010 00{i}0" for i in range(5)},
    "plain": {f"p{i}": i for i in range(7)},
}
_PROTECTOR = FieldProtector(SCHEMA, keyring=_KEYRING)
_PROTECTED = _PROTECTOR.protect(RECORD, context=_CONTEXT)


def raw_protect() -> object:
    out = []
    for i in range(5):
        nonce = secrets.token_bytes(12)
        out.append(
            _b64e(nonce) + _b64e(_RAW.encrypt(nonce, RECORD["secret"][f"s{i}"].encode(), _AAD))
        )
    for i in range(3):
        tag = hmac.new(_MAC_KEY, RECORD["lookup"][f"t{i}"].encode(), hashlib.sha256).digest()
        out.append(_b64e(tag))
    return out


_RAW_BOXES = [
    (nonce := secrets.token_bytes(12), _RAW.encrypt(nonce, b"4111-1111-1111-1110", _AAD))
    for _ in range(5)
]


def raw_reveal() -> object:
    out = [_RAW.decrypt(n, c, _AAD) for n, c in _RAW_BOXES]
    out.extend(
        hmac.new(_MAC_KEY, RECORD["lookup"][f"t{i}"].encode(), hashlib.sha256).digest()
        for i in range(3)
    )
    return out


def mine_protect() -> object:
    return _PROTECTOR.protect(RECORD, context=_CONTEXT)


def mine_reveal() -> object:
    return _PROTECTOR.reveal(_PROTECTED, context=_CONTEXT, clearance="restricted")


def _document() -> object:
    rows = []
    i = 0
    while len(json.dumps(rows)) < 10 * 1024:
        rows.append(
            {
                "id": i,
                "name": f"Customer {i}",
                "note": "called about the delivery window, prefers mornings",
                "contact": f"user{i}@example.com" if i % 3 == 0 else "n/a",
                "card": "4111 1111 1111 1111" if i % 7 == 0 else f"order-{i:06d}",
                "updated": "2026-12-01T18:00:00Z",
            }
        )
        i += 1
    return rows


DOC = _document()
TEXT = json.dumps(DOC)
_PLAIN = re.compile(r"\d{13,19}|[\w.+-]+@[\w-]+\.[\w.]+")


def raw_scan() -> object:
    return [m.span() for m in _PLAIN.finditer(TEXT)]


def mine_scan() -> object:
    return scan(DOC)


def main() -> None:
    fig = compare(mine_roundtrip, raw_roundtrip)
    print(
        row("FieldCipher encrypt+decrypt, 16-byte str", fig, target="<= 2x", raw_name="AESGCMSIV")
    )
    fig = compare(mine_protect, raw_protect)
    print(
        row(
            "protect 20-field record (5 enc, 3 tok, 5 mask)",
            fig,
            target="n/a",
            raw_name="5 AEAD + 3 HMAC",
        )
    )
    print(f"  {'':<48} {1 / fig.mine:,.0f} records/s protected")
    fig = compare(mine_reveal, raw_reveal)
    print(
        row("reveal 20-field record, full clearance", fig, target="n/a", raw_name="5 AEAD + 3 HMAC")
    )
    print(f"  {'':<48} {1 / fig.mine:,.0f} records/s revealed")
    fig = compare(mine_scan, raw_scan)
    print(
        row(f"DLP scan of {len(TEXT) // 1024} KiB JSON", fig, target="n/a", raw_name="one re pass")
    )
    print(f"  {'':<48} {len(TEXT) / fig.mine / 1e6:.2f} MB/s scanned")


if __name__ == "__main__":
    main()
