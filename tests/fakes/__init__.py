"""Local stand-ins for what the tests cannot reach: Telegram (MTProto), the Messages API,
and small real bots for the Bot API emulator."""
