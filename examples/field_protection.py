"""A customer service that stores protected records in SQLite and reveals them per clearance.

Run it: ``python examples/field_protection.py``. It shows:

* a schema that encrypts the card number, tokenizes the email (so rows can
  still be looked up by email), masks the phone and drops a free-text note;
* the keyring stored in the database only in wrapped form, under a master
  key taken from ``MESHSEC_MASTER_KEY`` (a fresh one if it is unset);
* three callers with different clearances reading the same row;
* a key rotation, lookups that keep working across it, and re-encryption;
* one ``data_access`` audit event per reveal, without any value in it.
"""

from __future__ import annotations

import json
import os
import sqlite3

from meshsec import audit
from meshsec.context import SecurityContext, run_as
from meshsec.fields import (
    DecryptionError,
    FieldProtector,
    FieldSchema,
    Keyring,
    LocalKeyProvider,
    redact_text,
)

SCHEMA = FieldSchema.from_json(
    json.dumps(
        {
            "version": 1,
            "fields": {
                "card.number": {
                    "action": "encrypt",
                    "classification": "restricted",
                    "reveal_mask": "last4",
                },
                "card.holder": {"action": "encrypt", "classification": "confidential"},
                "email": {"action": "tokenize", "classification": "confidential"},
                "phone": {"action": "mask:last4", "classification": "internal"},
                "note": "drop",
            },
        }
    )
)


class CustomerStore:
    """Rows hold protected JSON; the email token column serves lookups."""

    def __init__(self, db: sqlite3.Connection, provider: LocalKeyProvider, tenant: str) -> None:
        self.db, self.provider, self.tenant = db, provider, tenant
        db.execute("CREATE TABLE IF NOT EXISTS keyring (name TEXT PRIMARY KEY, wrapped TEXT)")
        db.execute(
            "CREATE TABLE IF NOT EXISTS customers "
            "(id INTEGER PRIMARY KEY, email_token TEXT, record TEXT)"
        )
        self.keyring = self._load_keyring()
        self.protector = FieldProtector(SCHEMA, keyring=self.keyring)

    def _load_keyring(self) -> Keyring:
        row = self.db.execute("SELECT wrapped FROM keyring WHERE name = 'customers'").fetchone()
        if row:
            return Keyring.from_wrapped(row[0], self.provider)
        keyring = Keyring.generate("customers")
        self._save_keyring(keyring)
        return keyring

    def _save_keyring(self, keyring: Keyring) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO keyring VALUES ('customers', ?)",
            (keyring.to_wrapped_json(self.provider),),
        )

    def _context(self, customer_id: int) -> dict[str, object]:
        return {"tenant": self.tenant, "record_id": customer_id}

    def add(self, customer_id: int, record: dict[str, object]) -> None:
        stored = self.protector.protect(record, context=self._context(customer_id))
        self.db.execute(
            "INSERT INTO customers VALUES (?, ?, ?)",
            (customer_id, stored["email"], json.dumps(stored)),
        )

    def get(self, customer_id: int, *, clearance: str) -> dict[str, object]:
        (text,) = self.db.execute(
            "SELECT record FROM customers WHERE id = ?", (customer_id,)
        ).fetchone()
        return self.protector.reveal(  # type: ignore[no-any-return]
            json.loads(text), context=self._context(customer_id), clearance=clearance
        )

    def find_by_email(self, email: str) -> list[int]:
        tokens = self.protector.search_tokens(email, field="email")
        marks = ",".join("?" * len(tokens))
        rows = self.db.execute(
            f"SELECT id FROM customers WHERE email_token IN ({marks})",  # only '?' marks
            tokens,
        )
        return [row[0] for row in rows]

    def rotate_keys(self) -> None:
        self.keyring.rotate()
        self._save_keyring(self.keyring)

    def reencrypt_all(self) -> None:
        for customer_id, text in self.db.execute("SELECT id, record FROM customers").fetchall():
            fresh = self.protector.rotate(json.loads(text), context=self._context(customer_id))
            self.db.execute(
                "UPDATE customers SET email_token = ?, record = ? WHERE id = ?",
                (fresh["email"], json.dumps(fresh), customer_id),
            )


def main() -> None:
    master = os.environ.get("MESHSEC_MASTER_KEY") or LocalKeyProvider.new_master_key().reveal()
    provider = LocalKeyProvider(master)
    db = sqlite3.connect(":memory:")
    store = CustomerStore(db, provider, tenant="acme")

    store.add(
        1,
        {
            "name": "Ada",
            "email": "ada@example.com",
            "phone": "+44 20 7946 0018",
            "card": {"number": "4111111111111111", "holder": "Ada Lovelace"},
            "note": "prefers calls after 5pm",
        },
    )
    (raw,) = db.execute("SELECT record FROM customers WHERE id = 1").fetchone()
    print("stored row:", raw)
    for clear in ("4111111111111111", "Lovelace", "5pm"):
        assert clear not in raw

    with audit.capture() as events:
        for who, clearance in (
            ("spiffe://acme/web", "internal"),
            ("spiffe://acme/support", "confidential"),
            ("spiffe://acme/billing", "restricted"),
        ):
            with run_as(SecurityContext(principal=who)):
                view = store.get(1, clearance=clearance)
            print(f"{who:<24} ({clearance:>12}): card={view['card']}, email={view['email']}")
    for event in events:
        print("audit:", event.actor, dict(event.attributes)["revealed_fields"] or "-")
        assert "4111" not in event.to_json()

    # Rotation: new writes use v2, lookups find rows under v1 and v2 alike.
    store.rotate_keys()
    store.add(
        2, {"name": "Alan", "email": "ada@example.com", "card": {"number": "5555555555554444"}}
    )
    assert store.find_by_email("ada@example.com") == [1, 2]
    store.reencrypt_all()
    store.keyring.retire("customers-v1")
    store._save_keyring(store.keyring)
    assert store.get(1, clearance="restricted")["card"]["number"] == "4111111111111111"  # type: ignore[index]
    print("after rotation and re-encryption, keys:", store.keyring.key_ids)

    # A ciphertext copied from one customer's row to another's does not open.
    one = json.loads(db.execute("SELECT record FROM customers WHERE id = 1").fetchone()[0])
    two = json.loads(db.execute("SELECT record FROM customers WHERE id = 2").fetchone()[0])
    two["card"]["number"] = one["card"]["number"]
    db.execute("UPDATE customers SET record = ? WHERE id = 2", (json.dumps(two),))
    try:
        store.get(2, clearance="restricted")
    except DecryptionError as exc:
        print("swapped ciphertext refused:", exc.code)

    print("log line through DLP:", redact_text("refund to 4111 1111 1111 1111 for ada@example.com"))


if __name__ == "__main__":
    main()
