"""A local Telegram: an MTProto 2.0 endpoint that unmodified Telethon talks to, with
accounts, bots (the reference agent, or any handler) and faults on demand (a line that
drops, a server gone silent). The telethon transport's tests, its benchmark and
rehearsals run against it; nothing here reaches Telegram."""
