"""The /images routes, called through the Router against a real ImageService on a
private vfs store (root: layer unpacking keeps owners)."""

from __future__ import annotations

import asyncio
import io
import json
import tarfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dockyard.api.errors import error_response
from dockyard.api.router import Request, Response, Router
from dockyard.api.routes import images as image_routes
from dockyard.engine.images import ImageService, parse_until
from dockyard.images.imagestore import ImageStore
from dockyard.store import ContainerRecord

pytestmark = pytest.mark.requires("root")

BUSYBOX = "busybox:latest"


@dataclass
class Answer:
    status: int
    body: bytes
    content_type: str | None

    def json(self) -> Any:
        return json.loads(self.body)

    def messages(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.body.splitlines() if line.strip()]


class Api:
    def __init__(self, store: ImageStore) -> None:
        self.store = store
        self.service = ImageService(store)
        self.router = Router()
        image_routes.register(self.router, self.service)

    async def raw(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]] | None = None,
        body: bytes | list[bytes] = b"",
        version: str | None = None,
    ) -> Response:
        chunks = [body] if isinstance(body, bytes) else body

        async def gen() -> AsyncIterator[bytes]:
            for chunk in chunks:
                await asyncio.sleep(0)
                if chunk:
                    yield chunk

        found = self.router.match(method, path)
        assert found is not None, f"no route for {method} {path}"
        handler, params = found
        req = Request(method, path, version, query or {}, {}, gen())
        try:
            result = await handler(req, **params)
        except Exception as e:
            return error_response(e)
        assert isinstance(result, Response)
        return result

    async def call(self, method: str, path: str, **kw: Any) -> Answer:
        response = await self.raw(method, path, **kw)
        if isinstance(response.body, bytes):
            return Answer(response.status, response.body, response.content_type)
        out = b"".join([c async for c in response.body])
        return Answer(response.status, out, response.content_type)


def run(tmp_path: Path, scenario: Callable[[Api], Awaitable[None]], root: str = "a") -> None:
    async def main() -> None:
        with ImageStore(tmp_path / root, "vfs") as store:
            api = Api(store)
            await api.service.start()
            await scenario(api)

    asyncio.run(main())


def rootfs_tar(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 1_700_000_000
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


async def import_image(api: Api, repo: str = "", **query: list[str]) -> str:
    q = {"fromSrc": ["-"], **query}
    if repo:
        q["repo"] = [repo]
    answer = await api.call(
        "POST", "/images/create", query=q, body=rootfs_tar({"f": repo.encode()})
    )
    assert answer.status == 200, answer.body
    return str(answer.messages()[-1]["status"])


@pytest.fixture
def tmp(tmp_path: Path) -> Iterator[Path]:
    tmp_path.chmod(0o755)
    yield tmp_path


# -- routing --------------------------------------------------------------------------


def test_fixed_paths_win_and_names_keep_slashes_and_colons(tmp: Path) -> None:
    async def scenario(api: Api) -> None:
        def target(method: str, path: str) -> tuple[str, dict[str, str]]:
            found = api.router.match(method, path)
            assert found is not None
            return found[0].__name__, found[1]

        assert target("GET", "/images/json") == ("list_images", {})
        assert target("GET", "/images/get") == ("save_many", {})
        assert target("POST", "/images/load") == ("load", {})
        assert target("POST", "/images/prune") == ("prune", {})
        assert target("POST", "/images/create") == ("create", {})
        assert target("GET", "/images/a/history") == ("history", {"name": "a"})
        assert target("GET", "/images/localhost:5000/a/b:v1/json") == (
            "inspect",
            {"name": "localhost:5000/a/b:v1"},
        )
        assert target("GET", "/images/localhost:5000/a/b:v1/get") == (
            "save_one",
            {"name": "localhost:5000/a/b:v1"},
        )
        assert target("POST", "/images/a/b/tag") == ("tag", {"name": "a/b"})
        assert target("DELETE", "/images/localhost:5000/a/b:v1") == (
            "remove",
            {"name": "localhost:5000/a/b:v1"},
        )

    run(tmp, scenario)


# -- list, inspect, history -----------------------------------------------------------


def test_list_has_the_builtin_base_in_dockers_shape(tmp: Path) -> None:
    async def scenario(api: Api) -> None:
        answer = await api.call("GET", "/images/json")
        assert answer.status == 200
        [item] = answer.json()
        assert set(item) == {
            "Id",
            "ParentId",
            "RepoTags",
            "RepoDigests",
            "Created",
            "Size",
            "SharedSize",
            "Labels",
            "Containers",
        }
        assert item["RepoTags"] == [BUSYBOX]
        assert item["Id"].startswith("sha256:")
        assert isinstance(item["Created"], int)
        assert item["SharedSize"] == -1
        assert item["Containers"] == -1
        assert item["Size"] > 0
        old = (await api.call("GET", "/images/json", version="1.43")).json()[0]
        assert old["VirtualSize"] == old["Size"]

    run(tmp, scenario)


def test_untagged_images_show_none_for_old_clients_only(tmp: Path) -> None:
    async def scenario(api: Api) -> None:
        image_id = await import_image(api)
        new = (await api.call("GET", "/images/json")).json()
        mine = next(i for i in new if i["Id"] == image_id)
        assert mine["RepoTags"] == [] and mine["RepoDigests"] == []
        old = (await api.call("GET", "/images/json", version="1.42")).json()
        mine = next(i for i in old if i["Id"] == image_id)
        assert mine["RepoTags"] == ["<none>:<none>"]

    run(tmp, scenario)


def test_list_filters_both_encodings(tmp: Path) -> None:
    async def scenario(api: Api) -> None:
        dangling_id = await import_image(api)
        await import_image(api, "app:v1", changes=["LABEL tier=web"])

        async def ids(filters: Any) -> list[str]:
            answer = await api.call("GET", "/images/json", query={"filters": [json.dumps(filters)]})
            assert answer.status == 200, answer.body
            return [i["RepoTags"][0] if i["RepoTags"] else i["Id"] for i in answer.json()]

        assert await ids({"dangling": ["true"]}) == [dangling_id]
        assert await ids({"dangling": {"true": True}}) == [dangling_id]  # the docker CLI's
        assert sorted(await ids({"dangling": ["false"]})) == ["app:v1", BUSYBOX]
        assert await ids({"reference": ["app"]}) == ["app:v1"]
        assert await ids({"reference": ["busy*"]}) == [BUSYBOX]
        assert await ids({"label": ["tier=web"]}) == ["app:v1"]
        assert await ids({"label": ["tier=db"]}) == []
        assert BUSYBOX not in await ids({"since": [BUSYBOX]})
        assert await ids({"before": ["app:v1"], "reference": ["busybox"]}) == [BUSYBOX]
        assert await ids({"until": ["2024-06-01T00:00:00Z"]}) == [BUSYBOX]

    run(tmp, scenario)


@pytest.mark.parametrize(
    ("filters", "word"),
    [("{not json", "JSON"), ('{"colour": ["red"]}', "colour"), ('{"dangling": ["maybe"]}', "")],
)
def test_bad_filters_are_400(tmp: Path, filters: str, word: str) -> None:
    async def scenario(api: Api) -> None:
        for method, path in (("GET", "/images/json"), ("POST", "/images/prune")):
            answer = await api.call(method, path, query={"filters": [filters]})
            assert answer.status == 400, answer.body
            assert word in answer.json()["message"]

    run(tmp, scenario)


def test_inspect_and_history_by_name_id_and_registry_name(tmp: Path) -> None:
    async def scenario(api: Api) -> None:
        doc = (await api.call("GET", f"/images/{BUSYBOX}/json")).json()
        assert doc["RepoTags"] == [BUSYBOX]
        assert doc["Config"]["Cmd"] == ["sh"]
        assert doc["RootFS"]["Type"] == "layers"
        short = doc["Id"].removeprefix("sha256:")[:12]
        assert (await api.call("GET", f"/images/{short}/json")).json()["Id"] == doc["Id"]
        assert "VirtualSize" not in doc
        assert (
            "VirtualSize" in (await api.call("GET", "/images/busybox/json", version="1.43")).json()
        )

        name = "localhost:5000/team/tool:v1"
        tagged = await api.call(
            "POST",
            f"/images/{BUSYBOX}/tag",
            query={"repo": ["localhost:5000/team/tool"], "tag": ["v1"]},
        )
        assert (tagged.status, tagged.body) == (201, b"")
        assert name in (await api.call("GET", f"/images/{name}/json")).json()["RepoTags"]
        history = (await api.call("GET", f"/images/{name}/history")).json()
        assert [h["Id"] for h in history] == [doc["Id"], "<missing>"]
        assert set(history[0]) == {"Id", "Created", "CreatedBy", "Tags", "Size", "Comment"}
        assert sorted(history[0]["Tags"]) == sorted([BUSYBOX, name])
        assert history[1]["Tags"] is None
        assert history[1]["Size"] > 0 and history[0]["Size"] == 0
        assert 'CMD ["sh"]' in history[0]["CreatedBy"]

    run(tmp, scenario)


def test_missing_images_are_404(tmp: Path) -> None:
    async def scenario(api: Api) -> None:
        for method, path in (
            ("GET", "/images/nope/json"),
            ("GET", "/images/nope/history"),
            ("GET", "/images/nope/get"),
            ("DELETE", "/images/nope"),
            ("POST", "/images/nope/tag"),
        ):
            answer = await api.call(method, path, query={"repo": ["x"]})
            assert answer.status == 404, (method, path, answer.body)
            assert "nope" in answer.json()["message"]
        answer = await api.call("GET", "/images/get", query={"names": [BUSYBOX, "nope"]})
        assert answer.status == 404

    run(tmp, scenario)


# -- tag, remove, prune ---------------------------------------------------------------


def test_tag_refuses_bad_names(tmp: Path) -> None:
    async def scenario(api: Api) -> None:
        for query in ({}, {"repo": ["Upper"]}, {"repo": ["a"], "tag": ["bad tag"]}):
            answer = await api.call("POST", f"/images/{BUSYBOX}/tag", query=query)
            assert answer.status == 400, (query, answer.body)

    run(tmp, scenario)


def test_remove_untags_then_deletes(tmp: Path) -> None:
    async def scenario(api: Api) -> None:
        image_id = await import_image(api, "one:v1")
        await api.call("POST", "/images/one:v1/tag", query={"repo": ["two"]})
        answer = await api.call("DELETE", "/images/two")
        assert (answer.status, answer.json()) == (200, [{"Untagged": "two:latest"}])
        answer = await api.call("DELETE", "/images/one:v1")
        assert answer.json()[0] == {"Untagged": "one:v1"}
        assert {"Deleted": image_id} in answer.json()
        assert (await api.call("GET", f"/images/{image_id}/json")).status == 404

    run(tmp, scenario)


def test_remove_conflicts_are_409(tmp: Path) -> None:
    async def scenario(api: Api) -> None:
        image_id = await import_image(api, "one:v1")
        await api.call("POST", "/images/one:v1/tag", query={"repo": ["two"]})
        answer = await api.call("DELETE", f"/images/{image_id}")
        assert answer.status == 409, answer.body
        assert "must be forced" in answer.json()["message"]
        forced = await api.call("DELETE", f"/images/{image_id}", query={"force": ["1"]})
        assert forced.status == 200
        assert {"Untagged": "one:v1"} in forced.json()

        used = api.store.resolve(BUSYBOX)
        container: ContainerRecord = api.store.metadata.add_container("c" * 64, "k", used)
        answer = await api.call("DELETE", f"/images/{BUSYBOX}")
        assert answer.status == 409, answer.body
        assert container.id[:12] in answer.json()["message"]

    run(tmp, scenario)


def test_prune_removes_dangling_unless_filtered(tmp: Path) -> None:
    async def scenario(api: Api) -> None:
        plain = await import_image(api)
        labelled = await import_image(api, changes=["LABEL keep=yes"])
        await import_image(api, "kept:v1")
        answer = await api.call(
            "POST", "/images/prune", query={"filters": ['{"label!": ["keep"]}']}
        )
        assert answer.status == 200, answer.body
        report = answer.json()
        assert {"Deleted": plain} in report["ImagesDeleted"]
        assert report["SpaceReclaimed"] > 0
        assert (await api.call("GET", f"/images/{labelled}/json")).status == 200
        report = (await api.call("POST", "/images/prune")).json()
        assert {"Deleted": labelled} in report["ImagesDeleted"]
        assert (await api.call("POST", "/images/prune")).json() == {
            "ImagesDeleted": None,
            "SpaceReclaimed": 0,
        }
        report = (
            await api.call(
                "POST", "/images/prune", query={"filters": ['{"dangling":{"false":true}}']}
            )
        ).json()
        assert {"Untagged": "kept:v1"} in report["ImagesDeleted"]
        assert {"Untagged": BUSYBOX} in report["ImagesDeleted"]
        assert (await api.call("GET", "/images/json")).json() == []

    run(tmp, scenario)


# -- save, load ----------------------------------------------------------------------


def test_save_streams_and_loads_into_another_store_with_the_same_id(tmp: Path) -> None:
    saved: dict[str, Any] = {}

    async def first(api: Api) -> None:
        response = await api.raw("GET", "/images/get", query={"names": [BUSYBOX]})
        assert (response.status, response.content_type) == (200, "application/x-tar")
        assert not isinstance(response.body, bytes)
        saved["tar"] = b"".join([c async for c in response.body])
        saved["id"] = (await api.call("GET", f"/images/{BUSYBOX}/json")).json()["Id"]

    async def second(api: Api) -> None:
        await api.call("DELETE", f"/images/{BUSYBOX}")
        assert (await api.call("GET", "/images/json")).json() == []
        data: bytes = saved["tar"]
        parts = [data[i : i + 7000] for i in range(0, len(data), 7000)]
        answer = await api.call("POST", "/images/load", body=parts, query={"quiet": ["1"]})
        assert answer.status == 200, answer.body
        assert answer.messages() == [{"stream": f"Loaded image: {BUSYBOX}\n"}]
        assert (await api.call("GET", f"/images/{BUSYBOX}/json")).json()["Id"] == saved["id"]

    run(tmp, first, "a")
    run(tmp, second, "b")


def test_an_image_saved_by_id_loads_as_an_id(tmp: Path) -> None:
    async def scenario(api: Api) -> None:
        image_id = await import_image(api, "named:v1")
        data = (await api.call("GET", f"/images/{image_id}/get")).body
        await api.call("DELETE", "/images/named:v1")
        answer = await api.call("POST", "/images/load", body=data)
        assert answer.messages() == [{"stream": f"Loaded image ID: {image_id}\n"}]

    run(tmp, scenario)


def test_bad_archives_are_400_and_leave_the_store_alone(tmp: Path) -> None:
    async def scenario(api: Api) -> None:
        before = (await api.call("GET", "/images/json")).json()
        for body in (b"", b"not a tar at all" * 100, rootfs_tar({"hello": b"x"})):
            answer = await api.call("POST", "/images/load", body=body)
            assert answer.status == 400, answer.body
            assert answer.json()["message"]
        assert (await api.call("GET", "/images/json")).json() == before

    run(tmp, scenario)


def test_a_save_the_client_drops_does_not_block_removal(tmp: Path) -> None:
    async def scenario(api: Api) -> None:
        response = await api.raw("GET", f"/images/{BUSYBOX}/get")
        assert not isinstance(response.body, bytes)
        body = response.body
        assert isinstance(body, AsyncIterator)
        first = await anext(body)
        assert first
        await body.aclose()  # type: ignore[attr-defined]
        answer = await asyncio.wait_for(api.call("DELETE", f"/images/{BUSYBOX}"), 30)
        assert answer.status == 200, answer.body

    run(tmp, scenario)


# -- import and pull ------------------------------------------------------------------


def test_import_applies_changes_message_and_name(tmp: Path) -> None:
    async def scenario(api: Api) -> None:
        query = {
            "fromSrc": ["-"],
            "repo": ["imported"],
            "tag": ["v2"],
            "changes": ['CMD ["/bin/true"]', "ENV A=1"],
            "message": ["from a test"],
        }
        answer = await api.call(
            "POST", "/images/create", query=query, body=rootfs_tar({"etc/x": b"1"})
        )
        assert answer.status == 200, answer.body
        [status] = answer.messages()
        assert status["status"].startswith("sha256:")
        doc = (await api.call("GET", "/images/imported:v2/json")).json()
        assert doc["Id"] == status["status"]
        assert doc["Config"]["Cmd"] == ["/bin/true"]
        assert "A=1" in doc["Config"]["Env"]
        assert doc["Comment"] == "from a test"

    run(tmp, scenario)


def test_import_errors_are_statuses(tmp: Path) -> None:
    async def scenario(api: Api) -> None:
        tar = rootfs_tar({"a": b"1"})
        cases = [
            ({"fromSrc": ["-"], "changes": ["FROB x"]}, tar, 400),
            ({"fromSrc": ["-"], "repo": ["Bad Name"]}, tar, 400),
            ({"fromSrc": ["-"], "platform": ["linux//"]}, tar, 400),
            ({"fromSrc": ["-"]}, b"garbage" * 200, 400),
            ({"fromSrc": ["http://example.invalid/x.tar"]}, b"", 501),
            ({}, b"", 400),
        ]
        before = (await api.call("GET", "/images/json")).json()
        for query, body, status in cases:
            answer = await api.call("POST", "/images/create", query=query, body=body)
            assert answer.status == status, (query, answer.body)
        assert (await api.call("GET", "/images/json")).json() == before

    run(tmp, scenario)


def test_pull_of_a_local_image_is_up_to_date_and_others_404(tmp: Path) -> None:
    async def scenario(api: Api) -> None:
        answer = await api.call(
            "POST", "/images/create", query={"fromImage": ["busybox"], "tag": ["latest"]}
        )
        assert answer.status == 200
        messages = answer.messages()
        assert messages[0] == {"status": "Pulling from library/busybox", "id": "latest"}
        assert messages[-1] == {"status": f"Status: Image is up to date for {BUSYBOX}"}
        answer = await api.call("POST", "/images/create", query={"fromImage": ["alpine"]})
        assert answer.status == 404
        assert "not built yet" in answer.json()["message"]

    run(tmp, scenario)


def test_df_counts_containers(tmp: Path) -> None:
    from dockyard.api.models.images import images_disk_usage

    async def scenario(api: Api) -> None:
        api.store.metadata.add_container("d" * 64, "k", api.store.resolve(BUSYBOX))
        doc = images_disk_usage(await api.service.df(), None)
        assert doc["LayersSize"] > 0
        [image] = doc["Images"]
        assert image["Containers"] == 1

    run(tmp, scenario)


def test_until_accepts_unix_seconds_dates_and_durations() -> None:
    assert parse_until("1700000000") == 1_700_000_000
    assert parse_until("2024-01-01") == parse_until("2024-01-01T00:00:00Z")
    assert parse_until("1h30m", now=10_000) == 10_000 - 5400
