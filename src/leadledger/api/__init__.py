"""The HTTP service: :func:`create_app` assembles the routers of every domain.

``create_app`` is imported on first use, so that a domain module may import a leaf module of
this package (``leadledger.api.pagination``) without importing every router first: importing
``leadledger.leads.router`` before ``leadledger.api`` used to fail on that cycle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from leadledger.api.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from leadledger.api.app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
