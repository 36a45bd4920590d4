"""The `supportflow` command line."""
