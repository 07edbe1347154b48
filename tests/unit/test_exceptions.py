import builtins

import pytest

from engineio import exceptions

SUBCLASSES = ['ContentTooLongError', 'UnknownPacketError', 'QueueEmpty',
              'SocketIsClosedError', 'ConnectionError']


def test_base_class_is_an_exception():
    assert issubclass(exceptions.EngineIOError, Exception)


@pytest.mark.parametrize('name', SUBCLASSES)
def test_subclasses_derive_from_engineio_error(name):
    cls = getattr(exceptions, name)
    assert issubclass(cls, exceptions.EngineIOError)
    with pytest.raises(exceptions.EngineIOError, match='boom'):
        raise cls('boom')


def test_connection_error_is_not_the_builtin():
    assert exceptions.ConnectionError is not builtins.ConnectionError
    assert not issubclass(exceptions.ConnectionError, builtins.ConnectionError)
