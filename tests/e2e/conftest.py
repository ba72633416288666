import pytest
import pytest_twisted
from twisted.logger import formatEvent, globalLogPublisher

from .stack import Stack


@pytest.fixture
def reactor():
    from twisted.internet import reactor as r

    return r


@pytest_twisted.async_yield_fixture
async def make_stack(reactor, tmp_path_factory):
    """Builds Stacks (each from its own TOML file); stops them all after the test."""
    stacks = []

    def make(**kwargs):
        stack = Stack(reactor, tmp_path_factory.mktemp("stack"), **kwargs)
        stacks.append(stack)
        return stack

    yield make
    for stack in stacks:
        await stack.stop()


@pytest.fixture
def captured_log():
    """Everything logged through twisted.logger while the test runs: formatted text,
    tracebacks, and the raw values of every event field."""
    events = []
    globalLogPublisher.addObserver(events.append)

    def text():
        out = []
        for e in events:
            out.append(formatEvent(e))
            if e.get("log_failure") is not None:
                out.append(e["log_failure"].getTraceback())
            out.extend(repr(v) for k, v in e.items() if not k.startswith("log_"))
        return "\n".join(out)

    yield text
    globalLogPublisher.removeObserver(events.append)
