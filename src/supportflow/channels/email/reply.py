"""The new part of an email reply: quoted history, attribution lines and signature cut.

Quoted history is found with mail_parser_reply's header patterns ("On ... wrote:" in a
dozen languages, Outlook's "From:/Sent:/To:" block, "-----Original Message-----"), and
then, line by line, with our own fallbacks: an English "On ... wrote:" over up to three
lines, Outlook's underscore rule before a "From:" line, and a block of ``>``-quoted
lines at the bottom. Signatures are cut at the RFC 3676 delimiter ("-- "), at a phone's
"Sent from my ..." line, and at a sign-off line ("Best regards,") with only a few short
lines (a name, a title) after it.

Deliberately not used: the library's own signature and disclaimer patterns. They cut at
any line starting "Thanks," ("Thanks, but my order never came" would lose the order) and
they backtrack badly (a run of blank lines took minutes). The library's header pattern is
run only on the first ``SCAN_CHARS`` characters with lines cut to ``_SCAN_LINE_CHARS``,
where it stays linear (tens of milliseconds at worst); everything else here is one pass.

If nothing is left (a message that is only a quote or only a signature), the whole text
is the reply: a message with text never comes out empty.
"""

from __future__ import annotations

import re

from mailparser_reply.parser import EmailMessage  # type: ignore[import-untyped]

# How much of the start of a message is searched for a quoted-reply header.
SCAN_CHARS = 16_000
_SCAN_LINE_CHARS = 200

_LANGUAGES = ["en", "de", "fr", "es", "it", "nl", "pl", "sv", "da", "cs", "ja", "ko", "zh"]
# The library's combined header pattern (its `read()` would also run the slow signature
# patterns, so it is taken alone).
_HEADER: re.Pattern[str] = EmailMessage(text="", languages=list(_LANGUAGES)).HEADER_REGEX

_QUOTE_MARKS = re.compile(r"^(?:>\s?)+")
_FIELD_LINE = re.compile(r"^[*\s]*[^\W\d_][\w .-]{0,24}:", re.UNICODE)
_ON_START = re.compile(r"^On\s", re.IGNORECASE)
_WROTE_END = re.compile(r"\bwrote:?\s*$", re.IGNORECASE)
_ORIGINAL = re.compile(r"^-{3,}\s*Original Message\s*-{3,}$", re.IGNORECASE)
_RULE = re.compile(r"^_{20,}$")
_FROM_LINE = re.compile(r"^\**From:", re.IGNORECASE)
_MOBILE = re.compile(
    r"^(?:sent from my \S.{0,40}|sent from (?:mail|outlook|yahoo mail|aol|samsung)\b.{0,40}"
    r"|get outlook for \S.{0,30}|von meinem \S.{0,30} gesendet|envoy[ée] de mon \S.{0,30}"
    r"|enviado desde mi \S.{0,30}|inviato da(?:l mio)? \S.{0,30}|verzonden vanaf mijn \S.{0,30})$",
    re.IGNORECASE,
)
_SIGN_OFF = re.compile(
    r"^(?:best(?: regards| wishes)?|kind regards|warm regards|warmest regards|regards"
    r"|many thanks|thanks(?: a lot| again| so much| in advance)?"
    r"|thank you(?: very much| so much| in advance)?|cheers|sincerely|yours(?: sincerely| truly)?"
    r"|all the best|br|mit freundlichen gr(?:ü|ue)(?:ß|ss)en|viele gr(?:ü|ue)(?:ß|ss)e"
    r"|liebe gr(?:ü|ue)(?:ß|ss)e|gru(?:ß|ss)|cordialement|bien [àa] vous|merci(?: beaucoup)?"
    r"|saludos|un saludo|atentamente|cordiali saluti|saluti|grazie"
    r"|met vriendelijke groet(?:en)?|groeten|med v[äa]nliga h[äa]lsningar|pozdrawiam)[\s,.!]*$",
    re.IGNORECASE,
)
# A signature block after a sign-off: a name, a title, a phone number, at most this many.
_SIGNATURE_LINES = 4
_SIGNATURE_LINE_CHARS = 80


def _unquoted(line: str) -> str:
    return _QUOTE_MARKS.sub("", line).strip()


def _library_cut(lines: list[str]) -> int | None:
    """Index of the first line of a quoted-reply header found by mail_parser_reply."""
    scan: list[str] = []
    total = 0
    for line in lines:
        scan.append(line.strip()[:_SCAN_LINE_CHARS])
        total += len(scan[-1]) + 1
        if total >= SCAN_CHARS:
            break
    text = "\n".join(scan)
    for match in _HEADER.finditer(text):
        start = match.start()
        while start < match.end() and text[start] in "\n ":
            start += 1
        header = [_unquoted(line) for line in text[start : match.end()].split("\n")]
        header = [line for line in header if line]
        fields = sum(1 for line in header if _FIELD_LINE.match(line))
        # An Outlook-style block must look like one: two lines such as "From: 1 Main St /
        # To: 2 High St" in a customer's own text are not a quoted message.
        if fields >= 2 and fields < 3 and "@" not in match.group():
            continue
        return text.count("\n", 0, start)
    return None


def _fallback_cut(lines: list[str]) -> int | None:
    """Index of the first line of a quoted reply found by our own line rules."""
    for i, line in enumerate(lines):
        bare = _unquoted(line)
        if _ON_START.match(bare):
            joined = bare
            for extra in range(3):
                if extra:
                    if i + extra >= len(lines):
                        break
                    joined += " " + _unquoted(lines[i + extra])
                if len(joined) > 500:
                    break
                if _WROTE_END.search(joined):
                    return i
        if _ORIGINAL.match(bare):
            return i
        if _RULE.match(bare) and any(_FROM_LINE.match(_unquoted(n)) for n in lines[i + 1 : i + 3]):
            return i
    return None


def _drop_trailing_rules(lines: list[str]) -> list[str]:
    """Blank lines and Outlook's underscore rule left at the end by a cut."""
    end = len(lines)
    while end and (not lines[end - 1].strip() or _RULE.match(_unquoted(lines[end - 1]))):
        end -= 1
    return lines[:end]


def _drop_bottom_quote(lines: list[str]) -> list[str]:
    end = len(lines)
    while end and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith(">")):
        end -= 1
    if any(line.lstrip().startswith(">") for line in lines[end:]):
        return lines[:end]
    return lines


def _cut_signature(lines: list[str]) -> list[str]:
    # RFC 3676: the signature starts at the last "-- " line.
    for i in range(len(lines) - 1, 0, -1):
        if lines[i].rstrip() == "--":
            return lines[:i]
    # For each line: how many non-blank lines follow it, and the longest of them (one
    # backward pass, so a long message costs no more than a short one per line).
    after_count = [0] * (len(lines) + 1)
    after_longest = [0] * (len(lines) + 1)
    for i in range(len(lines) - 1, -1, -1):
        bare = lines[i].strip()
        after_count[i] = after_count[i + 1] + (1 if bare else 0)
        after_longest[i] = max(after_longest[i + 1], len(bare))
    for i in range(1, len(lines)):
        bare = lines[i].strip()
        if len(bare) > _SIGNATURE_LINE_CHARS:
            continue
        if _MOBILE.match(bare) and after_count[i + 1] <= 3:
            return lines[:i]
        if (
            _SIGN_OFF.match(bare)
            and after_count[i + 1] <= _SIGNATURE_LINES
            and after_longest[i + 1] <= _SIGNATURE_LINE_CHARS
        ):
            return lines[:i]
    return lines


def strip_reply(text: str) -> str:
    """The new text of a reply (see the module doc); ``text`` itself when nothing is left.
    ``text`` has ``\\n`` line ends."""
    lines = text.split("\n")
    cut = _library_cut(lines)
    if cut is not None and cut > 0:
        lines = lines[:cut]
    cut = _fallback_cut(lines)
    if cut is not None and cut > 0:
        lines = lines[:cut]
    lines = _cut_signature(_drop_bottom_quote(_drop_trailing_rules(lines)))
    reply = "\n".join(lines).strip()
    return reply if reply else text.strip()
