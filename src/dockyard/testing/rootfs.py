"""A busybox root file system from Debian's busybox-static, for tests and the demo."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

BUSYBOX = "/bin/busybox"
DIRS = ("bin", "dev", "proc", "sys", "etc", "root", "tmp", "var/tmp", "usr", "run", "home")


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
    os.chmod(dest / "tmp", 0o1777)
    os.chmod(dest / "var/tmp", 0o1777)
    shutil.copy2(busybox_path(), dest / "bin/busybox")
    applets = subprocess.run(
        [str(dest / "bin/busybox"), "--list"], check=True, capture_output=True, text=True
    ).stdout.split()
    for applet in applets:
        link = dest / "bin" / applet
        if applet != "busybox" and not link.exists():
            link.symlink_to("busybox")
    for name, target in (("usr/bin", "../bin"), ("sbin", "bin"), ("usr/sbin", "../bin")):
        if not (dest / name).exists():
            (dest / name).symlink_to(target)
    (dest / "etc/passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\n"
        "daemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
        "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
    )
    (dest / "etc/group").write_text("root:x:0:\ndaemon:x:1:\nnogroup:x:65534:\n")
    return dest
