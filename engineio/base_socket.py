"""What :class:`Socket` and AsyncSocket share: the state they expose."""
from __future__ import annotations

from typing import Any, Dict, List, Optional

from . import packet as packet_mod
from . import payload as payload_mod
from ._core.session import ServerSession
from .exceptions import ContentTooLongError


class BaseSocket:
    """One client session of a server, as seen by the application."""

    upgrade_protocols = ['websocket']

    def __init__(self, server: Any, sid: str, transport: str = 'polling'
                 ) -> None:
        self.server = server
        self.sid = sid
        #: the application's per-session data (see ``Server.session``)
        self.session: Dict[str, Any] = {}
        self._proto = ServerSession(sid, transport, server.ping_interval,
                                    server.ping_timeout)
        self._timer_at: Optional[float] = None

    @property
    def connected(self) -> bool:
        return self._proto.state != 'opening'

    @property
    def upgrading(self) -> bool:
        return self._proto.upgrading

    @property
    def upgraded(self) -> bool:
        return self._proto.upgraded

    @property
    def closing(self) -> bool:
        return self._proto.closed

    @property
    def closed(self) -> bool:
        return self._proto.closed

    def _read_limit(self, environ: Dict[str, Any]) -> Optional[int]:
        """The declared body length, refusing one over the limit."""
        length = environ.get('CONTENT_LENGTH')
        if length in (None, ''):
            return None
        try:
            length = int(length)
        except ValueError:
            raise ValueError('invalid Content-Length')
        if length < 0:
            raise ValueError('invalid Content-Length')
        if length > self.server.max_http_buffer_size:
            raise ContentTooLongError()
        return length

    def _decode_post(self, body: bytes) -> List[packet_mod.Packet]:
        if len(body) > self.server.max_http_buffer_size:
            raise ContentTooLongError()
        return payload_mod.Payload(encoded_payload=body).packets

    def _decode_frame(self, data: Any) -> packet_mod.Packet:
        if len(data) > self.server.max_http_buffer_size:
            raise ContentTooLongError()
        return packet_mod.Packet(encoded_packet=data)
