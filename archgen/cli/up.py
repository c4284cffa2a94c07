"""The `up` command."""
