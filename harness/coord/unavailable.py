"""The error for a Redis that does not answer, in a module of its own: a front end
catches it without loading Redis's client."""


class RedisUnavailable(Exception):
    """Redis did not answer; the message names the (password-free) URL and the fix. A
    conversation that cannot start for it ends as ``redis_unavailable``."""

    category = "redis_unavailable"
    peer = "Redis"
