"""Execution: the manifest, the attempt, actor plans, the shard writer, the Ray environment, dispatch,
actors and the worker. Writes rows and run.json and stops there; reports read them."""
