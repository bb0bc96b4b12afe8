"""The server side of logging in, for the local Telegram: the MTProto key exchange
(unencrypted messages, RSA, Diffie-Hellman) and the SRP check of a two-step password.

Unmodified Telethon runs its half of both against these. The RSA key is this local
endpoint's own (``local_telegram_rsa.pem``, made for it, worthless elsewhere);
``trust_test_key`` adds its public half to the keys Telethon accepts, in this process.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import rsa
from telethon import password as srp
from telethon.crypto import AES, AuthKey
from telethon.crypto import rsa as telethon_rsa
from telethon.extensions import BinaryReader
from telethon.helpers import generate_key_data_from_nonce
from telethon.tl import functions, types

KEY_FILE = Path(__file__).with_name("local_telegram_rsa.pem")
# Telegram's published 2048-bit safe prime (its DH and SRP groups), with generator 3.
DH_PRIME = int(
    "C71CAEB9C6B1C9048E6C522F70F13F73980D40238E3E21C14934D037563D930F48198A0AA7C14058229493D2"
    "2530F4DBFA336F6E0AC925139543AED44CCE7C3720FD51F69458705AC68CD4FE6B6B13ABDC9746512969328454"
    "F18FAF8C595F642477FE96BB2A941D5BCD1D4AC8CC49880708FA9B378E3C4F3A9060BEE67CF9A4A4A695811051"
    "907E162753B56B0F6B410DBA74D8A84B2A14B3144E0EF1284754FD17ED950D5965B4B9DD46582DB1178D169C6B"
    "C465B0D6FF9CA3928FEF5B9AE4E418FC15E83EBEA0F87FA9FF5EED70050DED2849F47BF959D956850CE929851F"
    "0D8115F635B105EE2E4E15D04B2454BF6F4FADF034B10403119CD8E3B92FCC5B",
    16,
)
G = 3
PQ = (1_000_000_007, 998_244_353)  # two primes Telethon factorises in microseconds


@functools.cache
def private_key() -> rsa.PrivateKey:
    return rsa.PrivateKey.load_pkcs1(KEY_FILE.read_bytes())


def trust_test_key() -> None:
    """Let Telethon (in this process) encrypt to this endpoint's RSA key."""
    key = private_key()
    telethon_rsa.add_key(rsa.PublicKey(key.n, key.e).save_pkcs1().decode(), old=False)


def fingerprint() -> int:
    key = private_key()
    return telethon_rsa._compute_fingerprint(rsa.PublicKey(key.n, key.e))


def _int(data: bytes) -> int:
    return int.from_bytes(data, "big")


def _bytes(number: int) -> bytes:
    return telethon_rsa.get_byte_array(number)


@dataclass
class Handshake:
    """One connection's key exchange, step by step; ``auth_key`` once it has succeeded."""

    server_nonce: int = field(
        default_factory=lambda: int.from_bytes(os.urandom(16), "little", signed=True)
    )
    a: int = field(default_factory=lambda: _int(os.urandom(256)))
    nonce: int = 0
    new_nonce: int = 0
    auth_key: AuthKey | None = None

    def answer(self, request):
        match request:
            case functions.ReqPqMultiRequest(nonce=nonce):
                self.nonce = nonce
                return types.ResPQ(nonce, self.server_nonce, _bytes(PQ[0] * PQ[1]), [fingerprint()])
            case functions.ReqDHParamsRequest(encrypted_data=data):
                inner = self._rsa_decrypt(data)
                self.new_nonce = inner.new_nonce
                return types.ServerDHParamsOk(
                    self.nonce, self.server_nonce, self._encrypt_dh_answer()
                )
            case functions.SetClientDHParamsRequest(encrypted_data=data):
                key, iv = generate_key_data_from_nonce(self.server_nonce, self.new_nonce)
                plain = AES.decrypt_ige(data, key, iv)
                client = BinaryReader(plain[20:]).tgread_object()
                self.auth_key = AuthKey(_bytes(pow(_int(client.g_b), self.a, DH_PRIME)))
                nonce_hash = self.auth_key.calc_new_nonce_hash(self.new_nonce, 1)
                return types.DhGenOk(self.nonce, self.server_nonce, nonce_hash)
        raise ConnectionError(f"unexpected unencrypted {type(request).__name__}")

    def _rsa_decrypt(self, data: bytes) -> types.PQInnerData:
        key = private_key()
        plain = pow(_int(data), key.d, key.n).to_bytes(255, "big")
        inner = BinaryReader(plain[20:]).tgread_object()
        if hashlib.sha1(bytes(inner)).digest() != plain[:20]:
            raise ConnectionError("p_q_inner_data hash mismatch")
        return inner

    def _encrypt_dh_answer(self) -> bytes:
        inner = bytes(
            types.ServerDHInnerData(
                self.nonce,
                self.server_nonce,
                G,
                _bytes(DH_PRIME),
                _bytes(pow(G, self.a, DH_PRIME)),
                int(time.time()),
            )
        )
        answer = hashlib.sha1(inner).digest() + inner
        answer += os.urandom(-len(answer) % 16)
        key, iv = generate_key_data_from_nonce(self.server_nonce, self.new_nonce)
        return AES.encrypt_ige(answer, key, iv)


class TwoStepPassword:
    """A two-step verification password, checked the way Telegram does: SRP, so the
    password itself never crosses the wire."""

    def __init__(self, password: str) -> None:
        self.algo = types.PasswordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow(
            salt1=os.urandom(40), salt2=os.urandom(16), g=G, p=_bytes(DH_PRIME)
        )
        x = _int(srp.compute_hash(self.algo, password))
        self._verifier = pow(G, x, DH_PRIME)
        self._srp_id = _int(os.urandom(7))
        self._b = _int(os.urandom(256))
        k = _int(srp.sha256(srp.num_bytes_for_hash(self.algo.p), srp.big_num_for_hash(G)))
        self._big_b = (k * self._verifier + pow(G, self._b, DH_PRIME)) % DH_PRIME

    def describe(self) -> types.account.Password:
        return types.account.Password(
            new_algo=types.PasswordKdfAlgoUnknown(),
            new_secure_algo=types.SecurePasswordKdfAlgoUnknown(),
            secure_random=os.urandom(32),
            has_password=True,
            current_algo=self.algo,
            srp_B=srp.big_num_for_hash(self._big_b),
            srp_id=self._srp_id,
        )

    def check(self, check: types.InputCheckPasswordSRP) -> bool:
        if check.srp_id != self._srp_id:
            return False
        a_for_hash = check.A
        b_for_hash = srp.big_num_for_hash(self._big_b)
        u = _int(srp.sha256(a_for_hash, b_for_hash))
        shared = pow(_int(a_for_hash) * pow(self._verifier, u, DH_PRIME), self._b, DH_PRIME)
        p_for_hash = srp.num_bytes_for_hash(self.algo.p)
        expected = srp.sha256(
            srp.xor(srp.sha256(p_for_hash), srp.sha256(srp.big_num_for_hash(G))),
            srp.sha256(self.algo.salt1),
            srp.sha256(self.algo.salt2),
            a_for_hash,
            b_for_hash,
            srp.sha256(srp.big_num_for_hash(shared)),
        )
        return hmac.compare_digest(check.M1, expected)
