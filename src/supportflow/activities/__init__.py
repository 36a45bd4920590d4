"""Activities: every piece of I/O the workflows need (AI, store, templates)."""
