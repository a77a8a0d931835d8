"""The typed contract every layer shares: the run spec, result rows and shard I/O, the run record."""
