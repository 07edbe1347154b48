import ntpath
import os
from urllib.parse import unquote

import pytest
from hypothesis import given, settings, strategies as st

from engineio import static_files
from engineio.static_files import content_types, get_static_file, is_safe_extra_path


def resolve(path, rules):
    return get_static_file(path, rules)


@pytest.mark.parametrize('extension, content_type', [
    ('css', 'text/css'), ('gif', 'image/gif'), ('html', 'text/html'), ('jpg', 'image/jpeg'),
    ('js', 'application/javascript'), ('json', 'application/json'), ('png', 'image/png'),
    ('txt', 'text/plain'),
])
def test_reference_content_types_are_kept(extension, content_type):
    assert content_types[extension] == content_type


@pytest.mark.parametrize('filename, content_type', [
    ('a.htm', 'text/html'), ('a.svg', 'image/svg+xml'), ('a.jpeg', 'image/jpeg'),
    ('favicon.ico', 'image/x-icon'), ('m.mjs', 'application/javascript'),
    ('m.js.map', 'application/json'), ('m.wasm', 'application/wasm'),
    ('f.woff', 'font/woff'), ('f.woff2', 'font/woff2'), ('i.webp', 'image/webp'),
    ('d.xml', 'application/xml'),
    ('INDEX.HTML', 'text/html'), ('Photo.JpG', 'image/jpeg'),
    ('noextension', 'application/octet-stream'), ('a.unknownext', 'application/octet-stream'),
    ('dir.d/file', 'application/octet-stream'), ('./public', 'application/octet-stream'),
    ('archive.tar.gz', 'application/octet-stream'),
])
def test_content_type_from_extension(filename, content_type):
    assert static_files.get_content_type(filename) == content_type
    assert resolve('/x', {'/x': filename}) == {'filename': filename,
                                               'content_type': content_type}


@pytest.mark.parametrize('path, rules, expected', [
    # examples of the reference behaviour (API.md 7.4)
    ('/static/a/b.css', {'/static': './public'}, ('./public/a/b.css', 'text/css')),
    ('/static/', {'/static': './public'}, ('./public/index.html', 'text/html')),
    ('/static', {'/static': './public'}, ('./public', 'application/octet-stream')),
    ('/foo', {'': 'image.gif'}, ('image.gif/foo', 'application/octet-stream')),
    ('/x/y.txt', {'/': './public'}, ('./public/x/y.txt', 'text/plain')),
    ('/', {'/': 'index.html'}, ('index.html', 'text/html')),
    ('/', {'/': './public/'}, ('./public/index.html', 'text/html')),
    ('/x', {'/': './public/'}, ('./public/x', 'application/octet-stream')),
    ('', {'': 'x'}, ('x', 'application/octet-stream')),
    ('foo', {'foo': 'x'}, ('x', 'application/octet-stream')),
    ('a/b', {'a': 'x'}, ('x/b', 'application/octet-stream')),
    # exact key first, then the longest prefix, with or without its trailing slash
    ('/index.html', {'/index.html': {'filename': 'x.html'}}, ('x.html', 'text/html')),
    ('/a/b/c', {'/a': 'A', '/a/b': 'AB'}, ('AB/c', 'application/octet-stream')),
    ('/a/b/c', {'/a': 'A', '/a/b/': 'AB'}, ('AB/c', 'application/octet-stream')),
    ('/a/b', {'/a/b': 'exact', '/a': 'A'}, ('exact', 'application/octet-stream')),
    ('/static/a.js', {'/static/': './public/'}, ('./public/a.js', 'application/javascript')),
    ('/static/a.js', {'/static': './public/'}, ('./public/a.js', 'application/javascript')),
    ('/static/a/', {'/static': './public'}, ('./public/a/index.html', 'text/html')),
    # dict rules and their content types
    ('/static/a.js', {'/static/': {'filename': './public/', 'content_type': 'a/b'}},
     ('./public/a.js', 'a/b')),
    ('/static/', {'/static/': {'filename': './public/', 'content_type': 'a/b'}},
     ('./public/index.html', 'a/b')),
    ('/', {'/': {'content_type': 'text/plain', 'filename': 'index.html'}},
     ('index.html', 'text/plain')),
    # the '' key names the file served for a trailing '/'
    ('/static/', {'/static': './public', '': 'main.html'}, ('./public/main.html', 'text/html')),
    ('/static/', {'/static': './public', '': {'filename': 'main.txt', 'content_type': 'x/y'}},
     ('./public/main.txt', 'x/y')),
    ('/static/', {'/static': {'filename': './public', 'content_type': 'a/b'},
                  '': {'filename': 'main.txt'}}, ('./public/main.txt', 'a/b')),
    ('/static/', {'/static': {'filename': './public', 'content_type': 'a/b'},
                  '': 'main.txt'}, ('./public/main.txt', 'a/b')),
    ('/static/', {'/static': './public', '': {'filename': 'main.txt', 'content_type': None}},
     ('./public/main.txt', 'text/plain')),
    ('/x/', {'': 'pub/'}, ('pub/x/pub/', 'application/octet-stream')),
    # harmless oddities that stay inside the mapped folder
    ('/static/.hidden', {'/static': './p'}, ('./p/.hidden', 'application/octet-stream')),
    ('/static/..foo', {'/static': './p'}, ('./p/..foo', 'application/octet-stream')),
    ('/static/a%20b.txt', {'/static': './p'}, ('./p/a%20b.txt', 'text/plain')),
])
def test_resolution(path, rules, expected):
    assert resolve(path, rules) == {'filename': expected[0], 'content_type': expected[1]}


@pytest.mark.parametrize('path, rules', [
    ('/nomatch', {'/static': './public'}),
    ('/a/b', {'/a/b/': 'AB'}),
    ('/staticfile', {'/static': './public'}),
    ('/static/a', {'/static': None}),
    ('foo', {'': 'x'}),
    ('/anything', {}),
])
def test_no_match(path, rules):
    assert resolve(path, rules) is None


def test_rules_are_not_mutated():
    rule = {'filename': './public/', 'content_type': 'a/b'}
    index = {'filename': 'main.txt', 'content_type': 'x/y'}
    rules = {'/static': rule, '': index}
    first = resolve('/static/', rules)
    first['filename'] = 'changed'
    assert rule == {'filename': './public/', 'content_type': 'a/b'}
    assert index == {'filename': 'main.txt', 'content_type': 'x/y'}
    assert resolve('/static/', rules) == {'filename': './public/main.txt', 'content_type': 'x/y'}
    assert resolve('/static/a', rules) is not rule


TRAVERSALS = [
    '/static/..', '/static/../', '/static/../secret.txt', '/static/a/../../secret.txt',
    '/static/a/..', '/static/./../secret.txt', '/static/...', '/static/.. /secret.txt',
    '/static/. ./secret.txt',
    '/static/%2e%2e/secret.txt', '/static/%2E%2e/secret.txt', '/static/%2e./secret.txt',
    '/static/.%2E/secret.txt', '/static/%2e%2e', '/static/..%2fsecret.txt',
    '/static/..%2Fsecret.txt', '/static/a%2f..%2f..%2fsecret.txt', '/static/%2e%2e%2fsecret.txt',
    '/static/..\\secret.txt', '/static/..%5csecret.txt', '/static/..%5Csecret.txt',
    '/static/a\\..\\..\\secret.txt', '/static/\\etc\\passwd',
    '/static/secret.txt\0.html', '/static/a%00.txt',
    '/static/%2fetc/passwd', '/static/a//b', '/static/a//etc/passwd',
    '/static/C:/Windows/win.ini', '/static/c:secret.txt', '/static/C%3a/x', '/static/a/D:',
]


@pytest.fixture
def tree(tmp_path):
    public = tmp_path / 'root' / 'public'
    (public / 'a').mkdir(parents=True)
    (public / 'index.html').write_text('<p>index</p>')
    (public / 'a' / 'b.css').write_text('p {}')
    (tmp_path / 'root' / 'secret.txt').write_text('secret')
    return public


def assert_inside(filename, folder):
    """``filename`` stays in ``folder`` whether or not it is percent-decoded again, and under
    both POSIX and Windows path rules (where ``\\`` separates and ``C:`` names a drive)."""
    root = os.path.realpath(folder)
    windows_root = ntpath.normpath(root)
    for candidate in (filename, unquote(filename)):
        assert '\0' not in candidate
        assert os.path.commonpath([root, os.path.realpath(candidate)]) == root
        windows = ntpath.normpath(candidate)
        assert ntpath.splitdrive(windows)[0] == ''
        assert ntpath.commonpath([windows_root, windows]) == windows_root


@pytest.mark.parametrize('path', TRAVERSALS)
@pytest.mark.parametrize('key', ['/static', '/static/'])
@pytest.mark.parametrize('trailing_slash', [False, True])
def test_traversal_is_rejected(tree, path, key, trailing_slash):
    folder = str(tree) + ('/' if trailing_slash else '')
    assert resolve(path, {key: folder}) is None
    assert resolve(path, {key: {'filename': folder, 'content_type': 'text/plain'}}) is None


@pytest.mark.parametrize('path', TRAVERSALS)
def test_traversal_through_catch_all_keys_is_rejected(tree, path):
    assert resolve(path, {'/': str(tree)}) is None
    assert resolve(path, {'': str(tree)}) is None


@pytest.mark.parametrize('path', ['/static/a/b.css', '/static/', '/static/a/',
                                  '/static/index.html', '/static/a/.hidden'])
@pytest.mark.parametrize('key', ['/static', '/static/'])
def test_legitimate_paths_stay_inside(tree, path, key):
    result = resolve(path, {key: str(tree)})
    assert result is not None
    assert_inside(result['filename'], tree)


def test_double_slash_after_a_slash_key_matches_that_key(tree):
    # '/static//etc' is '/static/' + 'etc': the '/static/' key matches, 'etc' stays inside
    result = resolve('/static//etc/passwd', {'/static/': str(tree)})
    assert result == {'filename': str(tree) + '/etc/passwd',
                      'content_type': 'application/octet-stream'}
    assert resolve('/static//etc/passwd', {'/static': str(tree)}) is None


def test_dot_segments_are_rejected():
    # Browsers remove them; a segment of only dots and spaces is never served.
    assert resolve('/static/a/./b.css', {'/static': './public'}) is None
    assert resolve('/static/.', {'/static': './public'}) is None


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=['.', '/', '\\', '%', '2', '5', 'e', 'E', 'f', 'F', 'c', 'C', ':',
                         'a', ' ', '\0'], max_size=16))
def test_fuzzed_paths_never_leave_the_folder(tmp_path_factory, tail):
    folder = str(tmp_path_factory.getbasetemp() / 'fuzz' / 'public')
    for rules in ({'/static': folder}, {'/static/': folder + '/'}):
        result = resolve('/static/' + tail, rules)
        if result is not None:
            assert_inside(result['filename'], folder)


@pytest.mark.parametrize('extra, safe', [
    ('', True), ('/', True), ('/a/b.css', True), ('/a/', True), ('/.well-known/x', True),
    ('/..', False), ('/../', False), ('/a/../b', False), ('/%2e%2e', False),
    ('/a\\b', False), ('/a\0', False), ('//etc', False), ('/Z:', False), ('/ ', False),
])
def test_is_safe_extra_path(extra, safe):
    assert is_safe_extra_path(extra) is safe


def test_slash_key_mapped_to_a_folder_serves_its_index(tree):
    index = {'filename': str(tree) + '/index.html', 'content_type': 'text/html'}
    assert resolve('/', {'/': str(tree)}) == index
    assert resolve('/static/', {'/static/': str(tree)}) == index
    assert resolve('/static/', {'/static/': {'filename': str(tree), 'content_type': 'a/b'}}) == \
        {'filename': str(tree) + '/index.html', 'content_type': 'a/b'}
    assert resolve('/', {'/': str(tree), '': 'a/b.css'}) == \
        {'filename': str(tree) + '/a/b.css', 'content_type': 'text/css'}
    # not a folder: the mapped file itself
    assert resolve('/', {'/': str(tree / 'index.html')}) == index
