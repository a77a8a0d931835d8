"""Task schema, built-in suite files (tasks/suites/*.yaml) and suite builders."""

from tasks.schema import Suite, Task, load_suite, list_suites

__all__ = ["Suite", "Task", "load_suite", "list_suites"]
