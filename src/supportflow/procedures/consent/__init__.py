"""Strict consent: whether an answer to "Shall I go ahead?" is an unambiguous yes.

The rule and its judgement calls are in verdict.py; signs.py names what makes an answer
unclear, vocabulary.py what a yes and a plain no are made of, grammar.py parses one against
the other.
"""

from supportflow.procedures.consent.verdict import Consent, ConsentKind, ConsentReason, consent

__all__ = ["Consent", "ConsentKind", "ConsentReason", "consent"]
