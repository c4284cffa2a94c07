"""The application package: models (data access), views (schemas), controllers (routes)."""
