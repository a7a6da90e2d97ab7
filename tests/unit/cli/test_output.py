"""Formatting that must match the docker CLI byte for byte: sizes, durations, tables."""

from __future__ import annotations

import pytest

from dockyard.cli import output


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0B"),
        (999, "999B"),
        (1000, "1kB"),
        (4261036, "4.26MB"),
        (4_360_000, "4.36MB"),
        (123_456_789, "123MB"),
        (1_500_000_000, "1.5GB"),
        (999_500, "1e+03kB"),  # Go's %.3g, kept for fidelity
    ],
)
def test_human_size_is_go_units_with_three_digits(size: int, text: str) -> None:
    assert output.human_size(size) == text


def test_human_size_precision_four_is_docker_humansize() -> None:
    assert output.human_size(16_430_000, 4) == "16.43MB"


def test_bytes_size_is_binary() -> None:
    assert output.bytes_size(8_265_000_000) == "7.697GiB"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.4, "Less than a second"),
        (1, "1 second"),
        (59, "59 seconds"),
        (60, "About a minute"),
        (119, "About a minute"),
        (120, "2 minutes"),
        (3599, "59 minutes"),
        (3600, "About an hour"),
        (5399, "About an hour"),
        (5400, "2 hours"),
        (47 * 3600, "47 hours"),
        (48 * 3600, "2 days"),
        (14 * 86400, "2 weeks"),
        (60 * 86400, "2 months"),
        (800 * 86400, "2 years"),
    ],
)
def test_human_duration_is_go_units(seconds: float, text: str) -> None:
    assert output.human_duration(seconds) == text


def test_since_appends_ago() -> None:
    assert output.since(1000, now=1000 + 7200) == "2 hours ago"


def test_truncate_id_and_ellipsis() -> None:
    assert output.truncate_id("sha256:" + "ab" * 32) == "abababababab"
    assert output.truncate_id("<missing>") == "<missing>"
    text = "/bin/sh -c #(nop) ADD file:" + "x" * 60
    cut = output.ellipsis(text, 45)
    assert len(cut) == 45 and cut.endswith("…")
    assert output.ellipsis("short", 45) == "short"


def test_tabwriter_pads_by_three_with_min_width_ten() -> None:
    text = output.table(
        ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"],
        [["busybox", "latest", "abcdefabcdef", "2 hours ago", "4.26MB"]],
    )
    assert text.splitlines() == [
        "REPOSITORY   TAG       IMAGE ID       CREATED       SIZE",
        "busybox      latest    abcdefabcdef   2 hours ago   4.26MB",
    ]


def test_tabwriter_blocks_are_runs_of_lines_with_the_column() -> None:
    # docker version: lines without a tab split the blocks; min width 20, padding 1
    text = output.tabwrite("Client:\n Version:\t1\n\nServer:\n  API version:\t1.45\n", 20, 1)
    assert text == ("Client:\n Version:           1\n\nServer:\n  API version:      1.45\n")


def test_tabwriter_last_cell_is_not_padded_and_unicode_counts_runes() -> None:
    text = output.tabwrite("a…\tb\nlonger-cell\tc\n")
    assert text == "a…            b\nlonger-cell   c\n"


def test_render_rows_table_and_plain() -> None:
    rows = [{"ID": "abc", "Tag": "<none>"}]
    headers = {"ID": "IMAGE ID", "Tag": "TAG"}
    assert output.render_rows("table {{.ID}}\t{{.Tag}}", rows, headers) == (
        "IMAGE ID   TAG\nabc        <none>\n"
    )
    assert output.render_rows("{{.ID}}: {{.Tag}}", rows, headers) == "abc: <none>\n"
    assert output.render_rows("json", rows, headers) == (
        '{"ID":"abc","Tag":"\\u003cnone\\u003e"}\n'
    )
