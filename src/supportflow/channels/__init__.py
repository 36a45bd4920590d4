"""Channels: how customers' messages get in (chat now; email and SMS later) and replies out."""
