"""Field encryption and blind indexes: ciphertexts are bound to their place; tokens normalise names."""

import pytest

from recdesk.errors import TamperError
from recdesk.vault import crypto
from recdesk.vault.blindindex import BlindIndex, Term, fold, name_parts, patient_terms, soundex

KEY = bytes(range(32))


def test_field_round_trips_with_accents():
    blob = crypto.seal(KEY, "patient", "last", "u1", "Nguyễn-García")
    assert b"Nguy" not in blob
    assert crypto.open_text(KEY, "patient", "last", "u1", blob) == "Nguyễn-García"


def test_ciphertext_moved_to_another_row_fails_as_tampering():
    blob = crypto.seal(KEY, "patient", "last", "row-a", "Smith")
    with pytest.raises(TamperError, match="tampering"):
        crypto.open_text(KEY, "patient", "last", "row-b", blob)


def test_ciphertext_moved_to_another_column_fails():
    blob = crypto.seal(KEY, "patient", "last", "row-a", "Smith")
    with pytest.raises(TamperError):
        crypto.open_text(KEY, "patient", "first", "row-a", blob)


def test_flipped_bit_fails():
    blob = bytearray(crypto.seal(KEY, "patient", "mrn", "r", "123456"))
    blob[-1] ^= 1
    with pytest.raises(TamperError):
        crypto.open_text(KEY, "patient", "mrn", "r", bytes(blob))


def test_wrapped_dek_only_unwraps_for_its_patient():
    dek = crypto.new_key()
    wrapped = crypto.wrap_dek(KEY, "p1", dek)
    assert crypto.unwrap_dek(KEY, "p1", wrapped) == dek
    with pytest.raises(TamperError):
        crypto.unwrap_dek(KEY, "p2", wrapped)


@pytest.mark.parametrize("raw,folded", [("García", "garcia"), ("O'Brien", "obrien"), ("Øvrebø", "ovrebo"),
                                        ("Nguyễn", "nguyen"), ("Müller", "muller"), (" SMITH ", "smith")])
def test_fold_removes_case_accents_and_apostrophes(raw, folded):
    assert fold(raw) == folded


def test_compound_names_are_indexed_whole_and_by_part():
    assert name_parts("Smith-Jones") == ["smithjones", "smith", "jones"]
    assert name_parts("de la Cruz") == ["delacruz", "de", "la", "cruz"]


@pytest.mark.parametrize("name,code", [("Robert", "R163"), ("Rupert", "R163"), ("Ashcraft", "A261"),
                                       ("Tymczak", "T522"), ("Pfister", "P236")])
def test_soundex_matches_the_published_examples(name, code):
    assert soundex(name) == code


def test_tokens_are_truncated_and_differ_by_kind():
    index = BlindIndex({k: bytes([i]) * 32 for i, k in enumerate(["mrn", "dob"], start=1)})
    mrn_kind, mrn_token = index.token(Term("mrn", "1962"))
    dob_kind, dob_token = index.token(Term("dob", "1962"))
    assert mrn_kind != dob_kind
    assert mrn_token < 2**24 and dob_token < 2**16


def test_patient_terms_never_index_sex_or_a_lone_initial():
    terms = patient_terms("123456", "Smith", "John", "1962-03-04", "1234", "555-123-4567")
    kinds = {t.kind for t in terms}
    assert "sex" not in kinds
    assert all(len(t.value) >= 2 for t in terms if t.kind == "last_prefix")
