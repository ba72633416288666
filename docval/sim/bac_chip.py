"""The chip side of Basic Access Control (ICAO 9303-11 §4.3), a virtual-chip mechanism.

GET CHALLENGE (answered by the chip core) hands out RND.IC; :class:`BacChip`
claims EXTERNAL AUTHENTICATE: the cryptogram is checked with the pure helper of
:mod:`docval.emrtd.bac` (one implementation for both sides, itself tested
against ICAO 9303-11 Appendix D), the answer carries a fresh K.IC, and 3DES
Secure Messaging starts after the (plain) response.  A wrong MRZ key, a bad
MAC or a RND.IC that is not the last challenge is answered with 6300, as real
chips do; under Secure Messaging (BAC already done) it answers 6985.
"""
from __future__ import annotations

from docval.emrtd.apdu import (SW_CONDITIONS_NOT_SATISFIED, SW_OK, SW_WRONG_LENGTH, SW_WRONG_P1P2,
                               CommandAPDU, ResponseAPDU)
from docval.emrtd.bac import (AUTH_DATA_LENGTH, KEY_MATERIAL_LENGTH, NONCE_LENGTH, bac_chip_response,
                              derive_bac_keys)
from docval.emrtd.errors import AccessControlError
from docval.emrtd.mrz import MrzKey
from docval.sim.mechanism import ChipContext, Mechanism

INS_EXTERNAL_AUTHENTICATE = 0x82
SW_VERIFICATION_FAILED = 0x6300


class BacChip(Mechanism):
    """Holds the document's BAC keys and answers EXTERNAL AUTHENTICATE with them."""

    def __init__(self, key: MrzKey):
        self._k_enc, self._k_mac = derive_bac_keys(key)

    def __repr__(self) -> str:
        return "BacChip(<keys>)"

    def claims(self, cmd: CommandAPDU) -> bool:
        return cmd.ins == INS_EXTERNAL_AUTHENTICATE

    def answer(self, chip: ChipContext, cmd: CommandAPDU) -> ResponseAPDU:
        if chip.sm_active:
            return ResponseAPDU(b"", SW_CONDITIONS_NOT_SATISFIED)
        if cmd.p1 or cmd.p2:
            return ResponseAPDU(b"", SW_WRONG_P1P2)
        if len(cmd.data) != AUTH_DATA_LENGTH:
            return ResponseAPDU(b"", SW_WRONG_LENGTH)
        rnd_ic = chip.take_challenge()      # single use: a replayed cryptogram fails
        if rnd_ic is None or len(rnd_ic) != NONCE_LENGTH:
            return ResponseAPDU(b"", SW_CONDITIONS_NOT_SATISFIED)
        try:
            data, session = bac_chip_response(self._k_enc, self._k_mac, rnd_ic, cmd.data,
                                              chip.rng(KEY_MATERIAL_LENGTH))
        except AccessControlError:
            return ResponseAPDU(b"", SW_VERIFICATION_FAILED)
        chip.start_sm(session)
        chip.access_granted = True
        return ResponseAPDU(data, SW_OK)
