"""The `blueprints` command."""
