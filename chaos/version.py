"""The kube-chaos version (kept apart from chaos/__init__.py, the public API, so that pure
modules can name it without importing the API's modules)."""

__version__ = "0.1.0"
