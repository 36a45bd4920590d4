"""Text normalisation and the TF-IDF feature extractor of the intent model."""

from __future__ import annotations

import re
import unicodedata

from sklearn.feature_extraction.text import TfidfVectorizer

# Long messages carry their intent early; capping bounds latency for 16 KB pastes.
MAX_CHARS = 600

_ORDER_ID = re.compile(r"#?\s?\bw?\s?\d[\d ]{5,}\d\b", re.IGNORECASE)
# Shopify prints order numbers as "#1001": a hash before digits is an order number even when short
# (plain "1001" stays a number; "order 1001" is learnt from its neighbour word).
_HASH_NUMBER = re.compile(r"#\s?\d{3,}\b")
_EMAIL = re.compile(r"\S+@\S+")
_MONEY = re.compile(r"\$\s?\d[\d,]*(?:\.\d+)?")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_SPACE = re.compile(r"\s+")
# Short replies are often a single emoji; these few carry a clear yes / no / thanks.
_EMOJI_WORDS = {
    "\U0001f44d": " yes ",  # thumbs up
    "\U0001f44c": " ok ",  # OK hand
    "\u2705": " yes ",  # check mark button
    "\u2714": " yes ",  # check mark
    "\U0001f44e": " no ",  # thumbs down
    "\u274c": " no ",  # cross mark
    "\U0001f64f": " thanks ",  # folded hands
    "\U0001f44b": " hi ",  # waving hand
}


def normalise(text: str) -> str:
    """Lower-case text with ids, emails and numbers replaced by placeholders.

    Placeholders let the model learn "order <id>" instead of memorising the digits of the ids that
    happened to be in the training data.
    """
    text = text[: MAX_CHARS * 2]
    # NFKC folds full-width and styled letters; lone surrogates (bad UTF-8 decoded with
    # surrogateescape) are dropped so every later step sees encodable text.
    text = unicodedata.normalize("NFKC", text.encode("utf-8", "ignore").decode("utf-8"))
    text = text.lower()[:MAX_CHARS]
    for emoji, word in _EMOJI_WORDS.items():
        text = text.replace(emoji, word)
    text = _EMAIL.sub(" emailaddr ", text)
    text = _ORDER_ID.sub(" ordernum ", text)
    text = _HASH_NUMBER.sub(" ordernum ", text)
    text = _MONEY.sub(" money ", text)
    text = _NUMBER.sub(" num ", text)
    return _SPACE.sub(" ", text).strip()


def build_vectorizers() -> list[TfidfVectorizer]:
    """Word uni/bi-grams for meaning, character n-grams for typos and glued words."""
    return [
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2, max_features=40000),
        TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=(2, 5),
            sublinear_tf=True,
            min_df=3,
            max_features=60000,
        ),
    ]
