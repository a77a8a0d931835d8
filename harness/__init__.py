"""editbench harness: run specs, Ray orchestration, CLI and pipeline adapters.

Importing this package is cheap: torch, diffusers, ray and friends are imported only inside the
functions that need them.
"""

__version__ = "0.1.0"
