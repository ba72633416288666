"""The v2 RESULT passport: the camelCase form of v1's ``emrtd_passport``.

The Result Server gets exactly the v1 body in both APIs (snake_case ``emrtd_passport``);
only the phone's RESULT message is camelCase, because that is what Kinegram's v2 SDKs
parse.  Their parsers shape the rules below (docs/websocket-api-v2.md, the result):

=====================================  ==========================================================
v1 field                               v2 RESULT rule
=====================================  ==========================================================
``sod_info``                           ``sodInfo``: object or null; ``hashForDataGroup`` keys stay
                                       decimal strings
``mrz_info``                           ``mrzInfo``: object or null; ``secondaryIdentifier`` always
                                       an array, ``optionalData1`` always a string (``""`` when
                                       empty), ``optionalData2`` **omitted** when null (Android's
                                       org.json would read JSON null as the string ``"null"``)
``face_photo``                         ``facePhoto``: **omitted** when there is no face (same reason)
``signature_photos``                   ``signaturePhotos``: array or null
``additional_personal_details``        ``additionalPersonalDetails``: object or null, camelCase
``additional_document_details``        members (:data:`FIELD_NAMES`); null members omitted, list
                                       members always arrays, other members strings; v1 Android's
                                       ``endorsements_and_bservations`` typo is read as
                                       ``endorsementsAndObservations``
``passive_authentication``             ``passiveAuthentication``: always a real boolean
``passive_authentication_details``     always an object with three real booleans
                                       (``sodSignatureValid``, ``documentCertificateValid``,
                                       ``allHashesValid``), two integer arrays
                                       (``dataGroupsChecked``, ``dataGroupsWithValidHash``) and
                                       ``error`` (string or null); DocVal's extra members camelCase
``chip_authentication_result``         always exactly ``SUCCESS``, ``FAILED`` or ``UNAVAILABLE``
``active_authentication_result``       (anything else would make Android throw: it becomes
                                       ``FAILED``, never the lenient ``UNAVAILABLE``)
``errors``                             always an array of strings
``files_binary``                       ``filesBinary``, only when v1 has it; keys are the wire file
                                       names (``sod``, ``dg1`` ...), values standard base64
other top-level fields                 camelCased, values unchanged (the SDKs ignore them)
=====================================  ==========================================================

Pure: no I/O; the input is not modified.
"""
from __future__ import annotations

from typing import Any, Callable, Final

CHECK_RESULTS: Final = frozenset({"SUCCESS", "FAILED", "UNAVAILABLE"})

#: Every v1 field name (dotted path) and its v2 name (dotted path), for the docs to cite.
FIELD_NAMES: Final[dict[str, str]] = {
    "sod_info": "sodInfo",
    "sod_info.hash_algorithm": "sodInfo.hashAlgorithm",
    "sod_info.hash_for_data_group": "sodInfo.hashForDataGroup",
    "mrz_info": "mrzInfo",
    "mrz_info.document_type": "mrzInfo.documentType",
    "mrz_info.document_code": "mrzInfo.documentCode",
    "mrz_info.issuing_state": "mrzInfo.issuingState",
    "mrz_info.primary_identifier": "mrzInfo.primaryIdentifier",
    "mrz_info.secondary_identifier": "mrzInfo.secondaryIdentifier",
    "mrz_info.nationality": "mrzInfo.nationality",
    "mrz_info.document_number": "mrzInfo.documentNumber",
    "mrz_info.date_of_birth": "mrzInfo.dateOfBirth",
    "mrz_info.date_of_expiry": "mrzInfo.dateOfExpiry",
    "mrz_info.gender": "mrzInfo.gender",
    "mrz_info.optional_data1": "mrzInfo.optionalData1",
    "mrz_info.optional_data2": "mrzInfo.optionalData2",
    "face_photo": "facePhoto",
    "signature_photos": "signaturePhotos",
    "additional_personal_details": "additionalPersonalDetails",
    "additional_personal_details.full_name_of_holder": "additionalPersonalDetails.fullNameOfHolder",
    "additional_personal_details.other_names": "additionalPersonalDetails.otherNames",
    "additional_personal_details.personal_number": "additionalPersonalDetails.personalNumber",
    "additional_personal_details.full_date_of_birth": "additionalPersonalDetails.fullDateOfBirth",
    "additional_personal_details.place_of_birth": "additionalPersonalDetails.placeOfBirth",
    "additional_personal_details.permanent_address": "additionalPersonalDetails.permanentAddress",
    "additional_personal_details.telephone": "additionalPersonalDetails.telephone",
    "additional_personal_details.profession": "additionalPersonalDetails.profession",
    "additional_personal_details.title": "additionalPersonalDetails.title",
    "additional_personal_details.personal_summary": "additionalPersonalDetails.personalSummary",
    "additional_personal_details.proof_of_citizenship_image":
        "additionalPersonalDetails.proofOfCitizenshipImage",
    "additional_personal_details.other_valid_travel_document_numbers":
        "additionalPersonalDetails.otherValidTravelDocumentNumbers",
    "additional_personal_details.custody_information": "additionalPersonalDetails.custodyInformation",
    "additional_document_details": "additionalDocumentDetails",
    "additional_document_details.issuing_authority": "additionalDocumentDetails.issuingAuthority",
    "additional_document_details.date_of_issue": "additionalDocumentDetails.dateOfIssue",
    "additional_document_details.names_of_other_persons": "additionalDocumentDetails.namesOfOtherPersons",
    "additional_document_details.endorsements_and_observations":
        "additionalDocumentDetails.endorsementsAndObservations",
    "additional_document_details.endorsements_and_bservations":
        "additionalDocumentDetails.endorsementsAndObservations",
    "additional_document_details.tax_or_exit_requirements": "additionalDocumentDetails.taxOrExitRequirements",
    "additional_document_details.image_of_front": "additionalDocumentDetails.imageOfFront",
    "additional_document_details.image_of_rear": "additionalDocumentDetails.imageOfRear",
    "additional_document_details.date_and_time_of_personalization":
        "additionalDocumentDetails.dateAndTimeOfPersonalization",
    "additional_document_details.personalization_system_serial_number":
        "additionalDocumentDetails.personalizationSystemSerialNumber",
    "passive_authentication": "passiveAuthentication",
    "passive_authentication_details": "passiveAuthenticationDetails",
    "passive_authentication_details.sod_signature_valid": "passiveAuthenticationDetails.sodSignatureValid",
    "passive_authentication_details.document_certificate_valid":
        "passiveAuthenticationDetails.documentCertificateValid",
    "passive_authentication_details.data_groups_checked": "passiveAuthenticationDetails.dataGroupsChecked",
    "passive_authentication_details.data_groups_with_valid_hash":
        "passiveAuthenticationDetails.dataGroupsWithValidHash",
    "passive_authentication_details.all_hashes_valid": "passiveAuthenticationDetails.allHashesValid",
    "passive_authentication_details.error": "passiveAuthenticationDetails.error",
    "passive_authentication_details.signature_algorithm": "passiveAuthenticationDetails.signatureAlgorithm",
    "passive_authentication_details.hash_algorithm": "passiveAuthenticationDetails.hashAlgorithm",
    "passive_authentication_details.warnings": "passiveAuthenticationDetails.warnings",
    "passive_authentication_details.data_groups_not_read": "passiveAuthenticationDetails.dataGroupsNotRead",
    "chip_authentication_result": "chipAuthenticationResult",
    "active_authentication_result": "activeAuthenticationResult",
    "errors": "errors",
    "files_binary": "filesBinary",
    "access_control": "accessControl",
    "chip_authentication_protocol": "chipAuthenticationProtocol",
    "active_authentication_algorithm": "activeAuthenticationAlgorithm",
    "trust_store_version": "trustStoreVersion",
    "docval_version": "docvalVersion",
}

# Members of the DG11/DG12 objects that the SDKs read as string arrays (optStringArray).
_ARRAY_MEMBERS: Final = frozenset({"other_names", "permanent_address", "other_valid_travel_document_numbers"})
_PA_FLAGS: Final = ("sod_signature_valid", "document_certificate_valid", "all_hashes_valid")
_PA_LISTS: Final = ("data_groups_checked", "data_groups_with_valid_hash")


def camel_name(snake: str) -> str:
    """``hash_for_data_group`` -> ``hashForDataGroup`` (the generic rule behind FIELD_NAMES)."""
    head, *rest = snake.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _leaf(path: str) -> str:
    """The v2 name of a v1 field at ``path`` (dotted): the table's, else the generic rule."""
    known = FIELD_NAMES.get(path)
    return known.rsplit(".", 1)[-1] if known else camel_name(path.rsplit(".", 1)[-1])


def to_camel(passport: dict[str, Any]) -> dict[str, Any]:
    """The RESULT ``passport`` for a v1 ``emrtd_passport`` dict (see the module table)."""
    out: dict[str, Any] = {}
    for key, value in passport.items():
        convert = _SECTIONS.get(key)
        if convert is None:
            out[_leaf(key)] = value
            continue
        converted = convert(value)
        if converted is not _OMIT:
            out[_leaf(key)] = converted
    # Fields the SDKs require even if a v1 dict lacks them.
    for key in _REQUIRED:
        if _leaf(key) not in out:
            out[_leaf(key)] = _SECTIONS[key](passport.get(key))
    return out


class _Omit:
    def __repr__(self) -> str:
        return "<omit>"


_OMIT: Final = _Omit()


def _sod_info(value: Any) -> Any:
    if not isinstance(value, dict):
        return None
    return {_leaf(f"sod_info.{k}"): (dict(v) if isinstance(v, dict) else v) for k, v in value.items()}


def _mrz_info(value: Any) -> Any:
    if not isinstance(value, dict):
        return None
    out: dict[str, Any] = {}
    for key, member in value.items():
        if key == "secondary_identifier":
            member = _string_list(member)
        elif key == "optional_data1":
            member = member if isinstance(member, str) else ""
        elif member is None:
            continue        # optional_data2 of TD2/TD3 (and anything else null): omitted
        out[_leaf(f"mrz_info.{key}")] = member
    out.setdefault("secondaryIdentifier", [])
    out.setdefault("optionalData1", "")
    return out


def _face_photo(value: Any) -> Any:
    return _OMIT if value is None else value


def _signature_photos(value: Any) -> Any:
    return list(value) if isinstance(value, list) else None


def _details(section: str) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        if not isinstance(value, dict):
            return None
        out: dict[str, Any] = {}
        for key, member in value.items():
            if member is None:
                continue    # Android's optString would read null as "null"; absent reads as ""
            if key in _ARRAY_MEMBERS:
                member = _string_list(member)
            elif isinstance(member, list):
                member = ", ".join(str(m) for m in member)
            out[_leaf(f"{section}.{key}")] = member
        return out
    return convert


def _pa(value: Any) -> bool:
    return value is True


def _pa_details(value: Any) -> dict[str, Any]:
    value = value if isinstance(value, dict) else {}
    out: dict[str, Any] = {}
    for key, member in value.items():
        out[_leaf(f"passive_authentication_details.{key}")] = member
    for key in _PA_FLAGS:
        out[_leaf(f"passive_authentication_details.{key}")] = value.get(key) is True
    for key in _PA_LISTS:
        member = value.get(key)
        out[_leaf(f"passive_authentication_details.{key}")] = (
            [n for n in member if type(n) is int] if isinstance(member, list) else [])
    error = value.get("error")
    out["error"] = error if isinstance(error, str) else None
    return out


def _check_result(value: Any) -> str:
    # Android's CheckResult.valueOf throws on anything else; iOS counts UNAVAILABLE as a pass.
    return value if isinstance(value, str) and value in CHECK_RESULTS else "FAILED"


def _errors(value: Any) -> list[str]:
    return [e for e in value if isinstance(e, str)] if isinstance(value, list) else []


def _files_binary(value: Any) -> Any:
    return dict(value) if isinstance(value, dict) else _OMIT


def _string_list(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value if v is not None]
    if isinstance(value, str):
        return [value] if value else []
    return []


_SECTIONS: Final[dict[str, Callable[[Any], Any]]] = {
    "sod_info": _sod_info,
    "mrz_info": _mrz_info,
    "face_photo": _face_photo,
    "signature_photos": _signature_photos,
    "additional_personal_details": _details("additional_personal_details"),
    "additional_document_details": _details("additional_document_details"),
    "passive_authentication": _pa,
    "passive_authentication_details": _pa_details,
    "chip_authentication_result": _check_result,
    "active_authentication_result": _check_result,
    "errors": _errors,
    "files_binary": _files_binary,
}
_REQUIRED: Final = ("passive_authentication", "passive_authentication_details", "chip_authentication_result",
                    "active_authentication_result", "errors")
