"""``dockyard stats``: a live table of the containers' resource usage, as ``docker stats``.

The numbers are docker's: CPU % is the container's CPU time over the host's between two
readings, times the number of online CPUs; memory usage leaves out the inactive page
cache (``total_inactive_file`` on cgroup v1, ``inactive_file`` on v2); NET and BLOCK I/O
are sums over interfaces and devices. ``--no-stream`` prints one table; otherwise one
reader thread per container follows the daemon's stream and the table is redrawn twice
a second in place (cursor home, each line erased to its end, the rest of the screen
cleared), as docker draws it. Without names the running containers (``-a``: all) are
listed again every few seconds, so new ones show up.
"""

from __future__ import annotations

from dockyard.cli import output
from dockyard.cli.errors import CommandFailed
from dockyard.cli.flags import STRING, Command, Flag

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockyard.cli.context import Context
    from dockyard.client.api import APIClient

STATS_TABLE = (
    "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}"
    "\t{{.BlockIO}}\t{{.PIDs}}"
)
STATS_HEADERS = {
    "Container": "CONTAINER",
    "ID": "CONTAINER ID",
    "Name": "NAME",
    "CPUPerc": "CPU %",
    "MemUsage": "MEM USAGE / LIMIT",
    "MemPerc": "MEM %",
    "NetIO": "NET I/O",
    "BlockIO": "BLOCK I/O",
    "PIDs": "PIDS",
}
REDRAW_INTERVAL = 0.5
RELIST_INTERVAL = 2.0

STATS = Command(
    "stats",
    "[OPTIONS] [CONTAINER...]",
    "Display a live stream of container(s) resource usage statistics",
    [
        Flag("all", "a", help="Show all containers (default shows just running)"),
        Flag("format", kind=STRING, help="Format output using a custom template"),
        Flag("no-stream", help="Disable streaming stats and only pull the first result"),
        Flag("no-trunc", help="Do not truncate output"),
    ],
    aliases=("dockyard container stats", "dockyard stats"),
)


# -- docker's arithmetic -------------------------------------------------------------------


def cpu_percent(doc: dict[str, Any]) -> float:
    """docker's calculateCPUPercentUnix over ``cpu_stats`` and ``precpu_stats``."""
    cpu = doc.get("cpu_stats") or {}
    pre = doc.get("precpu_stats") or {}
    cpu_delta = float((cpu.get("cpu_usage") or {}).get("total_usage") or 0) - float(
        (pre.get("cpu_usage") or {}).get("total_usage") or 0
    )
    system_delta = float(cpu.get("system_cpu_usage") or 0) - float(pre.get("system_cpu_usage") or 0)
    online = float(cpu.get("online_cpus") or 0)
    if online == 0.0:
        online = float(len((cpu.get("cpu_usage") or {}).get("percpu_usage") or []))
    if system_delta > 0.0 and cpu_delta > 0.0:
        return cpu_delta / system_delta * online * 100.0
    return 0.0


def memory_usage(memory: dict[str, Any]) -> float:
    """Usage without the inactive page cache (docker's calculateMemUsageUnixNoCache)."""
    usage = int(memory.get("usage") or 0)
    stats = memory.get("stats") or {}
    if "total_inactive_file" in stats and stats["total_inactive_file"] < usage:
        return float(usage - stats["total_inactive_file"])
    inactive = int(stats.get("inactive_file") or 0)
    if inactive < usage:
        return float(usage - inactive)
    return float(usage)


def block_io(doc: dict[str, Any]) -> tuple[float, float]:
    read = write = 0.0
    for entry in (doc.get("blkio_stats") or {}).get("io_service_bytes_recursive") or []:
        op = str(entry.get("op", "")).lower()
        if op == "read":
            read += entry.get("value") or 0
        elif op == "write":
            write += entry.get("value") or 0
    return read, write


def net_io(doc: dict[str, Any]) -> tuple[float, float]:
    networks = (doc.get("networks") or {}).values()
    return (
        float(sum(n.get("rx_bytes") or 0 for n in networks)),
        float(sum(n.get("tx_bytes") or 0 for n in networks)),
    )


def entry(container: str, doc: dict[str, Any], trunc: bool = True) -> dict[str, str]:
    """One table row (docker's StatsEntry, formatted) from a StatsResponse."""
    memory = doc.get("memory_stats") or {}
    used = memory_usage(memory)
    limit = float(memory.get("limit") or 0)
    mem_percent = used / limit * 100.0 if limit else 0.0
    rx, tx = net_io(doc)
    blk_read, blk_write = block_io(doc)
    cid = str(doc.get("id") or "")
    return {
        "Container": container,
        "ID": cid[:12] if trunc else cid,
        "Name": str(doc.get("name") or "").lstrip("/") or "--",
        "CPUPerc": f"{cpu_percent(doc):.2f}%",
        "MemUsage": f"{output.bytes_size(used)} / {output.bytes_size(limit)}",
        "MemPerc": f"{mem_percent:.2f}%",
        "NetIO": f"{output.human_size(rx)} / {output.human_size(tx)}",
        "BlockIO": f"{output.human_size(blk_read)} / {output.human_size(blk_write)}",
        "PIDs": str(int((doc.get("pids_stats") or {}).get("current") or 0)),
    }


def placeholder(container: str) -> dict[str, str]:
    """A row before the first reading arrived (docker shows dashes)."""
    return {
        "Container": container,
        "ID": container[:12],
        "Name": "--",
        "CPUPerc": "--",
        "MemUsage": "-- / --",
        "MemPerc": "--",
        "NetIO": "--",
        "BlockIO": "--",
        "PIDs": "--",
    }


def render(fmt: str, rows: list[dict[str, str]]) -> str:
    return output.render_rows(fmt, rows, STATS_HEADERS)


def redraw(text: str) -> str:
    """The frame for a terminal: home, each line erased to its end, the rest cleared."""
    lines = text.rstrip("\n").split("\n")
    return "\033[H" + "".join(f"{line}\033[K\n" for line in lines) + "\033[J"


# -- the command -------------------------------------------------------------------------------


def stats(ctx: Context, argv: list[str]) -> int:
    opts, args = STATS.parse(argv)
    fmt = opts["format"] or STATS_TABLE
    if fmt == "table":
        fmt = STATS_TABLE
    client = ctx.client()
    trunc = not opts["no_trunc"]
    if opts["no_stream"]:
        names = args or _running(client, opts["all"])
        docs = _one_each(client, names)
        output.write(render(fmt, [entry(n, d, trunc) for n, d in zip(names, docs, strict=True)]))
        return 0
    return _stream(client, args, opts["all"], fmt, trunc)


def _running(client: APIClient, all: bool) -> list[str]:
    return [str(c.get("Id", ""))[:12] for c in client.containers(all=all)]


def _one_each(client: APIClient, names: list[str]) -> list[dict[str, Any]]:
    """One reading per container, fetched side by side (each takes the daemon ~1 s)."""
    from concurrent.futures import ThreadPoolExecutor

    from dockyard.client.errors import APIError

    def one(name: str) -> dict[str, Any] | str:
        try:
            return next(iter(client.stats(name, stream=False)), {})
        except APIError as e:
            return f"Error response from daemon: {e.message}"

    if not names:
        return []
    with ThreadPoolExecutor(max_workers=min(len(names), 16)) as pool:
        results = list(pool.map(one, names))
    errors = [r for r in results if isinstance(r, str)]
    if errors:
        raise CommandFailed("\n".join(errors))
    return [r for r in results if not isinstance(r, str)]


class _Follower:
    """Follows one container's stats stream in a thread; ``latest`` is the last reading."""

    def __init__(self, client: APIClient, name: str) -> None:
        import threading

        self.name = name
        self.latest: dict[str, Any] | None = None
        self.error = ""
        self.done = False
        self.thread = threading.Thread(target=self._run, args=(client,), daemon=True)
        self.thread.start()

    def _run(self, client: APIClient) -> None:
        from dockyard.client.errors import APIError, ClientError

        try:
            for doc in client.stats(self.name, stream=True):
                self.latest = doc
        except APIError as e:
            self.error = f"Error response from daemon: {e.message}"
        except (ClientError, OSError, ValueError) as e:
            self.error = str(e)
        self.done = True


def _stream(client: APIClient, names: list[str], all: bool, fmt: str, trunc: bool) -> int:
    import time

    followers: dict[str, _Follower] = {}
    fixed = bool(names)
    for name in names:
        followers[name] = _Follower(client, name)
    if fixed:
        # a named container that does not exist fails the command, as with docker
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(
            f.latest is None and not f.done for f in followers.values()
        ):
            time.sleep(0.05)
        errors = [f.error for f in followers.values() if f.error]
        if errors:
            raise CommandFailed("\n".join(errors))
    terminal = output.stdout_is_terminal()
    if terminal:
        output.write("\033[2J")
    listed = 0.0
    while True:
        if not fixed and time.monotonic() - listed >= RELIST_INTERVAL:
            listed = time.monotonic()
            current = _running(client, all)
            for name in current:
                if name not in followers:
                    followers[name] = _Follower(client, name)
            for name in list(followers):
                if name not in current and followers[name].done:
                    del followers[name]
        rows = []
        for name, f in followers.items():
            if f.done and not fixed:
                continue  # removed: it leaves the table, as in docker
            if f.done or not f.latest:
                rows.append(placeholder(name))  # a named one that is gone: dashes
            else:
                rows.append(entry(name, f.latest, trunc))
        text = render(fmt, rows)
        output.write(redraw(text) if terminal else text)
        output.flush()
        time.sleep(REDRAW_INTERVAL)
