"""The standalone server: every KVS endpoint and moto's other services on one port."""

from .app import KvsServerApp
from .run import serve

__all__ = ["KvsServerApp", "serve"]
