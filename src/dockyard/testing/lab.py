"""A test's workspace for running bundles under one OCI runtime (the conformance ``lab``)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from .bundle import Bundle, make_bundle
from .names import unique
from .runtimes import Result, Runtime


class Lab:
    """One test's workspace: a runtime under test, the shared rootfs and a work dir."""

    def __init__(self, runtime: Runtime, rootfs: Path, work: Path) -> None:
        self.runtime = runtime
        self.rootfs = rootfs
        self.work = work
        self._n = 0
        self._peers: list[Runtime] = []

    @property
    def name(self) -> str:
        return self.runtime.name

    def dir(self, name: str, mode: int = 0o755) -> Path:
        path = self.work / name
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(mode)
        return path

    def writable_rootfs(self) -> Path:
        """A private copy of the busybox rootfs, for tests that change it."""
        self._n += 1
        dest = self.work / f"rootfs-{self._n}"
        shutil.copytree(self.rootfs, dest, symlinks=True)
        return dest

    def bundle(self, cid: str | None = None, **changes: Any) -> tuple[str, Bundle]:
        """A new container id and a bundle for it; cgroupsPath is ``/<id>``."""
        cid = cid or unique()
        self._n += 1
        changes.setdefault("cgroups_path", f"/{cid}")
        rootfs = changes.pop("rootfs", self.rootfs)
        return cid, make_bundle(self.work / f"bundle-{self._n}", rootfs, **changes)

    def run(self, *args: str, **changes: Any) -> Result:
        """Run ``args`` in a new container in the foreground; answer exit status + output."""
        cid, b = self.bundle(args=args, **changes)
        return self.runtime.run(cid, b.path)

    def sh(self, script: str, **changes: Any) -> Result:
        return self.run("sh", "-c", script, **changes)

    def out(self, script: str, **changes: Any) -> str:
        """stdout of ``sh -c script``, which must succeed."""
        res = self.sh(script, **changes)
        assert res.returncode == 0, f"{self.name}: exit {res.returncode}: {res.stderr.strip()}"
        return res.stdout

    def created(self, script: str, **changes: Any) -> str:
        """A created (not started) container running ``sh -c script`` once started."""
        cid, b = self.bundle(args=("sh", "-c", script), **changes)
        res = self.runtime.create(cid, b.path)
        assert res.returncode == 0, f"{self.name} create: {res.stdout.strip()}"
        return cid

    def running(self, script: str = "sleep 30", **changes: Any) -> str:
        cid = self.created(script, **changes)
        res = self.runtime.start(cid)
        assert res.returncode == 0, f"{self.name} start: {res.stderr.strip()}"
        return cid

    def other(self, name: str) -> Runtime:
        """Another runtime, private to this test (a reference for differential checks)."""
        peer = Runtime.named(name, self.work / f"state-{name}")
        self._peers.append(peer)
        return peer

    def close(self) -> None:
        for peer in self._peers:
            peer.cleanup()
