"""Task schema (tasks.schema), suite loading (tasks.loading), built-in suite files (tasks/suites/*.yaml) and
suite builders (tasks.builders)."""
