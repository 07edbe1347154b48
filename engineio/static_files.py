"""Map request paths to files on disk for the development static-file server.

``static_files`` maps URL paths to files or folders. A value is either a filename (str) or a
dict with a ``filename`` and an optional ``content_type``. A key matches its exact path, and
also every path below it (``'/static'`` and ``'/static/'`` both match ``/static/a/b.css``); the
part below the key is appended to the filename. A path ending in ``/`` gets the ``''`` key's
file appended, or ``index.html``.

Unlike the reference implementation, the part of the path below a key is checked by
:func:`is_safe_extra_path`, so that no request can name a file outside the mapped file or folder.
"""
from __future__ import annotations

import os
import re
from typing import Any, Dict, Mapping, Optional, Tuple
from urllib.parse import unquote

#: File extension (lower case, without the dot) -> MIME type; others are
#: ``application/octet-stream``.
content_types: Dict[str, str] = {
    'avif': 'image/avif',
    'css': 'text/css',
    'csv': 'text/csv',
    'gif': 'image/gif',
    'htm': 'text/html',
    'html': 'text/html',
    'ico': 'image/x-icon',
    'jpeg': 'image/jpeg',
    'jpg': 'image/jpeg',
    'js': 'application/javascript',
    'json': 'application/json',
    'map': 'application/json',
    'md': 'text/markdown',
    'mjs': 'application/javascript',
    'mp3': 'audio/mpeg',
    'mp4': 'video/mp4',
    'otf': 'font/otf',
    'pdf': 'application/pdf',
    'png': 'image/png',
    'svg': 'image/svg+xml',
    'ttf': 'font/ttf',
    'txt': 'text/plain',
    'wasm': 'application/wasm',
    'webm': 'video/webm',
    'webmanifest': 'application/manifest+json',
    'webp': 'image/webp',
    'woff': 'font/woff',
    'woff2': 'font/woff2',
    'xml': 'application/xml',
}

DEFAULT_CONTENT_TYPE = 'application/octet-stream'

_DRIVE_LETTER = re.compile(r'[A-Za-z]:')


def is_safe_extra_path(extra_path: str) -> bool:
    """Tell whether ``extra_path`` (the part of a request path below a mapped key, starting
    with ``/``) stays inside the mapped file or folder when appended to its filename.

    The path is percent-decoded once, in case the server did not decode it. It is unsafe if it
    then contains a backslash, a NUL byte or an empty segment (``//`` could start an absolute
    path), or if a segment is made only of dots and spaces (``..``, and the forms Windows
    reads as ``..``) or starts with a drive letter (``C:``). An empty last segment (a trailing
    ``/``) is allowed.
    """
    path = unquote(extra_path)
    if '\\' in path or '\0' in path or '//' in path:
        return False
    for segment in path.split('/')[1:]:
        if segment and not segment.strip('. '):
            return False
        if _DRIVE_LETTER.match(segment):
            return False
    return True


def get_content_type(filename: str) -> str:
    """Return the MIME type for ``filename`` from its extension (case-insensitive)."""
    extension = os.path.splitext(filename)[1][1:].lower()
    return content_types.get(extension, DEFAULT_CONTENT_TYPE)


def _find_rule(path: str, static_files: Mapping[str, Any]) -> Tuple[Any, str]:
    """Return ``(rule, extra_path)`` for the key matching ``path``, or ``(None, '')``.

    The exact path is tried first; then trailing segments are moved one by one into the extra
    path, trying ``prefix`` and ``prefix + '/'`` at each step, down to the empty prefix.
    """
    rule = static_files.get(path)
    if rule is not None:
        return rule, ''
    prefix, extra_path = path, ''
    while '/' in prefix:
        prefix, last = prefix.rsplit('/', 1)
        extra_path = '/' + last + extra_path
        for key in (prefix, prefix + '/'):
            rule = static_files.get(key)
            if rule is not None:
                return rule, extra_path
    return None, ''


def get_static_file(path: str, static_files: Mapping[str, Any]
                    ) -> Optional[Dict[str, str]]:
    """Resolve a request path against the ``static_files`` rules.

    Returns ``None`` when no rule matches or the path tries to leave the mapped file or folder,
    else a new dict with the ``filename`` to serve and its ``content_type``. The file is not
    checked for existence; the filesystem is only consulted when a path ending in ``/``
    exactly matches a key mapped to a folder, so that the folder's index is served.
    """
    rule, extra_path = _find_rule(path, static_files)
    if rule is None or not is_safe_extra_path(extra_path):
        return None
    if isinstance(rule, str):
        rule = {'filename': rule}
    filename: str = rule['filename']
    content_type: Optional[str] = rule.get('content_type')
    if filename.endswith('/') and extra_path.startswith('/'):
        extra_path = extra_path[1:]
    filename += extra_path
    if path.endswith('/') and not filename.endswith('/') and os.path.isdir(filename):
        filename += '/'  # a key such as '/' or '/static/' mapped to a folder: serve its index
    if filename.endswith('/'):
        index = static_files.get('') or 'index.html'
        if isinstance(index, str):
            filename += index
        else:
            filename += index['filename']
            content_type = index.get('content_type') or content_type
    return {'filename': filename,
            'content_type': content_type or get_content_type(filename)}
