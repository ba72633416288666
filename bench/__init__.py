"""Benchmarks run by hand (``python bench/roundtrips.py``, ``python bench/capacity.py``);
``tests/test_bench_smoke.py`` runs them with tiny counts so they cannot rot."""
