"""The `new` command."""
