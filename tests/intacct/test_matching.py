# ruff: noqa: RUF001  (the cases are look-alike letters from many scripts, on purpose)
from __future__ import annotations

import pytest

from intacct.matching import (
    LEGAL_SUFFIXES,
    client_name_key,
    department_name_key,
    email_key,
    person_name_key,
)


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Acme", "acme"),
        ("  ACME  ", "acme"),
        ("Acme Inc", "acme"),
        ("Acme, Inc.", "acme"),
        ("ACME INCORPORATED", "acme"),
        ("Acme LLC", "acme"),
        ("Acme L.L.C.", "acme"),
        ("Acme Ltd", "acme"),
        ("Acme Limited", "acme"),
        ("Acme Corp.", "acme"),
        ("Acme Corporation", "acme"),
        ("Acme Co", "acme"),
        ("Acme Company", "acme"),
        ("Acme PLC", "acme"),
        ("Acme GmbH", "acme"),
        ("Acme AG", "acme"),
        ("Acme S.A.", "acme"),
        ("Acme SAS", "acme"),
        ("Acme SARL", "acme"),
        ("Acme B.V.", "acme"),
        ("Acme NV", "acme"),
        ("Acme Oy", "acme"),
        ("Acme AB", "acme"),
        ("Acme AS", "acme"),
        ("Acme ApS", "acme"),
        ("Acme SpA", "acme"),
        ("Acme S.r.l.", "acme"),
        ("Acme SE", "acme"),
        ("Acme KG", "acme"),
        # repeated and multi-word suffixes
        ("Foo Pty Ltd", "foo"),
        ("Foo Pty. Ltd.", "foo"),
        ("Foo Co., Ltd.", "foo"),
        ("Müller GmbH & Co. KG", "muller"),
        ("Smith & Co", "smith"),
        ("Smith and Company", "smith"),
        ("Nowak Sp. z o.o.", "nowak"),
        # a name is never stripped to nothing
        ("AB", "ab"),
        ("Company", "company"),
        ("Inc. Ltd.", "inc"),
        # accents, compatibility forms, letters without decomposition
        ("Société Générale", "societe generale"),
        ("Ærø Kød ApS", "aero kod"),
        ("Łódź Logistics", "lodz logistics"),
        ("ＡＣＭＥ Ｌｔｄ", "acme"),
        ("Straße AG", "strasse"),
        ("İstanbul Ltd", "istanbul"),
        # & and punctuation
        ("Johnson & Johnson", "johnson and johnson"),
        ("Johnson&Johnson", "johnson and johnson"),
        ("O'Brien's Pub", "obriens pub"),
        ("O’Brien’s Pub", "obriens pub"),
        ("Smith-Jones", "smith jones"),
        ("Acme,Inc", "acme"),
        ('"Quoted" Name', "quoted name"),
        ("«Ромашка»", "ромашка"),
        ("<script>alert(1)</script>", "script alert 1 script"),
        ("A < B > C", "a b c"),
        ("Tab\tand\nnewline", "tab and newline"),
        ("100% Pure", "100 pure"),
        # non-Latin scripts keep their letters
        ("ООО Ромашка", "ооо ромашка"),
        ("Газпром", "газпром"),
        ("株式会社トヨタ", "株式会社トヨタ"),
        ("ソニー", "ソニー"),
        ("Ελληνικά Πετρέλαια", "ελληνικα πετρελαια"),
        ("ΟΔΟΣ", "οδοσ"),
        ("شركة", "شركة"),
        ("हिन्दी", "हिन्दी"),
        # blanks
        ("", None),
        ("   ", None),
        ("...", None),
        ("&", "and"),
        (None, None),
    ],
)
def test_client_name_key(name, key):
    assert client_name_key(name) == key


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Acme Inc", "Acme Industries"),
        ("Acme", "Acme Group"),
        ("Acme Co", "Acme Consulting"),
        ("North Wind", "Northwind"),
        ("A.B.C. Foods", "A B C Foods"),
        ("ガス", "カス"),  # voiced kana are different words
        ("हिन्दी", "हन्द"),  # Devanagari vowel signs are letters, not accents
        ("Inc Acme", "Acme"),  # legal forms are only dropped at the end
        ("Acme Spa Retreat", "Acme Retreat"),
    ],
)
def test_near_duplicates_stay_different(first, second):
    assert client_name_key(first) != client_name_key(second)


def test_legal_suffixes_are_normalised_forms():
    # Each suffix must be what the normalisation produces, or it could never match.
    for suffix in LEGAL_SUFFIXES:
        assert department_name_key(" ".join(suffix)) == " ".join(suffix)


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Sales", "sales"),
        ("  Research & Development ", "research and development"),
        ("R&D", "r and d"),
        ("Sales Co", "sales co"),  # no legal suffixes for departments
        ("Ventes – Île-de-France", "ventes ile de france"),
        ("Отдел продаж", "отдел продаж"),
        ("営業部", "営業部"),
        ("", None),
        ("--", None),
        (None, None),
    ],
)
def test_department_name_key(name, key):
    assert department_name_key(name) == key


@pytest.mark.parametrize(
    ("email", "key"),
    [
        ("ann@example.com", "ann@example.com"),
        ("  Ann.Lee@Example.COM \n", "ann.lee@example.com"),
        ("ann+tag@sub.example.co.uk", "ann+tag@sub.example.co.uk"),
        ("", None),
        ("   ", None),
        (None, None),
        ("ann.example.com", None),
        ("ann@@example.com", None),
        ("a@b@example.com", None),
        ("@example.com", None),
        ("ann@", None),
        ("ann lee@example.com", None),
    ],
)
def test_email_key(email, key):
    assert email_key(email) == key


@pytest.mark.parametrize(
    ("first", "last", "key"),
    [
        ("Ann", "Lee", "ann lee"),
        ("  ANN ", " lee ", "ann lee"),
        ("José", "Núñez", "jose nunez"),
        ("Jean-Luc", "Picard", "jean luc picard"),
        ("Jean Luc", "Picard", "jean luc picard"),
        ("Seán", "O'Brien", "sean obrien"),
        ("Ann", None, "ann"),
        (None, "Lee", "lee"),
        ("", "Lee", "lee"),
        ("Иван", "Петров", "иван петров"),
        ("太郎", "山田", "太郎 山田"),
        ("Γιώργος", "Παπαδόπουλος", "γιωργοσ παπαδοπουλοσ"),
        (None, None, None),
        ("  ", "", None),
        ("-", ".", None),
    ],
)
def test_person_name_key(first, last, key):
    assert person_name_key(first, last) == key


def test_person_name_key_keeps_first_and_last_apart():
    assert person_name_key("Lee", "Ann") != person_name_key("Ann", "Lee")
