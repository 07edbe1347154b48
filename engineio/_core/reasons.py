"""Why a session ended: the values handed to ``disconnect`` handlers."""


class Reason:
    """Disconnect reasons reported by the server."""
    #: The application called ``disconnect()``.
    SERVER_DISCONNECT = 'server disconnect'
    #: The client sent a CLOSE packet.
    CLIENT_DISCONNECT = 'client disconnect'
    #: The client did not answer a PING in time.
    PING_TIMEOUT = 'ping timeout'
    #: The WebSocket connection ended.
    TRANSPORT_CLOSE = 'transport close'
    #: The transport failed or the client broke the protocol.
    TRANSPORT_ERROR = 'transport error'


class ClientReason:
    """Disconnect reasons reported by the client."""
    #: The application called ``disconnect()``.
    CLIENT_DISCONNECT = 'client disconnect'
    #: The server closed the session.
    SERVER_DISCONNECT = 'server disconnect'
    #: The connection to the server was lost.
    TRANSPORT_ERROR = 'transport error'
