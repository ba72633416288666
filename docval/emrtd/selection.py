"""SELECT (ISO/IEC 7816-4 §11.2.2, ICAO 9303-10 §3.6): the eMRTD application, the
master file and elementary files, as sans-IO flows (:mod:`docval.emrtd.flow`).

A chip answering data to a SELECT that asked for none (P2=0C) is not behaving as
one (docs/reliability.md A3).  Reading files is :mod:`docval.emrtd.files`, which
also exports these flows.
"""
from __future__ import annotations

from docval.emrtd.apdu import (
    MAX_SHORT_LE,
    SW_FILE_NOT_FOUND,
    SW_FUNCTION_NOT_SUPPORTED,
    SW_OK,
    SW_SECURITY_NOT_SATISFIED,
    SW_WRONG_LENGTH,
    SW_WRONG_P1P2,
    CommandAPDU,
    ResponseAPDU,
)
from docval.emrtd.errors import CommunicationError, FileAccessDenied, FileNotFoundOnChip, FileReadError, StatusError
from docval.emrtd.filerefs import EMRTD_AID, MASTER_FILE_FID
from docval.emrtd.flow import Flow, exchange

INS_SELECT = 0xA4
SELECT_BY_FID = 0x02
SELECT_BY_AID = 0x04
SELECT_MF = 0x00
P2_NO_RESPONSE_DATA = 0x0C
P2_RETURN_FCI = 0x00

# Answers meaning "this form of SELECT is not supported", worth one retry in another form.
_SELECT_FORM_REFUSED = frozenset({SW_WRONG_P1P2, SW_WRONG_LENGTH, SW_FUNCTION_NOT_SUPPORTED,
                                  SW_FILE_NOT_FOUND, 0x6A87})

NO_DATA_ASKED = "data in the answer to a SELECT that asked for none (P2=0C)"


def _no_data_asked(resp: ResponseAPDU, what: str) -> None:
    """docs/reliability.md A3: a chip answering data to P2=0C is not behaving as one."""
    if resp.data:
        raise CommunicationError(f"SELECT {what}: {NO_DATA_ASKED}")


def _select_status(resp: ResponseAPDU, what: str) -> None:
    if resp.sw == SW_OK:
        if resp.data:
            raise FileReadError(f"SELECT {what}: {NO_DATA_ASKED}")
        return
    if resp.sw == SW_FILE_NOT_FOUND:
        raise FileNotFoundOnChip(f"{what} not found")
    if resp.sw == SW_SECURITY_NOT_SATISFIED:
        raise FileAccessDenied(f"{what}: access denied")
    raise StatusError(resp.sw, f"SELECT {what}")


def select_application(aid: bytes = EMRTD_AID) -> Flow[None]:
    """SELECT the application by AID, whatever the phone left selected.

    Some chips refuse P2=0C ("no response data"); they get one retry asking for the FCI.
    """
    resp = yield from exchange(CommandAPDU(0x00, INS_SELECT, SELECT_BY_AID, P2_NO_RESPONSE_DATA, bytes(aid)))
    if resp.sw in _SELECT_FORM_REFUSED - {SW_FILE_NOT_FOUND}:
        resp = yield from exchange(CommandAPDU(0x00, INS_SELECT, SELECT_BY_AID, P2_RETURN_FCI, bytes(aid),
                                               le=MAX_SHORT_LE))
    elif resp.sw == SW_OK:
        _no_data_asked(resp, "application")
    if resp.sw != SW_OK:
        raise StatusError(resp.sw, "SELECT application")


def select_master_file() -> Flow[None]:
    """SELECT the master file (3F00), or with an empty path for chips that refuse the FID."""
    resp = yield from exchange(CommandAPDU(0x00, INS_SELECT, SELECT_MF, P2_NO_RESPONSE_DATA,
                                           MASTER_FILE_FID.to_bytes(2, "big")))
    if resp.sw in _SELECT_FORM_REFUSED:
        resp = yield from exchange(CommandAPDU(0x00, INS_SELECT, SELECT_MF, P2_NO_RESPONSE_DATA))
    if resp.sw != SW_OK:
        raise StatusError(resp.sw, "SELECT master file")
    _no_data_asked(resp, "master file")


def select_file_command(fid: int) -> CommandAPDU:
    return CommandAPDU(0x00, INS_SELECT, SELECT_BY_FID, P2_NO_RESPONSE_DATA, fid.to_bytes(2, "big"))


def select_file(fid: int) -> Flow[None]:
    """SELECT an elementary file of the current DF by its FID (00 A4 02 0C)."""
    if not 0 <= fid <= 0xFFFF:
        raise ValueError("a file identifier has two bytes")
    resp = yield from exchange(select_file_command(fid))
    _select_status(resp, f"file {fid:04X}")
