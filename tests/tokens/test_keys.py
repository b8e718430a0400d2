"""SigningKey and KeySet: generation, JWK/PEM round trips, thumbprints, rotation."""

from __future__ import annotations

import contextlib
import pickle

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given
from hypothesis import strategies as st

from meshsec.errors import ConfigError
from meshsec.secret import Secret
from meshsec.tokens import ALGORITHMS, InvalidKey, KeySet, SigningKey

from ._helpers import key_for

ASYMMETRIC = [alg for alg in ALGORITHMS if alg != "HS256"]

# RFC 8037 Appendix A.1 and A.3: the Ed25519 example key and its thumbprint.
RFC8037_JWK = {
    "kty": "OKP",
    "crv": "Ed25519",
    "d": "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A",
    "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
}
RFC8037_THUMBPRINT = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def test_default_algorithm_is_eddsa() -> None:
    assert SigningKey.generate().alg == "EdDSA"


@pytest.mark.parametrize("alg", ASYMMETRIC)
def test_private_jwk_round_trip_keeps_kid_and_alg(alg: str) -> None:
    key = key_for(alg)
    again = SigningKey.from_jwk(key.to_jwk(private=True))
    assert (again.kid, again.alg, again.can_sign) == (key.kid, key.alg, True)
    assert again.verify(b"data", key.sign(b"data"))


@pytest.mark.parametrize("alg", ASYMMETRIC)
def test_public_jwk_has_no_private_members(alg: str) -> None:
    jwk = key_for(alg).to_jwk()
    assert not {"d", "p", "q", "dp", "dq", "qi", "k"} & jwk.keys()
    assert jwk["alg"] == alg
    assert jwk["use"] == "sig"
    assert jwk["kid"] == key_for(alg).kid
    public = SigningKey.from_jwk(jwk)
    assert not public.can_sign
    with pytest.raises(InvalidKey):
        public.sign(b"data")


@pytest.mark.parametrize("alg", ASYMMETRIC)
def test_encrypted_pem_round_trip(alg: str, tmp_path) -> None:
    key = key_for(alg)
    path = tmp_path / "key.pem"
    key.save(path, passphrase=Secret("correct horse"))
    assert b"ENCRYPTED" in path.read_bytes()
    assert path.stat().st_mode & 0o077 == 0
    loaded = SigningKey.load(path, passphrase="correct horse", alg=alg)
    assert loaded.kid == key.kid
    assert loaded.can_sign


def test_pem_wrong_passphrase_raises_invalid_key_without_secret() -> None:
    pem = key_for("EdDSA").to_pem(passphrase="right-passphrase")
    with pytest.raises(InvalidKey) as info:
        SigningKey.from_pem(pem, passphrase="wrong-passphrase")
    assert "passphrase" in str(info.value)
    assert "wrong-passphrase" not in str(info.value)


def test_private_key_is_never_written_in_plaintext() -> None:
    with pytest.raises(InvalidKey):
        key_for("EdDSA").to_pem(passphrase="")


def test_public_pem_loads_as_verify_only() -> None:
    key = key_for("ES256")
    public = SigningKey.from_pem(key.public_pem())
    assert public.kid == key.kid
    assert public.alg == "ES256"
    assert not public.can_sign


def test_rsa_pem_needs_an_explicit_algorithm() -> None:
    with pytest.raises(InvalidKey, match="RS256"):
        SigningKey.from_pem(key_for("RS256").public_pem())


def test_rsa_below_2048_bits_refused() -> None:
    with pytest.raises(InvalidKey):
        SigningKey.generate("RS256", rsa_bits=1024)
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    from cryptography.hazmat.primitives import serialization

    pem = weak.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(InvalidKey):
        SigningKey.from_pem(pem, alg="RS256")


def test_symmetric_secret_shorter_than_32_bytes_refused() -> None:
    with pytest.raises(InvalidKey):
        SigningKey.symmetric(b"x" * 31)
    assert SigningKey.symmetric(b"x" * 32).alg == "HS256"


def test_hs256_only_through_symmetric_constructor() -> None:
    with pytest.raises(InvalidKey):
        SigningKey.generate("HS256")


@pytest.mark.parametrize("alg", ["none", "HS512", "ES512", "RS384", ""])
def test_unsupported_algorithm_refused(alg: str) -> None:
    with pytest.raises(InvalidKey):
        SigningKey.generate(alg)


def test_jwk_alg_must_match_key_type() -> None:
    jwk = key_for("ES256").to_jwk()
    with pytest.raises(InvalidKey):
        SigningKey.from_jwk({**jwk, "alg": "ES384"})
    with pytest.raises(InvalidKey):
        SigningKey.from_jwk({**key_for("EdDSA").to_jwk(), "alg": "ES256"})


def test_rsa_jwk_without_alg_refused() -> None:
    jwk = key_for("RS256").to_jwk()
    del jwk["alg"]
    with pytest.raises(InvalidKey):
        SigningKey.from_jwk(jwk)
    assert SigningKey.from_jwk(jwk, alg="PS256").alg == "PS256"


def test_encryption_jwk_refused() -> None:
    with pytest.raises(InvalidKey):
        SigningKey.from_jwk({**key_for("ES256").to_jwk(), "use": "enc"})


def test_kid_is_rfc7638_thumbprint() -> None:
    key = SigningKey.from_jwk(RFC8037_JWK)
    assert key.kid == RFC8037_THUMBPRINT
    assert key.alg == "EdDSA"


@pytest.mark.parametrize("alg", ASYMMETRIC)
def test_repr_never_shows_private_material(alg: str) -> None:
    key = key_for(alg)
    private = key.to_jwk(private=True)
    text = repr(key) + str(key) + repr(KeySet([key]))
    for member in ("d", "p", "q", "dp", "dq", "qi"):
        if member in private:
            assert private[member] not in text


def test_symmetric_repr_never_shows_secret() -> None:
    secret = b"s3cr3t-" * 6
    key = SigningKey.symmetric(secret)
    text = repr(key) + str(key)
    assert "s3cr3t" not in text
    assert secret.hex() not in text


def test_signing_key_refuses_pickling() -> None:
    with pytest.raises(TypeError):
        pickle.dumps(key_for("EdDSA"))


def test_symmetric_key_has_no_public_part() -> None:
    key = SigningKey.symmetric(b"k" * 32)
    with pytest.raises(InvalidKey):
        key.to_jwk()
    assert KeySet([key]).to_jwks() == {"keys": []}


def test_keyset_rotation_with_overlap() -> None:
    keys = KeySet.generate("EdDSA")
    old = keys.primary
    new = keys.rotate()
    assert keys.primary is new
    assert old.kid in keys
    assert new.alg == "EdDSA"
    with pytest.raises(ConfigError):
        keys.retire(new.kid)
    version = keys.version
    keys.retire(old.kid)
    assert old.kid not in keys
    assert keys.version > version


def test_keyset_to_jwks_is_public_only_and_round_trips() -> None:
    keys = KeySet([key_for("EdDSA"), key_for("ES256"), SigningKey.symmetric(b"z" * 32)])
    document = keys.to_jwks()
    assert len(document["keys"]) == 2
    assert all("d" not in jwk for jwk in document["keys"])
    again = KeySet.from_jwks(document)
    assert {k.kid for k in again} == {key_for("EdDSA").kid, key_for("ES256").kid}
    assert not any(k.can_sign for k in again)


def test_from_jwks_skips_unusable_keys_but_refuses_duplicate_kids() -> None:
    jwk = key_for("EdDSA").to_jwk()
    document = {"keys": [jwk, {"kty": "RSA", "n": "AQAB", "e": "AQAB"}, {"kty": "weird"}]}
    assert len(KeySet.from_jwks(document)) == 1
    with pytest.raises(InvalidKey):
        KeySet.from_jwks({"keys": [jwk, jwk]})
    with pytest.raises(InvalidKey):
        KeySet.from_jwks('{"keys": 1}')


def test_from_jwks_rejects_duplicate_json_members() -> None:
    with pytest.raises(InvalidKey):
        KeySet.from_jwks('{"keys": [], "keys": []}')


@given(st.one_of(st.binary(max_size=300), st.text(max_size=300)))
def test_from_jwks_arbitrary_input_raises_only_invalid_key(data: bytes | str) -> None:
    with contextlib.suppress(InvalidKey):
        KeySet.from_jwks(data)


@given(
    st.dictionaries(
        st.sampled_from(["kty", "crv", "x", "y", "n", "e", "d", "alg", "k"]),
        st.one_of(st.text(max_size=60), st.integers(), st.none()),
    )
)
def test_from_jwk_arbitrary_members_raise_only_invalid_key(jwk: dict) -> None:
    with contextlib.suppress(InvalidKey):
        SigningKey.from_jwk(jwk)
