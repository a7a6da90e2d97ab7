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
    t = Template("table {{.A}}\\t{{.B}}")
    assert t.table
    assert t.render({"A": "1", "B": "2"}) == "1\t2"


def test_json_shorthand() -> None:
    assert Template("json").render({"b": 1, "a": "<x>"}) == '{"a":"\\u003cx\\u003e","b":1}'


def test_strict_rows_reject_unknown_fields() -> None:
    with pytest.raises(CommandFailed, match="can't evaluate field Nope"):
        Template("{{.Nope}}").render({"ID": "x"}, strict=True)


@pytest.mark.parametrize("fmt", ["{{if .A}}x{{end}}", "{{range .A}}{{.}}{{end}}", "{{.A"])
def test_unsupported_or_broken_templates_fail_clearly(fmt: str) -> None:
    with pytest.raises(CommandFailed, match="template"):
        Template(fmt)
