"""The configuration keys of API v2: [server] apis and the [timeouts] of a v2 session."""
from __future__ import annotations

import pytest

from docval.config import ConfigError, parse_config

CLIENT = {"client": [{"client_id": "a-long-random-client-id"}], "trust": {"demo_csca": True}}


def test_defaults_serve_both_apis_with_the_v2_timeouts():
    config = parse_config(dict(CLIENT))
    assert config.server.apis == ("v1", "v2")
    assert (config.timeouts.v2_read, config.timeouts.v2_after_handback) == (120.0, 60.0)


def test_keys_are_read():
    config = parse_config({**CLIENT, "server": {"apis": ["v2"]},
                           "timeouts": {"v2_read": 300, "v2_after_handback": 45.5}})
    assert config.server.apis == ("v2",)
    assert (config.timeouts.v2_read, config.timeouts.v2_after_handback) == (300.0, 45.5)


@pytest.mark.parametrize("apis", [[], ["v3"], ["v1", "v1"], "v1", [1], ["V1"]])
def test_bad_apis_name_the_key(apis):
    with pytest.raises(ConfigError, match=r"\[server\] apis"):
        parse_config({**CLIENT, "server": {"apis": apis}})


@pytest.mark.parametrize("key", ["v2_read", "v2_after_handback"])
@pytest.mark.parametrize("value", [0, -1, "60", float("nan"), True])
def test_bad_v2_timeouts_name_the_key(key, value):
    with pytest.raises(ConfigError, match=rf"\[timeouts\] {key}"):
        parse_config({**CLIENT, "timeouts": {key: value}})
