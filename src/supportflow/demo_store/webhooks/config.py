"""Where the store's webhooks go and how hard it tries: ``StoreWebhooks``, from code or env."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

URL_ENV = "SUPPORTFLOW_STORE_WEBHOOK_URL"
SECRET_ENV = "SUPPORTFLOW_STORE_WEBHOOK_SECRET"
ABANDON_AFTER_ENV = "SUPPORTFLOW_STORE_ABANDON_AFTER_SECONDS"
# Shopify's own domain header for a shop; ours is fictional and fixed.
SHOP_DOMAIN = "demo-store.local"
API_VERSION = "2025-07"


@dataclass(frozen=True)
class StoreWebhooks:
    """Send every event to ``url``, signed with ``secret`` (HMAC-SHA256, base64, as Shopify).

    A delivery that is not answered 2xx is tried again after ``backoff_initial_s``, doubling
    up to ``backoff_max_s``, ``max_attempts`` times in all, then given up (recorded in the
    outbox). ``poll_interval_s`` bounds how long the background task sleeps between looks at
    the outbox when nothing wakes it.
    """

    url: str
    secret: str = field(repr=False)
    max_attempts: int = 8
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 60.0
    timeout_s: float = 10.0
    poll_interval_s: float = 1.0

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("webhook url must be an absolute http(s) URL")
        if not self.secret:
            raise ValueError("webhook secret must not be empty")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if min(self.backoff_initial_s, self.backoff_max_s, self.timeout_s) <= 0:
            raise ValueError("back-off and timeout must be positive")
        if self.poll_interval_s <= 0:
            raise ValueError("poll_interval_s must be positive")

    def backoff_s(self, attempts: int) -> float:
        """Wait after the ``attempts``-th failed attempt: initial, doubled each time, capped."""
        return float(min(self.backoff_initial_s * 2 ** (attempts - 1), self.backoff_max_s))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> StoreWebhooks | None:
        """From SUPPORTFLOW_STORE_WEBHOOK_URL and _SECRET; None when no URL is set."""
        env = os.environ if env is None else env
        url = env.get(URL_ENV, "").strip()
        if not url:
            return None
        secret = env.get(SECRET_ENV, "")
        if not secret:
            raise ValueError(f"{URL_ENV} is set but {SECRET_ENV} is not")
        return cls(url=url, secret=secret)


def abandon_after_from_env(env: Mapping[str, str] | None = None) -> float | None:
    """SUPPORTFLOW_STORE_ABANDON_AFTER_SECONDS as seconds; None when unset."""
    env = os.environ if env is None else env
    raw = env.get(ABANDON_AFTER_ENV, "").strip()
    if not raw:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        raise ValueError(f"{ABANDON_AFTER_ENV} must be a number of seconds") from None
    if seconds <= 0:
        raise ValueError(f"{ABANDON_AFTER_ENV} must be positive")
    return seconds
