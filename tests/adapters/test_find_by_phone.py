"""``find_user_by_phone`` through the store port: the demo adapter against the real demo store
over loopback HTTP, the Shopify adapter against the fake Shopify Admin API (``fake_shopify``,
Shopify's wire format; the adapter code is the production code)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from supportflow.demo_store.phones import demo_phone
from supportflow.store.adapters.demo import DemoStoreAdapter
from supportflow.store.adapters.shopify import ShopifyAdapter
from supportflow.store.errors import StoreRejected
from supportflow.store.port import Capability, StorePort
from tests.adapters.fake_shopify import ShopifyState

# Not E.164: no country code, letters, an invalid area code, an extension.
MALFORMED = ["(252) 555-0169", "2525550169", "call me", "+1 555 555 0100", "+12525550169 x7"]


class CountingTransport(httpx.AsyncBaseTransport):
    """Real HTTP, counting the requests made: a refused number must not reach the store."""

    def __init__(self) -> None:
        self.requests = 0
        self._inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


@pytest.fixture
def counting() -> CountingTransport:
    return CountingTransport()


@pytest.fixture
async def demo(store_url: str, counting: CountingTransport) -> AsyncIterator[StorePort]:
    async with DemoStoreAdapter(store_url, timeout=10, transport=counting) as adapter:
        yield adapter


async def test_demo_finds_the_account_with_the_number(
    demo: StorePort, counting: CountingTransport
) -> None:
    assert Capability.FIND_USERS in demo.capabilities
    phone = demo_phone("noah_brown_6181")
    user = await demo.find_user_by_phone(phone)
    assert user is not None
    assert user["user_id"] == "noah_brown_6181" and user["phone"] == phone
    assert user == await demo.get_user("noah_brown_6181")
    spaced = f"+1 ({phone[2:5]}) {phone[5:8]}-{phone[8:]}"  # E.164 with punctuation
    assert await demo.find_user_by_phone(spaced) == user
    assert counting.requests == 3  # over HTTP: two lookups and the read


async def test_demo_finds_no_one_for_a_number_on_no_account(demo: StorePort) -> None:
    assert await demo.find_user_by_phone("+14155550123") is None
    assert await demo.find_user_by_phone("+442079460958") is None  # valid, not US, no one's


@pytest.mark.parametrize("malformed", MALFORMED)
async def test_demo_refuses_a_number_not_e164_without_asking_the_store(
    demo: StorePort, counting: CountingTransport, malformed: str
) -> None:
    with pytest.raises(StoreRejected) as err:
        await demo.find_user_by_phone(malformed)
    assert err.value.status_code == 422
    assert "E.164" in str(err.value) and malformed not in str(err.value)
    assert counting.requests == 0


async def test_shopify_finds_the_customer_with_the_number(
    shopify: ShopifyAdapter, shopify_state: ShopifyState
) -> None:
    port: StorePort = shopify
    assert Capability.FIND_USERS in port.capabilities
    user = await port.find_user_by_phone("+1 512-555-0101")
    assert user is not None
    assert user["name"] == {"first_name": "Ava", "last_name": "Moore"}
    assert user["phone"] == "+15125550101"
    # One customer search, by phone, with the number in E.164 whatever its punctuation.
    assert shopify_state.mutations("customers") == [{"query": 'phone:"+15125550101"'}]


async def test_shopify_finds_no_one_for_an_unknown_or_shared_number(
    shopify: ShopifyAdapter, shopify_state: ShopifyState
) -> None:
    assert await shopify.find_user_by_phone("+15125550102") is None
    # Shopify refuses a number already on another customer, but an account merged or imported
    # around that rule must not make the number prove either customer.
    (other,) = [c for c in shopify_state.customers.values() if c["lastName"] == "Moorehouse"]
    other["defaultPhoneNumber"] = {"phoneNumber": "+15125550101"}
    assert len(await shopify.find_users(phone="+15125550101")) == 2
    assert await shopify.find_user_by_phone("+15125550101") is None


@pytest.mark.parametrize("malformed", MALFORMED)
async def test_shopify_refuses_a_number_not_e164_without_a_search(
    shopify: ShopifyAdapter, shopify_state: ShopifyState, malformed: str
) -> None:
    with pytest.raises(StoreRejected) as err:
        await shopify.find_user_by_phone(malformed)
    assert err.value.status_code == 422
    assert shopify_state.calls == []
