"""The embedded stack that `supportflow up` runs on one machine."""
