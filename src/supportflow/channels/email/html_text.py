"""An HTML mail body as plain text, with the standard library's html.parser.

Scripts, styles and the head are dropped; block elements (paragraphs, divs, list items,
table rows, line breaks) end lines; entities are decoded; blockquotes come out as
``> ``-quoted lines, so a quoted reply in an HTML-only mail is stripped like a plain one.

html.parser rescans unterminated constructs (``<a <a <a ...``, ``</</</...``) once per
``<``, so hostile HTML could take minutes. Before parsing, comments are cut and every
``<`` that does not open a complete, reasonably short tag is escaped, in one linear
pass; the parser then only ever sees well-formed tags.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

# Longest HTML converted (characters); the rest of a larger body is not read.
MAX_HTML_CHARS = 1_000_000
# A "tag" longer than this is text that happens to start with "<".
_MAX_TAG_CHARS = 2_000

_SKIP = {
    "script",
    "style",
    "head",
    "title",
    "noscript",
    "template",
    "svg",
    "math",
    "object",
    "iframe",
    "select",
}
_PARAGRAPH = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "dl", "table", "pre", "hr"}
_BLOCK = {
    "address",
    "article",
    "aside",
    "center",
    "dd",
    "details",
    "div",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "header",
    "li",
    "main",
    "nav",
    "section",
    "summary",
    "tr",
    "caption",
    "br",
}
_CELL = {"td", "th"}
# Deeper quotes are shown at this depth (a line must not grow with hostile nesting).
_MAX_QUOTE_DEPTH = 8
_SPACES = re.compile(r"\s+")
_TAGLIKE = re.compile(r"<[^<>]*>?")


def _cut_comments(html: str) -> str:
    """Comments removed with str.find (linear); an unterminated one runs to the end, as in
    browsers."""
    parts: list[str] = []
    pos = 0
    while True:
        start = html.find("<!--", pos)
        if start < 0:
            parts.append(html[pos:])
            break
        parts.append(html[pos:start])
        end = html.find("-->", start + 4)
        if end < 0:
            break
        pos = end + 3
    return "".join(parts)


def _defuse(match: re.Match[str]) -> str:
    token = match.group()
    if token.endswith(">") and len(token) <= _MAX_TAG_CHARS:
        return token
    return "&lt;" + token[1:]


class _TextBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self._line: list[str] = []
        self._quote = 0
        self._skip = 0
        self._pre = 0
        self._bullet = False

    # -- lines ------------------------------------------------------------------------

    def _end_line(self, *, blank: bool = False) -> None:
        text = "".join(self._line)
        text = text.rstrip() if self._pre else text.strip()  # <pre> keeps its indentation
        self._line = []
        prefix = "> " * min(self._quote, _MAX_QUOTE_DEPTH)
        if text:
            self.lines.append((prefix + text).rstrip())
        if blank and self.lines and self.lines[-1].strip("> ") != "":
            self.lines.append(prefix.rstrip())

    def _text(self, text: str) -> None:
        if self._bullet and text.strip():
            self._line.append("- ")
            self._bullet = False
        self._line.append(text)

    # -- parser events ----------------------------------------------------------------

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body":
            self._skip = 0  # an unclosed <head> or <style> must not swallow the body
            return
        if tag in _SKIP:
            self._skip += 1
            return
        if self._skip:
            return
        if tag in _PARAGRAPH:
            self._end_line(blank=True)
            if tag == "pre":
                self._pre += 1
        elif tag == "blockquote":
            self._end_line(blank=True)
            self._quote += 1
        elif tag in _BLOCK:
            self._end_line()
            if tag == "li":
                self._bullet = True
        elif tag in _CELL and self._line:
            self._line.append("  ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self._skip = max(0, self._skip - 1)
            return
        if self._skip:
            return
        if tag in _PARAGRAPH:
            self._end_line(blank=True)
            if tag == "pre":
                self._pre = max(0, self._pre - 1)
        elif tag == "blockquote":
            self._end_line()
            self._quote = max(0, self._quote - 1)
            self._end_line(blank=True)
        elif tag in _BLOCK and tag != "br":
            self._end_line()

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._pre:
            first, *rest = data.replace("\r\n", "\n").split("\n")
            self._text(first)
            for piece in rest:
                self._end_line()
                self._text(piece)
            return
        text = _SPACES.sub(" ", data)
        if text.strip() or (self._line and text):
            self._text(text)

    def finish(self) -> str:
        self.close()
        self._end_line()
        out: list[str] = []
        for line in self.lines:
            if not line.strip("> ") and (not out or not out[-1].strip("> ")):
                continue  # one blank line at most between blocks
            out.append(line)
        while out and not out[-1].strip("> "):
            out.pop()
        return "\n".join(out)


def html_to_text(html: str) -> str:
    """Readable text of an HTML body (see the module doc). Never raises on bad HTML."""
    html = _cut_comments(html[:MAX_HTML_CHARS])
    html = _TAGLIKE.sub(_defuse, html)
    builder = _TextBuilder()
    builder.feed(html)
    return builder.finish()
