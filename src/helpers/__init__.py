"""Disconnect Lab helpers: everything the notebooks do beyond narrative glue.

Modules, in the direction data flows (nothing low imports anything higher):
``errors`` · ``atomic`` · ``paths`` · ``io`` · ``codebook`` · ``mapping`` · ``validate`` ·
``simulate`` · ``processing`` · ``quality`` · ``scales`` · ``indicators`` · ``benchmarks`` ·
``models`` · ``rsa`` · ``spend`` · ``privacy`` · ``tables`` · ``plots`` · ``results`` ·
``reporting`` · ``cli``.
"""

__version__ = "0.1.0"
