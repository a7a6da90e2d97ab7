"""Hooks: run on the host with the container's state on stdin, at their lifecycle points."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dockyard.testing.lab import Lab

pytestmark = pytest.mark.requires("busybox")

HOOKS = ("prestart", "createRuntime", "poststart", "poststop")


def _hook(log: Path, name: str) -> dict[str, Any]:
    script = (
        f'cat > "{log}/{name}.json"; echo {name} >> "{log}/order"; echo "$X" > "{log}/{name}.env"'
    )
    return {"path": "/bin/sh", "args": ["sh", "-c", script], "env": [f"X=env-of-{name}"]}


def test_hooks_run_in_order_with_state(lab: Lab) -> None:
    log = lab.dir("hooks")
    cid, b = lab.bundle(args=("sh", "-c", "sleep 0.1"), hooks={h: [_hook(log, h)] for h in HOOKS})
    res = lab.runtime.run(cid, b.path)
    assert res.returncode == 0, res.stderr
    order = (log / "order").read_text().split()
    # the spec orders create-time hooks before start, poststart after, poststop on delete;
    # runc and crun both run prestart before createRuntime (the same point of create)
    assert order == ["prestart", "createRuntime", "poststart", "poststop"]
    states = {h: json.loads((log / f"{h}.json").read_text()) for h in HOOKS}
    for h, state in states.items():
        assert state["id"] == cid, h
        assert state["bundle"] == str(b.path), h
        assert (log / f"{h}.env").read_text() == f"env-of-{h}\n"
    pid = states["prestart"]["pid"]
    assert pid > 0
    assert states["createRuntime"]["pid"] == pid
    assert states["poststart"]["pid"] == pid
    assert states["poststop"]["status"] == "stopped"
    # The spec does not pin the status a hook sees and the references disagree: runc says
    # creating/creating/created, crun created/created/running. Ours: the state the
    # container is in at that point: "creating" before start, "running" after it.
    create_time = {states["prestart"]["status"], states["createRuntime"]["status"]}
    if lab.name == "dockyard":
        assert create_time == {"creating"}
        assert states["poststart"]["status"] == "running"
    else:
        assert create_time <= {"creating", "created"}
        assert states["poststart"]["status"] in ("created", "running")


def test_failing_prestart_hook_fails_create(lab: Lab) -> None:
    hook = {"path": "/bin/sh", "args": ["sh", "-c", "exit 3"]}
    cid, b = lab.bundle(args=("true",), hooks={"prestart": [hook]})
    res = lab.runtime.run(cid, b.path)
    assert res.returncode != 0


def test_failing_poststart_hook_is_only_a_warning(lab: Lab) -> None:
    # runtime spec: "If any poststart hook fails, the runtime MUST log a warning, but the
    # remaining hooks and lifecycle continue as if the hook had succeeded."
    log = lab.dir("hooks")
    failing = {"path": "/bin/sh", "args": ["sh", "-c", "exit 3"]}
    cid, b = lab.bundle(
        args=("sh", "-c", "echo ran"),
        hooks={"poststart": [failing, _hook(log, "poststart")]},
    )
    res = lab.runtime.run(cid, b.path)
    if lab.name == "runc" and res.returncode != 0:
        pytest.xfail("runc 1.1 fails the container when a poststart hook fails")
    assert (res.returncode, res.stdout) == (0, "ran\n")
    assert (log / "order").read_text() == "poststart\n"
