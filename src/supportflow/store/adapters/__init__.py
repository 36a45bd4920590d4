"""Adapters from commerce backends to the store port (``supportflow.store.port``).

- ``demo.DemoStoreAdapter``: the embedded demo store (everything).
- ``shopify.ShopifyAdapter``: a Shopify shop over the Admin GraphQL API.
- ``stripe.StripeRefunds``: refunds on Stripe payment intents (a payments backend, not a store).

Submodules are imported on demand, so importing one backend never imports another.
"""
