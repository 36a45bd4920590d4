"""An address pasted with markup keeps its words, never its tags."""

from __future__ import annotations

from supportflow.procedures.parsing import parse_address


def test_tags_and_character_references_are_dropped_before_parsing() -> None:
    a = parse_address("<b>12 Main St</b>, Apt 4, Austin, TX 78701")
    assert a is not None and (a.address1, a.address2, a.city, a.zip) == (
        "12 Main St",
        "Apt 4",
        "Austin",
        "78701",
    )
    b = parse_address("12 Main St &amp; Co, <i>Austin</i>, TX 78701")
    assert b is not None and b.address1 == "12 Main St & Co" and b.city == "Austin"


def test_markup_alone_is_no_address() -> None:
    assert parse_address("<script>alert(1)</script>, <b></b>, <i></i>") is None
