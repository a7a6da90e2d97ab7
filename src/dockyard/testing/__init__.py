"""The public test toolkit: feature markers, leak checks, rootfs and bundle builders.

Source code never imports this package; tests and benchmarks do.
"""
