"""Search terms and filters, registry mirrors and insecure entries, and the
``RegistryConfig`` that ``/info`` shows for them."""

from __future__ import annotations

import pytest

from dockyard.api.models.registryconfig import registry_config
from dockyard.errors import InvalidArgument
from dockyard.registry.hosts import RegistryHosts, check_insecure, normalize_mirror
from dockyard.registry.search import SearchResult, check_filters, matches, split_term


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("busybox", ("docker.io", "busybox")),
        ("dyt/busybox", ("docker.io", "dyt/busybox")),
        ("127.0.0.1:5000/busy", ("127.0.0.1:5000", "busy")),
        ("localhost/x", ("localhost", "x")),
        ("reg.example/team/app", ("reg.example", "team/app")),
    ],
)
def test_split_term(term: str, expected: tuple[str, str]) -> None:
    assert split_term(term) == expected


@pytest.mark.parametrize("term", ["", "  ", "127.0.0.1:5000/"])
def test_split_term_refuses_empty_terms(term: str) -> None:
    with pytest.raises(InvalidArgument):
        split_term(term)


def test_filters() -> None:
    official = SearchResult("busybox", star_count=10, is_official=True)
    other = SearchResult("dyt/busybox", star_count=2)
    assert matches(official, {"stars": ["3"]}) and not matches(other, {"stars": ["3"]})
    assert matches(other, {"is-official": ["false"]})
    assert not matches(official, {"is-official": ["0"]})
    assert matches(official, {})
    for bad in ({"colour": ["red"]}, {"stars": ["many"]}, {"is-official": ["maybe"]}):
        with pytest.raises(InvalidArgument):
            check_filters(bad)


def test_mirrors_are_normalized_and_checked() -> None:
    assert normalize_mirror("https://mirror.example:5000") == "https://mirror.example:5000/"
    assert normalize_mirror("http://127.0.0.1:5000/") == "http://127.0.0.1:5000/"
    for bad in ("mirror.example", "ftp://m.example", "https://m.example/v2/", "https://m?x=1"):
        with pytest.raises(InvalidArgument, match="invalid mirror"):
            normalize_mirror(bad)


def test_docker_io_goes_to_the_first_mirror() -> None:
    hosts = RegistryHosts(certs_dir=None, environ={}, mirrors=["http://127.0.0.1:5001"])
    ep = hosts.endpoint("docker.io")
    assert (ep.host, ep.port, ep.secure, ep.domain) == ("127.0.0.1", 5001, False, "docker.io")
    secure = RegistryHosts(certs_dir=None, environ={}, mirrors=["https://mirror.example"])
    ep = secure.endpoint("docker.io")
    assert (ep.host, ep.port, ep.secure) == ("mirror.example", 443, True)


def test_insecure_entries() -> None:
    check_insecure("reg.example:5000")
    check_insecure("10.0.0.0/8")
    for bad in ("http://reg.example", "10.0.0.0/99", ""):
        with pytest.raises(InvalidArgument):
            check_insecure(bad)
    hosts = RegistryHosts(certs_dir=None, environ={}, insecure=["reg.example:5000", "10.1.0.0/16"])
    assert not hosts.endpoint("reg.example:5000").secure
    assert not hosts.endpoint("10.1.2.3:5000").secure
    assert hosts.endpoint("reg.example:5001").secure


def test_registry_config_of_info() -> None:
    doc = registry_config(["reg.example:5000", "10.1.0.0/16"], ["https://m.example"])
    assert doc["Mirrors"] == ["https://m.example/"]
    assert doc["InsecureRegistryCIDRs"] == ["127.0.0.0/8", "::1/128", "10.1.0.0/16"]
    assert doc["IndexConfigs"]["docker.io"]["Mirrors"] == ["https://m.example/"]
    assert doc["IndexConfigs"]["reg.example:5000"] == {
        "Name": "reg.example:5000", "Mirrors": [], "Secure": False, "Official": False,
    }  # fmt: skip
