"""Logging a Telegram account in with Telethon: phone, code, two-step password.

Loaded by ``harness login`` when it runs (Telethon is not needed to list the commands).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from telethon import TelegramClient, errors

from harness.coord.accounts import phone_tail

ATTEMPTS = 3  # wrong codes or passwords before giving up


class LoginFailed(Exception):
    """Why the login cannot go on, in one line with what to do."""


@dataclass(frozen=True)
class LoggedIn:
    session: str
    phone: str


async def log_in(
    client: TelegramClient,
    phone: str,
    ask_code: Callable[[], str],
    ask_password: Callable[[], str],
    say: Callable[[str], None],
) -> LoggedIn:
    """Phone, code, then the two-step password if the account has one."""
    try:
        await client.connect()
    except OSError as exc:
        raise LoginFailed(f"cannot reach Telegram ({exc}); check the network or --server") from None
    try:
        sent = await client.send_code_request(phone)
        await _enter_code(client, phone, sent.phone_code_hash, ask_code, ask_password, say)
        me = await client.get_me()
        return LoggedIn(client.session.save(), f"+{me.phone}" if me.phone else phone)
    except errors.PhoneNumberInvalidError:
        raise LoginFailed(
            f"Telegram does not know the number {phone_tail(phone)}: give it in "
            "international format (+country code), or on test servers as 99966XYYYY"
        ) from None
    except errors.PhoneNumberBannedError:
        raise LoginFailed(f"the number {phone_tail(phone)} is banned by Telegram") from None
    except errors.FloodWaitError as exc:
        raise LoginFailed(
            f"Telegram asks to wait {exc.seconds} s before the next login attempt"
        ) from None
    except errors.PhoneCodeExpiredError:
        raise LoginFailed("the login code expired: run `harness login` again") from None
    finally:
        await client.disconnect()


async def _enter_code(
    client: TelegramClient,
    phone: str,
    code_hash: str,
    ask_code: Callable[[], str],
    ask_password: Callable[[], str],
    say: Callable[[str], None],
) -> None:
    for attempt in range(1, ATTEMPTS + 1):
        try:
            await client.sign_in(phone, ask_code(), phone_code_hash=code_hash)
            return
        except errors.PhoneCodeInvalidError:
            if attempt == ATTEMPTS:
                raise LoginFailed(f"{ATTEMPTS} wrong codes: run `harness login` again") from None
            say("That code is wrong; try again.")
        except errors.SessionPasswordNeededError:
            await _enter_password(client, ask_password, say)
            return


async def _enter_password(
    client: TelegramClient, ask_password: Callable[[], str], say: Callable[[str], None]
) -> None:
    for attempt in range(1, ATTEMPTS + 1):
        try:
            await client.sign_in(password=ask_password())
            return
        except errors.PasswordHashInvalidError:
            if attempt == ATTEMPTS:
                raise LoginFailed(
                    f"{ATTEMPTS} wrong two-step passwords: run `harness login` again"
                ) from None
            say("That password is wrong; try again.")
