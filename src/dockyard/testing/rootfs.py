"""A busybox root file system from Debian's busybox-static, for tests and the demo.

The same tree as the built-in base image (``dockyard.images.base``): its directories,
links and /etc files come from there, so both stay consistent.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from dockyard.images.base import BUSYBOX, GROUP, LINKS, PASSWD
from dockyard.images.base import DIRS as BASE_DIRS

DIRS = tuple(BASE_DIRS)


def busybox_path() -> str:
    found = shutil.which("busybox") or BUSYBOX
    if not os.path.exists(found):
        raise FileNotFoundError("busybox not found: apt-get install busybox-static")
    return found


def make_busybox_rootfs(dest: Path) -> Path:
    """Fill ``dest`` with a static busybox, its applet links, /etc/passwd and /etc/group."""
    dest.mkdir(parents=True, exist_ok=True)
    for d in DIRS:
        (dest / d).mkdir(parents=True, exist_ok=True)
    for d, mode in BASE_DIRS.items():
        if mode & 0o1000:  # only the sticky dirs: id-mapped tests must still reach /root
            os.chmod(dest / d, mode)
    shutil.copy2(busybox_path(), dest / "bin/busybox")
    applets = subprocess.run(
        [str(dest / "bin/busybox"), "--list"], check=True, capture_output=True, text=True
    ).stdout.split()
    for applet in applets:
        link = dest / "bin" / applet
        if applet != "busybox" and not link.exists():
            link.symlink_to("busybox")
    for name, target in LINKS.items():
        if not (dest / name).exists():
            (dest / name).symlink_to(target)
    (dest / "etc/passwd").write_text(PASSWD)
    (dest / "etc/group").write_text(GROUP)
    return dest
