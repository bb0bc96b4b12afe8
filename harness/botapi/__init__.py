"""A Telegram Bot API emulator: real, unmodified bots (python-telegram-bot, aiogram, any
framework with a custom API base URL) talk to it as to Telegram, and the harness drives
their chats over its network API (``protocol``). ``server.Emulator`` is the emulator itself."""
