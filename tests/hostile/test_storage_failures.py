"""Storage failures leave nothing half-done: a full disk leaves no temporary shard, and a lock that cannot
be removed from a read-only location is a warning, not a second traceback."""

from __future__ import annotations

import errno

import pandas as pd
import pytest

from harness.contract.results import write_shard
from harness.core.storage import LOCK_NAME, RunLock
from tests.hostile.helpers import row


def test_a_full_disk_leaves_no_temporary_shard(tmp_path, monkeypatch):
    def full(self, path, **kwargs):
        with open(path, "wb") as f:
            f.write(b"PAR1 half")
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(pd.DataFrame, "to_parquet", full)
    with pytest.raises(OSError):
        write_shard(tmp_path, [row("a")])
    assert list((tmp_path / "results").iterdir()) == []


def test_a_lock_that_cannot_be_removed_is_one_warning(tmp_path, monkeypatch, capsys):
    lock = RunLock(tmp_path).acquire()

    def read_only(*parts):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(lock.loc, "delete", read_only)
    lock.release()                                   # no exception: the run's own error stays the one reported
    err = capsys.readouterr().err
    assert "could not remove the run lock" in err and "Read-only file system" in err and not lock.held
    assert (tmp_path / LOCK_NAME).exists()
