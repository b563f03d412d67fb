"""The operator REST API (aiohttp sub-app at /api/v1): bearer-token auth, JSON in and out."""

from vtn.api.app import create_api_app

__all__ = ["create_api_app"]
