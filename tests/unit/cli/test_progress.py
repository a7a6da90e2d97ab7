"""Docker's JSON message display: bars on a terminal, plain lines elsewhere."""

from __future__ import annotations

import io

import pytest

from dockyard.cli.errors import CommandFailed
from dockyard.cli.progress import MessageDisplay, progress_string, reading


@pytest.mark.parametrize(
    ("detail", "width", "text"),
    [
        ({"current": 1_050_000, "total": 2_140_000}, 80, "  1.05MB/2.14MB"),
        (
            {"current": 1_070_000, "total": 2_140_000},
            120,
            "[" + "=" * 25 + ">" + " " * 25 + "]   1.07MB/2.14MB",
        ),
        ({"current": 2_140_000, "total": 2_140_000}, 120, "[" + "=" * 50 + ">]   2.14MB/2.14MB"),
        ({"current": 3_000_000, "total": 0}, 120, "     3MB"),
        ({"current": 5, "total": 10, "units": "layers"}, 80, "5/10 layers"),
        ({"current": 0, "total": 0}, 80, ""),
        ({"current": 50, "total": 100, "start": 100}, 80, "     50B/100B 10 seconds"),
    ],
)
def test_progress_string_as_docker_draws_it(detail: dict[str, int], width: int, text: str) -> None:
    assert progress_string(detail, width, now=110) == text


def test_terminal_redraws_each_id_in_place(capsys: pytest.CaptureFixture[str]) -> None:
    display = MessageDisplay(terminal=True, width=80)
    display.show({"status": "Loading", "id": "a", "progressDetail": {"current": 1, "total": 2}})
    display.show({"status": "Loading", "id": "b", "progressDetail": {"current": 1, "total": 2}})
    display.show({"status": "Loading", "id": "a", "progressDetail": {"current": 2, "total": 2}})
    display.show({"status": "Loaded image: x:1"})
    out = capsys.readouterr().out
    assert out == (
        "\n\x1b[1A\x1b[2K\ra: Loading       1B/2B\r\x1b[1B"
        "\n\x1b[1A\x1b[2K\rb: Loading       1B/2B\r\x1b[1B"
        "\x1b[2A\x1b[2K\ra: Loading       2B/2B\r\x1b[2B"
        "Loaded image: x:1\n"
    )


def test_off_a_terminal_bars_are_left_out(capsys: pytest.CaptureFixture[str]) -> None:
    display = MessageDisplay(terminal=False)
    display.show({"status": "Loading", "id": "a", "progressDetail": {"current": 1, "total": 2}})
    display.show({"status": "Pull complete", "id": "a"})
    display.show({"stream": "Step 1/2\n"})
    assert capsys.readouterr().out == "a: Pull complete\nStep 1/2\n"
    with pytest.raises(CommandFailed, match="boom"):
        display.show({"errorDetail": {"message": "boom"}, "error": "boom"})


def test_reading_yields_everything_and_ends_at_the_total(
    capsys: pytest.CaptureFixture[str],
) -> None:
    data = b"x" * (600 * 1024)
    display = MessageDisplay(terminal=True, width=80)
    assert b"".join(reading(io.BytesIO(data), len(data), display, "t.tar")) == data
    assert capsys.readouterr().out.endswith("t.tar: Loading  614.4kB/614.4kB\r\x1b[1B")
