"""The JSON types of Docker's container ``Config``, ``HostConfig`` and
``NetworkingConfig``, checked before a create or a commit reads them.

dockerd decodes these bodies into Go structs, so a value of the wrong JSON type is a
400 ("json: cannot unmarshal string into Go struct field HostConfig.Memory of type
int64") before anything happens; without this check such a value would reach the
engine and fail there as a 500. ``null`` is accepted everywhere (Go's zero value), and
fields that are not listed are ignored, as Go's decoder ignores unknown fields.
"""

from __future__ import annotations

from typing import Any

from dockyard.errors import InvalidArgument

# kinds: str int bool strs (list of str) strslice (str or list of str) strmap (object of
# str) objmap (object of objects) obj list (of objects) ints (list of int), or a nested
# schema (an object with those fields), or ("list", schema) / ("map", schema)
Schema = dict[str, Any]

HEALTHCHECK: Schema = {
    "Test": "strslice", "Interval": "int", "Timeout": "int", "Retries": "int",
    "StartPeriod": "int", "StartInterval": "int",
}  # fmt: skip
CONFIG: Schema = {
    "Hostname": "str", "Domainname": "str", "User": "str", "AttachStdin": "bool",
    "AttachStdout": "bool", "AttachStderr": "bool", "ExposedPorts": "objmap", "Tty": "bool",
    "OpenStdin": "bool", "StdinOnce": "bool", "Env": "strs", "Cmd": "strslice",
    "Healthcheck": HEALTHCHECK, "ArgsEscaped": "bool", "Image": "str", "Volumes": "objmap",
    "WorkingDir": "str", "Entrypoint": "strslice", "NetworkDisabled": "bool",
    "MacAddress": "str", "OnBuild": "strs", "Labels": "strmap", "StopSignal": "str",
    "StopTimeout": "int", "Shell": "strslice",
}  # fmt: skip
_DEVICE_RATE: Schema = {"Path": "str", "Rate": "int"}
_WEIGHT_DEVICE: Schema = {"Path": "str", "Weight": "int"}
_MOUNT: Schema = {
    "Target": "str", "Source": "str", "Type": "str", "ReadOnly": "bool",
    "Consistency": "str", "BindOptions": "obj", "VolumeOptions": "obj", "TmpfsOptions": "obj",
}  # fmt: skip
RESOURCES: Schema = {
    "CpuShares": "int", "Memory": "int", "NanoCpus": "int", "CgroupParent": "str",
    "BlkioWeight": "int", "BlkioWeightDevice": ("list", _WEIGHT_DEVICE),
    "BlkioDeviceReadBps": ("list", _DEVICE_RATE), "BlkioDeviceWriteBps": ("list", _DEVICE_RATE),
    "BlkioDeviceReadIOps": ("list", _DEVICE_RATE),
    "BlkioDeviceWriteIOps": ("list", _DEVICE_RATE), "CpuPeriod": "int", "CpuQuota": "int",
    "CpuRealtimePeriod": "int", "CpuRealtimeRuntime": "int", "CpusetCpus": "str",
    "CpusetMems": "str",
    "Devices": ("list", {"PathOnHost": "str", "PathInContainer": "str",
                         "CgroupPermissions": "str"}),
    "DeviceCgroupRules": "strs", "DeviceRequests": "list", "KernelMemoryTCP": "int",
    "MemoryReservation": "int", "MemorySwap": "int", "MemorySwappiness": "int",
    "OomKillDisable": "bool", "PidsLimit": "int",
    "Ulimits": ("list", {"Name": "str", "Soft": "int", "Hard": "int"}),
    "CpuCount": "int", "CpuPercent": "int", "IOMaximumIOps": "int",
    "IOMaximumBandwidth": "int",
}  # fmt: skip
HOST_CONFIG: Schema = {
    **RESOURCES,
    "Binds": "strs", "ContainerIDFile": "str",
    "LogConfig": {"Type": "str", "Config": "strmap"}, "NetworkMode": "str",
    "PortBindings": ("map", ("list", {"HostIp": "str", "HostPort": "str"})),
    "RestartPolicy": {"Name": "str", "MaximumRetryCount": "int"}, "AutoRemove": "bool",
    "VolumeDriver": "str", "VolumesFrom": "strs", "ConsoleSize": "ints",
    "Annotations": "strmap", "CapAdd": "strslice", "CapDrop": "strslice",
    "CgroupnsMode": "str", "Dns": "strs", "DnsOptions": "strs", "DnsSearch": "strs",
    "ExtraHosts": "strs", "GroupAdd": "strs", "IpcMode": "str", "Cgroup": "str",
    "Links": "strs", "OomScoreAdj": "int", "PidMode": "str", "Privileged": "bool",
    "PublishAllPorts": "bool", "ReadonlyRootfs": "bool", "SecurityOpt": "strs",
    "StorageOpt": "strmap", "Tmpfs": "strmap", "UTSMode": "str", "UsernsMode": "str",
    "ShmSize": "int", "Sysctls": "strmap", "Runtime": "str", "Isolation": "str",
    "Mounts": ("list", _MOUNT), "MaskedPaths": "strs", "ReadonlyPaths": "strs",
    "Init": "bool",
}  # fmt: skip
ENDPOINT: Schema = {
    "IPAMConfig": {"IPv4Address": "str", "IPv6Address": "str", "LinkLocalIPs": "strs"},
    "Links": "strs", "Aliases": "strs", "MacAddress": "str", "NetworkID": "str",
    "EndpointID": "str", "Gateway": "str", "IPAddress": "str", "IPPrefixLen": "int",
    "DriverOpts": "strmap", "DNSNames": "strs",
}  # fmt: skip
CREATE: Schema = {
    **CONFIG,
    "HostConfig": HOST_CONFIG,
    "NetworkingConfig": {"EndpointsConfig": ("map", ENDPOINT)},
}

_GO_TYPES = {
    "str": "string", "int": "int64", "bool": "bool", "strs": "[]string",
    "strslice": "strslice.StrSlice", "strmap": "map[string]string",
    "objmap": "map[string]struct {}", "obj": "struct", "list": "[]struct", "ints": "[]int",
}  # fmt: skip


def check_create(body: dict[str, Any]) -> None:
    """A ``POST /containers/create`` body: InvalidArgument (400) for a wrong type."""
    _check(body, CREATE, "")


def check_config(body: dict[str, Any]) -> None:
    """A container ``Config`` (the body of ``POST /commit``)."""
    _check(body, CONFIG, "")


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _fail(value: Any, path: str, go_type: str) -> InvalidArgument:
    return InvalidArgument(
        f"json: cannot unmarshal {_json_kind(value)} into Go struct field {path} of type "
        f"{go_type}: send a {go_type} there"
    )


def _check(doc: dict[str, Any], schema: Schema, prefix: str) -> None:
    for key, kind in schema.items():
        if key in doc and doc[key] is not None:
            _value(doc[key], kind, f"{prefix}{key}")


def _value(value: Any, kind: Any, path: str) -> None:
    if isinstance(kind, dict):
        if not isinstance(value, dict):
            raise _fail(value, path, "struct")
        _check(value, kind, path + ".")
    elif isinstance(kind, tuple):
        shape, inner = kind
        if shape == "list":
            if not isinstance(value, list):
                raise _fail(value, path, "[]struct")
            for item in value:
                if item is not None:
                    _value(item, inner, path)
        else:
            if not isinstance(value, dict):
                raise _fail(value, path, "map")
            for item in value.values():
                if item is not None:
                    _value(item, inner, path)
    elif not _fits(value, kind):
        raise _fail(value, path, _GO_TYPES[kind])


def _fits(value: Any, kind: str) -> bool:
    if kind == "str":
        return isinstance(value, str)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "strs":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if kind == "strslice":
        return isinstance(value, str) or _fits(value, "strs")
    if kind == "strmap":
        return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
    if kind == "objmap":
        return isinstance(value, dict) and all(isinstance(v, dict | None) for v in value.values())
    if kind == "obj":
        return isinstance(value, dict)
    if kind == "list":
        return isinstance(value, list) and all(isinstance(v, dict) for v in value)
    if kind == "ints":
        return isinstance(value, list) and all(
            isinstance(v, int) and not isinstance(v, bool) for v in value
        )
    raise AssertionError(f"unknown kind {kind}")
