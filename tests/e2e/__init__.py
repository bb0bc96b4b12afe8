"""End-to-end tests: real Locust processes (headless, web UI, master and workers), with
real bots and the fakes, every run bounded."""
