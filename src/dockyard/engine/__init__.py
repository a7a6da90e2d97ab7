"""Engine services (asyncio): containers, images, networks, volumes, events, system."""
