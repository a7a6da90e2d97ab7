"""The composition of the daemon: the image store, the services and their routes."""

from __future__ import annotations

from dataclasses import dataclass

from dockyard.api.router import Router
from dockyard.api.routes import containers as container_routes
from dockyard.api.routes import images as image_routes
from dockyard.api.routes import system as system_routes
from dockyard.engine.containers import ContainerService, ContainerSettings
from dockyard.engine.events import EventLog
from dockyard.engine.images import ImageService
from dockyard.engine.system import SystemService, SystemSettings
from dockyard.images.imagestore import ImageStore

from .config import DaemonConfig


@dataclass
class Engine:
    """Everything the daemon built; ``close()`` releases it after the server stopped."""

    router: Router
    store: ImageStore
    system: SystemService
    images: ImageService
    containers: ContainerService
    events: EventLog

    def close(self) -> None:
        self.store.close()


def build(config: DaemonConfig) -> Engine:
    # the image store's root is the data root itself: content/, metadata.db and the
    # storage driver's directory live directly under it (docs/architecture.md)
    store = ImageStore(config.data_root, config.storage_driver)
    settings = SystemSettings(
        data_root=config.data_root,
        exec_root=config.exec_root,
        storage_driver=config.storage_driver,
        default_runtime=config.default_runtime,
        runtimes=config.runtimes,
        http_proxy=config.http_proxy,
        https_proxy=config.https_proxy,
        no_proxy=config.no_proxy,
        debug=config.debug,
    )
    events = EventLog()
    images = ImageService(store, events)
    containers = ContainerService(
        store,
        ContainerSettings(
            data_root=config.data_root,
            exec_root=config.exec_root,
            runtime=config.runtimes.get(config.default_runtime, config.default_runtime),
            cgroup_parent=config.cgroup_parent,
        ),
        events,
    )

    async def container_statuses() -> list[str]:
        return [c.state.status for c in await containers.list(all=True)]

    system = SystemService(
        settings,
        image_count=lambda: len(store.metadata.list_images()),
        container_statuses=container_statuses,
    )
    router = Router()
    system_routes.register(router, system)
    image_routes.register(router, images)
    container_routes.register(router, containers)
    return Engine(router, store, system, images, containers, events)
