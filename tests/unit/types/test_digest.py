"""Digest parsing, hashing and printing; descriptors to and from OCI JSON."""

import hashlib

import pytest

from dockyard.errors import InvalidArgument
from dockyard.types import Descriptor, Digest

HEX256 = hashlib.sha256(b"hello").hexdigest()
HEX512 = hashlib.sha512(b"hello").hexdigest()


def test_parse_round_trips_sha256_and_sha512() -> None:
    for text in (f"sha256:{HEX256}", f"sha512:{HEX512}"):
        digest = Digest.parse(text)
        assert str(digest) == text
        assert digest.algorithm == text.split(":")[0]
    assert Digest.parse(f"sha256:{HEX256}").hex == HEX256


@pytest.mark.parametrize(
    "text",
    [
        HEX256,  # no algorithm
        f"sha256:{HEX256.upper()}",
        f"sha256:{HEX256[:-1]}",
        f"sha256:{HEX256}0",
        f"sha512:{HEX256}",
        f"md5:{hashlib.md5(b'x').hexdigest()}",
        f"sha256:{HEX256[:-1]}g",
        "",
        "sha256:",
    ],
)
def test_parse_rejects_malformed_and_names_the_string(text: str) -> None:
    with pytest.raises(InvalidArgument, match="invalid digest") as info:
        Digest.parse(text)
    assert repr(text) in str(info.value)


def test_constructor_validates_too() -> None:
    with pytest.raises(InvalidArgument):
        Digest("sha256", "abc")


def test_of_bytes_matches_hashlib() -> None:
    assert Digest.of_bytes(b"hello") == Digest("sha256", HEX256)
    assert Digest.of_bytes(b"hello", "sha512") == Digest("sha512", HEX512)
    with pytest.raises(InvalidArgument, match="unsupported digest algorithm"):
        Digest.of_bytes(b"hello", "md5")


def test_short_equality_and_hash() -> None:
    digest = Digest.parse(f"sha256:{HEX256}")
    assert digest.short == HEX256[:12]
    assert digest == Digest.of_bytes(b"hello")
    assert len({digest, Digest.of_bytes(b"hello")}) == 1


def test_descriptor_round_trips_oci_json() -> None:
    desc = Descriptor(
        "application/vnd.oci.image.layer.v1.tar+gzip",
        Digest.of_bytes(b"x"),
        1,
        {"org.opencontainers.image.title": "x"},
    )
    doc = desc.to_oci()
    assert doc == {
        "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
        "digest": str(Digest.of_bytes(b"x")),
        "size": 1,
        "annotations": {"org.opencontainers.image.title": "x"},
    }
    assert Descriptor.from_oci(doc) == desc
    plain = Descriptor("application/octet-stream", Digest.of_bytes(b"x"), 1)
    assert "annotations" not in plain.to_oci()


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"mediaType": "m", "digest": "sha256:x", "size": 1}, "invalid digest"),
        ({"mediaType": "m", "size": 1}, "digest None"),
        ({"mediaType": "m", "digest": f"sha256:{HEX256}", "size": -1}, "size -1"),
        ({"mediaType": "m", "digest": f"sha256:{HEX256}", "size": True}, "size True"),
        ({"mediaType": 3, "digest": f"sha256:{HEX256}", "size": 1}, "mediaType 3"),
        (
            {"mediaType": "m", "digest": f"sha256:{HEX256}", "size": 1, "annotations": {"a": 1}},
            "annotations",
        ),
    ],
)
def test_descriptor_rejects_bad_fields(doc: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        Descriptor.from_oci(doc)
