"""Diffie-Hellman over the standardized MODP groups of PACE and Chip Authentication.

ICAO 9303-11 §9.5.1 / BSI TR-03110-3 A.2.1.1 standardize three groups, the prime
order subgroup groups of RFC 5114: parameter id 0 (1024-bit p, 160-bit q, RFC 5114
§2.1), 1 (2048/224, §2.2) and 2 (2048/256, §2.3).  The constants below were taken
from OpenSSL (``openssl genpkey -genparam -algorithm DH -pkeyopt dh_rfc5114:N``);
tests/emrtd/test_dh.py re-derives them from OpenSSL so a typo cannot hide here.

Only these groups are ever used: explicit parameters from a chip are refused
before any arithmetic (docs/reliability.md A4, a 16k-bit prime must not cost us CPU).
Public values from the chip are validated as RFC 2631 §2.1.5 asks - 1 < y < p-1
and y^q = 1 mod p - which keeps a forged value out of small subgroups.
"""
from __future__ import annotations

from dataclasses import dataclass
from docval.emrtd.errors import ParseError
from docval.emrtd.rng import Rng, uniform_below


@dataclass(frozen=True)
class DHGroup:
    name: str
    pace_id: int
    rfc5114_section: str
    p: int
    g: int
    q: int

    @property
    def byte_length(self) -> int:
        return (self.p.bit_length() + 7) // 8

    @property
    def cofactor(self) -> int:
        """(p-1)/q, the exponent of Integrated Mapping's f_g (ICAO 9303-11 §4.4.3.3.2)."""
        return (self.p - 1) // self.q

    def __repr__(self) -> str:
        return f"DHGroup({self.name}, pace_id={self.pace_id})"


GROUPS: tuple[DHGroup, ...] = (
    DHGroup(
        name="MODP-1024-160", pace_id=0, rfc5114_section="2.1",
        p=int(
        "B10B8F96A080E01DDE92DE5EAE5D54EC52C99FBCFB06A3C69A6A9DCA52D23B61"
        "6073E28675A23D189838EF1E2EE652C013ECB4AEA906112324975C3CD49B83BF"
        "ACCBDD7D90C4BD7098488E9C219A73724EFFD6FAE5644738FAA31A4FF55BCCC0"
        "A151AF5F0DC8B4BD45BF37DF365C1A65E68CFDA76D4DA708DF1FB2BC2E4A4371", 16),
        g=int(
        "A4D1CBD5C3FD34126765A442EFB99905F8104DD258AC507FD6406CFF14266D31"
        "266FEA1E5C41564B777E690F5504F213160217B4B01B886A5E91547F9E2749F4"
        "D7FBD7D3B9A92EE1909D0D2263F80A76A6A24C087A091F531DBF0A0169B6A28A"
        "D662A4D18E73AFA32D779D5918D08BC8858F4DCEF97C2A24855E6EEB22B3B2E5", 16),
        q=int(
        "F518AA8781A8DF278ABA4E7D64B7CB9D49462353", 16),
    ),
    DHGroup(
        name="MODP-2048-224", pace_id=1, rfc5114_section="2.2",
        p=int(
        "AD107E1E9123A9D0D660FAA79559C51FA20D64E5683B9FD1B54B1597B61D0A75"
        "E6FA141DF95A56DBAF9A3C407BA1DF15EB3D688A309C180E1DE6B85A1274A0A6"
        "6D3F8152AD6AC2129037C9EDEFDA4DF8D91E8FEF55B7394B7AD5B7D0B6C12207"
        "C9F98D11ED34DBF6C6BA0B2C8BBC27BE6A00E0A0B9C49708B3BF8A3170918836"
        "81286130BC8985DB1602E714415D9330278273C7DE31EFDC7310F7121FD5A074"
        "15987D9ADC0A486DCDF93ACC44328387315D75E198C641A480CD86A1B9E587E8"
        "BE60E69CC928B2B9C52172E413042E9B23F10B0E16E79763C9B53DCF4BA80A29"
        "E3FB73C16B8E75B97EF363E2FFA31F71CF9DE5384E71B81C0AC4DFFE0C10E64F", 16),
        g=int(
        "AC4032EF4F2D9AE39DF30B5C8FFDAC506CDEBE7B89998CAF74866A08CFE4FFE3"
        "A6824A4E10B9A6F0DD921F01A70C4AFAAB739D7700C29F52C57DB17C620A8652"
        "BE5E9001A8D66AD7C17669101999024AF4D027275AC1348BB8A762D0521BC98A"
        "E247150422EA1ED409939D54DA7460CDB5F6C6B250717CBEF180EB34118E98D1"
        "19529A45D6F834566E3025E316A330EFBB77A86F0C1AB15B051AE3D428C8F8AC"
        "B70A8137150B8EEB10E183EDD19963DDD9E263E4770589EF6AA21E7F5F2FF381"
        "B539CCE3409D13CD566AFBB48D6C019181E1BCFE94B30269EDFE72FE9B6AA4BD"
        "7B5A0F1C71CFFF4C19C418E1F6EC017981BC087F2A7065B384B890D3191F2BFA", 16),
        q=int(
        "801C0D34C58D93FE997177101F80535A4738CEBCBF389A99B36371EB", 16),
    ),
    DHGroup(
        name="MODP-2048-256", pace_id=2, rfc5114_section="2.3",
        p=int(
        "87A8E61DB4B6663CFFBBD19C651959998CEEF608660DD0F25D2CEED4435E3B00"
        "E00DF8F1D61957D4FAF7DF4561B2AA3016C3D91134096FAA3BF4296D830E9A7C"
        "209E0C6497517ABD5A8A9D306BCF67ED91F9E6725B4758C022E0B1EF4275BF7B"
        "6C5BFC11D45F9088B941F54EB1E59BB8BC39A0BF12307F5C4FDB70C581B23F76"
        "B63ACAE1CAA6B7902D52526735488A0EF13C6D9A51BFA4AB3AD8347796524D8E"
        "F6A167B5A41825D967E144E5140564251CCACB83E6B486F6B3CA3F7971506026"
        "C0B857F689962856DED4010ABD0BE621C3A3960A54E710C375F26375D7014103"
        "A4B54330C198AF126116D2276E11715F693877FAD7EF09CADB094AE91E1A1597", 16),
        g=int(
        "3FB32C9B73134D0B2E77506660EDBD484CA7B18F21EF205407F4793A1A0BA125"
        "10DBC15077BE463FFF4FED4AAC0BB555BE3A6C1B0C6B47B1BC3773BF7E8C6F62"
        "901228F8C28CBB18A55AE31341000A650196F931C77A57F2DDF463E5E9EC144B"
        "777DE62AAAB8A8628AC376D282D6ED3864E67982428EBC831D14348F6F2F9193"
        "B5045AF2767164E1DFC967C1FB3F2E55A4BD1BFFE83B9C80D052B985D182EA0A"
        "DB2A3B7313D3FE14C8484B1E052588B9B7D2BBD2DF016199ECD06E1557CD0915"
        "B3353BBB64E0EC377FD028370DF92B52C7891428CDC67EB6184B523D1DB246C3"
        "2F63078490F00EF8D647D148D47954515E2327CFEF98C582664B4C0F6CC41659", 16),
        q=int(
        "8CF83642A709A097B447997640129DA299B1A47D1EB3750BA308B0FE64F5FBD3", 16),
    ),
)

BY_PACE_ID = {grp.pace_id: grp for grp in GROUPS}


def group_by_pace_id(param_id: int) -> DHGroup | None:
    return BY_PACE_ID.get(param_id)


def random_exponent(group: DHGroup, rng: Rng) -> int:
    """A private exponent uniform in [1, q-1] by rejection sampling.

    Exponents live modulo q because every generator we use (g, and the mapped
    generators) has order q.  The first draw is used as is when it is in range,
    so tests can inject a worked example's private key.
    """
    return uniform_below(group.q, rng)


def public_value(group: DHGroup, private: int, generator: int | None = None) -> int:
    return pow(group.g if generator is None else generator, private, group.p)


def encode_value(group: DHGroup, value: int) -> bytes:
    """A group element as an unsigned big-endian octet string of p's length."""
    return value.to_bytes(group.byte_length, "big")


def check_value(group: DHGroup, y: int) -> int:
    """Validate a peer's public value (or a mapped generator) per RFC 2631 §2.1.5."""
    p = group.p
    if not 1 < y < p - 1:
        raise ParseError("DH public value outside 2..p-2")
    if pow(y, group.q, p) != 1:
        raise ParseError("DH public value is not in the prime-order subgroup")
    return y


def decode_value(group: DHGroup, data: bytes) -> int:
    """Parse and validate a public value from untrusted bytes.

    Leading zero bytes may be present or stripped (chips differ); anything longer
    than p is refused before arithmetic.
    """
    if not 1 <= len(data) <= group.byte_length:
        raise ParseError("DH public value of bad length")
    return check_value(group, int.from_bytes(data, "big"))


def key_agreement(group: DHGroup, private: int, peer: int) -> bytes:
    """The shared secret peer^private mod p, as p-length octets (RFC 2631 ZZ)."""
    return agree(group.p, private, peer)


# A CA key in DG14 may carry its group as explicit numbers rather than a
# standardized id; Chip Authentication then works on (p, g, q) directly.

def exponent_for(p: int, q: int | None, rng: Rng) -> int:
    """A private exponent in [2, q) - or [2, p-1) when the group's order is unknown."""
    return uniform_below(q if q is not None else p - 1, rng, minimum=2)


def public_bytes(p: int, g: int, private: int) -> bytes:
    """g^private mod p as p-length octets."""
    return pow(g, private, p).to_bytes((p.bit_length() + 7) // 8, "big")


def shared_value(p: int, private: int, peer: int) -> int:
    """peer^private mod p; a degenerate result (0, 1, p-1) is refused.

    The one DH key agreement: PACE (which maps with the integer in GM), CA and
    the virtual chip all come here.
    """
    shared = pow(peer, private, p)
    if shared in (0, 1, p - 1):
        raise ParseError("DH key agreement produced a degenerate value")
    return shared


def agree(p: int, private: int, peer: int) -> bytes:
    """:func:`shared_value` as p-length octets (RFC 2631 ZZ)."""
    return shared_value(p, private, peer).to_bytes((p.bit_length() + 7) // 8, "big")
