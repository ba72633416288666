"""The session depends on the SessionHost interface, not on the factory module."""
import ast
import inspect

from twisted.internet.task import Clock

from docval.ws import protocol
from docval.ws.factory import ValidateServerFactory
from docval.ws.services import SessionHost
from tests.ws.harness import make_config


def _imported_modules(module) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(inspect.getsource(module))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_protocol_does_not_import_the_factory():
    assert "docval.ws.factory" not in _imported_modules(protocol)


def test_the_factory_provides_what_a_session_needs():
    factory = ValidateServerFactory(make_config(), reactor=Clock(), trust=lambda: None)
    assert isinstance(factory, SessionHost)
