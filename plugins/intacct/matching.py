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


def _is_generic_diacritic(char: str) -> bool:
    """Combining marks of the script-neutral diacritic blocks (accents, cedillas, umlauts, tildes...)."""
    code = ord(char)
    return (
        0x0300 <= code <= 0x036F  # Combining Diacritical Marks
        or 0x1AB0 <= code <= 0x1AFF  # ... Extended
        or 0x1DC0 <= code <= 0x1DFF  # ... Supplement
        or 0x20D0 <= code <= 0x20FF  # ... for Symbols
        or 0xFE20 <= code <= 0xFE2F  # Combining Half Marks
    )


def _ascii_table() -> dict[int, str]:
    """What the general path below does to each ASCII character, as one translate table."""
    table = {}
    for code in range(128):
        ch = chr(code)
        if ch == "&":
            table[code] = " and "
        elif ch in _JOINERS:
            table[code] = ""
        elif not ch.isalnum():
            table[code] = " "
    return table


# Most names are plain ASCII: they need no Unicode normalisation, so they take a translate-only path
# (staging computes these keys for every record of every extraction).
_ASCII = _ascii_table()


def _tokens(text: str | None) -> list[str]:
    """The normalised words of `text` (see the module docstring), in order."""
    if not text:
        return []
    if text.isascii():
        return text.lower().translate(_ASCII).split()
    # Fold case first too: folding "İ" gives "i" plus a combining dot, which the next step drops.
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(ch for ch in decomposed if not _is_generic_diacritic(ch))
    # Recompose what is left (Japanese voiced kana keep their voicing mark, as one letter again); fold
    # again because compatibility forms may decompose to capitals ("ℌ" is "H").
    folded = unicodedata.normalize("NFC", stripped).casefold().translate(_UNDECOMPOSABLE)
    folded = folded.replace("&", " and ")
    out: list[str] = []
    for ch in folded:
        if ch in _JOINERS:
            continue
        category = unicodedata.category(ch)
        # Punctuation (P*), symbols (S*), separators (Z*) and controls/format characters (C*) split words.
        out.append(" " if category[0] in "PSZC" else ch)
    return "".join(out).split()


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
