"""Reference parsing and normalization, as docker's distribution/reference does it."""

import pytest

from dockyard.errors import InvalidArgument
from dockyard.types.reference import Reference, familiar_name, parse_normalized

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("text", "domain", "path", "tag", "digest"),
    [
        ("busybox", "docker.io", "library/busybox", None, None),
        ("busybox:1.36", "docker.io", "library/busybox", "1.36", None),
        ("user/app", "docker.io", "user/app", None, None),
        ("docker.io/busybox", "docker.io", "library/busybox", None, None),
        ("index.docker.io/library/busybox", "docker.io", "library/busybox", None, None),
        ("localhost/app", "localhost", "app", None, None),
        ("localhost:5000/ns/app:v2", "localhost:5000", "ns/app", "v2", None),
        ("127.0.0.1:5000/a/b/c:t", "127.0.0.1:5000", "a/b/c", "t", None),
        ("Example.com/app", "Example.com", "app", None, None),
        ("[::1]:5000/app:1", "[::1]:5000", "app", "1", None),
        (f"reg.io:443/ns/app:v1@{DIGEST}", "reg.io:443", "ns/app", "v1", DIGEST),
        (f"busybox@{DIGEST}", "docker.io", "library/busybox", None, DIGEST),
        ("a__b/c-d.e_f---g", "docker.io", "a__b/c-d.e_f---g", None, None),
    ],
)
def test_parse_table(
    text: str, domain: str, path: str, tag: str | None, digest: str | None
) -> None:
    ref = Reference.parse(text)
    assert (ref.domain, ref.path, ref.tag, ref.digest) == (domain, path, tag, digest)


@pytest.mark.parametrize(
    ("text", "full", "familiar"),
    [
        ("busybox", "docker.io/library/busybox:latest", "busybox:latest"),
        ("user/app:1", "docker.io/user/app:1", "user/app:1"),
        ("docker.io/library/a/b", "docker.io/library/a/b:latest", "library/a/b:latest"),
        ("localhost:5000/x", "localhost:5000/x:latest", "localhost:5000/x:latest"),
        (f"busybox@{DIGEST}", f"docker.io/library/busybox@{DIGEST}", f"busybox@{DIGEST}"),
    ],
)
def test_normalized_and_familiar(text: str, full: str, familiar: str) -> None:
    ref = parse_normalized(text)
    assert str(ref) == full
    assert ref.familiar == familiar
    assert familiar_name(full) == familiar


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("Busybox", "must be lowercase"),
        ("user/App", "must be lowercase"),
        ("busybox:bad tag", "bad tag"),
        ("busybox:" + "t" * 129, "bad tag"),
        ("busybox@sha256:short", "bad digest"),
        ("a" * 64, "reserved for image ids"),
        ("-bad/app", "invalid reference format"),
        ("host:port/app", "invalid reference format"),
        ("a//b", "invalid reference format"),
        ("x/" + "a" * 260, "longer than 255"),
    ],
)
def test_invalid(text: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        Reference.parse(text)


def test_reference_to_ask_a_registry_for() -> None:
    assert Reference.parse("busybox").with_default_tag().reference == "latest"
    assert Reference.parse(f"x:1@{DIGEST}").reference == DIGEST
    assert Reference.parse("x").with_tag("v9").reference == "v9"
    assert Reference.parse("x:1").with_digest(DIGEST).tag is None
