"""The virtual eMRTD (shipped, not test-only): chip, file system, document profiles, phone.

Integrators use it to exercise their Result Server without a passport; DocVal's
own tests and benchmarks run the real reader against it.  :class:`VirtualChip`
in :mod:`docval.sim.chip` is the core every profile is built on.
"""
