"""The baseline for harness overhead: plain Locust users doing the same sends and waits
as the 1 msg/s benchmark scenario (a message, 200 ms for the reply, the quiet window,
a think time drawn from the same range), reporting the same request rows, with no
harness logic at all."""

import random

import gevent
from locust import User, constant, events, task

THINK_S = (0.3, 0.8)
QUIET_S = 0.25
REPLY_S = 0.2


class Bare(User):
    wait_time = constant(0)

    @task
    def turn(self) -> None:
        fire = events.request.fire
        fire(
            request_type="send",
            name="bare",
            response_time=0.0,
            response_length=0,
            exception=None,
            context={},
        )
        gevent.sleep(REPLY_S)
        for kind in ("first_reply", "complete_reply"):
            fire(
                request_type=kind,
                name="bare",
                response_time=REPLY_S * 1000,
                response_length=1,
                exception=None,
                context={},
            )
        gevent.sleep(QUIET_S + random.uniform(*THINK_S))
