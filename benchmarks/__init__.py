"""creditcore's benchmarks: floors, peers, scaling curves and the bars of SPEC §11.

Run ``python -m benchmarks`` from the repository root (``--smoke`` for tiny sizes)."""
