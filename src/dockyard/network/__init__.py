"""Container networking: the bridge driver's links (netlink through pyroute2, imported
lazily), IP address management, iptables rules, published ports and their userland
proxy. Synchronous except ``portproxy`` (asyncio); the engine's ``NetworkService`` and
``containernet`` drive it.
"""
