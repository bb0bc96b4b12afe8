"""Integration tests: in process, against real Redis and local servers (Telegram, the
Messages API, the Bot API emulator), and the CLI as a user runs it."""
