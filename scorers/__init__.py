"""Scorers: one module per metric family, each registered by name in ``SCORERS``."""

from scorers.base import SCORERS, Scorer, get_scorer_class, metric_directions, scorer_names

__all__ = ["SCORERS", "Scorer", "get_scorer_class", "metric_directions", "scorer_names"]
