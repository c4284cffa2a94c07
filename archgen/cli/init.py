"""The `init` command."""
