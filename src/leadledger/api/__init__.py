"""The HTTP service: :func:`create_app` assembles the routers of every domain."""

from leadledger.api.app import create_app

__all__ = ["create_app"]
