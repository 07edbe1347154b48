"""Exceptions raised by the Engine.IO server and client."""


class EngineIOError(Exception):
    """Base class of every Engine.IO error."""


class ContentTooLongError(EngineIOError):
    """A request body or message is larger than the configured maximum."""


class UnknownPacketError(EngineIOError):
    """A packet of an unknown type was received."""


class QueueEmpty(EngineIOError):
    """No packet arrived in a socket's queue before the timeout."""


class SocketIsClosedError(EngineIOError):
    """An operation was attempted on a socket that is already closed."""


class ConnectionError(EngineIOError):  # noqa: A001 - the reference's name
    """A client connection could not be established or was lost."""
