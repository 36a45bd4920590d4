"""StoreWebhooks settings: from code and from the standalone process's environment."""

from __future__ import annotations

import pytest

from supportflow.demo_store.webhooks.config import (
    ABANDON_AFTER_ENV,
    SECRET_ENV,
    URL_ENV,
    StoreWebhooks,
    abandon_after_from_env,
)


def test_from_env() -> None:
    assert StoreWebhooks.from_env({}) is None
    hooks = StoreWebhooks.from_env(
        {URL_ENV: "http://127.0.0.1:8000/v1/webhooks/store/t1", SECRET_ENV: "s"}
    )
    assert hooks is not None
    assert (hooks.url, hooks.secret, hooks.max_attempts) == (
        "http://127.0.0.1:8000/v1/webhooks/store/t1",
        "s",
        8,
    )
    assert "secret" not in repr(hooks)
    with pytest.raises(ValueError, match=SECRET_ENV):
        StoreWebhooks.from_env({URL_ENV: "http://127.0.0.1:1/x"})


def test_abandon_after_from_env() -> None:
    assert abandon_after_from_env({}) is None
    assert abandon_after_from_env({ABANDON_AFTER_ENV: "0.5"}) == 0.5
    for bad in ("0", "-1", "soon"):
        with pytest.raises(ValueError, match=ABANDON_AFTER_ENV):
            abandon_after_from_env({ABANDON_AFTER_ENV: bad})


@pytest.mark.parametrize(
    "kwargs",
    [
        {"url": "ftp://x/y", "secret": "s"},
        {"url": "/relative", "secret": "s"},
        {"url": "http://x/y", "secret": ""},
        {"url": "http://x/y", "secret": "s", "max_attempts": 0},
        {"url": "http://x/y", "secret": "s", "backoff_initial_s": 0},
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        StoreWebhooks(**kwargs)  # type: ignore[arg-type]


def test_backoff_doubles_up_to_the_cap() -> None:
    hooks = StoreWebhooks(url="http://x/y", secret="s", backoff_initial_s=1, backoff_max_s=5)
    assert [hooks.backoff_s(n) for n in range(1, 6)] == [1, 2, 4, 5, 5]
