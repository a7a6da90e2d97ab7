"""Benchmarks: Dockyard against its peers, run alternately, reported as medians and ratios.

Run with ``python -m bench`` from the repository root (``make bench``); see ``harness``.
"""
