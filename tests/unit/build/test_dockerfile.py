"""The Dockerfile parser and the build plan: syntax as the Dockerfile reference gives it."""

from __future__ import annotations

import pytest

from dockyard.build.dockerfile import DockerfileError, parse
from dockyard.build.instructions import split_words, stages


def test_instructions_are_case_insensitive_and_comments_are_skipped() -> None:
    df = parse("# a comment\nfrom busybox\n  # indented comment\nRun echo hi\n\n")
    assert [(i.command, i.rest, i.line) for i in df.instructions] == [
        ("from", "busybox", 2),
        ("run", "echo hi", 4),
    ]


def test_continuation_joins_lines_and_skips_comments_and_blank_lines() -> None:
    df = parse("FROM x\nRUN echo a \\  \n  # note\n\n  && echo b\n")
    run = df.instructions[1]
    assert run.rest == "echo a   && echo b"
    assert run.line == 2
    assert any("empty continuation line" in w for w in df.warnings)


def test_escape_directive_backtick() -> None:
    df = parse("# escape=`\n\nFROM x\nRUN dir c:\\ `\n  /b\n")
    assert df.escape == "`"
    assert df.instructions[1].rest == "dir c:\\   /b"


@pytest.mark.parametrize(
    "text",
    [
        "#directive=value\nFROM x\n",
        "# About my dockerfile\n# escape=`\nFROM x\n",  # after a comment: a comment
        "FROM x\n# escape=`\n",
    ],
)
def test_directives_only_at_the_top(text: str) -> None:
    assert parse(text).escape == "\\"


def test_syntax_directive_is_ignored_with_a_warning() -> None:
    df = parse("# syntax=docker/dockerfile:1\nFROM x\n")
    assert any("syntax directive" in w for w in df.warnings)


def test_duplicate_directive_is_an_error() -> None:
    with pytest.raises(DockerfileError, match="only one escape parser directive"):
        parse("# escape=\\\n# escape=`\nFROM x\n")


def test_exec_and_shell_forms() -> None:
    df = parse('FROM x\nCMD ["echo", "a b"]\nCMD echo [\nENTRYPOINT ["bad", 1]\n')
    _, exec_form, shell_form, not_strings = df.instructions
    assert exec_form.json_args == ("echo", "a b")
    assert shell_form.json_args is None
    assert not_strings.json_args is None  # not an array of strings: the shell form


def test_flags() -> None:
    df = parse("FROM x\nCOPY --from=build --chown=1:1 a b\n")
    copy = df.instructions[1]
    assert copy.flag("from") == "build" and copy.flag("chown") == "1:1"
    assert copy.rest == "a b"


def test_heredocs() -> None:
    text = "FROM x\nRUN <<EOF\necho hi\necho there\nEOF\nCOPY <<-'END' /f\n\tliteral $X\n\tEND\n"
    df = parse(text)
    run, copy = df.instructions[1], df.instructions[2]
    assert run.heredocs[0].content == "echo hi\necho there\n" and run.heredocs[0].expand
    assert copy.heredocs[0].content == "literal $X\n" and not copy.heredocs[0].expand
    assert copy.line == 6


def test_unterminated_heredoc_names_file_and_line() -> None:
    with pytest.raises(DockerfileError, match=r"Dockerfile:2: unterminated heredoc 'EOF'"):
        parse("FROM x\nRUN <<EOF\necho\n")


def test_split_words_keeps_quotes() -> None:
    assert split_words('a="b c" d=e\\ f', "\\") == ['a="b c"', "d=e\\ f"]


def test_plan_groups_stages_and_global_args() -> None:
    plan = stages(
        parse(
            'ARG BASE=busybox\nFROM $BASE AS Build\nENV a=1 b="x y"\nLABEL k v w\n'
            "FROM build\nARG X Y=2\nONBUILD RUN echo hi\nHEALTHCHECK --interval=5s CMD true\n"
        )
    )
    assert [s.pairs for s in plan.global_args] == [(("BASE", "busybox"),)]
    first, second = plan.stages
    assert (first.base, first.name) == ("$BASE", "build")
    assert first.steps[0].pairs == (("a", "1"), ("b", '"x y"'))
    assert first.steps[1].pairs == (("k", "v w"),)
    assert second.base == "build"
    assert second.steps[0].pairs == (("X", None), ("Y", "2"))
    onbuild = second.steps[1]
    assert onbuild.onbuild is not None and onbuild.onbuild.command == "run"
    health = second.steps[2]
    assert health.args == ("CMD-SHELL", "true") and health.flag("interval") == "5s"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("FROM x\nFOO bar\n", r"Dockerfile:2: unknown instruction: FOO: 'FOO bar'"),
        ("RUN x\n", "no build stage in current context"),
        ("", "has no FROM"),
        ("FROM a b\n", "FROM requires either one or three arguments"),
        ("FROM a AS x\nFROM b AS X\n", "duplicate name"),
        ("FROM a\nENV\n", "ENV requires at least one argument"),
        ("FROM a\nENV a=1 b\n", "can't find ="),
        ("FROM a\nENV onlykey\n", "ENV must have two arguments"),
        ("FROM a\nCOPY onlyone\n", "COPY requires at least two arguments"),
        ("FROM a\nSHELL /bin/sh -c\n", "SHELL requires the arguments to be in JSON form"),
        ("FROM a\nRUN --bogus=1 true\n", "unknown flag: --bogus for RUN"),
        ("FROM a\nONBUILD FROM x\n", "FROM isn't allowed as an ONBUILD trigger"),
        ("FROM a\nHEALTHCHECK true\n", "HEALTHCHECK requires NONE or CMD"),
    ],
)
def test_errors_name_file_line_and_text(text: str, message: str) -> None:
    with pytest.raises(DockerfileError, match=message):
        stages(parse(text))
