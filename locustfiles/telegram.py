"""chatstorm's locustfile: simulated people chatting with an agent.

    locust -f locustfiles/telegram.py                       # web UI, built-in reference agent
    locust -f locustfiles/telegram.py --headless -u 40 -r 10 -t 30s --time-scale 0.1

One User class per scenario (``--scenario`` file or folder, default ``scenarios/``).
See ``harness/locust`` for how it works.
"""

from pathlib import Path

from harness.locust.plugin import install

globals().update(install(default_scenarios=Path(__file__).resolve().parent.parent / "scenarios"))
