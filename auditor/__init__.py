"""auditor: where an integrator.io account stands against its licenses."""

__version__ = "0.1.0"
