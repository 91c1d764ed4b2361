"""Atomic writes: the target is the previous complete file or the new complete file."""

from __future__ import annotations

import os
import stat

import pytest

from ndsim.io.atomic import atomic_target


def test_replaces_only_when_complete(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_target(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]
    with atomic_target(target) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new"


def test_injected_disk_full_leaves_previous_file(tmp_path, monkeypatch):
    target = tmp_path / "out.txt"
    target.write_text("old")
    monkeypatch.setenv("NDSIM_FAULT_BEFORE_RENAME", "1")
    with pytest.raises(OSError, match="No space left"), atomic_target(target) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "old"
    assert len(list(tmp_path.iterdir())) == 1


def test_written_file_has_the_usual_permissions(tmp_path):
    target = tmp_path / "out.txt"
    with atomic_target(target) as tmp:
        tmp.write_text("x")
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~mask


def test_the_file_and_its_folder_are_flushed_around_the_rename(tmp_path, monkeypatch):
    """fsync of the written file before the rename, and of its folder after it."""
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append(("fsync", os.path.realpath(f"/proc/self/fd/{fd}")))
        return real_fsync(fd)

    def replace(src, dst):
        events.append(("replace", str(dst)))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    target = tmp_path / "r.csv"
    with atomic_target(target) as tmp:
        tmp.write_text("a,b\n1,2\n")
    kinds = [e[0] for e in events]
    assert kinds == ["fsync", "replace", "fsync"], events
    assert events[0][1].endswith(".tmp")  # the temporary file, before it is renamed
    assert events[2][1] == os.path.realpath(tmp_path)  # then the folder
    assert target.read_text() == "a,b\n1,2\n"
