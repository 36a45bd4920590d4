"""Segment counting: GSM-7 basic and extension tables, UCS-2, and the pairs never split."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from supportflow.channels.sms.segments import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    Encoding,
    SegmentInfo,
    encoding_of,
    segments,
)

G, U = Encoding.GSM7, Encoding.UCS2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", SegmentInfo(G, 0, 0)),
        ("Hello", SegmentInfo(G, 5, 1)),
        ("a" * 160, SegmentInfo(G, 160, 1)),
        ("a" * 161, SegmentInfo(G, 161, 2)),
        ("a" * 306, SegmentInfo(G, 306, 2)),
        ("a" * 307, SegmentInfo(G, 307, 3)),
        ("a" * 1530, SegmentInfo(G, 1530, 10)),
        # Extension characters cost two septets each.
        ("€" * 80, SegmentInfo(G, 160, 1)),
        ("€" * 81, SegmentInfo(G, 162, 2)),
        ("{}[]~|^\\", SegmentInfo(G, 16, 1)),
        ("\f", SegmentInfo(G, 2, 1)),
        # An escape pair that would straddle segments 1 and 2 moves to segment 2 whole:
        # 306 septets, but 152 + (2 + 151) + 1 -> three segments.
        ("a" * 152 + "€" + "a" * 152, SegmentInfo(G, 306, 3)),
        ("a" * 151 + "€" + "a" * 153, SegmentInfo(G, 306, 2)),
        # Accented letters in the GSM table stay GSM-7; others force UCS-2.
        ("Ça va à l'école, Grüße, Ñandu, Ærø", SegmentInfo(G, 34, 1)),
        ("ça", SegmentInfo(U, 2, 1)),
        ("Ñandú", SegmentInfo(U, 5, 1)),
        ("ê" * 70, SegmentInfo(U, 70, 1)),
        ("ê" * 71, SegmentInfo(U, 71, 2)),
        ("ê" * 134, SegmentInfo(U, 134, 2)),
        ("ê" * 135, SegmentInfo(U, 135, 3)),
        # One typographic apostrophe makes the whole message UCS-2.
        ("It\u2019s here", SegmentInfo(U, 9, 1)),
        ("a" * 69 + "\u2019", SegmentInfo(U, 70, 1)),
        ("a" * 70 + "\u2019", SegmentInfo(U, 71, 2)),
        # Emoji outside the BMP are surrogate pairs: two UTF-16 units, never split.
        ("😀" * 35, SegmentInfo(U, 70, 1)),
        ("😀" * 36, SegmentInfo(U, 72, 2)),
        ("a" * 66 + "😀" + "a" * 66, SegmentInfo(U, 134, 3)),
        ("a" * 65 + "😀" + "a" * 67, SegmentInfo(U, 134, 2)),
        # Greek capitals of the GSM table.
        ("ΔΦΓΛΩΠΨΣΘΞ", SegmentInfo(G, 10, 1)),
        ("\r\n", SegmentInfo(G, 2, 1)),
        ("\t", SegmentInfo(U, 1, 1)),
    ],
)
def test_segment_vectors(text: str, expected: SegmentInfo) -> None:
    assert segments(text) == expected


def test_encoding_of() -> None:
    assert encoding_of("") is G
    assert encoding_of("@£$¥èéùìòÇØøÅåΔ_ÆæßÉ!¤¡ÄÖÑÜ§¿äöñüà") is G
    assert encoding_of("price: 5€ [see] {now}") is G
    assert encoding_of("😀") is U
    assert encoding_of("漢字") is U
    assert len(GSM7_BASIC) == 127  # 128 code points less ESC
    assert len(GSM7_EXTENSION) == 10


_ALPHABET = st.sampled_from([*sorted(GSM7_BASIC | GSM7_EXTENSION), "ê", "😀", "漢", "\u2019"])


@settings(max_examples=300, deadline=None)
@given(st.text(_ALPHABET, max_size=400), st.text(_ALPHABET, min_size=1, max_size=20))
def test_appending_never_reduces_the_count(text: str, more: str) -> None:
    before, after = segments(text), segments(text + more)
    # Also across a switch to UCS-2, where an extension character drops from 2 septets to
    # 1 code unit: the smaller segments (67 vs 153) outweigh that.
    assert after.segments >= before.segments
    if after.encoding is before.encoding:
        assert after.units > before.units


@settings(max_examples=300, deadline=None)
@given(st.text(_ALPHABET, min_size=1, max_size=600))
def test_count_is_between_the_bounds(text: str) -> None:
    info = segments(text)
    single, multi = (160, 153) if info.encoding is G else (70, 67)
    if info.units <= single:
        assert info.segments == 1
    else:
        # At least ceil(units / multi); a pair kept whole wastes at most one unit, so every
        # segment but the last holds at least multi - 1 units.
        assert info.segments >= -(-info.units // multi)
        assert (info.segments - 1) * (multi - 1) <= info.units - 1
