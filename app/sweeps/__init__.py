"""Parameter sweeps: one base scenario, 1 to 3 varied fields, every point simulated.

Pure like the engine (no web or database imports); app/store/sweeps.py keeps sweeps in the
database and app/sweeps/cli.py is the `migscope sweep` command. See docs/sweeps.md.
"""
