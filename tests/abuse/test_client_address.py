"""Who a request is counted against: the peer, or behind trusted proxies the nearest address
they did not add; IPv6 per /64. Settings that would misconfigure it are refused."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from starlette.requests import Request

from supportflow.api.ratelimit import RateLimits
from supportflow.settings import Settings


def _request(peer: str, *forwarded: str) -> Request:
    headers = [(b"x-forwarded-for", f.encode()) for f in forwarded]
    return Request({"type": "http", "client": (peer, 50000), "headers": headers})


@pytest.mark.parametrize(
    ("trusted", "peer", "forwarded", "counted_as"),
    [
        ([], "203.0.113.9", ["1.2.3.4"], "203.0.113.9"),  # nobody trusted: XFF ignored
        (["10.0.0.0/8"], "203.0.113.9", ["1.2.3.4"], "203.0.113.9"),  # peer not a proxy
        (["10.0.0.0/8"], "10.0.0.2", ["198.51.100.7"], "198.51.100.7"),
        # The client's own XFF entries (left) count for nothing: the nearest untrusted wins.
        (["10.0.0.0/8"], "10.0.0.2", ["6.6.6.6, 198.51.100.7, 10.0.0.3"], "198.51.100.7"),
        (["10.0.0.0/8"], "10.0.0.2", ["6.6.6.6", "198.51.100.7"], "198.51.100.7"),
        (["10.0.0.0/8"], "10.0.0.2", ["garbage, 198.51.100.7"], "198.51.100.7"),
        (["10.0.0.0/8"], "10.0.0.2", ["198.51.100.7, garbage"], "10.0.0.2"),
        (["10.0.0.0/8"], "10.0.0.2", [], "10.0.0.2"),
        ([], "2001:db8:1:2:aaaa::1", [], "2001:db8:1:2::/64"),
        ([], "2001:db8:1:2:bbbb::9", [], "2001:db8:1:2::/64"),
        ([], "::ffff:192.0.2.1", [], "192.0.2.1"),
    ],
)
def test_client_address(
    trusted: list[str], peer: str, forwarded: list[str], counted_as: str
) -> None:
    limits = RateLimits(Settings(trusted_proxies=trusted))
    assert limits.client_address(_request(peer, *forwarded)) == counted_as


def test_bad_settings_are_clear_errors() -> None:
    with pytest.raises(ValidationError, match="not an IP address or network"):
        Settings(trusted_proxies=["proxy.example.com"])
    with pytest.raises(ValidationError, match="not a rate limit"):
        Settings(rate_limit_chat_per_visitor="lots")
    with pytest.raises(ValidationError, match="not a frame-ancestors source"):
        Settings(frame_ancestors=["https://a.example; script-src *"])
    assert Settings(trusted_proxies="10.0.0.0/8, 192.0.2.1").trusted_proxies == [
        "10.0.0.0/8",
        "192.0.2.1",
    ]


async def test_disabled_limits_refuse_nothing() -> None:
    limits = RateLimits(Settings(rate_limits_enabled=False, rate_limit_chat_per_visitor="1/hour"))
    for _ in range(3):
        assert await limits.chat_message("t", "1.2.3.4", "v", new_visitor=True) is None
