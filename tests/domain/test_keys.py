"""The keyed hashes behind everything that identifies a person (domain/keys.py)."""

from __future__ import annotations

import hashlib
import hmac
from datetime import date

import pytest

from debtbot.domain.identifiers import identifier_hash, normalise_identifier
from debtbot.domain.keys import HashKey, Keyring, Purpose, derive_key

ELENI = normalise_identifier("id_card", "881001")


@pytest.mark.parametrize("secret", ["k", "a much longer secret " * 8, "κλειδί-ανακλήσεως", ""])
def test_each_hash_is_hmac_sha256_under_its_own_key(secret):
    key = HashKey(secret)
    id_hash = key.identifier(ELENI)
    born = date(1980, 5, 14)

    assert id_hash == identifier_hash(ELENI, secret)
    assert id_hash == hmac.new(secret.encode(), b"id_card:881001", hashlib.sha256).hexdigest()
    assert key.date_of_birth(id_hash, born) == hmac.new(
        derive_key(secret, Purpose.DATE_OF_BIRTH), f"{id_hash}:1980-05-14".encode(),
        hashlib.sha256,
    ).hexdigest()
    assert key.phone(id_hash, "+35799100001") == hmac.new(
        derive_key(secret, Purpose.PHONE), f"{id_hash}:+35799100001".encode(), hashlib.sha256
    ).hexdigest()


def test_one_purpose_never_matches_another_and_people_never_match_each_other():
    key = HashKey("k")
    eleni = key.identifier(ELENI)
    maria = key.identifier(normalise_identifier("id_card", "881002"))
    born = date(1980, 5, 14)
    assert len({derive_key("k", purpose) for purpose in Purpose}) == len(Purpose)
    # Born on one day: different hashes, so a copy of the table shows no shared birthday.
    assert key.date_of_birth(eleni, born) != key.date_of_birth(maria, born)
    assert key.phone(eleni, "+35799100001") != key.phone(maria, "+35799100001")


def test_the_key_id_is_a_fingerprint_that_tells_keys_apart():
    assert HashKey("old").key_id == HashKey("old").key_id != HashKey("new").key_id
    assert "old" not in HashKey("old").key_id and len(HashKey("old").key_id) == 16


def test_a_keyring_hashes_under_the_current_key_first_then_the_previous():
    ring = Keyring.of("new", "old")
    assert ring.identifier_hashes(ELENI) == (identifier_hash(ELENI, "new"),
                                             identifier_hash(ELENI, "old"))
    assert ring.by_id(HashKey("old").key_id) == HashKey("old")
    assert Keyring.of("new", "new").previous is None  # the same key twice is no rotation
    assert Keyring.of("new").keys == (HashKey("new"),)
