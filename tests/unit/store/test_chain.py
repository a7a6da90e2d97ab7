"""Chain ids follow the OCI image spec formula."""

import hashlib

import pytest

from dockyard.errors import InvalidArgument
from dockyard.store import chain_id, chain_ids, next_chain_id
from dockyard.types import Digest


def test_chain_id_matches_the_spec_computed_by_hand() -> None:
    d0, d1, d2 = (Digest.of_bytes(name) for name in (b"base", b"middle", b"top"))
    c0 = f"sha256:{hashlib.sha256(b'base').hexdigest()}"
    c1 = "sha256:" + hashlib.sha256(f"{c0} {d1}".encode()).hexdigest()
    c2 = "sha256:" + hashlib.sha256(f"{c1} {d2}".encode()).hexdigest()
    assert chain_id([d0]) == d0
    assert str(chain_id([d0])) == c0
    assert str(chain_id([d0, d1])) == c1
    assert str(chain_id([d0, d1, d2])) == c2
    assert [str(c) for c in chain_ids([d0, d1, d2])] == [c0, c1, c2]
    assert next_chain_id(Digest.parse(c1), d2) == Digest.parse(c2)


def test_known_vector_from_two_fixed_diff_ids() -> None:
    a = Digest("sha256", "a" * 64)
    b = Digest("sha256", "b" * 64)
    text = f"sha256:{'a' * 64} sha256:{'b' * 64}"
    assert chain_id([a, b]).hex == hashlib.sha256(text.encode()).hexdigest()


def test_same_layer_on_another_base_gets_another_chain_id() -> None:
    base1, base2, top = (Digest.of_bytes(n) for n in (b"1", b"2", b"top"))
    assert chain_id([base1, top]) != chain_id([base2, top])


def test_chain_id_of_nothing_is_an_error() -> None:
    with pytest.raises(InvalidArgument):
        chain_id([])
