"""Disconnect Lab helpers: everything the notebooks do beyond narrative glue.

Modules, in the direction data flows (nothing low imports anything higher):
``errors`` · ``atomic`` · ``io`` · ``codebook`` · ``mapping`` · ``validate`` · ``simulate`` ·
``processing`` · ``quality`` · ``plots`` · ``tables`` · ``reporting`` · ``cli``.
"""

__version__ = "0.1.0"
