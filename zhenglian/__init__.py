"""证联 zhenglian — open-source desktop client for UKey signing."""

__version__ = "0.1.0"
