"""Push and pull against a real registry (Debian's docker-registry on 127.0.0.1): the
built-in busybox image goes from one store to a registry and back into a fresh store,
in every auth mode; wrong credentials, a tampered blob, a dropped connection and a
failing registry; skopeo reads what we push and we pull what skopeo pushes."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.errors import InvalidArgument, NotFound
from dockyard.images.archive import save
from dockyard.images.base import ensure_base_image
from dockyard.images.imagestore import ImageStore
from dockyard.images.importing import import_rootfs
from dockyard.images.layers import snapshot_path
from dockyard.images.pull import Puller, PullProgress
from dockyard.images.push import PushProgress, push
from dockyard.registry import (
    Credentials,
    Platform,
    RegistryClient,
    RegistryHosts,
    RegistryUnavailable,
    RetryPolicy,
    Unauthorized,
)
from dockyard.registry.manifests import OCI_INDEX
from dockyard.testing.faultproxy import FaultProxy, ForwardProxy
from dockyard.testing.features import strict
from dockyard.testing.registry import MODES, PROXY_NAME, Mode, Registry
from dockyard.testing.registry import RegistryUnavailable as NoRegistry

from .imagestores import new_store, state, tar_of

pytestmark = pytest.mark.requires("root")
FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05, timeout=20)


def start(mode: Mode = "none", *, client_certs: bool = False) -> Registry:
    try:
        return Registry.start(mode, client_certs=client_certs)
    except NoRegistry as e:
        if strict():
            pytest.fail(f"the test registry is unavailable: {e}")
        pytest.skip(f"the test registry is unavailable: {e}")


@pytest.fixture
def registry() -> Iterator[Registry]:
    reg = start("none")
    try:
        yield reg
    finally:
        reg.stop()


def client_for(reg: Registry, password: str | None = None) -> RegistryClient:
    creds = None
    if reg.credentials is not None:
        user, real = reg.credentials
        creds = Credentials(user, real if password is None else password)
    return RegistryClient(
        RegistryHosts(certs_dir=reg.certs_dir, environ={}), lambda _d: creds, retry=FAST
    )


@pytest.fixture
def source() -> Iterator[ImageStore]:
    with new_store("overlay") as store:
        ensure_base_image(store)
        yield store


@pytest.fixture
def target() -> Iterator[ImageStore]:
    with new_store("overlay") as store:
        yield store


def tag(store: ImageStore, name: str) -> None:
    store.metadata.tag(name, store.resolve("busybox:latest"))


def busybox_bytes(store: ImageStore, image_name: str) -> bytes:
    """The ``/bin/busybox`` file of the image's top layer, read from the snapshotter."""
    image = store.image(image_name)
    top = store.layers_of(image)[-1]
    return (snapshot_path(store, top.snapshot_key) / "bin" / "busybox").read_bytes()


@pytest.mark.parametrize("mode", MODES)
def test_push_then_pull_into_a_fresh_store(
    mode: Mode, source: ImageStore, target: ImageStore
) -> None:
    reg = start(mode)
    try:
        name = f"{reg.domain}/dyt/busybox:v1"
        tag(source, name)
        pushed: list[PushProgress] = []
        with client_for(reg) as client:
            result = push(source, client, name, pushed.append)
            assert "Pushed" in [p.status for p in pushed]
            assert pushed[-1].status == f"v1: digest: {result.digest} size: {result.size}"
            pulled: list[PullProgress] = []
            got = Puller(target, client).pull(name, pulled.append)
            assert client.repository(name).tags() == ["v1"]
            # pushed back from the pulling store: the pulled manifest and blobs as they
            # are (same digest), the layer mounted from the repository it came from
            again = f"{reg.domain}/dyt/copy:v2"
            target.metadata.tag(again, target.resolve(name))
            back: list[PushProgress] = []
            assert push(target, client, again, back.append).digest == result.digest
            assert "Mounted from dyt/busybox" in [p.status for p in back]
    finally:
        reg.stop()
    assert got.image_id == source.resolve("busybox:latest")
    assert got.digest == result.digest
    statuses = [p.status for p in pulled]
    for wanted in ("Pulling fs layer", "Downloading", "Verifying Checksum", "Pull complete"):
        assert wanted in statuses
    assert statuses[-2:] == [
        f"Digest: {result.digest}",
        f"Status: Downloaded newer image for {name}",
    ]
    image = target.image(name)
    assert set(image.names) == {
        name,
        f"{reg.domain}/dyt/busybox@{result.digest}",
        f"{reg.domain}/dyt/copy:v2",
        f"{reg.domain}/dyt/copy@{result.digest}",
    }
    assert (
        busybox_bytes(target, name) == Path(shutil.which("busybox") or "/bin/busybox").read_bytes()
    )
    assert f"{reg.domain}/dyt/busybox@{result.digest}" in source.image(name).names


def test_second_pull_and_push_transfer_nothing(
    registry: Registry, source: ImageStore, target: ImageStore
) -> None:
    name = f"{registry.domain}/dyt/again:latest"
    tag(source, name)
    with client_for(registry) as client:
        first = push(source, client, name)
        progress: list[PushProgress] = []
        second = push(source, client, name, progress.append)
        assert second.digest == first.digest
        assert "Layer already exists" in [p.status for p in progress]
        assert "Pushed" not in [p.status for p in progress]
        Puller(target, client).pull(name)
        again: list[PullProgress] = []
        result = Puller(target, client).pull(name, again.append)
    assert result.up_to_date
    assert "Already exists" in [p.status for p in again]
    assert "Downloading" not in [p.status for p in again]
    assert again[-1].status == f"Status: Image is up to date for {name}"


def test_chunked_upload_mount_and_pull_by_digest(
    registry: Registry, source: ImageStore, target: ImageStore
) -> None:
    first = f"{registry.domain}/dyt/one:1"
    second = f"{registry.domain}/dyt/two:2"
    tag(source, first)
    with client_for(registry) as client:
        pushed = push(source, client, first, chunk_size=200 * 1024)
        tag(source, second)
        progress: list[PushProgress] = []
        push(source, client, second, progress.append)
        assert any(p.status == "Mounted from dyt/one" for p in progress)
        by_digest = f"{registry.domain}/dyt/two@{pushed.digest}"
        result = Puller(target, client).pull(by_digest)
        assert sorted(client.catalog(registry.domain)) == ["dyt/one", "dyt/two"]
    assert result.image_id == source.resolve(first)
    assert target.image(by_digest).names == (by_digest,)


def test_pull_of_an_unknown_tag_is_not_found(registry: Registry, target: ImageStore) -> None:
    before = state(target)
    with client_for(registry) as client, pytest.raises(NotFound, match="manifest unknown"):
        Puller(target, client).pull(f"{registry.domain}/dyt/none:x")
    assert state(target) == before


@pytest.mark.parametrize("mode", ["basic", "token"])
def test_wrong_credentials(mode: Mode, source: ImageStore, target: ImageStore) -> None:
    reg = start(mode)
    try:
        name = f"{reg.domain}/dyt/secret:1"
        tag(source, name)
        with client_for(reg) as good:
            push(source, good, name)
        before = state(target)
        with client_for(reg, password="wrong") as bad:
            with pytest.raises(Unauthorized, match="user name and password"):
                Puller(target, bad).pull(name)
            with pytest.raises(Unauthorized):
                push(source, bad, name)
        anonymous = RegistryClient(RegistryHosts(certs_dir=reg.certs_dir, environ={}), retry=FAST)
        with anonymous, pytest.raises(Unauthorized):
            Puller(target, anonymous).pull(name)
    finally:
        reg.stop()
    assert state(target) == before


def test_tampered_blob_is_refused_and_nothing_stored(
    registry: Registry, source: ImageStore, target: ImageStore
) -> None:
    name = f"{registry.domain}/dyt/tampered:1"
    tag(source, name)
    with client_for(registry) as client:
        result = push(source, client, name)
        manifest = json.loads(client.repository(name).get_manifest(str(result.digest)).raw)
        blob = registry.blob_file(manifest["layers"][0]["digest"])
        data = bytearray(blob.read_bytes())
        data[len(data) // 2] ^= 0xFF  # same size, other bytes
        blob.write_bytes(bytes(data))
        before = state(target)
        with pytest.raises(InvalidArgument, match="verification failed"):
            Puller(target, client).pull(name)
    assert state(target) == before
    assert os.listdir(target.root / "content" / "ingest") == []


def test_dropped_connection_is_resumed(
    registry: Registry, source: ImageStore, target: ImageStore
) -> None:
    with FaultProxy(registry.port, "drop", drop_after=300 * 1024, drops=2) as proxy:
        name = f"{proxy.domain}/dyt/resume:1"
        tag(source, f"{registry.domain}/dyt/resume:1")
        with client_for(registry) as client:
            push(source, client, f"{registry.domain}/dyt/resume:1")
            result = Puller(target, client).pull(name)
        assert proxy.stats.drops == 2
        assert proxy.stats.ranged >= 2
    assert result.image_id == source.resolve("busybox:latest")


def test_repeated_500s_retry_then_fail_clearly(registry: Registry, target: ImageStore) -> None:
    before = state(target)
    with FaultProxy(registry.port, "error") as proxy, client_for(registry) as client:
        with pytest.raises(RegistryUnavailable, match=r"the registry failed \(status 500\)"):
            Puller(target, client).pull(f"{proxy.domain}/dyt/x:1")
        assert proxy.stats.errors == FAST.attempts
    assert state(target) == before


# -- interop with skopeo -------------------------------------------------------------


def skopeo(*args: str) -> str:
    if shutil.which("skopeo") is None:
        if strict():
            pytest.fail("skopeo is missing: install Debian's skopeo")
        pytest.skip("skopeo is missing")
    done = subprocess.run(
        ["skopeo", "--insecure-policy", *args], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_skopeo_reads_what_we_push(registry: Registry, source: ImageStore, tmp_path: Path) -> None:
    name = f"{registry.domain}/dyt/toskopeo:1"
    tag(source, name)
    with client_for(registry) as client:
        result = push(source, client, name)
    out = tmp_path / "dir"
    skopeo("copy", "-q", "--src-tls-verify=false", f"docker://{name}", f"dir:{out}")
    manifest = (out / "manifest.json").read_bytes()
    assert f"sha256:{hashlib.sha256(manifest).hexdigest()}" == str(result.digest)
    config = json.loads(manifest)["config"]["digest"]
    assert config == str(source.resolve("busybox:latest"))


def test_we_pull_what_skopeo_pushes(
    registry: Registry, source: ImageStore, target: ImageStore, tmp_path: Path
) -> None:
    archive = tmp_path / "oci.tar"
    with archive.open("wb") as f:
        save(source, ["busybox:latest"], f, fmt="oci")
    layout = tmp_path / "layout"
    layout.mkdir()
    subprocess.run(["tar", "-xf", str(archive), "-C", str(layout)], check=True)
    name = f"{registry.domain}/dyt/fromskopeo:2"
    skopeo("copy", "-q", "--dest-tls-verify=false", f"oci:{layout}", f"docker://{name}")
    with client_for(registry) as client:
        result = Puller(target, client).pull(name)
    assert result.image_id == source.resolve("busybox:latest")


def test_client_certificate_from_the_certs_dir(source: ImageStore, target: ImageStore) -> None:
    reg = start("tls", client_certs=True)
    try:
        name = f"{reg.domain}/dyt/mtls:1"
        tag(source, name)
        with client_for(reg) as client:
            pushed = push(source, client, name)
            assert Puller(target, client).pull(name).digest == pushed.digest
        mine = reg.certs_dir / reg.domain
        (mine / "client.cert").unlink()
        (mine / "client.key").unlink()
        with client_for(reg) as client, pytest.raises(RegistryUnavailable):
            client.repository(name).tags()
        (mine / "ca.crt").unlink()  # no CA: the server's certificate is not trusted
        with client_for(reg) as client, pytest.raises(RegistryUnavailable, match="CERTIFICATE"):
            client.repository(name).tags()
    finally:
        reg.stop()


def test_http_proxy_from_the_environment(
    registry: Registry, source: ImageStore, target: ImageStore
) -> None:
    # a made-up name that only the proxy knows how to reach (it never resolves it)
    domain = f"{PROXY_NAME}:{registry.port}"
    name = f"{domain}/dyt/proxied:1"
    tag(source, name)
    with ForwardProxy(registry.port) as proxy:
        environ = {"HTTP_PROXY": f"http://127.0.0.1:{proxy.port}", "NO_PROXY": "other.test"}
        hosts = RegistryHosts(certs_dir=None, insecure=[domain], environ=environ)
        with RegistryClient(hosts, retry=FAST) as client:
            pushed = push(source, client, name)
            result = Puller(target, client).pull(name)
        assert f"http://{domain}/v2/dyt/proxied/manifests/1" in proxy.seen
    assert result.digest == pushed.digest
    assert result.image_id == source.resolve("busybox:latest")


def test_pull_of_an_index_picks_the_platform(
    registry: Registry, source: ImageStore, target: ImageStore
) -> None:
    amd = f"{registry.domain}/dyt/multi:amd64"
    arm = f"{registry.domain}/dyt/multi:arm64"
    tag(source, amd)
    arm_id = import_rootfs(source, io.BytesIO(tar_of({"arm": b"arm64 image\n"})), [arm])
    with client_for(registry) as client:
        digests = {
            "amd64": push(source, client, amd).digest,
            "arm64": push(source, client, arm).digest,
        }
        manifests = []
        for arch, digest in digests.items():
            fetched = client.repository(amd).get_manifest(str(digest))
            manifests.append(
                {
                    "mediaType": fetched.media_type,
                    "digest": str(digest),
                    "size": len(fetched.raw),
                    "platform": {"os": "linux", "architecture": arch},
                }
            )
        index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests})
        name = f"{registry.domain}/dyt/multi:both"
        index_digest = client.repository(name).put_manifest("both", index.encode(), OCI_INDEX)
        puller = Puller(target, client)
        on_arm = puller.pull(name, platform=Platform.parse("linux/arm64"))
        on_amd = puller.pull(name, platform=Platform.parse("linux/amd64"))
        with pytest.raises(NotFound, match="no matching manifest for linux/s390x"):
            puller.pull(name, platform=Platform.parse("linux/s390x"))
    assert str(on_arm.image_id) == arm_id
    assert on_amd.image_id == source.resolve(amd)
    assert on_arm.digest == on_amd.digest == index_digest  # RepoDigests name the index
    assert f"{registry.domain}/dyt/multi@{index_digest}" in target.image(name).names


def test_https_proxy_tunnel(source: ImageStore, target: ImageStore) -> None:
    reg = start("tls")
    try:
        domain = f"{PROXY_NAME}:{reg.port}"
        name = f"{domain}/dyt/tunnel:1"
        tag(source, name)
        certs = reg.certs_dir / domain
        (reg.certs_dir / reg.domain).rename(certs)
        with ForwardProxy(reg.port) as proxy:
            environ = {"HTTPS_PROXY": f"127.0.0.1:{proxy.port}"}
            hosts = RegistryHosts(certs_dir=reg.certs_dir, environ=environ)
            with RegistryClient(hosts, retry=FAST) as client:
                pushed = push(source, client, name)
                result = Puller(target, client).pull(name)
            assert f"{domain}" in proxy.seen  # CONNECT dyt-registry.test:<port>
    finally:
        reg.stop()
    assert result.digest == pushed.digest
