import pytest
from twisted.logger import formatEvent, globalLogPublisher


@pytest.fixture
def caplog_events():
    """Everything logged through twisted.logger during the test, formatted."""
    events = []
    globalLogPublisher.addObserver(events.append)
    yield lambda: [formatEvent(e) for e in events] + [
        str(e.get("log_failure").getTraceback()) for e in events if e.get("log_failure")
    ]
    globalLogPublisher.removeObserver(events.append)
