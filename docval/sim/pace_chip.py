"""The chip side of PACE (ICAO 9303-11 §4.4), a virtual-chip mechanism.

:class:`PaceChip` runs every variant the terminal in :mod:`docval.emrtd.pace`
does - GM, IM and CAM; ECDH on curve ids 8-18 and DH on groups 0-2; 3DES and
AES-128/192/256 - reusing the terminal module's cryptographic steps, so both
sides share one implementation of the mappings and tokens while the worked
examples (tests/emrtd/test_pace.py) pin that implementation down.

It behaves like a real chip: MSE:Set AT selects protocol and password (6A80 for a
protocol it does not offer, 6A88 for a password or parameter id it does not
have), the GENERAL AUTHENTICATE chain must arrive in order with CLA 10 for the
first three steps, a terminal value that is malformed or off the curve gets
6A80, and a wrong authentication token - the symptom of a wrong CAN or MRZ - gets
6300.  After the last step it starts Secure Messaging on the chip and grants
access.  Every failure resets the protocol: the terminal must start again with
MSE:Set AT.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Optional, Union

from docval.emrtd import ec, ecpoint, pace, tlv
from docval.emrtd.crypto import constant_time_equal
from docval.emrtd.apdu import SW_OK, SW_WRONG_DATA, SW_WRONG_P1P2, CommandAPDU, ResponseAPDU
from docval.emrtd.errors import ParseError, TLVError
from docval.emrtd.mrz import CanKey, MrzKey
from docval.emrtd.securityinfo import ID_PACE, PACEInfo, decode_oid, encode_oid
from docval.emrtd.sm import SecureMessaging
from docval.sim.mechanism import ChipContext, Mechanism

SW_AUTHENTICATION_FAILED = 0x6300
SW_REFERENCED_DATA_NOT_FOUND = 0x6A88
SW_CONDITIONS_NOT_SATISFIED = 0x6985
CLA_CHAINING = 0x10
INS_MSE = 0x22
INS_GENERAL_AUTHENTICATE = 0x86
_PACE_OID_PREFIX = encode_oid(ID_PACE + ".1.1")[2:-2]     # content octets of 0.4.0.127.0.7.2.2.4

Password = Union[MrzKey, CanKey]


class _Reject(Exception):
    """Ends a step with a status word (internal to the chip)."""

    def __init__(self, sw: int):
        super().__init__(f"{sw:04X}")
        self.sw = sw


@dataclass
class _Session:
    """The chip's progress through one PACE run."""

    password: bytes
    step: int = 1                # the next GA step expected
    s: bytes = b""
    map_private: int = 0
    mapped_g: Any = None
    public_raw: bytes = b""
    terminal_raw: bytes = b""
    ks_enc: bytes = b""
    ks_mac: bytes = b""

    def __repr__(self) -> str:
        # Password, nonce, keys: nothing here may reach a log or a traceback.
        return f"_Session(step={self.step})"


class PaceChip(Mechanism):
    """The PACE mechanism: claims MSE:Set AT with a PACE OID and the GENERAL AUTHENTICATEs after it.

    ``passwords``: the access keys the chip accepts - an :class:`MrzKey`, a
    :class:`CanKey`, or several (a CAN-only ID card passes just its CAN).
    ``oid`` / ``parameter_id``: the protocol the chip offers (what its
    EF.CardAccess PACEInfo says).  ``cam_private_key``: the static Chip
    Authentication key for PACE-CAM, an integer or a ``cryptography`` EC private
    key on the same curve; its public point (for EF.CardSecurity) is
    :attr:`cam_public_point`.  ``failed_attempts`` and ``completed`` count this
    chip's runs.
    """

    def __init__(self, passwords: Union[Password, Iterable[Password]], oid: str, parameter_id: int,
                 cam_private_key: Any = None):
        if isinstance(passwords, (MrzKey, CanKey)):
            passwords = [passwords]
        self._passwords: Mapping[int, bytes] = {
            pace.PASSWORD_CAN if isinstance(key, CanKey) else pace.PASSWORD_MRZ: key.pace_password
            for key in passwords
        }
        if not self._passwords:
            raise ValueError("a PACE chip needs at least one password")
        self.suite = pace.suite_for(oid, parameter_id)       # raises for non-standard choices
        self.oid = oid
        self.parameter_id = parameter_id
        self._cam_key: Optional[int] = None
        if self.suite.mapping == "CAM":
            if cam_private_key is None:
                raise ValueError("PACE-CAM needs the chip's static private key")
            value = cam_private_key
            if not isinstance(value, int):
                value = cam_private_key.private_numbers().private_value
            if not 1 <= value < self.suite.domain.order:
                raise ValueError("CAM private key out of range")
            self._cam_key = value
        self.failed_attempts = 0
        self.completed = 0
        self._session: _Session | None = None

    def __repr__(self) -> str:
        return f"<PaceChip {self.suite.protocol} {self.suite.domain.name}>"

    @property
    def pace_info(self) -> PACEInfo:
        """The PACEInfo this chip publishes in EF.CardAccess."""
        return PACEInfo(self.oid, 2, self.parameter_id)

    @property
    def cam_public_point(self) -> Optional[bytes]:
        """PK_IC, the static key EF.CardSecurity must carry for CAM (uncompressed point)."""
        if self._cam_key is None:
            return None
        domain = self.suite.domain
        assert isinstance(domain, pace.EcDomain)
        return domain.encode(domain.public(self._cam_key, domain.generator))

    # -- Mechanism interface ------------------------------------------------------

    def claims(self, cmd: CommandAPDU) -> bool:
        if cmd.ins == INS_GENERAL_AUTHENTICATE:
            return True         # the chip routes it here only after this mechanism's MSE
        if cmd.ins != INS_MSE or (cmd.p1, cmd.p2) != (0xC1, 0xA4):
            return False
        try:
            objects = _data_objects(cmd.data)
        except _Reject:
            return False
        return objects.get(0x80, b"").startswith(_PACE_OID_PREFIX)

    def answer(self, chip: ChipContext, cmd: CommandAPDU) -> ResponseAPDU:
        if cmd.ins == INS_MSE:
            return self._mse(cmd)
        return self._general_authenticate(chip, cmd)

    def _mse(self, cmd: CommandAPDU) -> ResponseAPDU:
        self._session = None
        try:
            objects = _data_objects(cmd.data)
            try:
                oid = decode_oid(objects.get(0x80, b""))
            except ParseError:
                raise _Reject(SW_WRONG_DATA) from None
            if oid != self.oid:
                raise _Reject(SW_WRONG_DATA)
            ref = objects.get(0x83, b"")
            if len(ref) != 1 or ref[0] not in self._passwords:
                raise _Reject(SW_REFERENCED_DATA_NOT_FOUND)
            if 0x84 in objects and objects[0x84] != bytes([self.parameter_id]):
                raise _Reject(SW_REFERENCED_DATA_NOT_FOUND)
        except _Reject as rej:
            return ResponseAPDU(b"", rej.sw)
        self._session = _Session(password=self._passwords[ref[0]])
        return ResponseAPDU(b"", SW_OK)

    def _general_authenticate(self, chip: ChipContext, cmd: CommandAPDU) -> ResponseAPDU:
        session = self._session
        try:
            if session is None:
                raise _Reject(SW_CONDITIONS_NOT_SATISFIED)
            step = session.step
            if (cmd.p1, cmd.p2) != (0, 0):
                raise _Reject(SW_WRONG_P1P2)
            chained = bool(cmd.cla & CLA_CHAINING)
            if chained != (step < 4):
                raise _Reject(SW_WRONG_DATA)
            try:
                outer = tlv.parse_single(cmd.data, 0x7C, max_length=4096)
            except TLVError:
                raise _Reject(SW_WRONG_DATA) from None
            objects = _data_objects(outer.value)
            handler = (self._encrypted_nonce, self._map_nonce, self._key_agreement,
                       self._mutual_authentication)[step - 1]
            try:
                answer = handler(chip, session, objects)
            except ParseError:
                raise _Reject(SW_WRONG_DATA) from None
        except _Reject as rej:
            if rej.sw == SW_AUTHENTICATION_FAILED:
                self.failed_attempts += 1
            self._session = None
            return ResponseAPDU(b"", rej.sw)
        if step < 4:
            session.step = step + 1
        else:
            self._session = None
        return ResponseAPDU(tlv.encode(0x7C, answer), SW_OK)

    # -- the four steps -----------------------------------------------------------

    def _domain(self) -> Any:
        # EcDomain and DhDomain offer one interface over different element types (points,
        # integers); a typed union would make mypy check every mix of the two.
        return self.suite.domain

    def _encrypted_nonce(self, chip: ChipContext, st: _Session, objects: dict[int, bytes]) -> bytes:
        if objects:
            raise _Reject(SW_WRONG_DATA)
        spec = self.suite.cipher
        # IM needs exactly l bytes; for GM one or two blocks are what chips use.
        length = pace.nonce_length(self.suite) if self.suite.mapping == "IM" else 16
        st.s = bytes(chip.rng(length))
        z = pace.encrypt_nonce(spec, pace.password_key(st.password, spec), st.s)
        return tlv.encode(0x80, z)

    def _map_nonce(self, chip: ChipContext, st: _Session, objects: dict[int, bytes]) -> bytes:
        domain = self._domain()
        data = objects.get(0x81)
        if data is None:
            raise _Reject(SW_WRONG_DATA)
        if self.suite.mapping == "IM":
            if len(data) != self.suite.cipher.key_length:
                raise _Reject(SW_WRONG_DATA)
            value = pace.im_pseudo_random(self.suite.cipher, st.s, data, domain.prime)
            st.mapped_g = domain.im_map(value)
            return tlv.encode(0x82, b"")
        terminal_map = domain.decode(data)
        st.map_private, map_public = domain.keypair(chip.rng, domain.generator)
        h = domain.shared_element(st.map_private, terminal_map)
        st.mapped_g = domain.gm_map(int.from_bytes(st.s, "big"), h)
        return tlv.encode(0x82, domain.encode(map_public))

    def _key_agreement(self, chip: ChipContext, st: _Session, objects: dict[int, bytes]) -> bytes:
        domain = self._domain()
        data = objects.get(0x83)
        if data is None:
            raise _Reject(SW_WRONG_DATA)
        terminal_public = domain.decode(data)
        private, public = domain.keypair(chip.rng, st.mapped_g)
        if public == terminal_public:
            raise _Reject(SW_WRONG_DATA)
        st.ks_enc, st.ks_mac = pace.session_keys(
            self.suite.cipher, domain.shared_secret(private, terminal_public))
        st.public_raw = domain.encode(public)
        st.terminal_raw = data
        return tlv.encode(0x84, st.public_raw)

    def _mutual_authentication(self, chip: ChipContext, st: _Session, objects: dict[int, bytes]) -> bytes:
        suite, spec = self.suite, self.suite.cipher
        tag = suite.domain.public_key_tag
        token = objects.get(0x85)
        expected = pace.auth_token(spec, st.ks_mac, self.oid, tag, st.public_raw)
        if token is None or not constant_time_equal(token, expected):
            raise _Reject(SW_AUTHENTICATION_FAILED)
        answer = tlv.encode(0x86, pace.auth_token(spec, st.ks_mac, self.oid, tag, st.terminal_raw))
        if suite.mapping == "CAM":
            assert self._cam_key is not None
            n = suite.domain.order
            # CA_IC = SK_IC^-1 * SK_Map,IC mod n (9303-11 §4.4.3.5.1), FE2OS over n's length
            ca_ic = pow(self._cam_key, n - 2, n) * st.map_private % n
            answer += tlv.encode(0x8A, pace.encrypt_cam_data(
                spec, st.ks_enc, ca_ic.to_bytes((n.bit_length() + 7) // 8, "big")))
        chip.start_sm(SecureMessaging(spec, st.ks_enc, st.ks_mac, ssc=0))
        chip.access_granted = True
        self.completed += 1
        return answer


def _data_objects(data: bytes) -> dict[int, bytes]:
    """Simple data objects by tag; malformed or repeated ones are wrong data."""
    try:
        items = tlv.parse_all(data, max_length=4096)
    except TLVError:
        raise _Reject(SW_WRONG_DATA) from None
    objects: dict[int, bytes] = {}
    for item in items:
        if item.tag in objects:
            raise _Reject(SW_WRONG_DATA)
        objects[item.tag] = item.value
    return objects


def cam_public_point(curve: ec.Curve, private_key: int) -> bytes:
    """The uncompressed static CAM public key for a private scalar (profiles use it)."""
    return ecpoint.encode_point(curve, ecpoint.multiply_generator(curve, private_key))
