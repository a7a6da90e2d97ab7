"""Pure logic of images: name normalization, --change parsing, config building."""

from __future__ import annotations

import pytest

from dockyard.errors import InvalidArgument
from dockyard.images.config import canonical_json, format_time, new_config, parse_time
from dockyard.images.instructions import apply_changes, parse_change
from dockyard.images.names import familiar_name, normalize_name, normalize_tag


@pytest.mark.parametrize(
    ("given", "full"),
    [
        ("busybox", "docker.io/library/busybox:latest"),
        ("busybox:1.36", "docker.io/library/busybox:1.36"),
        ("user/app", "docker.io/user/app:latest"),
        ("index.docker.io/busybox", "docker.io/library/busybox:latest"),
        ("localhost/app:v1", "localhost/app:v1"),
        ("localhost:5000/a/b", "localhost:5000/a/b:latest"),
        ("quay.io/x/y:z", "quay.io/x/y:z"),
        ("busybox@sha256:" + "a" * 64, "docker.io/library/busybox@sha256:" + "a" * 64),
    ],
)
def test_normalize(given: str, full: str) -> None:
    assert normalize_name(given) == full


@pytest.mark.parametrize("bad", ["", "Busybox", "a:b:c", "a//b", "-x", "a" * 64, "x:" + "t" * 200])
def test_bad_names(bad: str) -> None:
    with pytest.raises(InvalidArgument):
        normalize_name(bad)


def test_familiar_and_tag() -> None:
    assert familiar_name("docker.io/library/busybox:latest") == "busybox:latest"
    assert familiar_name("docker.io/user/app:1") == "user/app:1"
    assert familiar_name("quay.io/x/y:z") == "quay.io/x/y:z"
    with pytest.raises(InvalidArgument, match="digest"):
        normalize_tag("busybox@sha256:" + "a" * 64)


@pytest.mark.parametrize(
    ("text", "field", "value"),
    [
        ('CMD ["a", "b"]', "Cmd", ["a", "b"]),
        ("CMD echo hi", "Cmd", ["/bin/sh", "-c", "echo hi"]),
        ('entrypoint ["/e"]', "Entrypoint", ["/e"]),
        ('ENV A=1 B="x y"', "Env", ["A=1", "B=x y"]),
        ("ENV LEGACY some value", "Env", ["LEGACY=some value"]),
        ("WORKDIR /a", "WorkingDir", "/a"),
        ("USER 1000:1000", "User", "1000:1000"),
        (
            "EXPOSE 80 53/udp 8000-8001",
            "ExposedPorts",
            {"80/tcp": {}, "53/udp": {}, "8000/tcp": {}, "8001/tcp": {}},
        ),
        ('LABEL a=b c="d e"', "Labels", {"a": "b", "c": "d e"}),
        ('VOLUME ["/v", "/w"]', "Volumes", {"/v": {}, "/w": {}}),
        ("VOLUME /v /w", "Volumes", {"/v": {}, "/w": {}}),
        ("STOPSIGNAL SIGTERM", "StopSignal", "SIGTERM"),
    ],
)
def test_changes(text: str, field: str, value: object) -> None:
    assert apply_changes({}, [text])[field] == value


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("RUN true", "not a valid change command"),
        ("FROM x", "not a valid change command"),
        ("EXPOSE http", "invalid port"),
        ("EXPOSE 70000", "invalid port range"),
        ("LABEL novalue", "not key=value"),
        ("ENV X", "missing value"),
        ("USER a b", "exactly one"),
        ("CMD", "needs a command"),
        ("", "not a valid change command"),
        ("ENV A='unterminated", "cannot parse"),
    ],
)
def test_bad_changes(text: str, match: str) -> None:
    with pytest.raises(InvalidArgument, match=match):
        parse_change(text)


def test_change_semantics() -> None:
    base = {"Cmd": ["sh"], "Env": ["A=1", "B=2"], "WorkingDir": "/srv"}
    out = apply_changes(base, ["ENV A=3", "WORKDIR sub", 'ENTRYPOINT ["/e"]'])
    assert out["Env"] == ["B=2", "A=3"]
    assert out["WorkingDir"] == "/srv/sub"
    assert "Cmd" not in out  # ENTRYPOINT drops an inherited CMD
    kept = apply_changes(base, ['CMD ["x"]', 'ENTRYPOINT ["/e"]'])
    assert kept["Cmd"] == ["x"]
    assert base["Cmd"] == ["sh"]  # the input is not modified


def test_config_building() -> None:
    cfg = new_config(
        ["sha256:" + "1" * 64],
        container_config={"Cmd": ["sh"], "Env": [], "Labels": {}},
        created=0.0,
        architecture="amd64",
    )
    assert cfg["config"] == {"Cmd": ["sh"]}
    assert cfg["rootfs"] == {"type": "layers", "diff_ids": ["sha256:" + "1" * 64]}
    assert cfg["created"] == "1970-01-01T00:00:00Z"
    assert canonical_json(cfg) == canonical_json(dict(reversed(list(cfg.items()))))
    with pytest.raises(InvalidArgument, match="unknown"):
        new_config(container_config={"Bogus": 1})


def test_times() -> None:
    assert parse_time("2024-01-01T00:00:00Z") == 1704067200.0
    assert parse_time("2024-01-01T00:00:00.123456789Z") == pytest.approx(1704067200.123456)
    assert format_time(1704067200.5) == "2024-01-01T00:00:00.500000Z"
