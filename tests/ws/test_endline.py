"""The end-of-session line as built by its record (the wording operators grep)."""
from docval.ws.endline import SessionEnd


def _record(**overrides):
    values = dict(
        session_id="00ff", outcome="failure", close_code=4000, close_reason="ACCESS_DENIED",
        detail="PACE failed", duration=1.23456, client="acme", validation_id="v-1",
        platform="android", steps=(("READ_ATR_INFO", 0.0125), ("ACCESS_CONTROL", 1.5)),
        apdus=7, bytes_out=300, bytes_in=900, post=None, ignored=2,
        algorithms={"pace": "ECDH-GM", "ca": None},
    )
    values.update(overrides)
    return SessionEnd(**values)


def test_line_text():
    assert _record().format() == (
        "session 00ff ended: outcome=failure close_code=4000 close_reason=ACCESS_DENIED "
        "detail=PACE failed duration=1.235s client=acme validation_id=v-1 platform=android "
        "steps=[READ_ATR_INFO=0.013s ACCESS_CONTROL=1.500s] apdus=7 bytes_out=300 bytes_in=900 "
        'post=- ignored_messages=2 algorithms={"ca": null, "pace": "ECDH-GM"} api=v1'
    )


def test_the_line_names_the_api():
    assert _record(api="v2").format().endswith(" api=v2")


def test_absent_values_are_dashes():
    line = _record(close_reason=None, detail=None, client=None, steps=(), algorithms=None,
                   post=None).format()
    assert "close_reason=- detail=- " in line and "client=- " in line
    assert "steps=[-]" in line and line.endswith("algorithms=- api=v1")
