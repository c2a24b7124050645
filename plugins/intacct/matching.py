# ruff: noqa: RUF001, RUF002, RUF003  (this module is about look-alike letters from many scripts)
"""Match keys: the normalised forms of names and emails that Intacct and Forecast records are compared by.

Keys are computed once, in Python, when rows are staged or snapshotted, and stored next to the rows. The
plan SQL then joins on plain equality of stored strings, so it behaves the same on SQLite and PostgreSQL
(whose collations, `lower()` and accent handling differ) and no SQL has to know about Unicode.

What a key forgives, and why:

- Case (Unicode case folding, so "STRASSE" and "straße" meet) and accents (NFKD, then the combining
  diacritics are dropped): the same company is typed "Société Générale" in one system and "Societe
  Generale" in the other.
- Compatibility forms (NFKD): full-width "ＡＣＭＥ" and ligatures such as "ﬁ" are the letters they look like.
- A few Latin letters that have no decomposition but are commonly typed without their stroke: ø, ł, đ, ð,
  æ, œ, þ, ı (so "Łódź" meets "Lodz").
- "&" is "and"; periods and apostrophes vanish ("S.A." is "sa", "O'Brien" is "obrien"); every other
  punctuation mark or symbol separates words ("Smith-Jones" is "smith jones", "Acme,Inc" is "acme inc").
- Runs of whitespace are one space.
- For clients only: trailing legal-form suffixes (`LEGAL_SUFFIXES`), repeatedly, so "Acme GmbH & Co. KG",
  "ACME gmbh" and "Acme" share the key "acme". A name is never stripped to nothing: "AB" stays "ab".

What a key keeps: every letter and digit of every script (Cyrillic, Greek, CJK, Arabic...). Only the
generic combining diacritics are dropped, never script-specific marks, so Japanese voiced kana ("ガ" vs
"カ") or Devanagari vowel signs stay distinct. Words in the middle are never removed, so "Acme Inc" and
"Acme Industries" stay different; nor are leading legal forms ("ООО Ромашка", "株式会社..."), which would
need per-language rules.

A key is a candidate for a match, not proof of one: the plan turns equal keys into `suggest_link` with a
reason, and an operator confirms.
"""

from __future__ import annotations

import unicodedata

# Normalised token sequences (after the steps above, so "L.L.C." is "llc" and "Pty. Ltd." is "pty ltd").
# Only removed at the end of a name, repeatedly: "Foo Pty Ltd" -> "foo pty" -> "foo".
LEGAL_SUFFIXES: tuple[tuple[str, ...], ...] = tuple(
    tuple(suffix.split())
    for suffix in (
        # English-speaking countries
        "inc",
        "incorporated",
        "corp",
        "corporation",
        "co",
        "company",
        "and co",
        "and company",
        "llc",
        "llp",
        "lp",
        "ltd",
        "limited",
        "plc",
        "pty",
        "pte",
        # German-speaking countries
        "gmbh",
        "ag",
        "kg",
        "ug",
        # France, Spain, Italy, Portugal, Latin America, the EU
        "sa",
        "sas",
        "sarl",
        "sl",
        "srl",
        "spa",
        "ltda",
        "se",
        # Poland ("Sp. z o.o.")
        "sp z oo",
        # Benelux
        "bv",
        "nv",
        # Nordic countries
        "ab",
        "as",
        "asa",
        "aps",
        "oy",
        "oyj",
    )
)
_LONGEST_SUFFIX = max(len(s) for s in LEGAL_SUFFIXES)
_SUFFIXES = frozenset(LEGAL_SUFFIXES)

# Latin letters without a Unicode decomposition, as people type them on a plain keyboard (after casefold).
_UNDECOMPOSABLE = str.maketrans(
    {"ø": "o", "ł": "l", "đ": "d", "ð": "d", "æ": "ae", "œ": "oe", "þ": "th", "ı": "i"}
)
# Marks inside words rather than between them: removing them joins the parts ("S.A." -> "sa").
_JOINERS = frozenset(".'’‘`´")
# The script-neutral combining diacritics (accents, cedillas, umlauts, tildes...), dropped after NFKD.
_GENERIC_DIACRITICS = dict.fromkeys(
    code
    for low, high in (
        (0x0300, 0x036F),  # Combining Diacritical Marks
        (0x1AB0, 0x1AFF),  # ... Extended
        (0x1DC0, 0x1DFF),  # ... Supplement
        (0x20D0, 0x20FF),  # ... for Symbols
        (0xFE20, 0xFE2F),  # Combining Half Marks
    )
    for code in range(low, high + 1)
)


_WORDS_TABLE_LIMIT = 65536


class _WordCharacters(dict):
    """A `str.translate` table, filled as characters are met, that turns text into space-separated words:
    "&" is " and ", joiners vanish, and punctuation (P*), symbols (S*), separators (Z*) and
    controls/format characters (C*) split words; letters, digits and marks stay. A table rather than a
    loop per character because staging computes keys for every record of every extraction."""

    def __missing__(self, code: int) -> str:
        char = chr(code)
        if char == "&":
            word = " and "
        elif char in _JOINERS:
            word = ""
        else:
            word = " " if unicodedata.category(char)[0] in "PSZC" else char
        if len(self) < _WORDS_TABLE_LIMIT:  # bounded, whatever text comes in
            self[code] = word
        return word


_WORDS = _WordCharacters()


def _tokens(text: str | None) -> list[str]:
    """The normalised words of `text` (see the module docstring), in order."""
    if not text:
        return []
    if text.isascii():  # plain ASCII needs no Unicode normalisation
        return text.lower().translate(_WORDS).split()
    # Fold case first too: folding "İ" gives "i" plus a combining dot, which the next step drops.
    decomposed = unicodedata.normalize("NFKD", text.casefold()).translate(_GENERIC_DIACRITICS)
    # Recompose what is left (Japanese voiced kana keep their voicing mark, as one letter again); fold
    # again because compatibility forms may decompose to capitals ("ℌ" is "H").
    folded = unicodedata.normalize("NFC", decomposed).casefold().translate(_UNDECOMPOSABLE)
    return folded.translate(_WORDS).split()


def _strip_legal_suffixes(tokens: list[str]) -> list[str]:
    while len(tokens) > 1:
        for size in range(min(_LONGEST_SUFFIX, len(tokens) - 1), 0, -1):
            if tuple(tokens[-size:]) in _SUFFIXES:
                tokens = tokens[:-size]
                break
        else:
            return tokens
    return tokens


def client_name_key(name: str | None) -> str | None:
    """The key a client (Intacct customer or Forecast client) is matched by, or None for a blank name.

    Normalised as described in the module docstring, then trailing legal forms are dropped: "ACME, Inc."
    and "Acme Incorporated" both give "acme", while "Acme Industries" stays "acme industries".
    """
    tokens = _strip_legal_suffixes(_tokens(name))
    return " ".join(tokens) or None


def department_name_key(name: str | None) -> str | None:
    """The key a department is matched by, or None for a blank name.

    The same normalisation as clients but no suffix stripping: department names have no legal forms, and
    "Sales Co" may well be a different team from "Sales".
    """
    return " ".join(_tokens(name)) or None


def person_name_key(first_name: str | None, last_name: str | None) -> str | None:
    """The key a person's name is matched by ("first last", normalised), or None when both are blank.

    A weaker key than the email: two people may share a name, so the plan treats a name-only match as a
    lower-confidence suggestion.
    """
    return " ".join(_tokens(first_name) + _tokens(last_name)) or None


def email_key(email: str | None) -> str | None:
    """The key a person is matched by first: the email stripped and lower-cased.

    None when the value is blank, has no "@" or more than one, has nothing before or after the "@", or
    contains whitespace: such a value cannot identify anybody and must never match another blank one.
    The local part is lower-cased too: practically every mail provider treats it case-insensitively, and
    people type it both ways.
    """
    if email is None:
        return None
    value = email.strip().lower()
    local, at, domain = value.partition("@")
    if not at or not local or not domain or "@" in domain or any(ch.isspace() for ch in value):
        return None
    return value
