"""How many SMS segments a text costs, and replies cut to fit.

An SMS carries 140 octets. Text that uses only the GSM 03.38 alphabet travels as 7-bit
septets (160 per single SMS); anything else makes the whole message UCS-2 (UTF-16 code
units, 70 per single SMS). A longer message is concatenated: each segment gives up room for
the concatenation header, leaving 153 septets or 67 code units. Characters of the GSM
extension table (``^{}\\[~]|€`` and form feed) are sent as ESC + char, two septets, and a
segment never ends between the two; likewise a UTF-16 surrogate pair (an emoji, say) is
never split across segments. This is how Twilio counts ``num_segments`` and bills.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum

from supportflow.channels.sms.plaintext import plain_text

# GSM 03.38 default alphabet (3GPP TS 23.038 6.2.1), in table order; ESC (0x1B) is omitted
# because it only introduces an extension character.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ" + "ÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table (6.2.1.1): each costs ESC + char, two septets.
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM7_SINGLE, GSM7_MULTI = 160, 153
UCS2_SINGLE, UCS2_MULTI = 70, 67
# Twilio refuses a Body longer than this many characters (error 21617), whatever it costs.
MAX_BODY_CHARS = 1600


class Encoding(StrEnum):
    GSM7 = "GSM-7"
    UCS2 = "UCS-2"


@dataclass(frozen=True)
class SegmentInfo:
    encoding: Encoding
    # Septets for GSM-7 (extension characters count 2), UTF-16 code units for UCS-2.
    units: int
    # 0 for an empty text: there is nothing to send (Twilio refuses an empty Body).
    segments: int


def encoding_of(text: str) -> Encoding:
    """GSM-7 if every character is in the basic or extension table, else UCS-2."""
    for ch in text:
        if ch not in GSM7_BASIC and ch not in GSM7_EXTENSION:
            return Encoding.UCS2
    return Encoding.GSM7


def _unit_costs(text: str, encoding: Encoding) -> Iterator[int]:
    """Each character's indivisible cost: the escape pair or surrogate pair travels whole."""
    if encoding is Encoding.GSM7:
        for ch in text:
            yield 2 if ch in GSM7_EXTENSION else 1
    else:
        for ch in text:
            yield 2 if ord(ch) > 0xFFFF else 1


def segments(text: str) -> SegmentInfo:
    encoding = encoding_of(text)
    costs = list(_unit_costs(text, encoding))
    units = sum(costs)
    single, multi = (
        (GSM7_SINGLE, GSM7_MULTI) if encoding is Encoding.GSM7 else (UCS2_SINGLE, UCS2_MULTI)
    )
    if units == 0:
        return SegmentInfo(encoding, 0, 0)
    if units <= single:
        return SegmentInfo(encoding, units, 1)
    # Greedy packing: a 2-unit character that does not fit in what is left of a segment
    # starts the next one (the segment is sent one unit short), so the count can exceed
    # ceil(units / multi).
    count, used = 1, 0
    for cost in costs:
        if used + cost > multi:
            count += 1
            used = 0
        used += cost
    return SegmentInfo(encoding, units, count)


# --- splitting a reply into SMS bodies -------------------------------------------------------

# Where a sentence ends: after . ! ? (optionally closed by a quote or bracket) and a space,
# and at every line break (shaped replies keep line breaks only before list items).
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])[\"')\]]*( +)|(\n)")
_WHITESPACE = re.compile(r"(\s+)")
_MARKER = " ({index}/{total})"


def shape_reply(text: str, *, max_segments: int = 3) -> list[str]:
    """The agent's reply as SMS bodies, in order, each costing at most ``max_segments``.

    Markdown is turned into plain text and collapsed to one paragraph (list items keep
    their own line), with typographic punctuation replaced by GSM equivalents so the reply
    stays GSM-7 when only those stood in the way (see ``plaintext.plain_text``). A reply
    that does not fit in one body is cut at sentence boundaries, else at word boundaries,
    else (a single word longer than a whole body, such as a huge URL) between characters.

    Bodies after splitting end in " (1/2)", " (2/2)": each body is a separate Twilio
    message, and separate messages are not guaranteed to arrive in order (concatenated
    segments of one body are reassembled by the phone, so they need no numbering). The
    marker also tells the reader more is coming. A reply that fits in one body is not
    marked. The marker's room is reserved before cutting, so it never pushes a body over.

    Returns [] for a text with nothing left to send.
    """
    if max_segments < 1:
        raise ValueError("max_segments must be at least 1")
    shaped = plain_text(text)
    if not shaped:
        return []
    bodies = _split(shaped, _fits_within(max_segments, reserve=""))
    if len(bodies) <= 1:
        return bodies
    # Reserve room for the widest marker at the current count, re-cutting until the count
    # no longer gains a digit (the reserve only grows, so this ends).
    digits = len(str(len(bodies)))
    while True:
        reserve = _MARKER.format(index="9" * digits, total="9" * digits)
        bodies = _split(shaped, _fits_within(max_segments, reserve=reserve))
        if len(str(len(bodies))) <= digits:
            break
        digits = len(str(len(bodies)))
    total = len(bodies)
    return [body + _MARKER.format(index=i, total=total) for i, body in enumerate(bodies, 1)]


def _fits_within(max_segments: int, *, reserve: str) -> Callable[[str], bool]:
    # The marker is plain ASCII digits and brackets (GSM-7), so reserving it never changes
    # a body's encoding, and a real marker is never wider than the reserve.
    def fits(body: str) -> bool:
        candidate = body + reserve
        return len(candidate) <= MAX_BODY_CHARS and segments(candidate).segments <= max_segments

    return fits


def _pieces(text: str, pattern: re.Pattern[str]) -> list[tuple[str, str]]:
    """(separator before, piece) pairs; the first piece has an empty separator."""
    out: list[tuple[str, str]] = []
    pos, sep = 0, ""
    for match in pattern.finditer(text):
        start = match.start(1) if match.group(1) is not None else match.start(2)
        end = match.end()
        out.append((sep, text[pos:start]))
        sep, pos = text[start:end], end
    out.append((sep, text[pos:]))
    return [(s, p) for s, p in out if p]


def _word_pieces(sentence: str) -> list[tuple[str, str]]:
    parts = _WHITESPACE.split(sentence)
    out: list[tuple[str, str]] = []
    sep = ""
    for part in parts:
        if not part:
            continue
        if part.isspace():
            sep = part
        else:
            out.append((sep, part))
            sep = ""
    return out


def _split(text: str, fits: Callable[[str], bool]) -> list[str]:
    """Greedy packing: whole sentences while they fit; a sentence too long for a body on
    its own is packed word by word, and a word too long on its own character by character
    (code points, so a surrogate pair is never split: Python strings hold whole ones)."""
    bodies: list[str] = []
    current = ""

    def try_append(sep: str, piece: str) -> bool:
        nonlocal current
        candidate = f"{current}{sep}{piece}" if current else piece
        if fits(candidate):
            current = candidate
            return True
        if current:
            bodies.append(current)
            current = ""
        if fits(piece):
            current = piece
            return True
        return False

    for sentence_sep, sentence in _pieces(text, _SENTENCE_BREAK):
        if try_append(sentence_sep, sentence):
            continue
        for word_sep, word in _word_pieces(sentence):
            if try_append(word_sep, word):
                continue
            for ch in word:
                if not try_append("", ch):  # pragma: no cover - one character always fits
                    raise AssertionError("a single character does not fit in a body")
    if current:
        bodies.append(current)
    return bodies
