"""A tenant's knowledge base: articles the merchant writes, and retrieval that quotes them."""
