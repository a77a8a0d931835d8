"""The layer rule holds on the tree, and breaks loudly when a file breaks it (docs/architecture.md).

Each test copies the four packages and pyproject.toml into a temporary folder, adds one import that
breaks the rule, and runs the same checker ``make lint`` runs there.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.import_cycles import circles, import_graph, project_modules

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def tree_copy(tmp_path: Path) -> Path:
    dst = tmp_path / "tree"
    for pkg in ("harness", "tasks", "scorers", "reports"):
        shutil.copytree(ROOT / pkg, dst / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", dst / "pyproject.toml")
    return dst


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=root, capture_output=True, text=True,
                          env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"}, timeout=300)


needs_linter = pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter is installed by `make install`")


@needs_linter
def test_the_tree_keeps_its_layers(tmp_path):
    proc = lint_imports(tree_copy(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr


@needs_linter
@pytest.mark.parametrize("file, line, broken", [
    ("reports/bad_import.py", "from harness.execution import runner\n", "never import each other"),
    ("harness/core/bad_import.py", "from harness.pipelines.base import PIPELINES\n", "Layers"),
    ("harness/contract/bad_import.py", "import scorers.base\n", "Layers"),
    ("harness/execution/bad_import.py", "def f():\n    from reports.leaderboard import Report\n", "Layers"),
])
def test_an_import_against_the_rule_fails(tmp_path, file, line, broken):
    root = tree_copy(tmp_path)
    (root / file).write_text(line)
    proc = lint_imports(root)
    assert proc.returncode != 0
    assert "BROKEN" in proc.stdout and broken in proc.stdout


def test_no_import_circle_between_files(tmp_path):
    assert circles(import_graph(project_modules(ROOT))) == []
    root = tree_copy(tmp_path)          # a circle made on purpose is found
    (root / "reports" / "circle_a.py").write_text("from reports import circle_b\n")
    (root / "reports" / "circle_b.py").write_text("def f():\n    import reports.circle_a\n")
    assert ["reports.circle_a", "reports.circle_b"] in circles(import_graph(project_modules(root)))
