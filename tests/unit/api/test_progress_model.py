"""Pull and push progress as Docker's JSON messages."""

import json

from dockyard.api.models.progress import (
    human_size,
    progress_bar,
    progress_message,
    push_result_message,
)
from dockyard.images.pull import PullProgress
from dockyard.images.push import PushProgress, PushResult
from dockyard.types.digest import Digest


def decode(line: bytes) -> object:
    assert line.endswith(b"\r\n")
    return json.loads(line)


def test_downloading_carries_detail_and_bar() -> None:
    doc = decode(progress_message(PullProgress("5107859caf28", "Downloading", 512, 1024)))
    assert doc == {
        "status": "Downloading",
        "progressDetail": {"current": 512, "total": 1024},
        "progress": progress_bar(512, 1024),
        "id": "5107859caf28",
    }
    assert progress_bar(512, 1024).startswith("[" + "=" * 25 + ">")
    assert progress_bar(1024, 1024).endswith("]  1.024kB/1.024kB")  # "%8v/%v" as dockerd


def test_layer_status_and_general_status() -> None:
    assert decode(progress_message(PullProgress("abc", "Pull complete"))) == {
        "status": "Pull complete",
        "progressDetail": {},
        "id": "abc",
    }
    assert decode(progress_message(PullProgress("latest", "Pulling from library/x"))) == {
        "status": "Pulling from library/x",
        "id": "latest",
    }
    assert decode(progress_message(PushProgress("", "Status: done"))) == {"status": "Status: done"}


def test_push_aux() -> None:
    digest = Digest.of_bytes(b"m")
    assert decode(push_result_message(PushResult(digest, 527, "v1"))) == {
        "progressDetail": {},
        "aux": {"Tag": "v1", "Digest": str(digest), "Size": 527},
    }


def test_human_size() -> None:
    assert [human_size(n) for n in (0, 999, 1000, 1036288, 3_400_000_000)] == [
        "0B", "999B", "1kB", "1.036MB", "3.4GB",
    ]  # fmt: skip
