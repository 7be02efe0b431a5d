"""The package's version, written here only: ``lr_variants.__version__``, read by pyproject.toml
(``[tool.setuptools.dynamic]``) and by ``lr-variants --version``, installed or not."""

__version__ = "0.1.0"
