"""An agent's reply (light Markdown, typographic punctuation) as SMS plain text.

Phones show Markdown literally, and one curly quote or em dash turns the whole message
into UCS-2, which more than halves the characters per segment (160 -> 70). So: links become
"text (url)", emphasis and code marks go, headings become a lead-in ("Returns: ..."),
bullets become "- " items, and paragraphs run together into one (no blank lines; only list
items keep a line of their own, since a list run into one line is hard to read). Then
typographic punctuation is replaced by its GSM-7 look-alike, as Twilio's "smart encoding"
does; letters (é, ç, ş, 漢) are kept as they are, whatever they cost: changing a name or a
word is not ours to do.
"""

from __future__ import annotations

import re
import unicodedata

# Typographic characters and their GSM-7 equivalents (the same idea as Twilio's smart
# encoding). Everything here is punctuation or spacing; no letter is transliterated.
_GSM_EQUIVALENTS: dict[str, str] = {
    # quotes and apostrophes
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u201b": "'",
    "\u2032": "'",
    "\u02bc": "'",
    "\u00b4": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u201f": '"',
    "\u2033": '"',
    "\u00ab": '"',
    "\u00bb": '"',
    # dashes, hyphens, minus
    "\u2010": "-",
    "\u2011": "-",
    "\u2012": "-",
    "\u2013": "-",
    "\u2014": "-",
    "\u2015": "-",
    "\u2212": "-",
    # bullets and dots
    "\u2022": "-",
    "\u2023": "-",
    "\u2043": "-",
    "\u25e6": "-",
    "\u00b7": "-",
    "\u2026": "...",
    # spaces (tab is not in GSM-7 either)
    "\t": " ",
    "\u00a0": " ",
    "\u2002": " ",
    "\u2003": " ",
    "\u2009": " ",
    "\u200a": " ",
    "\u202f": " ",
    "\u205f": " ",
    "\u3000": " ",
    # invisible characters: no meaning in an SMS, but each forces UCS-2
    "\u200b": "",
    "\u200c": "",
    "\u200d": "",
    "\u2060": "",
    "\ufeff": "",
}
_GSM_TABLE = str.maketrans(_GSM_EQUIVALENTS)

_FENCE = re.compile(r"^\s*(```|~~~)")
_RULE = re.compile(r"^\s*([-*_])(\s*\1){2,}\s*$")
_HEADING = re.compile(r"^\s*#{1,6}\s+(.*?)\s*#*\s*$")
_QUOTE = re.compile(r"^\s*>\s?")
_BULLET = re.compile(r"^\s*[-*+\u2022]\s+(.*)$")
_NUMBERED = re.compile(r"^\s*(\d{1,3})[.)]\s+(.*)$")

_IMAGE = re.compile(r"!\[([^\]]*)\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_LINK = re.compile(r"\[([^\]]+)\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_AUTOLINK = re.compile(r"<((?:https?|mailto|tel):[^>\s]+)>")
_URL = re.compile(r"(?:https?://|mailto:|tel:|www\.)\S+")
_CODE = re.compile(r"`+([^`]+?)`+")
_BOLD = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_ITALIC_STAR = re.compile(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])")
_ITALIC_UNDERSCORE = re.compile(r"(?<![\w_])_(?=\S)(.+?)(?<=\S)_(?![\w_])")
_STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")
_HTML_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
_SPACES = re.compile(r"[ \t\u00a0]+")
_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")
_PLACEHOLDER = re.compile("\x00(\\d+)\x00")

_ENDS_SENTENCE = (".", "!", "?", ":", ";", ",")


def gsm_punctuation(text: str) -> str:
    """NFC (so "e" + combining accent becomes the GSM "é") and GSM-7 look-alikes for
    typographic punctuation and spaces."""
    return unicodedata.normalize("NFC", text).translate(_GSM_TABLE)


def _link_text(label: str, url: str) -> str:
    label = label.strip()
    bare = re.sub(r"^(?:https?://|mailto:|tel:)", "", url).rstrip("/")
    if not label or label in (url, bare) or label.rstrip("/") == bare:
        return url
    return f"{label} ({url})"


def _inline(text: str) -> str:
    text = _HTML_BREAK.sub(" ", text)
    text = _CODE.sub(r"\1", text)
    text = _IMAGE.sub(lambda m: _link_text(m.group(1), m.group(2)), text)
    text = _LINK.sub(lambda m: _link_text(m.group(1), m.group(2)), text)
    text = _AUTOLINK.sub(r"\1", text)
    # Keep URLs out of the emphasis rules: an underscore or asterisk in a URL is not markup.
    urls: list[str] = []

    def hide(match: re.Match[str]) -> str:
        urls.append(match.group(0))
        return f"\x00{len(urls) - 1}\x00"

    text = _URL.sub(hide, text)
    for _ in range(3):  # nested emphasis (***bold italic***) unwraps one layer per pass
        text = _BOLD.sub(r"\2", text)
        text = _STRIKE.sub(r"\1", text)
        text = _ITALIC_STAR.sub(r"\1", text)
        text = _ITALIC_UNDERSCORE.sub(r"\1", text)
    text = _PLACEHOLDER.sub(lambda m: urls[int(m.group(1))], text)
    return _SPACES.sub(" ", text).strip()


def plain_text(markdown: str) -> str:
    """One SMS-ready paragraph (list items on their own lines), GSM-7 where possible."""
    text = gsm_punctuation(markdown.replace("\r\n", "\n").replace("\r", "\n"))
    # Control characters have no place in an SMS (NUL would also clash with the URL
    # placeholders below).
    text = _CONTROL.sub("", text)
    # Blocks: each is (kind, text) where kind is "para" (run-on text), "item" or "heading".
    blocks: list[tuple[str, str]] = []
    paragraph: list[str] = []

    def end_paragraph() -> None:
        if paragraph:
            blocks.append(("para", " ".join(paragraph)))
            paragraph.clear()

    for raw in text.split("\n"):
        line = raw
        while _QUOTE.match(line):
            line = _QUOTE.sub("", line, count=1)
        if _FENCE.match(line) or _RULE.match(line) or not line.strip():
            end_paragraph()
            continue
        if heading := _HEADING.match(line):
            end_paragraph()
            blocks.append(("heading", _inline(heading.group(1))))
            continue
        if bullet := _BULLET.match(line):
            end_paragraph()
            blocks.append(("item", "- " + _inline(bullet.group(1))))
            continue
        if numbered := _NUMBERED.match(line):
            end_paragraph()
            blocks.append(("item", f"{numbered.group(1)}. {_inline(numbered.group(2))}"))
            continue
        if blocks and blocks[-1][0] == "item" and not paragraph and raw[:1].isspace():
            # An indented continuation of a list item.
            kind, item = blocks[-1]
            blocks[-1] = (kind, f"{item} {_inline(line)}")
            continue
        paragraph.append(_inline(line))
    end_paragraph()

    out = ""
    previous = ""
    for kind, block in blocks:
        if not block or block in ("-", "- "):
            continue
        if not out:
            out = block
        elif kind == "item" or previous == "item":
            out += "\n" + block
        elif previous == "heading":
            out += " " + block
        else:
            out += (" " if out.endswith(_ENDS_SENTENCE) else ". ") + block
        if kind == "heading" and not block.endswith(_ENDS_SENTENCE):
            out += ":"
        previous = kind
    if previous == "heading" and out.endswith(":"):
        out = out[:-1]  # a heading with nothing after it leads into nothing
    # A stray backtick (not a code span) is not GSM-7; an apostrophe is what it stood for.
    return out.replace("`", "'").strip()
