"""Parquet I/O, leaderboards, run history and the regression gate."""
