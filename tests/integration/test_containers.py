"""Containers through ``ContainerService``: shims, logs, stdio, signals, limits, recovery."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from dockyard.cgroups import manager_for
from dockyard.engine.containers import ContainerService, ContainerSettings
from dockyard.errors import Conflict, NotFound, NotModified
from dockyard.images.base import ensure_base_image
from dockyard.images.imagestore import ImageStore
from dockyard.kernel import mount as km
from dockyard.testing.names import unique

pytestmark = pytest.mark.requires("root")
T = TypeVar("T")
RUNTIME = shutil.which("dockyard-runtime") or str(Path(sys.executable).parent / "dockyard-runtime")


class Env:
    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="dyt-", dir="/tmp"))
        self.cgroup_parent = "/" + unique("ctr")
        self.settings = ContainerSettings(
            data_root=self.root / "d",
            exec_root=self.root / "x",
            runtime=RUNTIME,
            cgroup_parent=self.cgroup_parent,
            spare_shim=False,  # services here are dropped without close (daemon crashes)
        )
        self.store = ImageStore(self.settings.data_root, "overlay")
        ensure_base_image(self.store)
        self.loop = asyncio.new_event_loop()
        self.svc = self.new_service()

    def new_service(self) -> ContainerService:
        svc = ContainerService(self.store, self.settings)
        self.run(svc.start_service())
        return svc

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        return self.loop.run_until_complete(asyncio.wait_for(coro, timeout))

    def create(self, cmd: list[str], **body: Any) -> str:
        cid, _ = self.run(self.svc.create({"Image": "busybox", "Cmd": cmd, **body}, None))
        return cid

    def logs(self, cid: str, **kw: Any) -> list[tuple[int, bytes]]:
        async def collect() -> list[tuple[int, bytes]]:
            args = {"stdout": True, "stderr": True, "follow": False, **kw}
            return [item async for item in await self.svc.logs(cid, **args)]

        return self.run(collect())

    def shim_pids(self) -> list[int]:
        out = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
                except OSError:
                    continue
                if b"dockyard.shim" in cmdline and str(self.root).encode() in cmdline:
                    out.append(int(entry))
        return out

    def cleanup(self) -> list[str]:
        problems = []
        try:
            for c in self.run(self.svc.list(all=True)):
                self.run(self.svc.remove(c.id, force=True))
            self.run(self.svc.close())
        except Exception as e:
            problems.append(f"cleanup: {e!r}")
        deadline = time.monotonic() + 5
        while self.shim_pids() and time.monotonic() < deadline:
            time.sleep(0.05)
        for pid in self.shim_pids():
            problems.append(f"shim {pid} left running")
            os.kill(pid, signal.SIGKILL)
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            point = line.split(" ")[4]
            if point.startswith(str(self.root)):
                problems.append(f"mount {point} left")
                km.umount(point, km.MNT_DETACH)
        cg = manager_for(self.cgroup_parent)
        for pid in cg.pids():
            os.kill(pid, signal.SIGKILL)
        try:
            cg.destroy()
        except Exception as e:
            problems.append(f"cgroup: {e}")
        self.loop.close()
        self.store.close()
        shutil.rmtree(self.root, ignore_errors=True)
        return problems


@pytest.fixture
def env() -> Iterator[Env]:
    e = Env()
    failed = True
    try:
        yield e
        failed = False
    finally:
        problems = e.cleanup()
        if problems and not failed:
            pytest.fail("; ".join(problems))


def test_run_exit_code_logs_inspect(env: Env) -> None:
    cid = env.create(["sh", "-c", "echo out; echo err >&2; exit 3"], Labels={"dyt": "1"})
    assert len(cid) == 64
    view = env.run(env.svc.inspect(cid))
    assert view.state.status == "created" and view.name.startswith("/")
    assert view.path == "sh" and view.config["Labels"] == {"dyt": "1"}
    env.run(env.svc.start(cid))
    assert env.run(env.svc.wait(cid)) == {"StatusCode": 3, "Error": None}
    view = env.run(env.svc.inspect(cid))
    assert view.state.status == "exited" and view.state.exit_code == 3
    assert view.status_text.startswith("Exited (3)")
    assert env.logs(cid) == [(1, b"out\n"), (2, b"err\n")]
    assert env.logs(cid, stderr=False) == [(1, b"out\n")]
    assert env.logs(cid, tail=1) == [(2, b"err\n")]
    line = Path(view.log_path).read_text().splitlines()[0]
    assert line.startswith('{"log":"out\\n","stream":"stdout","time":"')
    assert [v.id for v in env.run(env.svc.list(all=True, filters={"label": ["dyt=1"]}))] == [cid]
    assert env.run(env.svc.list()) == []
    with pytest.raises(NotFound, match="No such image: dyt-nope"):
        env.run(env.svc.create({"Image": "dyt-nope"}, None))
    # a second run appends to the log
    env.run(env.svc.start(cid))
    env.run(env.svc.wait(cid, "next-exit"))
    assert len(env.logs(cid)) == 4


def test_names_rename_conflicts(env: Env) -> None:
    name = unique("ctr")
    cid, _ = env.run(env.svc.create({"Image": "busybox", "Cmd": ["true"]}, name))
    with pytest.raises(Conflict):
        env.run(env.svc.create({"Image": "busybox", "Cmd": ["true"]}, name))
    new = unique("ctr")
    env.run(env.svc.rename(name, new))
    assert env.run(env.svc.inspect(new)).id == cid
    assert env.run(env.svc.inspect(cid[:12])).name == "/" + new
    with pytest.raises(NotFound):
        env.run(env.svc.inspect(name))
    env.run(env.svc.remove(new))
    with pytest.raises(NotFound):
        env.run(env.svc.inspect(cid))


def test_stop_kill_remove_force(env: Env) -> None:
    # ignores SIGTERM: stop must escalate to SIGKILL after the timeout
    cid = env.create(["sh", "-c", "trap '' TERM; while :; do sleep 0.1; done"])
    env.run(env.svc.start(cid))
    with pytest.raises(NotModified):
        env.run(env.svc.start(cid))
    t0 = time.monotonic()
    env.run(env.svc.stop(cid, timeout=1))
    assert 0.9 < time.monotonic() - t0 < 10
    assert env.run(env.svc.inspect(cid)).state.exit_code == 137
    with pytest.raises(NotModified):
        env.run(env.svc.stop(cid))
    with pytest.raises(Conflict):
        env.run(env.svc.kill(cid))
    # pid 1 of the container ignores signals it has no handler for
    cid2 = env.create(["sh", "-c", "trap 'exit 9' USR1; while :; do sleep 0.1; done"])
    env.run(env.svc.start(cid2))
    env.run(env.svc.kill(cid2, "USR1"))
    assert env.run(env.svc.wait(cid2))["StatusCode"] == 9
    cid3 = env.create(["sleep", "100"])
    env.run(env.svc.start(cid3))
    with pytest.raises(Conflict):
        env.run(env.svc.remove(cid3))
    env.run(env.svc.remove(cid3, force=True))
    assert not (env.settings.data_root / "containers" / cid3).exists()


def test_auto_remove(env: Env) -> None:
    cid = env.create(["sh", "-c", "exit 7"], HostConfig={"AutoRemove": True})

    async def run() -> dict[str, Any]:
        waiter = asyncio.ensure_future(env.svc.wait(cid, "removed"))
        await env.svc.start(cid)
        return await waiter

    assert env.run(run())["StatusCode"] == 7
    with pytest.raises(NotFound):
        env.run(env.svc.inspect(cid))


def test_attach_before_start_and_stdin(env: Env) -> None:
    cid = env.create(["sh", "-c", "echo hello; cat; echo bye >&2"], OpenStdin=True, StdinOnce=True)

    async def run() -> list[tuple[int, bytes]]:
        session = await env.svc.attach(cid, stdin=True, stdout=True, stderr=True)
        await env.svc.start(cid)
        await session.write(b"through stdin\n")
        await session.close_stdin()
        got = []
        while (item := await session.read()) is not None:
            got.append(item)
        session.close()
        return got

    got = env.run(run())
    out = b"".join(d for s, d in got if s == 1)
    assert out == b"hello\nthrough stdin\n"
    assert b"".join(d for s, d in got if s == 2) == b"bye\n"
    assert env.run(env.svc.wait(cid))["StatusCode"] == 0


def test_tty(env: Env) -> None:
    cid = env.create(["sh", "-c", "tty; stty size"], Tty=True)

    async def run() -> bytes:
        session = await env.svc.attach(cid, stdin=False, stdout=True, stderr=True)
        assert session.tty
        await env.svc.start(cid)
        data = b""
        while (item := await session.read()) is not None:
            data += item[1]
        return data

    data = env.run(run())
    assert b"/dev/pts/0" in data or b"/dev/console" in data
    assert env.run(env.svc.wait(cid))["StatusCode"] == 0


def test_pause_top_limits(env: Env) -> None:
    cid = env.create(
        ["sleep", "100"],
        HostConfig={"Memory": 64 * 1024 * 1024, "PidsLimit": 50, "NetworkMode": "none"},
    )
    env.run(env.svc.start(cid))
    limit = Path(manager_for(f"{env.cgroup_parent}/{cid}").paths()["memory"])
    assert (limit / "memory.limit_in_bytes").read_text().strip() == str(64 * 1024 * 1024)
    top = env.run(env.svc.top(cid))
    assert "PID" in top["Titles"] and any("sleep" in p[-1] for p in top["Processes"])
    env.run(env.svc.pause(cid))
    assert env.run(env.svc.inspect(cid)).state.status == "paused"
    env.run(env.svc.unpause(cid))
    assert env.run(env.svc.inspect(cid)).state.status == "running"
    env.run(env.svc.pause(cid))
    env.run(env.svc.stop(cid, timeout=1))  # a paused container stops too
    assert env.run(env.svc.inspect(cid)).state.status == "exited"


def test_daemon_restart_reconnects(env: Env) -> None:
    cid = env.create(["sh", "-c", "trap 'exit 5' TERM; echo up; while :; do sleep 0.1; done"])
    env.run(env.svc.start(cid))
    env.run(env.svc.close())
    env.svc = env.new_service()
    view = env.run(env.svc.inspect(cid))
    assert view.state.running and view.state.pid > 0
    env.run(env.svc.stop(cid, timeout=5))
    assert env.run(env.svc.inspect(cid)).state.exit_code == 5
    assert env.logs(cid) == [(1, b"up\n")]


def test_shim_survives_its_parent(env: Env) -> None:
    script = textwrap.dedent(
        f"""
        import asyncio, sys
        from pathlib import Path
        from dockyard.engine.containers import ContainerService, ContainerSettings
        from dockyard.images.imagestore import ImageStore
        settings = ContainerSettings(Path({str(env.settings.data_root)!r}),
            Path({str(env.settings.exec_root)!r}), {RUNTIME!r},
            cgroup_parent={env.cgroup_parent!r}, spare_shim=False)
        async def main():
            svc = ContainerService(ImageStore(settings.data_root, "overlay"), settings)
            await svc.start_service()
            cid, _ = await svc.create({{"Image": "busybox", "Cmd": ["sleep", "100"]}}, None)
            await svc.start(cid)
            print(cid, flush=True)
            await asyncio.sleep(100)
        asyncio.run(main())
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        cid = proc.stdout.readline().strip()
    finally:
        proc.kill()
        proc.wait()
    assert len(cid) == 64
    assert env.shim_pids()
    svc = env.new_service()
    env.svc = svc
    assert env.run(svc.inspect(cid)).state.running
    env.run(svc.kill(cid))
    assert env.run(svc.wait(cid))["StatusCode"] == 137
