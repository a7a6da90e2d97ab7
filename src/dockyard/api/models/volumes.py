"""Docker's JSON of volumes: Volume, VolumeListResponse, VolumePruneResponse, and the
``Volumes`` part of ``GET /system/df`` (with UsageData)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dockyard.engine.volumes import VolumeView
from dockyard.errors import InvalidArgument


def volume(v: VolumeView, usage: bool = False) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "CreatedAt": v.created_at,
        "Driver": v.driver,
        "Labels": v.labels,
        "Mountpoint": v.mountpoint,
        "Name": v.name,
        "Options": v.options,
        "Scope": v.scope,
    }
    if usage:
        doc["UsageData"] = {"Size": v.size, "RefCount": v.ref_count}
    return doc


def volume_list(found: Sequence[VolumeView]) -> dict[str, Any]:
    return {"Volumes": [volume(v) for v in found], "Warnings": []}


def create_options(body: Any) -> tuple[str, str, dict[str, str] | None, dict[str, str] | None]:
    """``VolumeCreateOptions``: (Name, Driver, DriverOpts, Labels); a wrong shape is a 400."""
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise InvalidArgument("the volume config must be a JSON object")

    def string_map(key: str) -> dict[str, str] | None:
        value = body.get(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise InvalidArgument(f"{key} must be an object of strings")
        return {str(k): str(v) for k, v in value.items()}

    name = body.get("Name") or ""
    driver = body.get("Driver") or ""
    if not isinstance(name, str) or not isinstance(driver, str):
        raise InvalidArgument("Name and Driver must be strings")
    return name, driver, string_map("DriverOpts"), string_map("Labels")
