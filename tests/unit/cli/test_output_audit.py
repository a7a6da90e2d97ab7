"""Small formatting rules found by comparing with the docker CLI 28."""

from __future__ import annotations

from dockyard.cli import output
from dockyard.cli.containers import time_arg
from dockyard.cli.system import ansic_time


def test_natural_order_of_volume_and_network_names() -> None:
    names = ["0a508", "00b8b", "net10", "net9", "b", "a1", "a01", "A", "01", "1"]
    ordered = sorted(names, key=output.natural_key)
    # numbers by value and before letters; fewer leading zeros first (sortorder)
    assert ordered == ["0a508", "00b8b", "1", "01", "A", "a1", "a01", "b", "net9", "net10"]


def test_go_time_string_of_api_times() -> None:
    assert (
        output.go_time_string("2026-11-27T21:36:34.606891566Z")
        == "2026-11-27 21:36:34.606891566 +0000 UTC"
    )
    assert output.go_time_string("2026-11-27T21:36:34.5000Z") == "2026-11-27 21:36:34.5 +0000 UTC"
    assert output.go_time_string("2026-11-27T21:36:34+02:00") == ("2026-11-27 21:36:34 +0200 +0200")
    assert output.go_time_string("") == ""


def test_time_arg_keeps_nanoseconds() -> None:
    assert time_arg("2026-11-27T21:46:25.016305347Z") == "1795815985.016305347"
    assert time_arg("2026-11-27T21:46:25Z") == "1795815985.000000000"
    assert time_arg("1700000000.5") == "1700000000.5"
    assert time_arg("10m", now=1000.0) == "400.000000000"


def test_version_build_time_in_go_ansic() -> None:
    import time

    text = ansic_time("2026-11-27T18:30:03.000000000+00:00")
    assert text == time.strftime("%a %b %e %H:%M:%S %Y", time.localtime(1795804203))
    assert ansic_time("not a time") == "not a time"
