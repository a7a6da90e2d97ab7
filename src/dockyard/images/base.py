"""The built-in base image ``busybox:latest``, made locally from Debian's busybox-static.

The rootfs is a static ``/bin/busybox``, a symlink per applet, the usual top-level
directories and a minimal ``/etc/passwd``/``/etc/group``. The layer tar is built in
memory deterministically (entries sorted, mtime 0, owner 0:0, USTAR headers) and the
config has a fixed creation time, so the same busybox binary always gives the same
image id, on every host and in every fresh store. No network is involved.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from typing import Any

from dockyard.errors import NotFound, NotSupported
from dockyard.types.digest import Digest

from .config import add_image, canonical_json, history_entry, new_config
from .imagestore import ImageStore
from .layers import register_layer
from .names import normalize_tag

BUSYBOX = "/bin/busybox"
BASE_NAME = "busybox:latest"
CREATED = "2024-01-01T00:00:00Z"  # fixed: the image id must not depend on the clock
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DIRS: dict[str, int] = {
    "bin": 0o755,
    "dev": 0o755,
    "etc": 0o755,
    "home": 0o755,
    "proc": 0o755,
    "root": 0o700,
    "run": 0o755,
    "sys": 0o755,
    "tmp": 0o1777,
    "usr": 0o755,
    "var": 0o755,
    "var/tmp": 0o1777,
}
LINKS: dict[str, str] = {"sbin": "bin", "usr/bin": "../bin", "usr/sbin": "../bin"}
PASSWD = (
    "root:x:0:0:root:/root:/bin/sh\n"
    "daemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
)
GROUP = "root:x:0:\ndaemon:x:1:\nnogroup:x:65534:\n"


def busybox_path() -> str:
    """The host's static busybox; NotSupported (with the fix) when it is missing."""
    found = shutil.which("busybox") or BUSYBOX
    if not os.path.exists(found):
        raise NotSupported("busybox not found: install Debian's busybox-static")
    return found


def applets(busybox: str) -> list[str]:
    """The applet names the binary offers (sorted, ``busybox`` itself left out)."""
    done = subprocess.run([busybox, "--list"], check=True, capture_output=True, text=True)
    return sorted(a for a in set(done.stdout.split()) if a and a != "busybox" and "/" not in a)


def _info(name: str, kind: bytes, mode: int, *, size: int = 0, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.size = size
    info.linkname = link
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def rootfs_tar(busybox: str | None = None) -> bytes:
    """The base layer as an uncompressed tar; equal bytes for an equal busybox binary."""
    path = busybox or busybox_path()
    with open(path, "rb") as f:
        binary = f.read()
    entries: dict[str, tuple[tarfile.TarInfo, bytes | None]] = {}
    for d, mode in DIRS.items():
        entries[d] = (_info(d, tarfile.DIRTYPE, mode), None)
    entries["bin/busybox"] = (
        _info("bin/busybox", tarfile.REGTYPE, 0o755, size=len(binary)),
        binary,
    )
    for applet in applets(path):
        name = f"bin/{applet}"
        entries.setdefault(name, (_info(name, tarfile.SYMTYPE, 0o777, link="busybox"), None))
    for name, target in LINKS.items():
        entries[name] = (_info(name, tarfile.SYMTYPE, 0o777, link=target), None)
    for name, text in (("etc/group", GROUP), ("etc/passwd", PASSWD)):
        raw = text.encode()
        entries[name] = (_info(name, tarfile.REGTYPE, 0o644, size=len(raw)), raw)
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name in sorted(entries, key=os.fsencode):
            info, data = entries[name]
            tar.addfile(info, None if data is None else io.BytesIO(data))
    return out.getvalue()


@dataclass(frozen=True)
class BaseImage:
    """The base image's layer tar and config, and the id they give."""

    layer: bytes
    config: dict[str, Any]

    @property
    def diff_id(self) -> Digest:
        return Digest.of_bytes(self.layer)

    @property
    def id(self) -> Digest:
        return Digest.of_bytes(canonical_json(self.config))


def base_image(busybox: str | None = None) -> BaseImage:
    """Build (in memory) the base image from the host's busybox."""
    layer = rootfs_tar(busybox)
    config = new_config(
        [Digest.of_bytes(layer)],
        container_config={"Env": [DEFAULT_PATH], "Cmd": ["sh"]},
        history=[
            history_entry(
                "/bin/sh -c #(nop) ADD busybox-static rootfs in / ",
                created=CREATED,
                comment="dockyard built-in base image",
            ),
            history_entry('/bin/sh -c #(nop)  CMD ["sh"]', created=CREATED, empty_layer=True),
        ],
        created=CREATED,
    )
    return BaseImage(layer, config)


def ensure_base_image(store: ImageStore, name: str = BASE_NAME) -> str:
    """Make sure the base image exists and ``name`` points at it; answer its id."""
    image = base_image()
    with store.lock:
        try:
            store.metadata.get_image(image.id)
        except NotFound:
            layer = register_layer(store, None, io.BytesIO(image.layer))
            return add_image(store, image.config, [layer], [name])
        store.metadata.tag(normalize_tag(name), image.id)
    return str(image.id)
