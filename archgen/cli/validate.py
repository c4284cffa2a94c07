"""The `validate` command."""
