"""The report batch — ``make reports`` — in four stages, each a module, imports pointing one way.

``plan`` → ``run`` → ``render`` → ``index``:

1. :mod:`helpers.batch.plan` expands ``reports.yaml`` into jobs (:mod:`helpers.batch.jobs`: a
   notebook with one parameter set and its output paths), fingerprints them and decides which to
   render and which to reuse.
2. :mod:`helpers.batch.run` renders what is out of date in forked workers (or fresh kernels),
   with timeouts, a lock per reports folder, and cleanup of stale outputs.
3. :mod:`helpers.batch.render` turns one job into its report: executes the notebook (in a Jupyter
   kernel or in-process through :mod:`helpers.batch.engine`, papermill's engine seam) and writes the
   HTML report, its results file and the executed notebook atomically.
4. :mod:`helpers.batch.index` writes ``reports/index.html`` from the results files.

``jobs`` is the base every stage imports; ``engine`` imports nothing from the batch; ``run`` is
the only module that imports the others' entry points. Nothing outside the batch (the analysis
and present layers) imports it; ``helpers.cli`` calls :func:`helpers.batch.run.run`.
"""
