"""Shared test instruments: one copy of each driver, RNG, launcher and client the tests need.

A new test imports from here instead of growing its own copy; see the module docstrings.
"""
