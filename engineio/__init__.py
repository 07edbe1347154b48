"""Engine.IO server and client: a drop-in replacement for python-engineio."""
from .middleware import WSGIApp, Middleware
from .server import Server

__all__ = ['Server', 'WSGIApp', 'Middleware']
