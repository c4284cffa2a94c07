"""The `diagram` command."""
