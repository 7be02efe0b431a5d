"""The benchmark suite (pytest-benchmark), installed with the package as ``lr_variants._bench``.

``lr-variants bench`` runs it from any folder; ``make bench`` (``bench/report.py --publish``)
runs it from a source checkout and publishes ``docs/benchmarks.md``. The modules import each
other by their bare names (``import workloads``): ``conftest.py`` puts this folder on
``sys.path``.
"""
