"""Bytes in whatever charset a mail declares, to clean text; never an exception.

Mail declares charsets wrongly all the time: "us-ascii" on UTF-8, "iso-8859-1" on
Windows-1252 (smart quotes), names Python does not know ("x-unknown", "unknown-8bit"), or
no charset at all. Each is decoded strictly with the declared charset first, then as
UTF-8, and only then with replacement characters, so a wrong label costs at most a few
characters, not the message.
"""

from __future__ import annotations

import codecs
import re

# Labels mail clients use, mapped the way browsers map them (WHATWG Encoding): a declared
# Latin-1 or ASCII is in practice Windows-1252, Shift_JIS is Windows-31J, GB2312 is GBK.
_ALIASES: dict[str, str] = {
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "ansi_x3.4-1968": "cp1252",
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "l1": "cp1252",
    "iso-8859-9": "cp1254",
    "iso-8859-11": "cp874",
    "tis-620": "cp874",
    "windows-874": "cp874",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "ms_kanji": "cp932",
    "windows-31j": "cp932",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "euc-cn": "gb18030",
    "big5": "big5hkscs",
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
    "iso-8859-8-i": "iso-8859-8",
    "utf8": "utf-8",
    "unicode-1-1-utf-8": "utf-8",
}

# Codecs that are no character set (or a costly one): a mail may not choose them.
_REFUSED = {"idna", "punycode", "unicode_escape", "raw_unicode_escape", "undefined", "mbcs"}

# Encodings whose text may also be valid UTF-8 (7-bit, or ASCII with NULs between).
_DECLARED_FIRST = ("utf-16", "utf-32", "utf-7", "iso2022", "hz")

# Bytes 0x80-0xFF as the email package keeps undecodable 8-bit text (surrogateescape).
_ESCAPED = re.compile("[\udc80-\udcff]+")
# Control characters other than tab and newline (C0, DEL, C1) and the bidirectional
# overrides: they have no place in a message's text and some (NUL, escape sequences,
# right-to-left overrides hiding a file's real extension) can harm what stores or shows it.
_CONTROLS = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)


def codec_for(charset: object) -> str | None:
    """The Python codec for a declared charset, or None for an unknown or refused one."""
    if not isinstance(charset, str):
        return None
    label = charset.strip().strip("\"'").lower()
    if not label or len(label) > 40 or not label.isascii():
        return None
    label = _ALIASES.get(label, label)
    try:
        name = codecs.lookup(label).name
        b"x".decode(name, "replace")  # LookupError for codecs that are no text encoding
    except (LookupError, ValueError, TypeError):
        return None
    return None if name in _REFUSED else name


def decode_bytes(data: bytes, charset: object = None) -> str:
    """``data`` as text, never raising. In order: UTF-8 if it is valid UTF-8 (text in an
    8-bit charset almost never is, while UTF-8 labelled Latin-1 or ASCII is common); the
    declared charset; Windows-1252 when the label was UTF-8, ASCII or missing (invalid
    "UTF-8" is mostly that); and last the declared charset with U+FFFD for what does not
    decode. Charsets whose bytes may also read as UTF-8 (UTF-16/32, UTF-7, ISO-2022) are
    tried before UTF-8."""
    declared = codec_for(charset)
    order: list[str] = (
        [declared, "utf-8"]
        if declared is not None and declared.startswith(_DECLARED_FIRST)
        else ["utf-8"]
        if declared is None
        else ["utf-8", declared]
    )
    if declared in (None, "utf-8", "cp1252"):
        order.append("cp1252")
    for codec in order:
        try:
            return data.decode(codec)
        except (UnicodeDecodeError, LookupError, ValueError):
            continue
    try:
        return data.decode(declared or "utf-8", errors="replace")
    except (LookupError, ValueError):
        return data.decode("utf-8", errors="replace")


def _unescape(match: re.Match[str]) -> str:
    return decode_bytes(match.group().encode("utf-8", "surrogateescape"))


def scrub(text: str) -> str:
    """Text safe to store and show: valid Unicode, newlines as ``\\n``, no control
    characters. Raw 8-bit bytes that the email package kept as surrogates (an unencoded
    non-ASCII header) are decoded run by run like a body without charset."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = _ESCAPED.sub(_unescape, text)
        text = text.encode("utf-8", "replace").decode("utf-8")  # any other lone surrogate
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "")
    return _CONTROLS.sub("", text)


def one_line(text: str, limit: int = 500) -> str:
    """A header value as one line: line breaks and tabs become spaces (a subject can never
    smuggle a header into a reply), runs of spaces collapse, at most ``limit`` chars."""
    text = scrub(text)
    text = " ".join(text.split())
    return text[:limit]
