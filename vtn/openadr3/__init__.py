"""The OpenADR 3.1 face of the VTN (vtn/openadr3/app.py)."""

from vtn.openadr3.app import create_openadr3_app

__all__ = ["create_openadr3_app"]
