"""Typed form of the OCI runtime-spec ``linux.resources`` object, and its parser.

Only the fields a cgroup manager writes are kept. Conventions follow runc's
``configs.Resources``: a field of ``None`` means "leave the kernel's value alone", and
the OCI "unset" spellings (``0`` for memory, shares, quota, period and blkio weight) are
folded into ``None`` so that the managers have a single way to say it. ``-1`` keeps its
OCI meaning of "unlimited" for memory limits, reservation, swap and CPU quota; a pids
limit of zero or below is unlimited too.
"""

from __future__ import annotations

from dockyard import errors
from dockyard._internal.value import Value

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

PREFIX = "linux.resources"

# The kernel clamps cpu.shares into this range silently; runc reports the clamp as an
# error, so we refuse the value up front instead of writing something else.
MIN_SHARES = 2
MAX_SHARES = 262144
MIN_BLKIO_WEIGHT = 10
MAX_BLKIO_WEIGHT = 1000

# The value objects below are Values rather than frozen dataclasses (see
# _internal/value.py): the OCI runtime cannot afford dataclasses' imports.


class DeviceRule(Value):
    """One ``linux.resources.devices`` entry; ``None`` major/minor is the ``*`` wildcard."""

    __slots__ = ("access", "allow", "major", "minor", "type")
    _fields = ("allow", "type", "major", "minor", "access")

    def __init__(
        self,
        allow: bool,
        type: str = "a",
        major: int | None = None,
        minor: int | None = None,
        access: str = "rwm",
    ) -> None:
        self.allow = allow
        self.type = type
        self.major = major
        self.minor = minor
        self.access = access

    def line(self) -> str:
        """The rule as the v1 devices controller reads it, e.g. ``c 1:3 rwm``."""
        major = "*" if self.major is None else str(self.major)
        minor = "*" if self.minor is None else str(self.minor)
        return f"{self.type} {major}:{minor} {self.access}"

    @property
    def is_everything(self) -> bool:
        """True for ``a *:* rwm``: the rule that switches the default, not an exception.

        The kernel treats any ``a`` rule as "all devices" whatever the numbers say.
        """
        return self.type == "a"


class Resources(Value):
    """The limits of one container; ``None`` leaves a knob untouched."""

    __slots__ = (
        "blkio_weight",
        "cpu_period",
        "cpu_quota",
        "cpu_shares",
        "cpuset_cpus",
        "cpuset_mems",
        "devices",
        "disable_oom_killer",
        "memory_limit",
        "memory_reservation",
        "memory_swap",
        "memory_swappiness",
        "pids_limit",
    )

    # Field order, as in the constructor (used by __eq__, __hash__ and __repr__).
    _fields = (
        "memory_limit",
        "memory_reservation",
        "memory_swap",
        "cpu_shares",
        "cpu_quota",
        "cpu_period",
        "cpuset_cpus",
        "cpuset_mems",
        "pids_limit",
        "blkio_weight",
        "devices",
        "disable_oom_killer",
        "memory_swappiness",
    )

    def __init__(
        self,
        memory_limit: int | None = None,
        memory_reservation: int | None = None,
        memory_swap: int | None = None,
        cpu_shares: int | None = None,
        cpu_quota: int | None = None,
        cpu_period: int | None = None,
        cpuset_cpus: str | None = None,
        cpuset_mems: str | None = None,
        pids_limit: int | None = None,
        blkio_weight: int | None = None,
        devices: tuple[DeviceRule, ...] = (),
        disable_oom_killer: bool | None = None,
        memory_swappiness: int | None = None,
    ) -> None:
        self.memory_limit = memory_limit
        self.memory_reservation = memory_reservation
        self.memory_swap = memory_swap
        self.cpu_shares = cpu_shares
        self.cpu_quota = cpu_quota
        self.cpu_period = cpu_period
        self.cpuset_cpus = cpuset_cpus
        self.cpuset_mems = cpuset_mems
        self.pids_limit = pids_limit
        self.blkio_weight = blkio_weight
        self.devices = devices
        # memory.disableOOMKiller: True writes memory.oom_control (v1 only); as runc,
        # false is "leave it" (None), since a new cgroup has the killer enabled
        self.disable_oom_killer = disable_oom_killer
        self.memory_swappiness = memory_swappiness  # 0..100, memory.swappiness (v1 only)

    @property
    def cpu_weight(self) -> int | None:
        """cgroup v2 ``cpu.weight`` derived from v1 shares, with runc's formula."""
        if self.cpu_shares is None:
            return None
        return 1 + ((self.cpu_shares - 2) * 9999) // 262142

    @property
    def io_weight(self) -> int | None:
        """cgroup v2 ``io.weight`` derived from a blkio weight (10..1000 -> 1..10000)."""
        if self.blkio_weight is None:
            return None
        return 1 + ((self.blkio_weight - 10) * 9999) // 990

    @classmethod
    def from_oci(cls, d: dict[str, Any] | None) -> Resources:
        """Parse ``linux.resources``; raise InvalidArgument naming the bad field."""
        if d is None:
            return cls()
        _mapping(d, PREFIX)
        memory = _section(d, "memory")
        cpu = _section(d, "cpu")
        pids = _section(d, "pids")
        block_io = _section(d, "blockIO")

        memory_limit = _memory_value(memory, "memory.limit")
        memory_swap = _memory_value(memory, "memory.swap")
        if (
            memory_limit is not None
            and memory_swap is not None
            and memory_limit > 0
            and 0 < memory_swap < memory_limit
        ):
            raise errors.InvalidArgument(
                f"{PREFIX}.memory.swap: {memory_swap} is below memory.limit {memory_limit};"
                " swap is the memory+swap total, so it must be at least the memory limit"
                " (or -1 for unlimited)"
            )
        shares = _unset_zero(_int(cpu, "cpu.shares", minimum=0))
        if shares is not None and not MIN_SHARES <= shares <= MAX_SHARES:
            raise errors.InvalidArgument(
                f"{PREFIX}.cpu.shares: {shares} is outside {MIN_SHARES}..{MAX_SHARES}"
            )
        quota = _unset_zero(_int(cpu, "cpu.quota", minimum=-1))
        period = _unset_zero(_int(cpu, "cpu.period", minimum=0))
        weight = _unset_zero(_int(block_io, "blockIO.weight", minimum=0))
        if weight is not None and not MIN_BLKIO_WEIGHT <= weight <= MAX_BLKIO_WEIGHT:
            raise errors.InvalidArgument(
                f"{PREFIX}.blockIO.weight: {weight} is outside"
                f" {MIN_BLKIO_WEIGHT}..{MAX_BLKIO_WEIGHT} (0 leaves it unset)"
            )
        swappiness = _int(memory, "memory.swappiness", minimum=0)
        if swappiness is not None and swappiness > 100:
            raise errors.InvalidArgument(
                f"{PREFIX}.memory.swappiness: {swappiness} is outside 0..100"
            )
        return cls(
            memory_limit=memory_limit,
            memory_reservation=_memory_value(memory, "memory.reservation"),
            memory_swap=memory_swap,
            cpu_shares=shares,
            cpu_quota=quota,
            cpu_period=period,
            cpuset_cpus=_cpu_list(cpu, "cpu.cpus"),
            cpuset_mems=_cpu_list(cpu, "cpu.mems"),
            pids_limit=_int(pids, "pids.limit"),
            blkio_weight=weight,
            devices=_devices(d.get("devices")),
            disable_oom_killer=_oom_killer(memory),
            memory_swappiness=swappiness,
        )


def _mapping(value: object, field: str) -> dict[str, Any]:
    # JSON objects are dicts; a dict check avoids importing collections.abc on the start path.
    if not isinstance(value, dict):
        raise errors.InvalidArgument(f"{field}: expected an object, got {value!r}")
    return value


def _section(d: dict[str, Any], name: str) -> dict[str, Any]:
    value = d.get(name)
    if value is None:
        return {}
    return _mapping(value, f"{PREFIX}.{name}")


def _int(section: dict[str, Any], field: str, *, minimum: int | None = None) -> int | None:
    """The integer at ``field`` (dotted, section first), or None when absent."""
    value = section.get(field.split(".", 1)[1])
    if value is None:
        return None
    # bool is an int subclass, but `true` as a limit is a spec error, not 1.
    if isinstance(value, bool) or not isinstance(value, int):
        raise errors.InvalidArgument(f"{PREFIX}.{field}: expected an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise errors.InvalidArgument(
            f"{PREFIX}.{field}: expected an integer >= {minimum}, got {value!r}"
        )
    return value


def _oom_killer(memory: dict[str, Any]) -> bool | None:
    value = memory.get("disableOOMKiller")
    if value is None:
        return None
    if not isinstance(value, bool):
        raise errors.InvalidArgument(
            f"{PREFIX}.memory.disableOOMKiller: expected true or false, got {value!r}"
        )
    return True if value else None


def _unset_zero(value: int | None) -> int | None:
    return None if value == 0 else value


def _memory_value(section: dict[str, Any], field: str) -> int | None:
    """Memory sizes: bytes > 0, -1 for unlimited, 0 for unset (as runc)."""
    value = _int(section, field)
    if value is not None and value < -1:
        raise errors.InvalidArgument(
            f"{PREFIX}.{field}: expected a byte count or -1 for unlimited, got {value!r}"
        )
    return _unset_zero(value)


def _cpu_list(section: dict[str, Any], field: str) -> str | None:
    value = section.get(field.split(".", 1)[1])
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not _is_cpu_list(value):
        raise errors.InvalidArgument(
            f"{PREFIX}.{field}: expected a list like '0-3,5', got {value!r}"
        )
    return value.replace(" ", "")


def _is_cpu_list(text: str) -> bool:
    """True for a list like ``0-3, 5``: ranges or numbers, blanks allowed around commas."""
    for item in text.split(","):
        low, dash, high = item.strip().partition("-")
        if not low.isdecimal() or (dash and not high.isdecimal()):
            return False
    return True


def _devices(value: object) -> tuple[DeviceRule, ...]:
    if value is None:
        return ()
    if not isinstance(value, list | tuple):
        raise errors.InvalidArgument(f"{PREFIX}.devices: expected a list, got {value!r}")
    return tuple(_device(entry, f"{PREFIX}.devices[{i}]") for i, entry in enumerate(value))


def _device(entry: object, field: str) -> DeviceRule:
    d = _mapping(entry, field)
    allow = d.get("allow")
    if not isinstance(allow, bool):
        raise errors.InvalidArgument(f"{field}.allow: expected true or false, got {allow!r}")
    kind = d.get("type", "a") or "a"
    if kind not in ("a", "b", "c"):
        raise errors.InvalidArgument(f"{field}.type: expected 'a', 'b' or 'c', got {kind!r}")
    numbers: list[int | None] = []
    for key in ("major", "minor"):
        n = d.get(key)
        # -1 is how some generators spell the wildcard.
        if n is None or n == -1:
            numbers.append(None)
        elif isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise errors.InvalidArgument(f"{field}.{key}: expected a device number >= 0, got {n!r}")
        else:
            numbers.append(n)
    access = d.get("access", "rwm") or "rwm"
    if not isinstance(access, str) or not set(access) <= set("rwm"):
        raise errors.InvalidArgument(f"{field}.access: expected letters from 'rwm', got {access!r}")
    # Canonical order, so equal rules compare equal and the kernel gets a stable string.
    access = "".join(c for c in "rwm" if c in access)
    return DeviceRule(allow=allow, type=kind, major=numbers[0], minor=numbers[1], access=access)
