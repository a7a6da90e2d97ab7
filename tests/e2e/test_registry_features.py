"""Registry features through the daemon: run/create pulling a missing image (the docker
CLI's path and ``--pull``), 401 for refused credentials, search (catalog and the
Hub-compatible /v1/search), ``--all-tags``, and the daemon's insecure registries,
mirrors and HTTP proxy."""

from __future__ import annotations

import json
from collections.abc import Iterator

import docker
import pytest

from dockyard.testing.daemon import Daemon
from dockyard.testing.faultproxy import ForwardProxy
from dockyard.testing.registry import PROXY_NAME, Registry
from dockyard.testing.searchindex import SearchIndex

from .test_registry_cli import dockyard, start

pytestmark = pytest.mark.requires("root")


@pytest.fixture
def registry() -> Iterator[Registry]:
    reg = start("none")
    try:
        yield reg
    finally:
        reg.stop()


def pushed(daemon: Daemon, name: str) -> str:
    """Tag busybox as ``name``, push it, remove the tag; answer the manifest digest."""
    daemon.docker("tag", "busybox", name)
    out = daemon.docker("push", name).stdout
    daemon.docker("rmi", name)
    return out.split("digest: ")[1].split()[0]


def test_docker_run_pulls_a_missing_registry_image(daemon: Daemon, registry: Registry) -> None:
    name = f"{registry.domain}/dyt/run:v1"
    pushed(daemon, name)
    daemon.docker("rmi", "busybox")  # no image of that id is left locally
    ran = daemon.docker("run", "--rm", name, "echo", "hi from the registry")
    assert ran.stdout.strip() == "hi from the registry"
    assert f"Unable to find image '{name}' locally" in ran.stderr
    assert f"Status: Downloaded newer image for {name}" in ran.stderr
    assert daemon.docker("image", "inspect", "-f", "{{.Id}}", name).stdout.startswith("sha256:")


def test_dockyard_run_and_create_pull_policies(daemon: Daemon, registry: Registry) -> None:
    name = f"{registry.domain}/dyt/policy:v1"
    pushed(daemon, name)
    never = dockyard(daemon, "run", "--rm", "--pull", "never", name, "true")
    assert never.returncode == 125 and "No such image" in never.stderr, never.stderr
    assert daemon.docker("image", "inspect", name, check=False).returncode != 0
    bad = dockyard(daemon, "create", "--pull", "sometimes", name)
    assert bad.returncode == 125 and "invalid pull option: 'sometimes'" in bad.stderr
    ran = dockyard(daemon, "run", "--rm", name, "echo", "pulled")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.splitlines()[-1] == "pulled"
    assert f"Unable to find image '{name}' locally" in ran.stderr
    again = dockyard(daemon, "create", "--pull", "always", name, "true")
    assert again.returncode == 0, again.stderr
    assert f"Status: Image is up to date for {name}" in again.stdout
    assert "Unable to find image" not in again.stderr
    quiet = dockyard(daemon, "create", "-q", "--pull", "always", name)
    assert quiet.returncode == 0 and len(quiet.stdout.split()) == 1  # the id only


def test_refused_credentials_are_401(daemon: Daemon) -> None:
    reg = start("basic")
    try:
        client = docker.APIClient(base_url=daemon.url, version="1.45", timeout=60)
        with pytest.raises(docker.errors.APIError) as caught:
            client.pull(f"{reg.domain}/dyt/x", "v1", auth_config={"username": "u", "password": "p"})
        assert caught.value.status_code == 401
        assert "user name and password" in str(caught.value)
        client.close()
        cli = dockyard(daemon, "pull", f"{reg.domain}/dyt/x:v1")
        assert cli.returncode == 1 and "user name and password" in cli.stderr
    finally:
        reg.stop()


def test_search_the_catalog(daemon: Daemon, registry: Registry) -> None:
    for repo in ("dyt/search-one", "dyt/search-two", "dyt/other"):
        pushed(daemon, f"{registry.domain}/{repo}:v1")
    found = dockyard(daemon, "search", f"{registry.domain}/SEARCH")
    assert found.returncode == 0, found.stderr
    lines = found.stdout.splitlines()
    assert lines[0].split() == ["NAME", "DESCRIPTION", "STARS", "OFFICIAL"]
    assert [line.split()[0] for line in lines[1:]] == [
        f"{registry.domain}/dyt/search-one",
        f"{registry.domain}/dyt/search-two",
    ]
    one = dockyard(
        daemon, "search", "--limit", "1", "--format", "{{.Name}}", f"{registry.domain}/search"
    )
    assert one.stdout.splitlines() == [f"{registry.domain}/dyt/search-one"]
    theirs = daemon.docker(
        "search", "--format", "{{.Name}} {{.StarCount}}", f"{registry.domain}/other"
    )
    assert theirs.stdout.splitlines() == [f"{registry.domain}/dyt/other 0"]
    bare = dockyard(daemon, "search", "busybox")
    assert bare.returncode != 0 and "name the registry" in bare.stderr
    bad = dockyard(daemon, "search", "--filter", "colour=red", f"{registry.domain}/x")
    assert bad.returncode != 0 and "invalid filter 'colour'" in bad.stderr
    unreachable = dockyard(daemon, "search", f"127.0.0.1:{port_of_nothing()}/x")
    assert unreachable.returncode != 0 and "cannot reach" in unreachable.stderr


def port_of_nothing() -> int:
    """A loopback port nothing listens on."""
    from dockyard.testing.registry import free_port

    return free_port()


def test_search_a_hub_compatible_index(daemon: Daemon) -> None:
    long = "A very small image with a shell and the usual tools, and a description that is long"
    entries: list[dict[str, object]] = [
        {"name": "busybox", "description": long, "star_count": 316, "is_official": True},
        {"name": "dyt/busybox-extra", "description": "extra", "star_count": 2},
        {"name": "dyt/nothing", "description": "", "star_count": 50},
    ]
    with SearchIndex(entries) as index:
        rows = dockyard(daemon, "search", f"{index.domain}/busy").stdout.splitlines()
        assert rows[1].split()[0] == "busybox" and rows[1].rstrip().endswith("[OK]")
        assert long[:42] + "..." in rows[1]
        assert rows[2].split() == ["dyt/busybox-extra", "extra", "2"]
        assert len(rows) == 3
        full = dockyard(
            daemon, "search", "--no-trunc", "--filter", "stars=3", f"{index.domain}/busy"
        )
        assert [r.split()[0] for r in full.stdout.splitlines()[1:]] == ["busybox"]
        assert long in full.stdout
        official = dockyard(
            daemon, "search", "--filter", "is-official=false", "--format", "{{.Name}}",
            f"{index.domain}/dyt",
        )  # fmt: skip
        assert official.stdout.splitlines() == ["dyt/busybox-extra", "dyt/nothing"]
        client = docker.APIClient(base_url=daemon.url, version="1.45", timeout=60)
        api = client.search(f"{index.domain}/nothing")
        client.close()
        assert api == [
            {"name": "dyt/nothing", "description": "", "star_count": 50,
             "is_official": False, "is_automated": False},
        ]  # fmt: skip
        assert index.queries[-1]["q"] == ["nothing"]


def test_push_and_pull_all_tags(daemon: Daemon, registry: Registry) -> None:
    repo = f"{registry.domain}/dyt/many"
    for tag in ("a", "b"):
        daemon.docker("tag", "busybox", f"{repo}:{tag}")
    out = dockyard(daemon, "push", "--all-tags", repo)
    assert out.returncode == 0, out.stderr
    assert "a: digest: sha256:" in out.stdout and "b: digest: sha256:" in out.stdout
    assert out.stdout.count("The push refers to repository") == 1
    daemon.docker("rmi", f"{repo}:a", f"{repo}:b")
    # as Docker: the repository's last tag takes its digest references along
    left = daemon.docker("image", "inspect", "-f", "{{json .RepoDigests}}", "busybox").stdout
    assert "dyt/many@" not in left
    pulled = dockyard(daemon, "pull", "-a", repo)
    assert pulled.returncode == 0, pulled.stderr
    assert pulled.stdout.splitlines()[-1] == repo
    tags = daemon.docker("image", "inspect", "-f", "{{json .RepoTags}}", f"{repo}:a").stdout
    assert f'"{repo}:a"' in tags and f'"{repo}:b"' in tags
    # the docker CLI asks the same (no tag in the query)
    theirs = daemon.docker("push", "--all-tags", repo).stdout
    assert "a: digest: sha256:" in theirs and "b: digest: sha256:" in theirs
    daemon.docker("rmi", f"{repo}:a", f"{repo}:b")
    theirs = daemon.docker("pull", "--all-tags", repo).stdout
    assert "a: Pulling from dyt/many" in theirs and "b: Pulling from dyt/many" in theirs
    both = dockyard(daemon, "pull", "-a", f"{repo}:a")
    assert both.returncode != 0 and "tag can't be used with --all-tags" in both.stderr
    nothing = dockyard(daemon, "push", "-a", f"{registry.domain}/dyt/none")
    assert nothing.returncode != 0 and "does not exist locally" in nothing.stderr


def test_mirror_and_insecure_registries_in_info_and_pull(registry: Registry) -> None:
    d = Daemon.start(
        "--registry-mirror", f"http://{registry.domain}",
        config={"insecure-registries": ["dyt-insecure.test:5000", "10.99.0.0/16"]},
    )  # fmt: skip
    try:
        raw = d.docker("info", "--format", "{{json .RegistryConfig}}").stdout
        config = json.loads(raw)
        assert config["Mirrors"] == [f"http://{registry.domain}/"]
        assert config["IndexConfigs"]["docker.io"]["Mirrors"] == [f"http://{registry.domain}/"]
        assert config["IndexConfigs"]["dyt-insecure.test:5000"]["Secure"] is False
        assert "10.99.0.0/16" in config["InsecureRegistryCIDRs"]
        info = dockyard(d, "info").stdout
        assert f" Registry Mirrors:\n  http://{registry.domain}/" in info
        assert "  dyt-insecure.test:5000" in info and "  10.99.0.0/16" in info
        # busybox of docker.io comes from the mirror (library/busybox there)
        pushed(d, f"{registry.domain}/library/busybox:mirrored")
        pulled = dockyard(d, "pull", "busybox:mirrored")
        assert pulled.returncode == 0, pulled.stderr
        assert pulled.stdout.splitlines()[-1] == "docker.io/library/busybox:mirrored"
        refused = dockyard(d, "push", "busybox:mirrored")  # a mirror is read-only
        assert refused.returncode != 0 and "pushing to docker.io is not supported" in refused.stderr
        d.stop()
    finally:
        d.cleanup()
    bad = Daemon.prepare({"registry-mirrors": ["ftp://mirror.test"]})
    try:
        failed = bad.run()
        assert failed.returncode != 0 and "invalid mirror" in failed.stderr
    finally:
        bad.cleanup()


def test_daemon_http_proxy_is_used(registry: Registry) -> None:
    name = f"{PROXY_NAME}:{registry.port}/dyt/proxied:v1"
    with ForwardProxy(registry.port) as proxy:
        d = Daemon.start(
            "--insecure-registry", f"{PROXY_NAME}:{registry.port}",
            config={"proxies": {"http-proxy": f"http://127.0.0.1:{proxy.port}"}},
        )  # fmt: skip
        try:
            digest = pushed(d, name)
            assert any(t.startswith(f"http://{PROXY_NAME}:{registry.port}/v2/") for t in proxy.seen)
            pulled = dockyard(d, "pull", name)
            assert pulled.returncode == 0, pulled.stderr
            assert f"Digest: {digest}" in pulled.stdout
            d.stop()
        finally:
            d.cleanup()
