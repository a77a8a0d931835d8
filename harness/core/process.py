"""Processes: psutil where it can be had."""

from __future__ import annotations

import os
import sys


def import_psutil():
    """psutil: the installed one, else the copy Ray ships in ``ray/thirdparty_files`` (found without
    importing ray); None when neither exists."""
    try:
        import psutil

        return psutil
    except ImportError:
        pass
    import importlib.util

    spec = importlib.util.find_spec("ray")
    if spec is None or not spec.origin:
        return None
    third = os.path.join(os.path.dirname(spec.origin), "thirdparty_files")
    if third not in sys.path:
        sys.path.append(third)
    try:
        import psutil

        return psutil
    except ImportError:
        return None
