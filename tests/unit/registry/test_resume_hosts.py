"""Range-resume decisions, Link paging, retry back-off, endpoints and proxies."""

from pathlib import Path

import pytest

from dockyard.errors import NotSupported
from dockyard.registry.blobs import Resume, parse_content_range, resume_action
from dockyard.registry.client import next_link, with_query
from dockyard.registry.hosts import RegistryHosts, proxy_for
from dockyard.registry.transport import RetryPolicy


@pytest.mark.parametrize(
    ("offset", "status", "content_range", "size", "action"),
    [
        (0, 200, "", 100, Resume.CONTINUE),
        (40, 206, "bytes 40-99/100", 100, Resume.CONTINUE),
        (40, 206, "bytes 40-99/*", 100, Resume.CONTINUE),
        (40, 200, "", 100, Resume.RESTART),  # the server ignored Range: start over
        (40, 206, "bytes 0-99/100", 100, Resume.FAIL),  # not where we stopped
        (40, 206, "bytes 40-99/120", 100, Resume.FAIL),  # another blob's size
        (40, 206, "garbage", 100, Resume.FAIL),
        (0, 206, "bytes 0-99/100", 100, Resume.FAIL),  # a range we never asked for
        (40, 404, "", 100, Resume.FAIL),
    ],
)
def test_resume_action(
    offset: int, status: int, content_range: str, size: int, action: Resume
) -> None:
    assert resume_action(offset, status, content_range, size) is action


def test_parse_content_range() -> None:
    assert parse_content_range("bytes 5-9/10") == (5, 9, 10)
    assert parse_content_range("bytes 5-9/*") == (5, 9, None)
    assert parse_content_range("items 1-2/3") is None


def test_next_link_and_query() -> None:
    link = '</v2/_catalog?last=b&n=2>; rel="next"'
    assert next_link(link) == "/v2/_catalog?last=b&n=2"
    assert next_link('</x>; rel="prev"') is None
    assert next_link("") is None
    assert with_query("/u?_state=x", digest="sha256:1") == "/u?_state=x&digest=sha256%3A1"
    assert with_query("/u", a="b") == "/u?a=b"


def test_back_off_grows_and_is_capped() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=3.0)
    assert [policy.delay(n) for n in (1, 2, 3, 4, 5)] == [0.5, 1.0, 2.0, 3.0, 3.0]


ENV = {"HTTPS_PROXY": "http://user:pw@proxy.test:3128", "http_proxy": "proxy.test:8080"}


def test_proxy_from_environment() -> None:
    p = proxy_for("reg.test", True, ENV)
    assert p is not None
    assert (p.host, p.port, p.auth) == ("proxy.test", 3128, "user:pw")
    p = proxy_for("reg.test", False, ENV)
    assert p is not None
    assert (p.host, p.port, p.auth) == ("proxy.test", 8080, None)


@pytest.mark.parametrize(
    ("host", "no_proxy"),
    [
        ("127.0.0.1", ""),  # loopback never goes through a proxy
        ("localhost", ""),
        ("::1", ""),
        ("reg.test", "reg.test"),
        ("a.reg.test", ".reg.test"),
        ("a.reg.test", "reg.test"),
        ("10.1.2.3", "10.0.0.0/8"),
        ("reg.test", "other, *"),
        ("reg.test", "reg.test:443"),
    ],
)
def test_no_proxy(host: str, no_proxy: str) -> None:
    assert proxy_for(host, True, {**ENV, "NO_PROXY": no_proxy}) is None


def test_socks_proxy_refused() -> None:
    with pytest.raises(NotSupported):
        proxy_for("reg.test", True, {"HTTPS_PROXY": "socks5://p:1"})


def test_endpoints_secure_insecure_and_certs(tmp_path: Path) -> None:
    hosts = RegistryHosts(
        certs_dir=tmp_path, insecure=["10.0.0.0/8", "plain.test:5000"], environ={}
    )
    loop = hosts.endpoint("127.0.0.1:5000")
    assert (loop.secure, loop.host, loop.port, loop.base_url) == (
        False, "127.0.0.1", 5000, "http://127.0.0.1:5000"
    )  # fmt: skip
    assert hosts.endpoint("localhost").port == 80
    assert not hosts.endpoint("10.9.9.9").secure
    assert not hosts.endpoint("plain.test:5000").secure
    remote = hosts.endpoint("reg.test")
    assert (remote.secure, remote.port) == (True, 443)
    assert hosts.endpoint("[::1]:5000").base_url == "http://[::1]:5000"
    (tmp_path / "127.0.0.1:6000").mkdir()  # TLS material makes a loopback registry HTTPS
    assert hosts.endpoint("127.0.0.1:6000").secure


def test_docker_io_needs_an_explicit_endpoint() -> None:
    with pytest.raises(NotSupported, match=r"no endpoint is configured for docker\.io"):
        RegistryHosts(certs_dir=None, environ={}).endpoint("docker.io")
    mirrored = RegistryHosts(certs_dir=None, aliases={"docker.io": "127.0.0.1:5000"}, environ={})
    assert mirrored.endpoint("docker.io").netloc == "127.0.0.1:5000"
