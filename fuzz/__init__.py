"""Coverage-guided fuzz targets (atheris) for the parsers that take outside input; ``python -m fuzz.run``."""
