"""The session talks to one services object; the factory only holds it."""
import ast
import inspect

from twisted.internet.task import Clock

from docval.ws import protocol, v1session, v2session
from docval.ws.factory import ValidateServerFactory
from docval.ws.services import Services
from tests.ws.harness import make_config


def _imported_modules(module) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(inspect.getsource(module))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_sessions_do_not_import_the_factory():
    for module in (protocol, v1session, v2session):
        assert "docval.ws.factory" not in _imported_modules(module), module.__name__


def test_the_factory_holds_the_services_and_shows_their_state():
    clock = Clock()
    factory = ValidateServerFactory(make_config(), reactor=clock, trust=lambda: "store-1")
    services = factory.services
    assert isinstance(services, Services)
    assert factory.config is services.config and factory.clock is clock
    assert factory.sessions is services.sessions and factory.posts is services.posts
    assert services.trust_snapshot() == "store-1"
    factory.set_trust(lambda: "store-2")
    assert services.trust_snapshot() == "store-2"


def test_the_registry_counts_other_sessions_with_the_same_validation_id():
    services = ValidateServerFactory(make_config(), reactor=Clock()).services

    class Open:
        def __init__(self, vid):
            self.validation_id = vid

    a, b, c = Open("x"), Open("x"), Open("y")
    for s in (a, b, c):
        services.session_opened(s, "v1")
    assert services.sessions_with_validation_id(a, "x") == 1
    services.session_closed(b)
    assert services.sessions_with_validation_id(a, "x") == 0
