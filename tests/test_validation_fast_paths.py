"""The fast paths of ``normalize_domain_name`` and ``normalize_email`` (plain ASCII names and
addresses, Latin-1 IDN names) accept exactly what the full IDNA / email_validator checks
accept, with the same result, and leave every refusal to them.

The property: for every input, the fast path answers ``None`` ("ask the full check") or the
very value the full check returns. Checked over hand-picked tricky inputs and over random
strings built from the pieces that make names tricky."""

from __future__ import annotations

import random

import idna
import pytest
from email_validator import EmailNotValidError, validate_email

from renewal_reminder.renewals import validation
from renewal_reminder.renewals.validation import (
    InvalidValue,
    normalize_domain_name,
    normalize_email,
)


def full_domain(raw: str) -> str | Exception:
    """What the full check says (a name or the refusal)."""
    text = raw.strip().rstrip(".")
    try:
        return validation._full_domain_name(raw, text)
    except InvalidValue as exc:
        return exc


def full_email(raw: str) -> str | Exception:
    try:
        return validate_email(raw.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        return exc


def public(function, raw: str) -> str:
    try:
        return function(raw)
    except InvalidValue as exc:
        return f"refused: {exc}"


def assert_domain_agrees(raw: str) -> str | None:
    text = raw.strip().rstrip(".")
    if not text:
        return None
    fast = validation._fast_domain_name(text)
    if fast is not None:
        assert fast == full_domain(raw), raw
    full = full_domain(raw)
    expected = f"refused: {full}" if isinstance(full, Exception) else full
    assert public(normalize_domain_name, raw) == expected, raw
    return fast


def assert_email_agrees(raw: str) -> str | None:
    fast = validation._fast_email(raw.strip())
    full = full_email(raw)
    if fast is not None:
        assert fast == full, raw
    if isinstance(full, Exception):
        assert public(normalize_email, raw).startswith("refused: "), raw
    else:
        assert normalize_email(raw) == full, raw
    return fast


LABEL_63 = "a" * 63
LABEL_64 = "a" * 64
# An IDN label whose A-label is exactly 63 (and 64) characters: "xn--" + 55 + "-" + 3.
IDN_63 = "é" + "a" * 55
IDN_64 = "é" + "a" * 56

TRICKY_DOMAINS = [
    # plain, uppercase, trailing dots, whitespace
    "example.com",
    "EXAMPLE.COM",
    "Example.Com.",
    "example.com..",
    "  example.com  ",
    "exa mple.com",
    "example .com",
    "example.com\t",
    "example\u00a0.com",
    # hyphens at label edges and positions 3-4
    "-example.com",
    "example-.com",
    "ex-ample.com",
    "ex--ample.com",
    "ab--c.com",
    "a--b.com",
    "abc--.com",
    "example.c-m",
    "example.-com",
    # punycode labels, valid and not
    "xn--bcher-kva.de",
    "XN--BCHER-KVA.DE",
    "xn--bcher-kva.xn--p1ai",
    "xn--.com",
    "xn--a.com",
    "xn--zz.com",
    "xn--ls8h.la",
    "bücher.xn--p1ai",
    "xn--bcher-kva.bücher.de",
    "shop.xn--zz",
    # TLDs: digits only, one letter, alphanumeric, IDN
    "example.123",
    "example.c",
    "example.c0m",
    "example.co1",
    "123.com",
    "1.2.3.4",
    "example.рф",
    "bücher.dé",
    "example.ß",
    # single label, empty labels
    "localhost",
    "bücher",
    "a..b.com",
    ".example.com",
    "..",
    ".",
    # length limits: labels of 63/64, names of 253/254
    f"{LABEL_63}.com",
    f"{LABEL_64}.com",
    f"{IDN_63}.com",
    f"{IDN_64}.com",
    ".".join([LABEL_63] * 3) + "." + "a" * 57 + ".com",  # 253
    ".".join([LABEL_63] * 3) + "." + "a" * 58 + ".com",  # 254
    ".".join([LABEL_63] * 3) + "." + "é" + "a" * 50 + ".com",
    ".".join(["é" * 10] * 8) + ".com",
    # Latin-1 letters, both cases, the special ones
    "bücher.de",
    "BÜCHER.DE",
    "Café.NL",
    "straße.de",
    "STRASSE.de",
    "ÿes.com",
    "Ÿes.com",
    "þorn.is",
    "ÐÆÞ.is",
    "zürich-12345.ch",
    "-über.de",
    "über-.de",
    "üb--er.de",
    "ü--ber.de",
    "ü-é.de",
    # not Latin-1 letters: the full check decides
    "a×b.com",
    "a÷b.com",
    "a·b.com",
    "l·l.cat",
    "café.com",  # decomposed é (e + U+0301)
    "\u0301a.com",
    "ıi.com",
    "İstanbul.com",
    "ſ.com",
    "ŉ.com",
    "ǆ.com",
    "ﬀ.com",
    "ｅｘａｍｐｌｅ.com",
    "example。com",
    "example．com",
    "例え.jp",
    "пример.рф",
    "مثال.com",
    "a\u200db.com",
    "😀.com",
    "ex_ample.com",
    "ex$ample.com",
    "exämple.com/",
    "ä.b.c.d.e.f",
]


@pytest.mark.parametrize("raw", TRICKY_DOMAINS)
def test_the_domain_fast_path_agrees_with_idna_on_tricky_names(raw):
    assert_domain_agrees(raw)


def test_the_domain_fast_path_takes_the_common_names():
    for raw in ("shop-12.nl", "Shop.NL.", "café-3.com", "Zürich.ch", "straße.de", f"{IDN_63}.de"):
        assert validation._fast_domain_name(raw.rstrip(".")) is not None, raw
        assert_domain_agrees(raw)


def test_every_latin1_letter_maps_and_encodes_as_idna_says():
    for letter in validation._LATIN1_LETTERS:
        assert idna.uts46_remap(letter, std3_rules=False) == letter.lower(), letter
        idna.check_label(letter.lower())  # PVALID, left to right, no context rule
        assert_domain_agrees(f"a{letter}b.com")
        assert_domain_agrees(f"{letter}.com")


def test_the_punycode_encoder_is_the_standard_one():
    rng = random.Random(3492)
    alphabet = "abcz09-" + "".join(sorted(validation._LATIN1_LETTERS)) + "ĀſǆЖ中😀"
    labels = ["ü", "bücher", "éé", "aé", "éa", "zürich-12345", "ÿ" * 20, "é" + "a" * 60]
    for _ in range(5000):
        labels.append("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40))))
    for label in labels:
        assert validation._punycode(label) == label.encode("punycode").decode("ascii"), label


PIECES = [
    "a",
    "b",
    "z",
    "A",
    "Q",
    "0",
    "7",
    "-",
    "--",
    ".",
    "..",
    "xn--",
    "XN--",
    "é",
    "É",
    "ß",
    "ü",
    "Ÿ",
    "ÿ",
    "×",
    "·",
    "\u0301",
    "ı",
    "İ",
    "ſ",
    "ｅ",
    "。",
    " ",
    "_",
    "р",
    "ا",
    "\u200d",
    "com",
    "nl",
    "abcdefghij" * 3,
]


#: Mostly ordinary characters, so that many random names are valid and the fast path's
#: answers are put to the test, not only its refusals.
COMMON = ["a", "b", "k", "z", "0", "7", "-", "é", "ü", "shop", "web"]


def random_label(rng: random.Random) -> str:
    pool = COMMON if rng.random() < 0.7 else PIECES
    return "".join(rng.choice(pool) for _ in range(rng.randint(1, 6)))


def random_name(rng: random.Random) -> str:
    labels = [random_label(rng) for _ in range(rng.randint(1, 3))]
    tld = rng.choice(["com", "nl", "de", "c", "123", "xn--p1ai", "dé", "", random_label(rng)])
    return ".".join(labels + [tld]) + rng.choice(["", "", "", ".", " "])


def test_the_domain_fast_path_agrees_with_idna_on_random_names():
    rng = random.Random(16)
    fast_hits = 0
    for _ in range(6000):
        fast_hits += assert_domain_agrees(random_name(rng)) is not None
    assert fast_hits > 500  # the property is not vacuous


TRICKY_EMAILS = [
    "jan@example.nl",
    "Jan.Jansen@Example.NL",
    "jan@EXAMPLE.NL",
    "  jan@example.nl ",
    "jan+tag@example.nl",
    "j.a.n@example.nl",
    "o'brien@example.ie",
    "a!#$%&'*+/=?^_`{|}~-b@example.com",
    # role names are lower-cased by email_validator
    "Info@example.nl",
    "POSTMASTER@example.nl",
    "Sales@example.nl",
    "infos@example.nl",
    # dots in the wrong place
    ".jan@example.nl",
    "jan.@example.nl",
    "j..an@example.nl",
    "jan@.example.nl",
    "jan@example..nl",
    "jan@example.nl.",
    # quoted and odd local parts, display names, literals
    '"jan jansen"@example.nl',
    '"jan"@example.nl',
    '"j\\"an"@example.nl',
    "jan jansen@example.nl",
    "Jan <jan@example.nl>",
    "jan@[192.0.2.1]",
    "jan@@example.nl",
    "jan@ex@ample.nl",
    "@example.nl",
    "jan@",
    "jan",
    "jan(comment)@example.nl",
    "jan\\@x@example.nl",
    # domains: special use, hyphens, punycode, TLDs, IDN
    "jan@localhost",
    "jan@example.local",
    "jan@x.test",
    "jan@x.invalid",
    "jan@x.onion",
    "jan@x.arpa",
    "jan@example.com",
    "jan@-example.nl",
    "jan@example-.nl",
    "jan@ab--cd.nl",
    "jan@xn--bcher-kva.de",
    "jan@bücher.de",
    "jan@BÜCHER.de",
    "jösé@example.nl",
    "jan@example.123",
    "jan@example.c",
    "jan@example.c0m",
    "jan@exam_ple.nl",
    # length limits: 64/65 local, 253/254 domain, 254/255 whole
    "a" * 64 + "@example.nl",
    "a" * 65 + "@example.nl",
    "a" * 64 + "@" + ".".join(["b" * 63, "c" * 63, "d" * 47]) + ".nl",
    "a" * 64 + "@" + ".".join(["b" * 63, "c" * 63, "d" * 48]) + ".nl",
    "a" * 64 + "@" + ".".join(["b" * 63, "c" * 63, "d" * 49]) + ".nl",
    "jan@" + "b" * 63 + ".nl",
    "jan@" + "b" * 64 + ".nl",
]


@pytest.mark.parametrize("raw", TRICKY_EMAILS)
def test_the_email_fast_path_agrees_with_email_validator_on_tricky_addresses(raw):
    assert_email_agrees(raw)


def test_the_email_fast_path_takes_the_common_addresses():
    for raw in ("billing12@relation12.example", "Jan.Jansen@Example.NL", "a+b@x-y.com"):
        assert validation._fast_email(raw) is not None, raw
        assert_email_agrees(raw)


EMAIL_PIECES = [
    "jan",
    "J",
    "info",
    ".",
    "..",
    "@",
    "@",
    "-",
    "--",
    "+",
    '"',
    " ",
    "\\",
    "(",
    "<",
    ">",
    "[",
    "é",
    "ü",
    "xn--",
    "example",
    "nl",
    "local",
    "test",
    "1",
    "_",
]


def test_the_email_fast_path_agrees_with_email_validator_on_random_addresses():
    rng = random.Random(16)
    fast_hits = 0
    for _ in range(6000):
        pool = ["jan", "J", "x", "+", "-", "."] if rng.random() < 0.7 else EMAIL_PIECES
        local = "".join(rng.choice(pool) for _ in range(rng.randint(1, 6)))
        raw = local + rng.choice(["@", "@", "@", "", "@@"]) + random_name(rng).strip()
        fast_hits += assert_email_agrees(raw) is not None
    assert fast_hits > 50
