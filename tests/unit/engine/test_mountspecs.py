"""Mount requests from a create body: ``-v`` specs, ``--mount`` documents, image
``VOLUME``s, dockerd's errors, and the OCI mounts they become."""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.engine.containerrecord import MountPoint
from dockyard.engine.mountspecs import (
    MountRequest,
    oci_mounts,
    parse_bind,
    parse_mount,
    plan,
    tmpfs_options,
    valid_mode,
)
from dockyard.errors import InvalidArgument, NotSupported


def test_named_volume_bind() -> None:
    req = parse_bind("data:/srv/data")
    assert req == MountRequest(type="volume", destination="/srv/data", source="data", mode="z")


def test_host_bind_read_only_with_propagation() -> None:
    req = parse_bind("/tmp/x/../y:/y:ro,rslave")
    assert (req.type, req.source, req.rw, req.propagation, req.mode) == (
        "bind", "/tmp/y", False, "rslave", "ro,rslave",
    )  # fmt: skip


def test_plain_host_bind_is_rprivate_and_rw() -> None:
    req = parse_bind("/srv:/srv")
    assert (req.type, req.rw, req.propagation, req.mode) == ("bind", True, "rprivate", "")


def test_destination_only_is_an_anonymous_volume() -> None:
    req = parse_bind("/data")
    assert (req.type, req.source, req.destination) == ("volume", "", "/data")


def test_nocopy_turns_copy_up_off() -> None:
    assert parse_bind("v1:/d:nocopy").copy_data is False
    assert parse_bind("v1:/d").copy_data is True


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("a:b:c:d", "invalid volume specification: 'a:b:c:d'"),
        (":/x", "invalid volume specification: ':/x'"),
        ("/x:rw", "invalid volume specification: '/x:rw'"),
        ("/x:/y:rx", "invalid mode: rx"),
        ("/x:/y:ro,rw", "invalid mode: ro,rw"),
        ("v1:rel", "mount path must be absolute"),
        ("v1:/", "destination can't be '/'"),
        ("/h:/c:nocopy", 'type "bind": field VolumeOptions must not be specified'),
        ("v1:/c:shared", 'type "volume": field BindOptions must not be specified'),
    ],
)
def test_bad_binds(spec: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message.replace("(", r"\(")):
        parse_bind(spec)


def test_valid_modes() -> None:
    assert valid_mode("ro,z,rshared,nocopy,cached")
    assert not valid_mode("z,Z")
    assert not valid_mode("private,shared")
    assert not valid_mode("bogus")


def test_mount_documents() -> None:
    options = {"Propagation": "rshared", "NonRecursive": True}
    bind = parse_mount(
        {"Type": "bind", "Source": "/h", "Target": "/c", "ReadOnly": True, "BindOptions": options}
    )
    assert (bind.rw, bind.propagation, bind.recursive, bind.must_exist) == (
        False, "rshared", False, True,
    )  # fmt: skip
    driver = {"Name": "local", "Options": {"type": "tmpfs", "device": "tmpfs"}}
    volume_options = {"NoCopy": True, "Labels": {"a": "b"}, "DriverConfig": driver}
    vol = parse_mount(
        {"Type": "volume", "Source": "v", "Target": "/c", "VolumeOptions": volume_options}
    )
    assert (vol.mode, vol.copy_data, vol.volume_labels, vol.volume_options) == (
        "z", False, {"a": "b"}, {"type": "tmpfs", "device": "tmpfs"},
    )  # fmt: skip
    tmp = parse_mount({"Type": "tmpfs", "Target": "/t",
                       "TmpfsOptions": {"SizeBytes": 3 << 20, "Mode": 0o1777}})  # fmt: skip
    assert tmp.tmpfs_data == "mode=1777,size=3m"


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"Type": "bind", "Target": "/c"}, 'type "bind": field Source must not be empty'),
        ({"Type": "volume", "Source": "v"}, 'type "volume": field Target must not be empty'),
        ({"Type": "tmpfs", "Source": "x", "Target": "/t"}, "field Source must not be specified"),
        ({"Type": "volume", "Target": "/t", "ReadOnly": True}, "anonymous volumes"),
        ({"Type": "bind", "Source": "/h", "Target": "/c", "VolumeOptions": {"NoCopy": True}},
         "field VolumeOptions must not be specified"),
        ({"Type": "nfs", "Target": "/t"}, 'type "nfs": mount type unknown'),
    ],
)  # fmt: skip
def test_bad_mount_documents(doc: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        parse_mount(doc)


def test_subpath_is_refused_plainly() -> None:
    with pytest.raises(NotSupported):
        parse_mount({"Type": "volume", "Source": "v", "Target": "/t",
                     "VolumeOptions": {"Subpath": "a"}})  # fmt: skip


def test_tmpfs_sizes_use_the_largest_even_unit() -> None:
    assert tmpfs_options({"SizeBytes": 1 << 30}, False) == "size=1g"
    assert tmpfs_options({"SizeBytes": 1536}, True) == "ro,size=1536"
    assert tmpfs_options({"SizeBytes": 3072, "Mode": 0o700}, False) == "mode=700,size=3k"
    assert tmpfs_options({"SizeBytes": 1000}, False) == "size=1000"
    assert tmpfs_options(None, True) == "ro"


def test_plan_order_duplicates_and_image_volumes() -> None:
    reqs = plan(
        {"Volumes": {"/data": {}, "/logs": {}, "/cache": {}}},
        {"Binds": ["named:/data"], "Mounts": [{"Type": "tmpfs", "Target": "/run/x"}],
         "Tmpfs": {"/cache": ""}},
    )  # fmt: skip
    assert [(r.type, r.destination, r.source) for r in reqs] == [
        ("volume", "/data", "named"),
        ("tmpfs", "/run/x", ""),
        ("volume", "/logs", ""),  # /data is taken by the bind, /cache by the tmpfs
    ]
    assert reqs[2].mode == ""  # an image VOLUME's anonymous volume has no mode (dockerd)


@pytest.mark.parametrize(
    "host",
    [
        {"Binds": ["a1:/d", "/h:/d"]},
        {"Binds": ["a1:/d"], "Mounts": [{"Type": "volume", "Target": "/d"}]},
        {"Binds": ["a1:/d"], "Tmpfs": {"/d": ""}},
    ],
)
def test_duplicate_mount_points(host: dict[str, Any]) -> None:
    with pytest.raises(InvalidArgument, match="Duplicate mount point: /d"):
        plan({}, host)


def test_oci_mounts_parents_first_and_tmpfs_defaults() -> None:
    points = [
        MountPoint("bind", "/h/deep", "/a/b/c", "", True, "rprivate"),
        MountPoint("volume", "/v/_data", "/a", "z", False, "", name="v", driver="local"),
        MountPoint("tmpfs", "", "/t", "", True, "", data="size=1m"),
    ]
    out = oci_mounts(points, {"/a/b": "exec"})
    assert [m["destination"] for m in out] == ["/a", "/t", "/a/b", "/a/b/c"]
    by_dest = {m["destination"]: m for m in out}
    assert by_dest["/a"] == {"destination": "/a", "type": "bind", "source": "/v/_data",
                             "options": ["rbind", "ro", "rprivate"]}  # fmt: skip
    assert by_dest["/t"]["options"] == ["noexec", "nosuid", "nodev", "rprivate", "size=1m"]
    # a later "exec" overrides the default noexec (the runtime applies options in order)
    assert by_dest["/a/b"]["options"][-1] == "exec"
