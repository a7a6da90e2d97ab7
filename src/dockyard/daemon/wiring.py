"""The composition of the daemon: the image store, the services and their routes."""

from __future__ import annotations

from dataclasses import dataclass

from dockyard.api.router import Router
from dockyard.api.routes import build as build_routes
from dockyard.api.routes import containerfiles as containerfile_routes
from dockyard.api.routes import containers as container_routes
from dockyard.api.routes import containerstats as containerstats_routes
from dockyard.api.routes import distribution as distribution_routes
from dockyard.api.routes import events as event_routes
from dockyard.api.routes import execs as exec_routes
from dockyard.api.routes import images as image_routes
from dockyard.api.routes import networks as network_routes
from dockyard.api.routes import system as system_routes
from dockyard.api.routes import volumes as volume_routes
from dockyard.engine.builds import BuildService
from dockyard.engine.containernet import BridgeLinks
from dockyard.engine.containerports import ContainerNetworking
from dockyard.engine.containers import ContainerService, ContainerSettings
from dockyard.engine.distribution import DistributionService
from dockyard.engine.events import EventLog
from dockyard.engine.execs import ExecService
from dockyard.engine.images import ImageService
from dockyard.engine.networkrecord import NetworkSettings
from dockyard.engine.networks import NetworkService, container_lookup
from dockyard.engine.runtimes import RuntimeRegistry
from dockyard.engine.system import SystemService, SystemSettings
from dockyard.engine.volumes import VolumeService
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
    distribution: DistributionService | None = None
    networks: NetworkService | None = None

    def close(self) -> None:
        if self.networks is not None:
            self.networks.close()
        if self.distribution is not None:
            self.distribution.close()
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
        insecure_registries=config.insecure_registries,
        registry_mirrors=config.registry_mirrors,
    )
    events = EventLog()
    # late-bound: the container service is made below, the lambda runs per request
    images = ImageService(store, events, running_containers=lambda: containers.running_ids())  # noqa: PLW0108
    containers = ContainerService(
        store,
        ContainerSettings(
            data_root=config.data_root,
            exec_root=config.exec_root,
            runtime=config.runtimes.get(config.default_runtime, config.default_runtime),
            cgroup_parent=config.cgroup_parent,
            init_path=config.init_path,
            runtimes=RuntimeRegistry(config.default_runtime, config.runtimes),
        ),
        events,
        volumes=VolumeService(config.data_root, events),  # loaded by containers.start_service
    )

    async def container_statuses() -> list[str]:
        return [c.state.status for c in await containers.list(all=True)]

    system = SystemService(
        settings,
        image_count=lambda: len(store.metadata.list_images()),
        container_statuses=container_statuses,
        events_listeners=lambda: events.listeners,
    )
    router = Router()
    system_routes.register(router, system)
    proxies = {"http_proxy": config.http_proxy, "https_proxy": config.https_proxy}
    distribution = DistributionService(
        store,
        events,
        proxies={**proxies, "no_proxy": config.no_proxy},
        insecure=config.insecure_registries,
        mirrors=config.registry_mirrors,
    )
    image_routes.register(
        router,
        images,
        volume_routes.disk_usage(containers.volumes),
        lambda req: distribution_routes.pull(distribution, req),
        container_routes.disk_usage(containers),
    )
    distribution_routes.register(router, distribution)
    container_routes.register(router, containers)
    containerfile_routes.register(router, containers)
    volume_routes.register(router, containers.volumes)
    links = BridgeLinks(config.firewall_backend, iptables=config.iptables)
    networks = NetworkService(
        config.data_root,
        NetworkSettings(
            config.bridge,
            config.bip,
            config.fixed_cidr,
            config.mtu,
            icc=config.icc,
            ip_masq=config.ip_masq,
            ip=config.ip,
        ),
        links,
        events,
    )
    networks.lookup_container = container_lookup(containers.inspect)
    networks.container_known = containers.known
    networks.load()
    containers.networking = ContainerNetworking(networks, links, config.dns)
    network_routes.register(router, networks)
    containerstats_routes.register(router, containers)
    event_routes.register(router, events)
    exec_routes.register(router, ExecService(containers))
    build_routes.register(router, BuildService(store, containers, events))
    return Engine(router, store, system, images, containers, events, distribution, networks)
