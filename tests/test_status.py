"""The one list of statuses: what the reader reports, the session relays and metrics label."""
import json

import pytest

from docval import metrics
from docval.status import STATUSES, Status
from docval.ws import protocol


def test_status_is_the_name_sent_to_the_phone():
    assert json.dumps({"status": Status.READ_DG2}) == '{"status": "READ_DG2"}'
    assert f"{Status.DONE}" == "DONE" and Status.read_dg(11) is Status.READ_DG11


def test_a_data_group_without_a_status_is_refused():
    with pytest.raises(ValueError):
        Status.read_dg(3)


def test_session_and_metrics_use_the_same_list():
    assert protocol.DONE is Status.DONE and STATUSES[-1] == "DONE"
    assert metrics.STEPS == STATUSES[:-1] + ("POST_RESULT",)
