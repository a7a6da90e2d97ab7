"""A loop-mounted btrfs for tests of the btrfs storage driver (btrfs-progs from Debian)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .names import SESSION


@contextmanager
def loop_btrfs(size_mib: int = 512) -> Iterator[Path]:
    """Make, mount, and at the end unmount and detach a btrfs under a ``dyt-`` dir."""
    base = Path(tempfile.mkdtemp(prefix=f"{SESSION}-btrfs-"))
    base.chmod(0o755)
    image = base / "dyt-btrfs.img"
    point = base / "mnt"
    point.mkdir()
    mounted = False
    try:
        with image.open("wb") as f:
            f.truncate(size_mib * 1024 * 1024)
        subprocess.run(["mkfs.btrfs", "-q", str(image)], check=True, capture_output=True)
        subprocess.run(["mount", "-o", "loop", str(image), str(point)], check=True)
        mounted = True
        yield point
    finally:
        if mounted:
            subprocess.run(["umount", str(point)], check=False)
        out = subprocess.run(
            ["losetup", "-j", str(image)], capture_output=True, text=True, check=False
        ).stdout
        for line in out.splitlines():
            subprocess.run(["losetup", "-d", line.split(":", 1)[0]], check=False)
        shutil.rmtree(base, ignore_errors=True)
