"""Unit tests: no subprocess, no network, no sleeps; all of them in seconds."""
