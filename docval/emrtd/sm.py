"""Secure Messaging (ICAO 9303-11 §9.8), terminal side and chip side.

One :class:`SecureMessaging` object holds one key set and its Send Sequence
Counter.  Every operation increments the SSC *first* and then uses it, so a
terminal and a chip that start from the same SSC stay in step: the terminal's
``wrap`` and the chip's ``unwrap_command`` both use SSC+1, the chip's
``wrap_response`` and the terminal's ``unwrap`` both use SSC+2.

Protected command:  CLA|0C INS P1 P2 [DO'87'|DO'85'] [DO'97'] DO'8E' Le=00(00)
Protected response: [DO'87'|DO'85'] DO'99' DO'8E' SW

The MAC is ``mac(pad(SSC || pad(header) || DOs))`` for 3DES and AES alike (the
header part is left out for responses); the IV of the encryption is zero for
3DES and ``E(K_enc, SSC)`` for AES.

Verifying a response is strict (docs/reliability.md S1–S6): the objects must come in
the one allowed order with nothing else around them, the MAC is compared before
anything inside the objects is looked at, and every later failure (DO'99' ≠ SW,
padding indicator, block length, padding) raises the same generic error so the
chip cannot be used as a padding oracle.
"""
from __future__ import annotations

from docval.emrtd.apdu import (MAX_EXTENDED_LC, MAX_EXTENDED_LE, MAX_SHORT_LC, MAX_SHORT_LE, SW_OK,
                               SW_SM_DATA_INCORRECT, SW_SM_DATA_MISSING, CommandAPDU,
                               ResponseAPDU)
from docval.emrtd.crypto import (KDF_ENC, KDF_MAC, MAC_LENGTH, CipherSpec, cbc_decrypt,
                                 cbc_encrypt, constant_time_equal, ecb_encrypt_block, kdf, mac,
                                 pad, unpad)
from docval.emrtd.errors import SecureMessagingError, TLVError
from docval.emrtd.tlv import encode, parse_one

DO_ENCRYPTED_ODD = 0x85    # cryptogram of BER-TLV data (odd INS), no padding indicator
DO_ENCRYPTED = 0x87        # padding-content indicator 01 || cryptogram
DO_LE = 0x97
DO_STATUS = 0x99
DO_MAC = 0x8E

SM_CLA_BITS = 0x0C
_STATUS_DO_SIZE = 4                 # 99 02 SW1 SW2
_MAC_DO_SIZE = 2 + MAC_LENGTH       # 8E 08 ...
_SW_SIZE = 2
_BAD_DATA = "protected data failed verification"
# The SSC counts modulo 2^64 for both ciphers, as JMRTD's Java long does (the AES SSC block
# is 8 zero bytes || that counter): a session handed over from a phone (docval.emrtd.handover)
# must step exactly as the phone will after the handback, also across the wrap.  Sessions we
# start ourselves begin at 0 or at a BAC value below 2^64, so for them nothing changes.
SSC_MODULUS = 1 << 64


def _length_field_size(n: int) -> int:
    return 1 if n < 0x80 else 2 if n < 0x100 else 3


def _cryptogram_size(n: int, block_size: int) -> int:
    """Bytes of ciphertext for n plain bytes: padding always adds 1..block_size bytes."""
    return (n // block_size + 1) * block_size


def _do87_size(n: int, block_size: int) -> int:
    """Encoded size of DO'87' carrying n plain bytes (0 for no data: no DO at all)."""
    if n == 0:
        return 0
    value = 1 + _cryptogram_size(n, block_size)
    return 1 + _length_field_size(value) + value


def _parse_dos(data: bytes) -> list[tuple[int, bytes, bytes]]:
    """(tag, value, raw encoding) of each data object; SM DOs have one-byte tags."""
    out = []
    offset = 0
    try:
        while offset < len(data):
            item, end = parse_one(data, offset, max_length=len(data))
            out.append((item.tag, item.value, bytes(data[offset:end])))
            offset = end
    except TLVError:
        raise SecureMessagingError("malformed secure messaging data objects") from None
    return out


class SecureMessaging:
    """One Secure Messaging session key set (K_enc, K_mac) and its SSC."""

    def __init__(self, spec: CipherSpec, k_enc: bytes, k_mac: bytes, ssc: int = 0):
        if len(k_enc) != spec.key_length or len(k_mac) != spec.key_length:
            raise ValueError(f"{spec.name} session keys must be {spec.key_length} bytes")
        self.spec = spec
        self._k_enc = bytes(k_enc)
        self._k_mac = bytes(k_mac)
        self.ssc = ssc
        # INS parity per response SSC, so a response to an odd-INS command must use
        # DO'85' and any other DO'87' (docs/reliability.md S4), also when pipelined.
        self._odd_ins: dict[int, bool] = {}
        self._chip_odd_ins = False

    @classmethod
    def from_shared_secret(cls, spec: CipherSpec, secret: bytes, ssc: int = 0) -> "SecureMessaging":
        """Session keys from a PACE / Chip Authentication shared secret (9303-11 §9.7.1)."""
        return cls(spec, kdf(secret, KDF_ENC, spec), kdf(secret, KDF_MAC, spec), ssc)

    def __repr__(self) -> str:
        return f"SecureMessaging({self.spec.name}-{self.spec.key_length * 8})"

    # -- primitives ------------------------------------------------------------

    @property
    def _bs(self) -> int:
        return self.spec.block_size

    def _next_ssc(self) -> bytes:
        self.ssc = (self.ssc + 1) % SSC_MODULUS
        return self.ssc.to_bytes(self._bs, "big")

    def _iv(self, ssc: bytes) -> bytes:
        if self.spec.name == "AES":
            return ecb_encrypt_block(self.spec, self._k_enc, ssc)
        return b"\x00" * self._bs

    def _mac(self, ssc: bytes, data: bytes) -> bytes:
        return mac(self.spec, self._k_mac, pad(ssc + data, self._bs))

    def _encrypt(self, ssc: bytes, data: bytes) -> bytes:
        return cbc_encrypt(self.spec, self._k_enc, self._iv(ssc), pad(data, self._bs))

    def _decrypt(self, ssc: bytes, cryptogram: bytes) -> bytes:
        if not cryptogram or len(cryptogram) % self._bs:
            raise SecureMessagingError(_BAD_DATA)
        plain = cbc_decrypt(self.spec, self._k_enc, self._iv(ssc), cryptogram)
        try:
            return unpad(plain, self._bs)
        except SecureMessagingError:
            raise SecureMessagingError(_BAD_DATA) from None

    def _data_do(self, ssc: bytes, data: bytes, odd_ins: bool) -> bytes:
        if not data:
            return b""
        cryptogram = self._encrypt(ssc, data)
        if odd_ins:
            return encode(DO_ENCRYPTED_ODD, cryptogram)
        return encode(DO_ENCRYPTED, b"\x01" + cryptogram)

    def _open_data_do(self, ssc: bytes, tag: int, value: bytes) -> bytes:
        if tag == DO_ENCRYPTED:
            if not value or value[0] != 0x01:
                raise SecureMessagingError(_BAD_DATA)
            value = value[1:]
        return self._decrypt(ssc, value)

    # -- sizes -----------------------------------------------------------------

    def _protected_response_size(self, n: int) -> int:
        return _do87_size(n, self._bs) + _STATUS_DO_SIZE + _MAC_DO_SIZE + _SW_SIZE

    def max_plain_le(self, max_response_bytes: int) -> int:
        """Largest plain Le whose protected response fits in ``max_response_bytes``.

        The protected response of n plain bytes (n ≥ 1) takes
        ``1 + len(L) + L`` for DO'87' with ``L = 1 + (n // bs + 1) * bs``
        (indicator byte plus ciphertext: padding always adds 1..bs bytes; ``len(L)``
        is 1, 2 or 3 bytes for L < 128, < 256, else), plus 4 for DO'99', 10 for
        DO'8E' and 2 for the status word.  An odd-INS answer (DO'85') is one
        byte shorter, so this is safe for both.  Returns 0 when not even one byte
        fits, and at most 65536.
        """
        best = 0
        for length_size in (1, 2, 3):
            room = max_response_bytes - _STATUS_DO_SIZE - _MAC_DO_SIZE - _SW_SIZE - 1 - length_size
            blocks = (room - 1) // self._bs       # L = 1 + blocks * bs must fit in room
            n = min(blocks * self._bs - 1, MAX_EXTENDED_LE)
            if n >= 1 and self._protected_response_size(n) <= max_response_bytes:
                best = max(best, n)
        return best

    def _protected_command_size(self, n: int) -> int:
        body = _do87_size(n, self._bs)
        short = body + 3 + _MAC_DO_SIZE <= MAX_SHORT_LC
        do97 = 3 if short else 4
        body += do97 + _MAC_DO_SIZE
        if body > MAX_EXTENDED_LC:
            return 1 << 32          # cannot be sent at all
        return 4 + (1 if short else 3) + body + (1 if short else 2)

    def max_plain_lc(self, max_command_bytes: int) -> int:
        """Largest plain command data length whose protected command fits.

        The protected command of n data bytes takes 4 header bytes, the Lc field
        (1, or 3 when extended), DO'87' (size as in :meth:`max_plain_le`), a DO'97'
        (3 bytes, 4 when extended; counted even if the command has no Le, to be
        safe), 10 for DO'8E' and the Le field (1, or 2 when extended).  The
        protected command is extended when its data exceeds 255 bytes, and its data
        can never exceed 65535 bytes.
        """
        best = 0
        lo, hi = 1, min(max_command_bytes, 65535)
        # the size grows monotonically with n: binary search
        while lo <= hi:
            mid = (lo + hi) // 2
            if self._protected_command_size(mid) <= max_command_bytes:
                best, lo = mid, mid + 1
            else:
                hi = mid - 1
        return best

    # -- terminal side ---------------------------------------------------------

    def wrap(self, cmd: CommandAPDU) -> CommandAPDU:
        """Protect a plain command (terminal side).

        The protected command is extended when the plain one is, when its data
        objects exceed 255 bytes, or when the protected answer to the plain Le
        cannot fit in 256 bytes.  Its Le is 00 (256) or 0000 (65536): the chip
        answers with whatever the protected response needs.  A plain command too
        long to protect (see :meth:`max_plain_lc`) raises ValueError.
        """
        ssc = self._next_ssc()
        odd = bool(cmd.ins & 1)
        self._odd_ins[(self.ssc + 1) % SSC_MODULUS] = odd
        if len(self._odd_ins) > 256:   # responses that never came (aborted pipelines)
            self._odd_ins.pop(next(iter(self._odd_ins)))
        cla = cmd.cla | SM_CLA_BITS
        header = bytes((cla, cmd.ins, cmd.p1, cmd.p2))
        dos = self._data_do(ssc, cmd.data, odd)
        if cmd.le is not None:
            size = 2 if cmd.is_extended else 1
            dos += encode(DO_LE, (cmd.le % (1 << (8 * size))).to_bytes(size, "big"))
        dos += encode(DO_MAC, self._mac(ssc, pad(header, self._bs) + dos))
        extended = (cmd.is_extended or len(dos) > MAX_SHORT_LC
                    or (cmd.le is not None
                        and self._protected_response_size(cmd.le) - _SW_SIZE > MAX_SHORT_LE))
        le = MAX_EXTENDED_LE if extended else MAX_SHORT_LE
        return CommandAPDU(cla, cmd.ins, cmd.p1, cmd.p2, dos, le, extended=extended)

    def unwrap(self, resp: ResponseAPDU) -> ResponseAPDU:
        """Verify and decrypt a protected response (terminal side)."""
        ssc = self._next_ssc()
        odd = self._odd_ins.pop(self.ssc, None)
        if not resp.data:
            if resp.sw in (SW_SM_DATA_MISSING, SW_SM_DATA_INCORRECT):
                raise SecureMessagingError(f"chip rejected secure messaging ({resp.sw:04X})")
            if resp.sw == SW_OK:
                raise SecureMessagingError("unprotected success status")
            # A plain error status (e.g. 6A82): chips answer errors without SM objects.
            return resp
        dos = _parse_dos(resp.data)
        tags = [tag for tag, _, _ in dos]
        data_tags = {DO_ENCRYPTED, DO_ENCRYPTED_ODD} if odd is None else \
            {DO_ENCRYPTED_ODD if odd else DO_ENCRYPTED}
        if not (tags[-2:] == [DO_STATUS, DO_MAC]
                and (len(tags) == 2 or (len(tags) == 3 and tags[0] in data_tags))):
            raise SecureMessagingError("unexpected secure messaging data objects")
        mac_value = dos[-1][1]
        expected = self._mac(ssc, b"".join(raw for _, _, raw in dos[:-1]))
        if not constant_time_equal(mac_value, expected):
            raise SecureMessagingError("bad secure messaging MAC")
        # Authenticated from here on: every failure gets the same message.
        if dos[-2][1] != resp.sw.to_bytes(2, "big"):
            raise SecureMessagingError(_BAD_DATA)
        data = self._open_data_do(ssc, dos[0][0], dos[0][1]) if len(dos) == 3 else b""
        return ResponseAPDU(data, resp.sw)

    # -- chip side -------------------------------------------------------------

    def unwrap_command(self, cmd: CommandAPDU) -> CommandAPDU:
        """Verify and decrypt a protected command (chip side).

        The plain command's ``extended`` flag is set when DO'97' has two bytes;
        otherwise it is derived from the data and Le as usual.
        """
        ssc = self._next_ssc()
        odd = bool(cmd.ins & 1)
        self._chip_odd_ins = odd
        if cmd.cla & SM_CLA_BITS != SM_CLA_BITS:
            raise SecureMessagingError("command is not protected")
        dos = _parse_dos(cmd.data)
        tags = [tag for tag, _, _ in dos]
        data_tag = DO_ENCRYPTED_ODD if odd else DO_ENCRYPTED
        allowed = ([DO_MAC], [DO_LE, DO_MAC], [data_tag, DO_MAC], [data_tag, DO_LE, DO_MAC])
        if tags not in allowed:
            raise SecureMessagingError("unexpected secure messaging data objects")
        header = bytes((cmd.cla, cmd.ins, cmd.p1, cmd.p2))
        expected = self._mac(ssc, pad(header, self._bs) + b"".join(raw for _, _, raw in dos[:-1]))
        if not constant_time_equal(dos[-1][1], expected):
            raise SecureMessagingError("bad secure messaging MAC")
        data = b""
        le = None
        extended = False
        for tag, value, _ in dos[:-1]:
            if tag == DO_LE:
                if len(value) not in (1, 2):
                    raise SecureMessagingError(_BAD_DATA)
                extended = len(value) == 2
                le = int.from_bytes(value, "big") or (1 << (8 * len(value)))
            else:
                data = self._open_data_do(ssc, tag, value)
        if len(data) > 65535:
            raise SecureMessagingError(_BAD_DATA)
        return CommandAPDU(cmd.cla & ~SM_CLA_BITS & 0xFF, cmd.ins, cmd.p1, cmd.p2, data, le,
                           extended=extended)

    def wrap_response(self, resp: ResponseAPDU) -> ResponseAPDU:
        """Protect a plain response (chip side); data objects follow the last command's INS."""
        ssc = self._next_ssc()
        dos = self._data_do(ssc, resp.data, self._chip_odd_ins)
        dos += encode(DO_STATUS, resp.sw.to_bytes(2, "big"))
        dos += encode(DO_MAC, self._mac(ssc, dos))
        return ResponseAPDU(dos, resp.sw)
