"""Keys (UKeys) through PKCS#11 driver modules: loading, detection, hot-plug.

Nothing above this package talks to python-pkcs11 directly.  One
:class:`~zhenglian.tokens.module.Pkcs11Module` owns each loaded library; all
calls into it go through its lock.
"""
