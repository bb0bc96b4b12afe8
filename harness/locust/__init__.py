"""The Locust adapter: a thin layer that runs the asyncio core on one loop per process.

``harness.locust.plugin.install`` is what a locustfile calls. Importing this package
does not import Locust (which monkey-patches the whole process): only the modules that
need it do.
"""
