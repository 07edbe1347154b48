"""Engine.IO server and client: a drop-in replacement for python-engineio."""
from .middleware import WSGIApp, Middleware
from .server import Server
from .client import Client
from .async_client import AsyncClient

__all__ = ['Server', 'WSGIApp', 'Middleware', 'Client', 'AsyncClient']
