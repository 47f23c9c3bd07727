"""用印登记: a tamper-evident register of every use of the seal (no Qt).

The one signing path records each use before it hands a signed file on::

    from zhenglian.register import Register, SealUse
    reg = Register.open()                 # the data directory's register.sqlite3
    seq = reg.record(SealUse(...))        # durable when it returns; RegisterError -> do not hand on
    report = reg.verify()                 # report.ok, report.first_bad, report.problems

See docs/register.md.
"""

from zhenglian.register.model import ORIGINS, OUTCOMES, Placement, SealUse
from zhenglian.register.store import Entry, Filters, Head, Register, default_path
from zhenglian.register.verify import Problem, VerifyReport

__all__ = [
    "OUTCOMES", "ORIGINS", "Entry", "Filters", "Head", "Placement", "Problem", "Register", "SealUse",
    "VerifyReport", "default_path",
]
