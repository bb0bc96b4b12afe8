"""Helpers the tests share: launching Locust, waiting on events, Redis, observers."""
