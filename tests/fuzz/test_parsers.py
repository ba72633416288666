"""Bounded fuzzing of every parser that sees untrusted bytes (docs/reliability.md, issue 8 §3).

Each target gets mutated real-world seeds and plain random bytes; only the
documented exception types may escape.  Example counts are small so the default
run stays around a minute on a shared machine; ``bench/fuzz.py`` runs 10^6
executions per target.
"""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.targets import N_KINDS, TARGETS, check_one, mutate, seeds_for, target_params

EXAMPLES = {"flow_pace": 40, "flow_ca": 40, "start_message": 150, "sod": 80, "master_list": 60,
            "image": 60}
DEFAULT_EXAMPLES = 100

ops = st.lists(st.tuples(st.integers(0, N_KINDS - 1), st.integers(0, 1 << 24),
                         st.integers(0, 0xFFFF), st.integers(0, 0xFF)), min_size=1, max_size=6)


def _inputs(name: str):
    seeds = seeds_for(name)
    assert seeds, f"no seeds for {name}"
    size = TARGETS[name].max_size
    mutated = st.builds(lambda i, j, o: mutate(seeds[i % len(seeds)], o, seeds[j % len(seeds)], size),
                        st.integers(0, len(seeds) - 1), st.integers(0, len(seeds) - 1), ops)
    return st.one_of(mutated, st.binary(max_size=300))


@pytest.mark.parametrize("name", target_params())
def test_seeds_are_accepted_or_rejected_cleanly(name):
    for seed in seeds_for(name):
        check_one(TARGETS[name], seed)


@pytest.mark.parametrize("name", target_params())
def test_fuzz_only_documented_errors(name):
    target = TARGETS[name]

    @settings(max_examples=EXAMPLES.get(name, DEFAULT_EXAMPLES), deadline=None, derandomize=False,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large], database=None)
    @given(_inputs(name))
    def run(data):
        check_one(target, data)

    run()


def test_recorded_sessions_reach_the_end():
    """The flow seeds are complete, valid sessions: mutations start deep inside the protocol."""
    from tests.fuzz import targets as t
    assert t.drive(t._pace_flow, t._pace_seeds()[0]) is not None
    assert t.drive(t._bac_flow, t._bac_seeds()[0]) is not None
    assert t.drive(t._read_file_flow, t._read_file_seeds()[0]) == t._virtual_dgs()["dg1_td3"]


json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20),
                         st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30))
json_values = st.recursive(json_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)), max_leaves=12)
FIELDS = ("client_id", "validation_id", "access_key", "nfc_adapter_supports_extended_length",
          "max_command_bytes", "max_response_bytes", "platform", "enable_diagnostics", "max_pipelined_apdus")
access_keys = st.one_of(
    st.fixed_dictionaries({"can": st.text(max_size=8)}),
    st.fixed_dictionaries({"document_number": st.text(max_size=30), "date_of_birth": st.text(max_size=8),
                           "date_of_expiry": st.text(max_size=8)}),
    json_values)


@settings(max_examples=150, deadline=None, database=None)
@given(st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=len(FIELDS)), access_keys)
def test_fuzz_start_message_structured(obj, key):
    """Right field names, arbitrary JSON values: the two documented refusals, or a valid message."""
    import json
    obj["access_key"] = key
    check_one(TARGETS["start_message"], json.dumps(obj, allow_nan=True).encode())
