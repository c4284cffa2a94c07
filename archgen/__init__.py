"""archgen: from a short YAML spec to a runnable, drawable backend architecture."""

__version__ = "0.1.0"
