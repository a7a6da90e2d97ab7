"""The runtime's container start path stays free of heavy imports (its start-up budget)."""

import subprocess
import sys
from pathlib import Path

import dockyard

SRC = str(Path(dockyard.__file__).parent.parent)
HEAVY = {
    "re", "enum", "logging", "dataclasses", "typing", "pathlib", "json", "subprocess",
    "argparse", "shutil", "inspect", "socket", "signal", "tempfile", "collections",
}  # fmt: skip
PARENT_PATH = (
    "dockyard.runtime.cli",
    "dockyard.runtime.commands",
    "dockyard.runtime.run",
    "dockyard.runtime.create",
    "dockyard.runtime.lifecycle",
    "dockyard.runtime.spec",
    "dockyard.runtime.state",
    "dockyard.cgroups.prime",
)
CHILD_PATH = ("dockyard.runtime.init", "dockyard.kernel.net", "dockyard.kernel.tty")


def loaded_after_importing(modules: tuple[str, ...]) -> set[str]:
    code = (
        f"import sys; sys.path.insert(0, {SRC!r}); "
        + "; ".join(f"import {m}" for m in modules)
        + "; print(' '.join(sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, check=True
    )
    return set(out.stdout.split())


def test_the_runtime_side_of_run_imports_nothing_heavy() -> None:
    assert loaded_after_importing(PARENT_PATH) & HEAVY == set()


def test_the_container_side_imports_nothing_heavy() -> None:
    assert loaded_after_importing(CHILD_PATH) & HEAVY == set()


def test_the_runtime_side_does_not_load_ctypes_before_forking() -> None:
    # ctypes (1-2 ms) is loaded only by create(), right before it forks the container
    # side (importing it in the forked child cost more); start, state, kill and
    # delete never pay for it
    assert "ctypes" not in loaded_after_importing(PARENT_PATH)
