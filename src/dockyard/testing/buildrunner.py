"""A build ``Runner`` for tests of the build core without a daemon.

RUN steps run with ``dockyard-runtime run`` on a bundle over a snapshot of the image
(network: none, or the host's), then the snapshot is committed as the daemon's runner
does. Output goes to the builder's ``output``.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path

from dockyard.build.builder import BuildFailed
from dockyard.images.commit import commit_container
from dockyard.images.imagestore import ImageStore
from dockyard.images.rootfs import (
    mount_container,
    prepare_container,
    remove_container,
    unmount_container,
)
from dockyard.images.users import resolve_user

from .bundle import make_bundle
from .names import unique
from .runtimes import Runtime


class RuntimeRunner:
    def __init__(self, store: ImageStore, work: Path) -> None:
        self.store = store
        self.work = work
        self.runtime = Runtime.named("dockyard", work / "runtime-state")
        self.runs = 0

    def run(
        self,
        image_id: str,
        argv: list[str],
        *,
        env: list[str],
        user: str,
        workdir: str,
        network: str,
        created_by: str,
        output: Callable[[str], None],
    ) -> str:
        self.runs += 1
        cid = unique("build")
        bundle = self.work / f"bundle-{secrets.token_hex(4)}"
        rootfs = bundle / "rootfs"
        rootfs.mkdir(parents=True)
        prepare_container(self.store, cid, image_id)
        try:
            mount_container(self.store, cid, rootfs)
            try:
                uid, gid, extra = resolve_user(rootfs, user)
                namespaces = ["pid", "ipc", "uts", "mount"] + (
                    [] if network == "host" else ["network"]
                )
                make_bundle(
                    bundle,
                    rootfs,
                    args=argv,
                    env=env,
                    cwd=workdir,
                    user={"uid": uid, "gid": gid, "additionalGids": extra},
                    readonly=False,
                    namespaces=namespaces,
                    cgroups_path=f"/{cid}",
                )
                result = self.runtime.run(cid, bundle)
                output(result.stdout + result.stderr)
            finally:
                unmount_container(rootfs)
            if result.returncode != 0:
                shown = " ".join(argv[2:]) if argv[:2] == ["/bin/sh", "-c"] else str(argv)
                raise BuildFailed(
                    f"The command '/bin/sh -c {shown}' returned a non-zero code: "
                    f"{result.returncode}",
                    result.returncode,
                )
            return commit_container(self.store, cid, created_by=created_by)
        finally:
            remove_container(self.store, cid)
