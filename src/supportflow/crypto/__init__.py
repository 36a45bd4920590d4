"""Encryption at rest: the key ring, the Temporal payload codec, key management."""
