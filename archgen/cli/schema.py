"""The `schema` command."""
