"""Blind indexes: normalised search terms turned into truncated HMAC tokens, so encrypted patients can be found."""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from dataclasses import dataclass

# kind -> (stable number stored in the table, bits kept). Fewer bits than the value space means
# some false positives occur, which the search service filters after decryption (CipherSweet).
KINDS: dict[str, tuple[int, int]] = {
    "mrn": (1, 24),
    "last": (2, 20),
    "last_prefix": (3, 20),
    "last_first": (4, 24),
    "last_phonetic": (5, 20),
    "dob": (6, 16),
    "ssn4": (7, 16),
    "initial_ssn4": (8, 20),
    "phone": (9, 24),
    "last_dob": (10, 24),
    "last_prefix_first": (11, 24),
    "phone_local": (12, 20),  # the last 7 digits: a number given without its area code (555-0164)
}
# Which kinds each version of the index added; a desk records the version its tokens are at.
INDEX_VERSION = 3
KINDS_SINCE = {2: ("last_prefix_first",), 3: ("phone_local",)}
LOCAL_PHONE = 7  # digits of a US number without its area code
MIN_PREFIX = 2
MAX_PREFIX = 12

_FOLD = str.maketrans({"ø": "o", "æ": "ae", "œ": "oe", "ß": "ss", "đ": "d", "ł": "l", "þ": "th", "ı": "i"})
FOLD_TABLE = _FOLD  # the letters above, public: the demo spells its duplicate registrations plain with them
_NOT_NAME = re.compile(r"[^a-z \-]")


def fold(text: str) -> str:
    """Lower case, accents removed, apostrophes dropped: 'García' -> 'garcia', "O'Brien" -> 'obrien'."""
    text = text.strip().lower().translate(_FOLD)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    return _NOT_NAME.sub("", text.replace("'", "").replace("’", ""))


def name_key(text: str) -> str:
    """The compact form of a whole name: 'de la Cruz' -> 'delacruz', 'Smith-Jones' -> 'smithjones'."""
    return fold(text).replace(" ", "").replace("-", "")


def name_parts(text: str) -> list[str]:
    """The compact whole name, then each part of a compound name ('smith-jones' -> smithjones, smith, jones)."""
    whole = name_key(text)
    parts = [p for p in re.split(r"[ \-]+", fold(text)) if len(p) >= MIN_PREFIX]
    out = [whole] if whole else []
    out += [p for p in parts if p != whole]
    return out


def soundex(name: str) -> str:
    """American Soundex of a folded name: 'robert' -> 'R163'."""
    name = name_key(name)
    if not name:
        return ""
    codes = {**dict.fromkeys("bfpv", "1"), **dict.fromkeys("cgjkqsxz", "2"), **dict.fromkeys("dt", "3"),
             "l": "4", **dict.fromkeys("mn", "5"), "r": "6"}
    out, last = name[0].upper(), codes.get(name[0], "")
    for c in name[1:]:
        code = codes.get(c, "")
        if code and code != last:
            out += code
        if c not in "hw":
            last = code
    return (out + "000")[:4]


def digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def mrn_key(mrn: str) -> str:
    """MRNs compare without leading zeros, so 0072248 and 72248 are the same chart."""
    return digits(mrn).lstrip("0") or "0"


@dataclass(frozen=True)
class Term:
    """One search term: which index it lives in and the normalised value."""

    kind: str
    value: str


def patient_terms(
    mrn: str, last: str, first: str, dob: str, ssn_last4: str | None, phone: str | None
) -> list[Term]:
    """Every index term a patient is findable by."""
    terms = [Term("mrn", mrn_key(mrn)), Term("dob", dob)]
    first_key = name_key(first)
    parts = name_parts(last)
    seen_prefixes: set[str] = set()
    for part in parts:
        terms.append(Term("last", part))
        terms.append(Term("last_dob", f"{part}|{dob}"))
        terms.append(Term("last_phonetic", f"{soundex(part)}|{first_key[:1]}"))
        for n in range(MIN_PREFIX, min(len(part), MAX_PREFIX) + 1):
            seen_prefixes.add(part[:n])
        for n in range(1, min(len(first_key), MAX_PREFIX) + 1):
            terms.append(Term("last_first", f"{part}|{first_key[:n]}"))
    terms += [Term("last_prefix", p) for p in sorted(seen_prefixes)]
    if first_key:
        # "smi,jo": a prefix of the last name with the first initial, so the prefix step does not have
        # to decrypt every Smith* to find the Jo*s among them.
        terms += [Term("last_prefix_first", f"{p}|{first_key[0]}") for p in sorted(seen_prefixes)]
    if ssn_last4:
        terms.append(Term("ssn4", ssn_last4))
        if parts:
            terms.append(Term("initial_ssn4", f"{parts[0][0]}{ssn_last4}"))
    if phone and len(digits(phone)) >= LOCAL_PHONE:
        terms.append(Term("phone", digits(phone)[-10:]))
        terms.append(Term("phone_local", digits(phone)[-LOCAL_PHONE:]))
    return terms


class BlindIndex:
    """Turns terms into tokens; each kind has its own HKDF-derived HMAC key."""

    def __init__(self, keys: dict[str, bytes]) -> None:
        self._keys = keys

    @classmethod
    def from_master(cls, master) -> BlindIndex:
        return cls({kind: master.sub(f"blind:{kind}") for kind in KINDS})

    def token(self, term: Term) -> tuple[int, int]:
        """(kind number, truncated token) for one term."""
        number, bits = KINDS[term.kind]
        mac = hmac.new(self._keys[term.kind], term.value.encode("utf-8"), hashlib.sha256).digest()
        return number, int.from_bytes(mac[:4], "big") >> (32 - bits)
