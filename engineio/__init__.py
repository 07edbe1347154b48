"""Engine.IO server and client: a drop-in replacement for python-engineio."""
from .middleware import WSGIApp, Middleware
from .server import Server
from .client import Client
from .async_client import AsyncClient
from .async_server import AsyncServer
from .async_drivers.asgi import ASGIApp
try:
    from .async_drivers.tornado import get_tornado_handler
except ImportError:  # tornado is not installed
    get_tornado_handler = None

__all__ = ['Server', 'WSGIApp', 'Middleware', 'Client', 'AsyncServer',
           'ASGIApp', 'get_tornado_handler', 'AsyncClient']
