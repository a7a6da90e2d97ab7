"""``make clean-test``: remove what crashed test runs left (anything named ``dyt-``).

Kills the processes in leftover cgroups, unmounts leftover mounts (deepest first),
removes the cgroups and network namespaces. Safe to run at any time: it only touches
objects whose names carry the test prefix.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

from dockyard.kernel import mount as km

from .leaks import cgroups as _cgroups
from .leaks import mounts as _mounts
from .names import PREFIX


def _kill_cgroup_tasks(path: str) -> None:
    try:
        with open(os.path.join(path, "cgroup.procs")) as f:
            pids = [int(p) for p in f.read().split()]
    except OSError:
        return
    freezer = os.path.join(path, "freezer.state")
    if os.path.exists(freezer):
        with open(freezer, "w") as f:
            f.write("THAWED")
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def main() -> int:
    cgroups = sorted(_cgroups(PREFIX), key=len, reverse=True)
    for cg in cgroups:
        _kill_cgroup_tasks(cg)
    time.sleep(0.2)
    for point in sorted(_mounts(PREFIX), key=len, reverse=True):
        try:
            km.umount(point, km.MNT_DETACH)
            print(f"unmounted {point}")
        except OSError as e:
            print(f"could not unmount {point}: {e}")
    for cg in cgroups:
        for _ in range(50):
            try:
                os.rmdir(cg)
                print(f"removed cgroup {cg}")
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.05)
    netns = "/run/netns"
    if os.path.isdir(netns):
        for name in os.listdir(netns):
            if name.startswith(PREFIX):
                subprocess.run(["ip", "netns", "delete", name], check=False)
                print(f"removed netns {name}")
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=False)
    for line in links.stdout.splitlines():
        name = line.split(":")[1].strip().split("@")[0]
        # "dyt-…", and the test bridges whose names IFNAMSIZ keeps short ("dyt<hex>")
        if name.startswith(PREFIX.rstrip("-")):
            subprocess.run(["ip", "link", "delete", name], check=False)
            print(f"removed link {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
