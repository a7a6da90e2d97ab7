"""The Go-template subset behind --format."""

from __future__ import annotations

import pytest

from dockyard.cli.errors import CommandFailed
from dockyard.cli.template import Template

DOC = {
    "Id": "sha256:abc",
    "RepoTags": ["busybox:latest", "bb:1"],
    "Config": {"Env": ["PATH=/bin"], "Labels": {"b": "2", "a": "1"}, "User": ""},
    "Size": 4261036,
    "Os": "linux",
}


@pytest.mark.parametrize(
    ("fmt", "text"),
    [
        ("{{.Id}}", "sha256:abc"),
        ("{{ .Os }}/{{.Size}}", "linux/4261036"),
        ("{{.Config.Env}}", "[PATH=/bin]"),
        ("{{.Config.Labels}}", "map[a:1 b:2]"),
        ("{{json .RepoTags}}", '["busybox:latest","bb:1"]'),
        ("{{.Config.Missing}}", "<no value>"),
        ('{{join .RepoTags ", "}}', "busybox:latest, bb:1"),
        ('{{index .Config.Labels "a"}}', "1"),
        ("{{.Os | upper}}", "LINUX"),
        ("{{upper .Os}}", "LINUX"),
        ('{{printf "%s-%d" .Os .Size}}', "linux-4261036"),
        ("a {{- .Os -}} b", "alinuxb"),
        ("{{json .Config.User}}", '""'),
    ],
)
def test_render(fmt: str, text: str) -> None:
    assert Template(fmt).render(DOC) == text


def test_table_prefix_and_escapes() -> None:
    t = Template("table {{.A}}\\t{{.B}}", listing=True)
    assert t.table
    assert t.render({"A": "1", "B": "2"}) == "1\t2"
    # inspect and friends leave a backslash-t alone, as docker's do
    assert Template("{{.A}}\\t{{.B}}").render({"A": "1", "B": "2"}) == "1\\t2"


def test_json_shorthand_keeps_order_and_does_not_escape_html() -> None:
    assert Template("json").render({"b": 1, "a": "<x>"}) == '{"b":1,"a":"<x>"}'


def test_strict_rows_reject_unknown_fields() -> None:
    with pytest.raises(CommandFailed, match="can't evaluate field Nope"):
        Template("{{.Nope}}").render({"ID": "x"}, strict=True)


@pytest.mark.parametrize(
    ("fmt", "message"),
    [
        ("{{.A", "template: :1: unclosed action"),
        ("{{if .A}}x", "template: :1: unexpected EOF"),
        ("x{{end}}", "unexpected {{end}}"),
        ("{{nofunc .A}}", 'template: :1: function "nofunc" not defined'),
        ('{{"open}}', "unterminated quoted string"),
    ],
)
def test_broken_templates_fail_as_docker_says(fmt: str, message: str) -> None:
    with pytest.raises(CommandFailed, match="template parsing error") as info:
        Template(fmt)
    assert message in str(info.value)
    assert info.value.status == 64  # docker inspect's status for a bad template
