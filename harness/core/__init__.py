"""Foundation: errors, the registry, storage (names, lock, locations), image I/O, task pixels, weights
lookup and provenance. Imports nothing of the project above it."""
