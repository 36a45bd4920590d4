"""Header fields read from untrusted mail without ever raising.

The standard library's header parser (email.policy.default) decodes RFC 2047 words and
parses addresses, but on hostile input it has raised (IndexError, RecursionError on deeply
nested comments, ...). Every read here falls back to the raw header text, so one bad
header costs that header's structure, not the message.
"""

from __future__ import annotations

import re
from datetime import datetime
from email import errors, policy
from email.header import decode_header, make_header
from email.message import Message
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime

from supportflow.channels.email.charsets import one_line, scrub

_ADDR_SPEC = re.compile(r"[^\s@<>()\[\],;:\"\\]{1,64}@[^\s@<>()\[\],;:\"\\]{1,253}")
_MSG_ID = re.compile(r"<([^<>\s]{1,250})>")
_HEADER_NAME = re.compile(r"[!-9;-~]{1,100}")
# References kept from a long chain: its first (the thread's root) and the latest ones.
MAX_REFERENCES = 50


def _raw_values(msg: Message, name: str) -> list[str]:
    wanted = name.lower()
    out: list[str] = []
    for key, raw in msg.raw_items():
        if key.lower() == wanted:
            try:
                out.append(str(make_header(decode_header(str(raw)))))
            except Exception:  # undecodable encoded words: the raw text is still something
                out.append(str(raw))
    return out


def values(msg: Message, name: str) -> list[str]:
    """Every value of header ``name``, decoded and scrubbed (may contain line breaks)."""
    try:
        found = msg.get_all(name) or []
        return [scrub(str(v)) for v in found]
    except Exception:  # the stdlib header parser crashed on this input; read it raw
        return [scrub(v) for v in _raw_values(msg, name)]


def first(msg: Message, name: str) -> str | None:
    found = values(msg, name)
    return found[0] if found else None


def has_defects(msg: Message, name: str) -> bool:
    """Whether any ``name`` header is defective (or could not be parsed at all)."""
    try:
        return any(getattr(h, "defects", ()) for h in msg.get_all(name) or [])
    except Exception:
        return True


def count(msg: Message, name: str) -> int:
    wanted = name.lower()
    return sum(1 for key in msg if key.lower() == wanted)


def normal_address(addr: str) -> str | None:
    """A lower-cased addr-spec, or None for anything that is not one plain mailbox."""
    addr = scrub(addr).strip().lower()
    if len(addr) > 254 or not _ADDR_SPEC.fullmatch(addr):
        return None
    domain = addr.rsplit("@", 1)[1]
    if domain.startswith(".") or domain.endswith(".") or ".." in domain:
        return None
    return addr


def mailboxes(msg: Message, name: str) -> list[tuple[str, str]]:
    """(display name, addr-spec as written) of each mailbox in every ``name`` header."""
    try:
        found: list[tuple[str, str]] = []
        for header in msg.get_all(name) or []:
            for address in getattr(header, "addresses", ()):
                found.append((str(address.display_name or ""), str(address.addr_spec)))
        return found
    except Exception:  # the stdlib parser crashed: the simpler getaddresses() on raw text
        try:
            return [(n, a) for n, a in getaddresses(_raw_values(msg, name)) if a]
        except Exception:
            return []


def addresses(msg: Message, name: str) -> list[str]:
    """The valid mailboxes of every ``name`` header, normalised, without repeats."""
    found = (normal_address(a) for _, a in mailboxes(msg, name))
    return list(dict.fromkeys(a for a in found if a))


def msg_ids(value: str | None) -> list[str]:
    """The ``<...>`` message ids in a header value; a bare ``id@host`` is taken too."""
    if not value:
        return []
    found = [f"<{m}>" for m in _MSG_ID.findall(value)]
    if not found:
        bare = value.strip()
        if 0 < len(bare) <= 250 and "@" in bare and not any(c.isspace() or c in "<>" for c in bare):
            found = [f"<{bare}>"]
    return list(dict.fromkeys(found))


def references(msg: Message) -> list[str]:
    ids = [i for v in values(msg, "references") for i in msg_ids(v)]
    ids = list(dict.fromkeys(ids))
    if len(ids) > MAX_REFERENCES:
        ids = [ids[0], *ids[-(MAX_REFERENCES - 1) :]]
    return ids


def date(msg: Message) -> datetime | None:
    try:
        header = msg["date"]
        value = getattr(header, "datetime", None)
        if isinstance(value, datetime):
            return value
    except Exception:
        pass
    raw = _raw_values(msg, "date")
    if not raw:
        return None
    try:
        return parsedate_to_datetime(raw[0])
    except Exception:
        return None


def subject(msg: Message) -> str:
    found = first(msg, "subject")
    return one_line(found) if found else ""


def header_defects(msg: Message) -> bool:
    """Whether the header block itself is damaged: a line that is no header field, or a
    header the parser flagged."""
    return any(
        isinstance(d, errors.HeaderDefect | errors.MissingHeaderBodySeparatorDefect)
        for d in getattr(msg, "defects", ())
    )


def from_pairs(pairs: list[tuple[str, str]]) -> Message:
    """A header-only message built from (name, value) pairs, as webhooks post them; names
    that are not header names are dropped and line breaks in values become spaces."""
    lines = []
    for name, value in pairs:
        if not _HEADER_NAME.fullmatch(name):
            continue
        lines.append(f"{name}: {' '.join(value.splitlines())}")
    raw = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "replace")
    return BytesParser(policy=policy.default).parsebytes(raw, headersonly=True)


def from_block(block: str | bytes) -> Message:
    """A header-only message from a raw header block (SendGrid's ``headers`` field)."""
    if isinstance(block, bytes):
        raw = block
    else:
        try:
            raw = block.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            raw = block.encode("utf-8", "replace")
    raw = raw.replace(b"\r\n", b"\n").strip(b"\n").replace(b"\n", b"\r\n") + b"\r\n\r\n"
    return BytesParser(policy=policy.default).parsebytes(raw, headersonly=True)
