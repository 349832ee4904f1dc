"""Side-by-side performance measurements: `python -m bench.run` (see bench/README.md)."""
