"""When two email addresses are the same address: the one rule for linking and mailing.

A database's case-insensitive match is not that rule. PostgreSQL's ``UPPER()`` (Django's
``iexact``) maps the dotless i (U+0131) to ``I``, so ``victim@g\u0131thub.com`` "equals"
``victim@github.com``; Python's ``casefold()`` maps ``ß`` to ``ss`` and the Kelvin sign
(U+212A) to ``k``; NFKC maps a fullwidth g (U+FF47) to ``g``. Each of those is a different
address that somebody else can register. So the normal form folds only what cannot name a different
mailbox in practice:

- ASCII letters, in the local part and the domain, compare without case (``Ada@Example.com``
  is ``ada@example.com``); no other letter is case-folded;
- the address is put in Unicode NFC, so a precomposed ``é`` and ``e`` + combining accent are
  the same; but an address holding a code point that NFC replaces by a *different* one on its
  own (the Kelvin sign U+212A becomes ``K``, the Ohm sign U+2126 becomes ``Ω``, the Greek
  question mark U+037E becomes ``;``) has no normal form and matches nothing;
- each non-ASCII label of the domain is written in its punycode form (``xn--...``), so the
  Unicode and the ACE spelling of one domain are the same; nothing else (fullwidth letters,
  ideographic full stops) is mapped to ASCII, unlike IDNA's UTS 46 mapping.

Anything else that differs makes a different address: a match that holds only after more
folding is refused.
"""

from __future__ import annotations

import string
import unicodedata

_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def normal_form(address: str | None) -> str | None:
    """The address's normal form, or None for text that is not an address we can compare."""
    if not address:
        return None
    text = address.strip()
    local, at, domain = text.rpartition("@")
    if not (at and local and domain) or _changed_by_nfc(text):
        return None
    text = unicodedata.normalize("NFC", text)
    local, _, domain = text.rpartition("@")
    labels = [_label(label) for label in domain.translate(_ASCII_LOWER).split(".")]
    if any(label is None for label in labels):
        return None
    return f"{local.translate(_ASCII_LOWER)}@{'.'.join(labels)}"  # type: ignore[arg-type]


def same_address(first: str | None, second: str | None) -> bool:
    """Whether two addresses are the same mailbox under :func:`normal_form`'s rule."""
    key = normal_form(first)
    return key is not None and key == normal_form(second)


def spellings(address: str) -> set[str]:
    """The ways a database may hold ``address``: as given, in NFC, in normal form, and with
    its domain's punycode labels in Unicode (to narrow candidates before :func:`same_address`)."""
    found = {address, unicodedata.normalize("NFC", address)}
    key = normal_form(address)
    if key is not None:
        local, _, domain = key.rpartition("@")
        found |= {key, f"{local}@{'.'.join(_unicode_label(label) for label in domain.split('.'))}"}
    return found


def holds_look_alike(address: str) -> bool:
    """Whether the address holds a code point that only imitates another (the Kelvin sign for
    ``K``): such text has no normal form, and Django's ``normalize_email`` would turn a Kelvin
    sign in a domain into a plain ``k``."""
    return _changed_by_nfc(address)


def _changed_by_nfc(text: str) -> bool:
    # NFC of a single code point differs from it only for singletons and composition
    # exclusions (U+212A KELVIN SIGN -> K, U+2126 OHM SIGN -> Ω, U+212B ANGSTROM SIGN...):
    # look-alikes, never a way of spelling an address. Combining sequences (e + U+0301) are
    # left to NFC.
    return any(unicodedata.normalize("NFC", char) != char for char in text if not char.isascii())


def _label(label: str) -> str | None:
    if label.isascii():
        return label
    try:
        return "xn--" + label.encode("punycode").decode("ascii")
    except UnicodeError:
        return None


def _unicode_label(label: str) -> str:
    if not label.startswith("xn--"):
        return label
    try:
        return label[4:].encode("ascii").decode("punycode")
    except UnicodeError:
        return label
