"""Go template control flow, variables and functions in --format (the audit's list)."""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.cli.errors import CommandFailed
from dockyard.cli.template import Template

INSPECT: dict[str, Any] = {
    "Name": "/web",
    "Path": "sleep",
    "Args": ["1000", "x"],
    "State": {"Status": "running", "Running": True, "Paused": False, "Pid": 42},
    "Config": {"Labels": {"b": "1", "a": "<2>"}, "Entrypoint": None, "Env": []},
    "Mounts": [{"Name": "v1", "Destination": "/a"}, {"Name": "v2", "Destination": "/b"}],
}


@pytest.mark.parametrize(
    ("fmt", "text"),
    [
        ("{{.State.Status}}", "running"),
        ("{{range .Mounts}}{{.Name}}:{{.Destination}} {{end}}", "v1:/a v2:/b "),
        ('{{join .Args ","}}', "1000,x"),
        ("{{if .State.Running}}up{{else}}down{{end}}", "up"),
        ("{{if and .State.Running (not .State.Paused)}}yes{{else}}no{{end}}", "yes"),
        ('{{if eq .State.Status "exited"}}E{{else if .State.Paused}}P{{else}}R{{end}}', "R"),
        ("{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}", "a=<2>;b=1;"),
        ("{{range $i, $m := .Mounts}}{{$i}}{{$m.Name}}{{end}}", "0v11v2"),
        ("{{range .Config.Env}}x{{else}}none{{end}}", "none"),
        ("{{with .State}}{{.Pid}}{{end}}", "42"),
        ("{{with .Config.Entrypoint}}set{{else}}unset{{end}}", "unset"),
        ("{{$n := .Name}}{{$n}}{{range .Mounts}}{{$n}}{{end}}", "/web/web/web"),
        ("{{range .Mounts}}{{$.Name}}{{end}}", "/web/web"),
        ("{{(index .Mounts 1).Name}}", "v2"),
        ("{{len .Args}} {{index .Args 0}} {{slice .Name 1 3}}", "2 1000 we"),
        ('{{printf "%5d|%-4s|%q" .State.Pid "ab" .Name}}', '   42|ab  |"/web"'),
        ('{{.State.Pid | printf "%d"}}', "42"),
        ("{{json .Config.Labels}}", '{"b":"1","a":"<2>"}'),
        ("{{.Config.Labels}}", "map[a:<2> b:1]"),
        ('{{title "ab cd"}} {{split "a,b" ","}} [{{pad "x" 1 2}}]', "Ab Cd [a b] [ x  ]"),
        ('{{truncate "abcdef" 3}}{{upper "q"}}{{lower "Q"}}', "abcQq"),
        ("{{println .Path 1}}", "sleep 1\n"),
        ("{{- /* a comment */ -}} {{.Path}}", "sleep"),
        ("{{.Config.Entrypoint}}", "<no value>"),
        (
            '{{lt 1 2}} {{ge 2 3}} {{ne .Path "x"}} {{or .Config.Entrypoint .Path}}',
            "true false true sleep",
        ),
    ],
)
def test_go_template_features(fmt: str, text: str) -> None:
    assert Template(fmt).render(INSPECT) == text


@pytest.mark.parametrize(
    ("fmt", "mode", "message"),
    [
        (
            "{{.Nope}}",
            "error",
            'template: :1:2: executing "" at <.Nope>: map has no entry for key "Nope"',
        ),
        ("{{.State.Nope}}", "error", ':1:8: executing "" at <.State.Nope>: map has no entry'),
        ("{{index .Args 5}}", "default", "error calling index: index out of range: 5"),
        ("{{.Path.X}}", "default", "can't evaluate field X in type string"),
        ("{{range .Path}}{{end}}", "default", "range can't iterate over sleep"),
        ("{{.Path 1}}", "default", "can't give argument to non-function"),
    ],
)
def test_execution_errors_name_the_place(fmt: str, mode: str, message: str) -> None:
    with pytest.raises(CommandFailed) as info:
        Template(fmt).render(INSPECT, missing=mode, prefix="template parsing error: ")
    assert message in str(info.value)
    assert str(info.value).startswith("template parsing error: template: ")


def test_listing_rows_are_structs_and_name_their_type() -> None:
    with pytest.raises(CommandFailed) as info:
        Template("{{.Bogus}}", listing=True).render(
            {"ID": "x"}, strict=True, context="*formatter.ContainerContext"
        )
    assert str(info.value) == (
        'template: :1:2: executing "" at <.Bogus>: can\'t evaluate field Bogus in type '
        "*formatter.ContainerContext"
    )


def test_named_template_as_version_names_it() -> None:
    with pytest.raises(CommandFailed) as info:
        Template("{{.Bogus}}", name="version").render({}, strict=True, context="T")
    assert 'template: version:1:2: executing "version" at <.Bogus>' in str(info.value)


def test_line_and_column_on_a_later_line() -> None:
    with pytest.raises(CommandFailed, match=r"template: :2:4: executing"):
        Template("x\n  {{.Nope}}").render({}, missing="error")
