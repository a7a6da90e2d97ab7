"""Bad input to a pull: a malformed reference, a registry nobody answers for, a web page
where the registry should be, a manifest of an unknown media type. Each is a clear error
that names the image and says what to do, and the store is left exactly as it was."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from dockyard.errors import InvalidArgument
from dockyard.images.imagestore import ImageStore
from dockyard.images.pull import Puller
from dockyard.registry import RegistryClient, RegistryHosts, RegistryUnavailable, RetryPolicy
from dockyard.testing.faultproxy import CannedServer
from dockyard.testing.registry import free_port

from .imagestores import new_store, state

pytestmark = pytest.mark.requires("root")
FAST = RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.02, timeout=10)


@pytest.fixture
def target() -> Iterator[ImageStore]:
    with new_store("overlay") as store:
        yield store


def pull(store: ImageStore, name: str) -> None:
    with RegistryClient(RegistryHosts(certs_dir=None, environ={}), retry=FAST) as client:
        Puller(store, client).pull(name)


@pytest.mark.parametrize(
    "name", ["127.0.0.1:5000/Dyt/Upper:1", "127.0.0.1:5000/dyt/x:bad tag", "127.0.0.1:99999/x"]
)
def test_malformed_reference(target: ImageStore, name: str) -> None:
    before = state(target)
    with pytest.raises(InvalidArgument, match="invalid"):
        pull(target, name)
    assert state(target) == before


def test_registry_that_does_not_answer(target: ImageStore) -> None:
    before = state(target)
    domain = f"127.0.0.1:{free_port()}"
    with pytest.raises(RegistryUnavailable, match=f"cannot reach {domain}.*registry is up"):
        pull(target, f"{domain}/dyt/x:1")
    assert state(target) == before


def test_registry_answering_a_web_page(target: ImageStore) -> None:
    before = state(target)
    page = b"<!DOCTYPE html><html><body>Welcome to our site</body></html>"
    server = CannedServer(page, "text/html; charset=utf-8")
    with server, pytest.raises(InvalidArgument) as caught:
        pull(target, f"{server.domain}/dyt/page:1")
    message = str(caught.value)
    assert f"{server.domain}/dyt/page:1" in message
    assert "web page, not a manifest" in message and "check that it is a registry" in message
    assert state(target) == before


def test_manifest_of_an_unknown_media_type(target: ImageStore) -> None:
    before = state(target)
    doc = {"schemaVersion": 2, "mediaType": "application/vnd.example.thing.v1+json"}
    server = CannedServer(json.dumps(doc).encode(), "application/json")
    with server, pytest.raises(InvalidArgument) as caught:
        pull(target, f"{server.domain}/dyt/thing:1")
    message = str(caught.value)
    assert "dyt/thing:1" in message
    assert "unknown manifest media type 'application/vnd.example.thing.v1+json'" in message
    assert "only Docker schema 2 and OCI image manifests" in message
    assert state(target) == before
