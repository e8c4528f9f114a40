"""creditcore's benchmarks: floors, peers, scaling curves, the superlinear corners and the
bars of issue 12 and SPEC §11.

Run ``python -m benchmarks`` from the repository root (``--smoke`` for tiny sizes, ``--only
GROUP`` for part of it); ``python -m benchmarks.profile`` for the profiles behind the bars."""
