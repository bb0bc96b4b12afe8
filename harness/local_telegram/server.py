"""A local Telegram: an MTProto 2.0 endpoint that unmodified Telethon talks to.

Telethon skips the key exchange when its StringSession already carries an auth key and
a DC address (``new_account``), so most tests need only the symmetric layer (TCP "full"
framing, AES-IGE message encryption, msg_id rules, containers, gzip) and the API methods
a client uses. Logging in from scratch runs the key exchange and the phone-code and
two-step password steps too (``auth``). TL objects are read and written with
Telethon's own generated classes.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from hashlib import sha256
from zlib import crc32

from telethon.crypto import AES, AuthKey
from telethon.extensions import BinaryReader
from telethon.network.mtprotostate import MTProtoState
from telethon.sessions import StringSession
from telethon.tl import functions, types
from telethon.tl.core import GzipPacked, MessageContainer

from harness.agent.reference import ReferenceAgent
from harness.local_telegram.auth import Handshake, TwoStepPassword

RPC_RESULT = 0xF35C6D01
VECTOR = 0x1CB5C415
BOOL_TRUE, BOOL_FALSE = 0x997275B5, 0xBC799737
DC_ID = 2


@dataclass
class Account:
    user_id: int
    phone: str
    auth_key: AuthKey
    pts: int = 1
    message_ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    connections: set = field(default_factory=set)
    history: list[tuple[int, types.Message]] = field(default_factory=list)  # (pts, message)


@dataclass
class Registration:
    """A phone number that can log in: the code Telegram "sends" it, and its two-step
    password if it has one."""

    user_id: int
    code: str
    password: TwoStepPassword | None
    code_hash: str = field(default_factory=lambda: os.urandom(8).hex())


class LocalTelegram:
    """Accounts, bots, and the connections of the clients using them."""

    def __init__(self) -> None:
        self.accounts: dict[int, Account] = {}  # by auth key id
        self.auth_keys: dict[int, AuthKey] = {}  # every agreed key, logged in or not
        self.registrations: dict[str, Registration] = {}  # by phone
        self.bots: dict[str, int] = {}
        self.bot_handlers: dict[int, Callable[[Account, str], list[str]]] = {}
        self.agent_bots: dict[int, ReferenceAgent] = {}
        self.streaming_bots: dict[int, tuple[list[str], float]] = {}
        self.port = 0
        self.host = "127.0.0.1"
        self._server: asyncio.AbstractServer | None = None
        self._user_ids = itertools.count(1000)
        # Fault knobs.
        self.drop_pushes = 0  # the next N update pushes are lost on the wire
        self.lose: Callable[[str], bool] = lambda text: False  # pushes of these texts are lost
        self.flood_wait_next: int | None = None  # the next sendMessage: FLOOD_WAIT_X
        self.peer_flood_next = False  # the next sendMessage: PEER_FLOOD
        self.slow_mode_next: int | None = None  # the next sendMessage: SLOWMODE_WAIT_X
        self.blocked_by_bot: set[str] = set()  # phones the bot blocked: USER_IS_BLOCKED
        self.outages: dict[str, float] = {}  # phone -> until when its connections are refused
        self.latency_s = 0.0  # added before every answer
        self.drops: dict[type, int] = {}  # request type -> how many more times it drops the line
        self.drop_only: str | None = None  # the phone whose lines drop (None: every account's)
        self.silent_from: float | None = None  # from then on (monotonic): pings only, no pushes
        self.silent_after_sends: int | None = None  # or once this many messages were sent
        self.difference_calls = 0

    async def start(self, host: str = "127.0.0.1") -> int:
        """Listen on ``host`` (a free port); sessions made from now on point there."""
        self.host = host
        self._server = await asyncio.start_server(self._serve, host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for account in self.accounts.values():
                for connection in list(account.connections):
                    connection.close()
            await self._server.wait_closed()

    def cut(self, phone: str, down_s: float) -> None:
        """A network outage for one account: its connections drop now, and new ones are
        refused for ``down_s`` seconds."""
        self.outages[phone] = time.monotonic() + down_s
        for account in self.accounts.values():
            if account.phone == phone:
                for connection in list(account.connections):
                    connection.close()

    def drop_on(self, request_type: type, times: int = 1, phone: str | None = None) -> None:
        """The next ``times`` requests of ``request_type`` (from ``phone`` only, if given)
        drop the TCP connection they came on, unanswered."""
        self.drops[request_type] = times
        self.drop_only = phone

    def go_silent(self, after_s: float = 0.0, after_sends: int | None = None) -> None:
        """A Telegram that hangs: after ``after_s`` (or once ``after_sends`` messages
        were sent) it keeps every connection and answers pings, but answers no request
        and pushes nothing."""
        if after_sends is None:
            self.silent_from = time.monotonic() + after_s
        else:
            self.silent_after_sends = after_sends

    @property
    def silent(self) -> bool:
        return self.silent_from is not None and time.monotonic() >= self.silent_from

    def new_account(self, phone: str, key: bytes | None = None) -> str:
        """A StringSession for a new account on this endpoint (auth key already agreed:
        ``key``, 256 bytes, or random ones)."""
        auth_key = self._agree(key)
        self.authorize(auth_key, phone, next(self._user_ids))
        return self._session(auth_key)

    def signed_out_session(self, key: bytes | None = None) -> str:
        """A StringSession whose auth key was agreed but never logged in: every call but
        logging in is AUTH_KEY_UNREGISTERED, as for a session Telegram has ended."""
        return self._session(self._agree(key))

    def _agree(self, key: bytes | None) -> AuthKey:
        auth_key = AuthKey(key if key is not None else os.urandom(256))
        self.auth_keys[auth_key.key_id] = auth_key
        return auth_key

    def _session(self, auth_key: AuthKey) -> str:
        session = StringSession()
        session.set_dc(DC_ID, self.host, self.port)
        session.auth_key = auth_key
        return session.save()

    def authorize(self, auth_key: AuthKey, phone: str, user_id: int) -> Account:
        account = Account(user_id, phone, auth_key)
        self.accounts[auth_key.key_id] = account
        return account

    def register(self, phone: str, password: str | None = None) -> str:
        """A phone number that may log in; returns the code it will be "sent"."""
        code = f"{int.from_bytes(os.urandom(3), 'big') % 100000:05d}"
        two_step = TwoStepPassword(password) if password is not None else None
        self.registrations[_digits(phone)] = Registration(next(self._user_ids), code, two_step)
        return code

    def add_bot(self, username: str, handler: Callable[[Account, str], list[str]]) -> int:
        """A scripted bot: ``handler`` returns its replies to each message at once."""
        bot_id = next(self._user_ids)
        self.bots[username.lower()] = bot_id
        self.bot_handlers[bot_id] = handler
        return bot_id

    def add_agent_bot(self, username: str, agent: ReferenceAgent) -> int:
        """A bot run by the reference agent: debounced batches, multi-part replies sent
        when the agent sends them, and the agent's log as ground truth."""
        bot_id = self.add_bot(username, lambda account, text: [])
        self.agent_bots[bot_id] = agent
        return bot_id

    def add_streaming_bot(self, username: str, steps: list[str], gap_s: float) -> int:
        """A bot that answers with one message, then edits it through ``steps``."""
        bot_id = self.add_bot(username, lambda account, text: [])
        self.streaming_bots[bot_id] = (steps, gap_s)
        return bot_id

    async def stream(self, account: Account, bot_id: int) -> None:
        steps, gap_s = self.streaming_bots[bot_id]
        await self.push(account, bot_id, steps[0])
        _, message = account.history[-1]
        for text in steps[1:]:
            await asyncio.sleep(gap_s)
            account.pts += 1
            now = int(time.time())
            message = types.Message(
                message.id,
                message.peer_id,
                message.date,
                text,
                from_id=message.from_id,
                edit_date=now,
            )
            update = types.Updates(
                [types.UpdateEditMessage(message, account.pts, 1)],
                users=[types.User(bot_id, bot=True, bot_info_version=1, access_hash=bot_id * 7919)],
                chats=[],
                date=now,
                seq=0,
            )
            for connection in list(account.connections):
                connection.send(bytes(update))
                await connection.writer.drain()

    async def push(self, account: Account, bot_id: int, text: str) -> None:
        """The bot sends ``text`` to ``account``: a new message and an update pushed to the
        account's connections (unless the drop_pushes knob loses it)."""
        account.pts += 1
        message_id, now = next(account.message_ids), int(time.time())
        account.history.append(
            (
                account.pts,
                types.Message(
                    message_id, types.PeerUser(bot_id), now, text, from_id=types.PeerUser(bot_id)
                ),
            )
        )
        if self.drop_pushes or self.lose(text) or self.silent:
            self.drop_pushes = max(0, self.drop_pushes - 1)
            return
        update = types.UpdateShortMessage(message_id, bot_id, text, account.pts, 1, now)
        for connection in list(account.connections):
            connection.send(bytes(update))
            await connection.writer.drain()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = _Connection(self, reader, writer)
        try:
            await connection.run()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            connection.close()


class _Connection:
    def __init__(self, telegram: LocalTelegram, reader, writer) -> None:
        self.telegram = telegram
        self.reader, self.writer = reader, writer
        self.account: Account | None = None
        self.auth_key: AuthKey | None = None
        self._handshake = Handshake()
        self._login_phone: str | None = None
        self.session_id = 0
        self.salt = 0
        self._send_seq = 0
        self._last_msg_id = 0
        self._seq_no = 0

    def close(self) -> None:
        if self.account is not None:
            self.account.connections.discard(self)
        self.writer.close()

    async def run(self) -> None:
        first = await self.reader.readexactly(1)
        if first != b"\xef":  # "full" transport has no marker: this byte starts a length
            self._pending = first
        else:
            raise ConnectionError("abridged transport not supported")
        while True:
            packet = await self._read_packet()
            if packet[:8] == bytes(8):  # auth_key_id 0: the unencrypted key exchange
                self._answer_plain(BinaryReader(packet[20:]).tgread_object())
                continue
            msg_id, body = self._decrypt(packet)
            await self._handle(msg_id, BinaryReader(body).tgread_object())

    def _answer_plain(self, request) -> None:
        body = bytes(self._handshake.answer(request))
        auth_key = self._handshake.auth_key
        if auth_key is not None:
            self.telegram.auth_keys[auth_key.key_id] = auth_key
        frame = struct.pack("<qqi", 0, self._new_msg_id(), len(body)) + body
        self._write_frame(frame)

    async def _read_packet(self) -> bytes:
        head = self._pending + await self.reader.readexactly(8 - len(self._pending))
        self._pending = b""
        length, _seq = struct.unpack("<ii", head)
        rest = await self.reader.readexactly(length - 8)
        if struct.unpack("<I", rest[-4:])[0] != crc32(head + rest[:-4]):
            raise ConnectionError("bad crc")
        return rest[:-4]

    def _decrypt(self, packet: bytes) -> tuple[int, bytes]:
        key_id = struct.unpack("<Q", packet[:8])[0]
        auth_key = self.telegram.auth_keys.get(key_id)
        if auth_key is None:
            raise ConnectionError("unknown auth key")
        self.auth_key = auth_key
        account = self.telegram.accounts.get(key_id)
        if account is not None:
            if self.telegram.outages.get(account.phone, 0) > time.monotonic():
                raise ConnectionError("this account's network is down")
            self._bind(account)
        msg_key = packet[8:24]
        key, iv = MTProtoState._calc_key(auth_key.key, msg_key, True)
        plain = AES.decrypt_ige(packet[24:], key, iv)
        if sha256(auth_key.key[88:120] + plain).digest()[8:24] != msg_key:
            raise ConnectionError("bad msg_key")
        self.salt, self.session_id, msg_id, _seq, length = struct.unpack("<qqqii", plain[:32])
        return msg_id, plain[32 : 32 + length]

    def _bind(self, account: Account) -> None:
        """This connection now speaks for ``account`` (its key is logged in)."""
        if self.account is None:
            self.account = account
            account.connections.add(self)

    def _new_msg_id(self) -> int:
        now = time.time()
        msg_id = (int(now) << 32) | (int((now % 1) * 2**32) & ~3) | 1  # odd: server message
        if msg_id <= self._last_msg_id:
            msg_id = self._last_msg_id + 4
        self._last_msg_id = msg_id
        return msg_id

    def send(self, body: bytes) -> None:
        auth_key = self.auth_key
        assert auth_key is not None
        self._seq_no += 2
        data = (
            struct.pack(
                "<qqqii",
                self.salt,
                self.session_id,
                self._new_msg_id(),
                self._seq_no - 1,
                len(body),
            )
            + body
        )
        padding = os.urandom(-(len(data) + 12) % 16 + 12)
        msg_key = sha256(auth_key.key[96:128] + data + padding).digest()[8:24]
        key, iv = MTProtoState._calc_key(auth_key.key, msg_key, False)
        payload = (
            struct.pack("<Q", auth_key.key_id) + msg_key + AES.encrypt_ige(data + padding, key, iv)
        )
        self._write_frame(payload)

    def _write_frame(self, payload: bytes) -> None:
        """TCP "full" framing: length, sequence number, payload, CRC32."""
        frame = struct.pack("<ii", len(payload) + 12, self._send_seq) + payload
        self._send_seq += 1
        self.writer.write(frame + struct.pack("<I", crc32(frame)))

    def reply(self, req_msg_id: int, result) -> None:
        self.send(struct.pack("<Iq", RPC_RESULT, req_msg_id) + _tl_bytes(result))

    async def _handle(self, msg_id: int, obj) -> None:
        if isinstance(obj, MessageContainer):
            for message in obj.messages:
                await self._handle(message.msg_id, message.obj)
            return
        if isinstance(obj, GzipPacked):
            await self._handle(msg_id, BinaryReader(obj.data).tgread_object())
            return
        while isinstance(obj, functions.InvokeWithLayerRequest | functions.InitConnectionRequest):
            obj = obj.query
        if isinstance(obj, types.MsgsAck):
            return
        if isinstance(obj, functions.PingRequest | functions.PingDelayDisconnectRequest):
            self.reply(msg_id, types.Pong(msg_id, obj.ping_id))
            return
        telegram = self.telegram
        if telegram.silent:
            return
        if isinstance(obj, functions.messages.SendMessageRequest) and telegram.silent_after_sends:
            telegram.silent_after_sends -= 1
            if not telegram.silent_after_sends:
                telegram.go_silent()
        dropping = telegram.drop_only in (None, getattr(self.account, "phone", None))
        if telegram.drops.get(type(obj)) and dropping:
            telegram.drops[type(obj)] -= 1
            raise ConnectionError(f"the line dropped on {type(obj).__name__}")
        if self.telegram.latency_s:
            await asyncio.sleep(self.telegram.latency_s)
        logged_in = self.account is not None
        result = (self._fault(obj) or self._answer(obj)) if logged_in else self._login(obj)
        self.reply(msg_id, result)
        await self.writer.drain()
        if isinstance(obj, functions.messages.SendMessageRequest) and not isinstance(
            result, types.RpcError
        ):
            await self._bot_turn(obj)

    def _fault(self, request) -> types.RpcError | None:
        telegram, account = self.telegram, self.account
        duplicated = any(
            other.session_id != self.session_id
            for other in account.connections
            if other is not self
        )
        if duplicated:  # the same auth key, used from two places at once
            return types.RpcError(406, "AUTH_KEY_DUPLICATED")
        if not isinstance(request, functions.messages.SendMessageRequest):
            return None
        if telegram.flood_wait_next is not None:
            seconds, telegram.flood_wait_next = telegram.flood_wait_next, None
            return types.RpcError(420, f"FLOOD_WAIT_{seconds}")
        if telegram.peer_flood_next:
            telegram.peer_flood_next = False
            return types.RpcError(400, "PEER_FLOOD")
        if telegram.slow_mode_next is not None:
            seconds, telegram.slow_mode_next = telegram.slow_mode_next, None
            return types.RpcError(420, f"SLOWMODE_WAIT_{seconds}")
        if account.phone in telegram.blocked_by_bot:
            return types.RpcError(400, "USER_IS_BLOCKED")
        return None

    def _login(self, request):
        """What a key that is not logged in may do: ask for a code, sign in, pass the
        two-step check. Everything else is AUTH_KEY_UNREGISTERED, as on Telegram."""
        telegram = self.telegram
        match request:
            case functions.help.GetConfigRequest():
                return _config(telegram.port)
            case functions.auth.SendCodeRequest(phone_number=phone):
                registration = telegram.registrations.get(_digits(phone))
                if registration is None:
                    return types.RpcError(400, "PHONE_NUMBER_INVALID")
                self._login_phone = _digits(phone)
                return types.auth.SentCode(
                    types.auth.SentCodeTypeApp(len(registration.code)), registration.code_hash
                )
            case functions.auth.SignInRequest(phone_number=phone, phone_code=code):
                registration = telegram.registrations.get(_digits(phone))
                if registration is None or request.phone_code_hash != registration.code_hash:
                    return types.RpcError(400, "PHONE_CODE_EXPIRED")
                if code != registration.code:
                    return types.RpcError(400, "PHONE_CODE_INVALID")
                if registration.password is not None:
                    return types.RpcError(401, "SESSION_PASSWORD_NEEDED")
                return self._signed_in(phone)
            case functions.account.GetPasswordRequest():
                registration = telegram.registrations.get(self._login_phone or "")
                if registration is None or registration.password is None:
                    return types.RpcError(400, "PASSWORD_MISSING")
                return registration.password.describe()
            case functions.auth.CheckPasswordRequest(password=check):
                registration = telegram.registrations.get(self._login_phone or "")
                if registration is None or registration.password is None:
                    return types.RpcError(400, "PASSWORD_MISSING")
                if not registration.password.check(check):
                    return types.RpcError(400, "PASSWORD_HASH_INVALID")
                return self._signed_in(self._login_phone)
        return types.RpcError(401, "AUTH_KEY_UNREGISTERED")

    def _signed_in(self, phone: str) -> types.auth.Authorization:
        phone = _digits(phone)
        registration = self.telegram.registrations[phone]
        self._bind(self.telegram.authorize(self.auth_key, phone, registration.user_id))
        return types.auth.Authorization(user=self._user(registration.user_id, is_self=True))

    def _answer(self, request):
        account = self.account
        now = int(time.time())
        match request:
            case functions.help.GetConfigRequest():
                return _config(self.telegram.port)
            case functions.users.GetUsersRequest():
                return [self._user(account.user_id, is_self=True)]
            case functions.updates.GetStateRequest():
                return types.updates.State(account.pts, 0, now, 0, 0)
            case functions.updates.GetDifferenceRequest(pts=since):
                self.telegram.difference_calls += 1
                missed = [message for pts, message in account.history if pts > since]
                if not missed:
                    return types.updates.DifferenceEmpty(now, 0)
                senders = {m.from_id.user_id for m in missed}
                return types.updates.Difference(
                    new_messages=missed,
                    new_encrypted_messages=[],
                    other_updates=[],
                    chats=[],
                    users=[self._user(s, username=self._bot_name(s), bot=True) for s in senders],
                    state=types.updates.State(account.pts, 0, now, 0, 0),
                )
            case functions.contacts.ResolveUsernameRequest(username=name):
                bot_id = self.telegram.bots.get(name.lower())
                if bot_id is None:
                    return types.RpcError(400, "USERNAME_NOT_OCCUPIED")
                return types.contacts.ResolvedPeer(
                    types.PeerUser(bot_id), [], [self._user(bot_id, username=name, bot=True)]
                )
            case functions.messages.SendMessageRequest():
                account.pts += 1
                return types.UpdateShortSentMessage(next(account.message_ids), account.pts, 1, now)
            case functions.messages.GetHistoryRequest(peer=peer, limit=limit):
                bot_id = getattr(peer, "user_id", None)
                messages = [m for _, m in account.history if m.from_id.user_id == bot_id]
                latest = messages[::-1][:limit]
                bot = self._user(bot_id, username=self._bot_name(bot_id), bot=True)
                return types.messages.Messages(latest, topics=[], chats=[], users=[bot])
            case functions.messages.SetTypingRequest():
                return True
            case functions.messages.ReadHistoryRequest():
                return types.messages.AffectedMessages(account.pts, 0)
        return types.RpcError(400, f"METHOD_NOT_IMPLEMENTED_{type(request).__name__}")

    def _user(
        self, user_id: int, is_self: bool = False, username: str | None = None, bot: bool = False
    ) -> types.User:
        return types.User(
            user_id,
            is_self=is_self,
            access_hash=user_id * 7919,
            bot=bot,
            bot_info_version=1 if bot else None,
            username=username,
            first_name=username or "Tester",
            phone=None if bot else self.account.phone,
        )

    async def _bot_turn(self, request) -> None:
        account, telegram = self.account, self.telegram
        bot_id = getattr(request.peer, "user_id", None)
        agent = telegram.agent_bots.get(bot_id)
        if agent is not None:
            chat = f"{account.user_id}"
            if chat not in agent.chat_ids():
                loop = asyncio.get_running_loop()
                agent.connect(
                    chat, lambda text: loop.create_task(telegram.push(account, bot_id, text))
                )
            agent.receive(chat, request.message)
            return
        if bot_id in telegram.streaming_bots:
            asyncio.get_running_loop().create_task(telegram.stream(account, bot_id))
            return
        handler = telegram.bot_handlers.get(bot_id)
        if handler is not None:
            for text in handler(account, request.message):
                await telegram.push(account, bot_id, text)

    def _bot_name(self, bot_id: int) -> str | None:
        return next((name for name, i in self.telegram.bots.items() if i == bot_id), None)


def _digits(phone: str) -> str:
    """A phone number as Telegram keys it: digits only."""
    return "".join(c for c in phone if c.isdigit())


def _tl_bytes(value) -> bytes:
    """TL serialisation, including the bare results a method may return."""
    if isinstance(value, bool):
        return struct.pack("<I", BOOL_TRUE if value else BOOL_FALSE)
    if isinstance(value, list):
        return struct.pack("<Ii", VECTOR, len(value)) + b"".join(_tl_bytes(v) for v in value)
    return bytes(value)


def _config(port: int) -> types.Config:
    dc = types.DcOption(DC_ID, "127.0.0.1", port)
    now = int(time.time())
    return types.Config(
        date=now,
        expires=now + 3600,
        test_mode=True,
        this_dc=DC_ID,
        dc_options=[dc],
        dc_txt_domain_name="",
        chat_size_max=200,
        megagroup_size_max=200000,
        forwarded_count_max=100,
        online_update_period_ms=120000,
        offline_blur_timeout_ms=5000,
        offline_idle_timeout_ms=30000,
        online_cloud_timeout_ms=300000,
        notify_cloud_delay_ms=30000,
        notify_default_delay_ms=1500,
        push_chat_period_ms=60000,
        push_chat_limit=2,
        edit_time_limit=172800,
        revoke_time_limit=172800,
        revoke_pm_time_limit=172800,
        rating_e_decay=2419200,
        stickers_recent_limit=200,
        channels_read_media_period=604800,
        call_receive_timeout_ms=20000,
        call_ring_timeout_ms=90000,
        call_connect_timeout_ms=30000,
        call_packet_timeout_ms=10000,
        me_url_prefix="",
        caption_length_max=1024,
        message_length_max=4096,
        webfile_dc_id=DC_ID,
    )
