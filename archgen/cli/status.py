"""The `status` command."""
