"""Adapters from commerce backends to the store port (``supportflow.store.port``).

- ``demo.DemoStoreAdapter``: the embedded demo store (everything), over HTTP through
  ``demo_client.StoreClient``.
- ``shopify.ShopifyAdapter``: a Shopify shop over the Admin GraphQL API (a package: transport,
  mapping, reads, writes); ``shopify_stripe`` refunds its Stripe payments on Stripe.
- ``stripe.StripeRefunds``: refunds on Stripe payment intents (a payments backend, not a store).

``http_backend.HttpBackend`` is what the HTTP adapters share: owning and closing their client,
and a backend that does not answer as ``StoreUnavailable``.

Submodules are imported on demand, so importing one backend never imports another.
"""
