"""One process's run, with or without Locust: open the transport and the persona
services, hold conversations, wind them down within a bound, close what was opened,
and conclude with the report. Locust (``harness/locust``) and ``harness generate`` are
front ends over it."""

from harness.runtime.conclusion import Conclusion, conclude
from harness.runtime.process import ProcessRuntime, RunSettings

__all__ = ["Conclusion", "ProcessRuntime", "RunSettings", "conclude"]
