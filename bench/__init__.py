"""Benchmarks of tapegrad against PyTorch (CPU) and hand-written NumPy: `python -m bench.run`.

Each workload runs each implementation in its own fresh subprocess (bench/_child.py) with one
thread for every library; bench/run.py gathers the samples, computes the ratios measured in the
same run and writes bench/RESULTS.md.
"""
