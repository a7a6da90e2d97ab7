"""``VolumeService`` on a temp data root (local volumes without mount options: no root
needed): names, options, references, filters, prune, crash leftovers and events."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest

from dockyard.engine.events import EventLog
from dockyard.engine.localvolume import check_name
from dockyard.engine.volumes import ANONYMOUS_LABEL, VolumeService
from dockyard.errors import Conflict, InvalidArgument, NotFound

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


@pytest.fixture
def service(tmp_path: Path) -> VolumeService:
    svc = VolumeService(tmp_path, EventLog())
    run(svc.start())
    return svc


@pytest.mark.parametrize("name", ["ab", "a1", "my_vol.v-2", "0x"])
def test_good_names(name: str) -> None:
    check_name(name)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("a", "volume name is too short"),
        ("-ab", "includes invalid characters for a local volume name"),
        ("a/b", "If you intended to pass a host directory, use absolute path"),
        ("a b", "includes invalid characters"),
    ],
)
def test_bad_names(name: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        check_name(name)


def test_create_persists_and_reloads(service: VolumeService, tmp_path: Path) -> None:
    view = run(service.create("data", labels={"team": "a"}))
    assert view.mountpoint == str(tmp_path / "volumes" / "data" / "_data")
    assert Path(view.mountpoint).is_dir()
    record = json.loads((tmp_path / "volumes" / "data" / "volume.json").read_text())
    assert record["labels"] == {"team": "a"} and record["driver"] == "local"
    again = VolumeService(tmp_path)
    run(again.start())
    assert run(again.inspect("data")).labels == {"team": "a"}


def test_create_is_idempotent_by_name(service: VolumeService) -> None:
    first = run(service.create("data"))
    second = run(service.create("data", labels={"x": "y"}))
    assert first.created_at == second.created_at and second.labels is None


def test_options_are_checked(service: VolumeService) -> None:
    with pytest.raises(InvalidArgument, match='invalid option: "size"'):
        run(service.create("v1", options={"size": "1g"}))
    with pytest.raises(InvalidArgument, match='missing required option: "device"'):
        run(service.create("v1", options={"type": "tmpfs"}))
    with pytest.raises(NotFound, match='plugin "nfsplugin" not found'):
        run(service.create("v1", "nfsplugin"))
    assert run(service.list()) == []


def test_anonymous_volume(service: VolumeService) -> None:
    view = run(service.create())
    assert len(view.name) == 64 and view.anonymous
    assert view.labels == {ANONYMOUS_LABEL: ""}


def test_in_use_volume_cannot_be_removed_even_with_force(service: VolumeService) -> None:
    run(service.create("data", ref="c" * 64))
    for force in (False, True):
        with pytest.raises(Conflict, match=f"remove data: volume is in use - \\[{'c' * 64}\\]"):
            run(service.remove("data", force=force))
    run(service.release("data", "c" * 64))
    run(service.remove("data"))
    with pytest.raises(NotFound, match="get data: no such volume"):
        run(service.inspect("data"))
    run(service.remove("data", force=True))  # force: a missing volume is no error


def test_list_filters(service: VolumeService) -> None:
    run(service.create("web-data", labels={"app": "web", "tier": "front"}))
    run(service.create("db-data", labels={"app": "db"}, ref="c1"))
    anon = run(service.create()).name

    def names(**filters: list[str]) -> list[str]:
        return [v.name for v in run(service.list(filters))]

    assert names() == sorted([anon, "db-data", "web-data"])
    assert names(dangling=["true"]) == sorted([anon, "web-data"])
    assert names(dangling=["0"]) == ["db-data"]
    assert names(name=["data"]) == ["db-data", "web-data"]
    assert names(label=["app"]) == ["db-data", "web-data"]
    assert names(label=["app=web"]) == ["web-data"]
    assert names(label=["app", "tier=front"]) == ["web-data"]
    assert names(driver=["local"]) == sorted([anon, "db-data", "web-data"])
    assert names(driver=["other"]) == []
    with pytest.raises(InvalidArgument, match="invalid filter 'bogus'"):
        names(bogus=["x"])
    with pytest.raises(InvalidArgument, match="invalid filter 'dangling=maybe'"):
        names(dangling=["maybe"])


def test_prune(service: VolumeService) -> None:
    anon = run(service.create()).name
    used = run(service.create(ref="c1")).name
    run(service.create("keep", labels={"keep": "1"}))
    run(service.create("named"))
    Path(run(service.inspect(anon)).mountpoint, "f").write_bytes(b"12345")
    report = run(service.prune())
    assert report == {"VolumesDeleted": [anon], "SpaceReclaimed": 5}
    report = run(service.prune({"all": ["true"], "label!": ["keep"]}))
    assert report["VolumesDeleted"] == ["named"]
    assert sorted(v.name for v in run(service.list())) == sorted(["keep", used])
    with pytest.raises(InvalidArgument, match="invalid filter 'until'"):
        run(service.prune({"until": ["1h"]}))


def test_half_made_volume_dirs_are_cleared_at_load(tmp_path: Path) -> None:
    (tmp_path / "volumes" / "half" / "_data").mkdir(parents=True)
    svc = VolumeService(tmp_path)
    run(svc.start())
    assert run(svc.list()) == []
    assert not (tmp_path / "volumes" / "half").exists()


def test_df_sizes_and_references(service: VolumeService) -> None:
    run(service.create("data", ref="c1"))
    path = Path(run(service.inspect("data")).mountpoint)
    (path / "a").write_bytes(b"x" * 100)
    (path / "sub").mkdir()
    (path / "sub" / "b").write_bytes(b"y" * 50)
    (path / "hard").hardlink_to(path / "a")  # counted once
    (view,) = run(service.df())
    assert (view.size, view.ref_count) == (150, 1)


def test_events(tmp_path: Path) -> None:
    events = EventLog()
    svc = VolumeService(tmp_path, events)
    run(svc.start())
    run(svc.create("data"))
    run(svc.remove("data"))
    assert [(e.type, e.action, e.actor_id, dict(e.attributes)) for e in events.history()] == [
        ("volume", "create", "data", {"driver": "local"}),
        ("volume", "destroy", "data", {"driver": "local"}),
    ]
