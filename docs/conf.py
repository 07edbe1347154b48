"""Sphinx configuration. Builds offline: no intersphinx, no remote themes or assets."""
import configparser
import os
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
sys.path.insert(0, ROOT)


def _version() -> str:
    """Read the version from setup.cfg so the docs never need the package installed."""
    parser = configparser.ConfigParser()
    parser.read(os.path.join(ROOT, 'setup.cfg'))
    return parser['metadata']['version']


project = 'engineio'
author = 'the engineio developers'
copyright = '2026, the engineio developers'
release = _version()
version = '.'.join(release.split('.')[:2])

extensions = ['sphinx.ext.autodoc']
autodoc_member_order = 'bysource'
autodoc_typehints = 'description'
# get_tornado_handler is documented even where tornado is not installed (tox's docs env)
autodoc_mock_imports = ['tornado']

exclude_patterns = ['_build']
master_doc = 'index'

html_theme = 'alabaster'
html_theme_options = {
    'description': 'Engine.IO v4 server and client for Python',
    'show_powered_by': False,
}
