"""Files: input paths, all-or-nothing output and its killed writers, change detection, sizes."""
import os
import pickle
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from skquake.utils import (
    FileChangedError,
    ResourceLimitError,
    atomic_output,
    check_capacity,
    check_input_file,
    check_unchanged,
    file_fingerprint,
    format_bytes,
)

# A writer that stops in the middle of its block and waits to be killed.
_WRITER = """
import sys, time
from skquake.utils import atomic_output
with atomic_output(sys.argv[1]) as tmp:
    with open(tmp, "wb") as f:
        f.write(b"half a file")
    print(tmp, flush=True)
    time.sleep(120)
"""


def _start_writer(target):
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(target)], stdout=subprocess.PIPE,
                            text=True)
    line = proc.stdout.readline().strip()
    assert line, f"the writer died before writing (exit status {proc.poll()})"
    return proc, Path(line)


@pytest.mark.skipif(os.name == "nt", reason="POSIX signals and process ids")
def test_killed_writer_leaves_no_orphan_temporary_file(tmp_path):
    killed, killed_tmp = _start_writer(tmp_path / "killed.h5")
    live, live_tmp = _start_writer(tmp_path / "live.h5")
    try:
        # the temporary name carries the writer's process id
        assert f"~{killed.pid}~" in killed_tmp.name and killed_tmp.parent == tmp_path
        killed.send_signal(signal.SIGKILL)  # no handler runs: the temporary file stays
        killed.wait()
        assert killed_tmp.exists() and not (tmp_path / "killed.h5").exists()
        # files that must survive: another host's temporary file of a dead pid, unrelated files
        other_host = tmp_path / f".x.h5.elsewhere-1~{killed.pid}~abc123.tmp"
        unrelated = [tmp_path / ".notes.tmp", tmp_path / f"data~{killed.pid}~x.tmp", tmp_path / "keep.h5"]
        for path in [other_host, *unrelated]:
            path.write_bytes(b"keep")

        with atomic_output(tmp_path / "next.h5") as tmp:  # the next write in the folder cleans
            tmp.write_bytes(b"whole")
        assert not killed_tmp.exists()
        assert live_tmp.exists() and live_tmp.read_bytes() == b"half a file"  # live writer: kept
        assert all(p.exists() for p in [other_host, *unrelated])
        assert (tmp_path / "next.h5").read_bytes() == b"whole"
    finally:
        for proc in (killed, live):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()


def test_nested_writer_keeps_the_outer_temporary_file(tmp_path):
    with atomic_output(tmp_path / "outer.bin") as outer:
        outer.write_bytes(b"outer")
        with atomic_output(tmp_path / "inner.bin") as inner:
            inner.write_bytes(b"inner")
        assert outer.exists()  # a live writer (this process) is never cleaned
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inner.bin", "outer.bin"]


def test_atomic_output_path_errors(tmp_path):
    (tmp_path / "file.h5").write_bytes(b"x")
    for target, error, message in [
        (tmp_path, IsADirectoryError, f"{re.escape(str(tmp_path))} is a folder"),
        (f"{tmp_path}/new/", IsADirectoryError, "names a folder"),
        (tmp_path / "file.h5", FileExistsError, "file.h5 already exists; pass overwrite=True"),
        (tmp_path / "file.h5" / "out.h5", NotADirectoryError, "file.h5 is a file, not a folder"),
        (tmp_path / "nope" / "deeper" / "out.h5", FileNotFoundError, "the folder .*nope does not exist"),
    ]:
        with pytest.raises(error, match=message), atomic_output(target):
            pass
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.h5"]


def test_check_input_file(tmp_path):
    (tmp_path / "a.h5").write_bytes(b"x")
    assert check_input_file(tmp_path / "a.h5") == tmp_path / "a.h5"
    with pytest.raises(IsADirectoryError, match=r"QuakeSet file .* is a folder, not a file.*a\.h5"):
        check_input_file(tmp_path, "QuakeSet file")
    with pytest.raises(FileNotFoundError, match="not found: .*x.h5 .*the folder .*nope does not exist"):
        check_input_file(tmp_path / "nope" / "x.h5")
    with pytest.raises(FileNotFoundError, match="a.h5 is a file, not a folder"):
        check_input_file(tmp_path / "a.h5" / "x.h5")


def test_check_unchanged(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"0123456789")
    before = file_fingerprint(path)
    check_unchanged(path, before)  # unchanged: no error
    with open(path, "r+b") as f:
        f.truncate(4)
    with pytest.raises(FileChangedError, match=r"f.bin changed on disk .* from 10 to 4 bytes") as info:
        check_unchanged(path, before, hint="open it again")
    assert info.value.filename == str(path) and isinstance(info.value, OSError)
    clone = pickle.loads(pickle.dumps(info.value))
    assert str(clone) == str(info.value) and clone.filename == str(path)
    replacement = tmp_path / "g.bin"
    replacement.write_bytes(b"0123")
    os.replace(replacement, path)
    with pytest.raises(FileChangedError, match="replaced by another file"):
        check_unchanged(path, before)
    path.unlink()
    with pytest.raises(FileChangedError, match="deleted or moved"):
        check_unchanged(path, before)


def test_check_capacity(tmp_path, monkeypatch):
    check_capacity("small", memory=1, disk=1, folder=tmp_path)
    with pytest.raises(ResourceLimitError, match=r"huge\(n=1\) needs about 1024.0 PiB of memory at once, "
                                                r"but only .* is available; use less") as info:
        check_capacity("huge(n=1)", memory=2**60, parameters=("n",), hint="use less")
    assert info.value.parameters == ("n",) and info.value.needed == 2**60
    monkeypatch.setattr(shutil, "disk_usage", lambda folder: shutil._ntuple_diskusage(100, 90, 10))
    with pytest.raises(ResourceLimitError, match=f"11 bytes of disk space in {re.escape(str(tmp_path))}, "
                                                 "but only 10 bytes is free"):
        check_capacity("file", disk=11, folder=tmp_path)
    assert format_bytes(1536) == "1.5 KiB"
