"""dockyard.cgroups stays import-light: the OCI runtime imports it on every container start.

A fresh interpreter (``-I -S``: no site, no user paths, as the runtime runs) imports the
package and runs the calls the runtime makes at start-up; none of the costly stdlib
modules may show up in ``sys.modules`` afterwards.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dockyard

SRC = str(Path(dockyard.__file__).resolve().parent.parent)

FORBIDDEN = (
    "dataclasses",
    "typing",
    "pathlib",
    "logging",
    "re",
    "enum",
    "signal",
    "inspect",
    "collections",
    "collections.abc",
    "functools",
    "shutil",
    "subprocess",
    "json",
)


def _modules_after(code: str) -> set[str]:
    child = (
        f"import sys; sys.path.insert(0, {SRC!r}); {code}; print('\\n'.join(sorted(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-I", "-S", "-c", child], capture_output=True, text=True, check=True
    )
    return set(out.stdout.split())


def test_import_pulls_in_no_costly_module() -> None:
    loaded = _modules_after("import dockyard.cgroups")
    assert "dockyard.cgroups" in loaded
    assert sorted(loaded.intersection(FORBIDDEN)) == []


def test_start_path_calls_pull_in_no_costly_module(tmp_path: Path) -> None:
    # The runtime's calls: manager_for, Resources.from_oci, default_path and a manager's
    # methods, on a fake v1 and a fake v2 hierarchy so that every manager is loaded.
    (tmp_path / "v1/memory").mkdir(parents=True)
    (tmp_path / "v1/memory/tasks").write_text("")
    (tmp_path / "v1/unified").mkdir()
    (tmp_path / "v1/unified/cgroup.controllers").write_text("")
    (tmp_path / "v2").mkdir()
    (tmp_path / "v2/cgroup.controllers").write_text("")
    code = (
        "import dockyard.cgroups as c\n"
        "r = c.Resources.from_oci({'memory': {'limit': 1 << 20}, 'cpu': {'cpus': '0-1'},"
        " 'devices': [{'allow': False}]})\n"
        "path = c.default_path('probe')\n"
        f"for root in ({str(tmp_path / 'v1')!r}, {str(tmp_path / 'v2')!r}):\n"
        "    m = c.manager_for(path, root)\n"
        "    m.create(); m.exists(); m.paths(); m.pids(); m.kill_all(9)\n"
        "    m.destroy()\n"
        "c.manager_for('/dyt-probe')"
    )
    loaded = _modules_after(code)
    assert {"dockyard.cgroups.hybrid", "dockyard.cgroups.v2"} <= loaded
    assert sorted(loaded.intersection(FORBIDDEN)) == []


def test_lazy_exports_resolve() -> None:
    from dockyard import cgroups

    for name in cgroups.__all__:
        assert getattr(cgroups, name) is not None
    assert set(cgroups.__all__) <= set(dir(cgroups))
