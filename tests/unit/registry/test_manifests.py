"""Manifest media types, schema 1 refusal, and choosing the host's image from an index."""

import json

import pytest

from dockyard.errors import InvalidArgument, NotFound, NotSupported
from dockyard.registry.manifests import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    Platform,
    docker_manifest,
    media_type_of,
    parse_index,
    parse_manifest,
    select_manifest,
)
from dockyard.types.descriptor import Descriptor
from dockyard.types.digest import Digest


def _d(n: int) -> str:
    return str(Digest.of_bytes(bytes([n])))


def index(*platforms: dict[str, str] | None, media_type: str = OCI_INDEX) -> bytes:
    manifests = []
    for i, p in enumerate(platforms):
        entry: dict[str, object] = {"mediaType": OCI_MANIFEST, "digest": _d(i), "size": 10}
        if p is not None:
            entry["platform"] = p
        manifests.append(entry)
    return json.dumps(
        {"schemaVersion": 2, "mediaType": media_type, "manifests": manifests}
    ).encode()


def pick(raw: bytes, want: str) -> str:
    entries = parse_index(raw, OCI_INDEX, "test")
    return str(select_manifest(entries, Platform.parse(want), "test").digest)


def test_exact_os_and_architecture() -> None:
    raw = index(
        {"os": "linux", "architecture": "arm64", "variant": "v8"},
        {"os": "linux", "architecture": "amd64"},
        {"os": "windows", "architecture": "amd64"},
    )
    assert pick(raw, "linux/amd64") == _d(1)
    assert pick(raw, "linux/arm64/v8") == _d(0)


def test_variant_preferred_but_entry_without_variant_accepted() -> None:
    raw = index(
        {"os": "linux", "architecture": "arm"},
        {"os": "linux", "architecture": "arm", "variant": "v6"},
        {"os": "linux", "architecture": "arm", "variant": "v7"},
    )
    assert pick(raw, "linux/arm/v7") == _d(2)
    assert pick(raw, "linux/arm/v5") == _d(0)


def test_attestations_and_entries_without_platform_never_chosen() -> None:
    raw = index(None, {"os": "unknown", "architecture": "unknown"})
    with pytest.raises(NotFound, match="no matching manifest for linux/amd64"):
        pick(raw, "linux/amd64")


def test_no_match_names_what_is_offered() -> None:
    raw = index(
        {"os": "linux", "architecture": "s390x"}, {"os": "linux", "architecture": "ppc64le"}
    )
    with pytest.raises(NotFound, match="linux/ppc64le, linux/s390x"):
        pick(raw, "linux/amd64")


def test_host_platform_is_linux() -> None:
    host = Platform.host()
    assert host.os == "linux"
    assert host.architecture not in ("x86_64", "aarch64")  # Go's names, not the kernel's


@pytest.mark.parametrize("bad", ["linux", "linux/", "a/b/c/d"])
def test_bad_platform(bad: str) -> None:
    with pytest.raises(InvalidArgument):
        Platform.parse(bad)


def test_media_type_from_field_then_header_then_shape() -> None:
    assert media_type_of(index(media_type=DOCKER_LIST), "") == DOCKER_LIST
    assert media_type_of(b'{"schemaVersion":2}', f"{OCI_MANIFEST}; charset=utf-8") == OCI_MANIFEST
    assert media_type_of(b'{"schemaVersion":2,"manifests":[]}', "application/json") == OCI_INDEX


@pytest.mark.parametrize(
    "raw",
    [
        b'{"schemaVersion":1,"name":"x","fsLayers":[]}',
        b'{"schemaVersion":1,"mediaType":"application/vnd.docker.distribution.manifest.v1+prettyjws"}',
    ],
)
def test_schema1_refused_with_a_way_out(raw: bytes) -> None:
    with pytest.raises(NotSupported, match=r"schema 1 is not supported.*push the image again"):
        parse_manifest(raw, media_type_of(raw, "application/json"), "image x")


def test_docker_manifest_round_trip() -> None:
    config = Descriptor("application/vnd.docker.container.image.v1+json", Digest.of_bytes(b"c"), 1)
    layer = Descriptor(
        "application/vnd.docker.image.rootfs.diff.tar.gzip", Digest.of_bytes(b"l"), 2
    )
    raw = docker_manifest(config, [layer])
    parsed = parse_manifest(raw, media_type_of(raw, ""), "x")
    assert parsed.media_type == DOCKER_MANIFEST
    assert parsed.config == config
    assert parsed.layers == (layer,)


def test_manifest_missing_config() -> None:
    with pytest.raises(InvalidArgument, match="missing"):
        parse_manifest(b'{"schemaVersion":2,"layers":[]}', OCI_MANIFEST, "x")
