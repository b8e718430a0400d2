"""meshsec benchmarks: ``make bench`` (``python -m benchmarks``)."""
