"""Shared fixtures and strategies for the fields tests."""

from __future__ import annotations

import pytest
from hypothesis import strategies as st

from meshsec.clock import FrozenClock
from meshsec.fields import FieldCipher, Keyring

CONTEXT = {"tenant": "acme", "record_id": 42}

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(1_800_000_000)


@pytest.fixture
def keyring(clock: FrozenClock) -> Keyring:
    return Keyring.generate("orders", clock=clock)


@pytest.fixture
def cipher(keyring: Keyring) -> FieldCipher:
    return FieldCipher(keyring)
