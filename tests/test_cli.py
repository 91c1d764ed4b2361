"""The command-line shell: --version, --help, one-line usage errors."""

from __future__ import annotations

import subprocess

import pytest

from ndsim._version import __version__
from ndsim.cli import COMMANDS, main


def test_usage_errors_are_one_line_exit_2(capsys):
    """A malformed option is one line on stderr and exit code 2 (no usage block)."""
    with pytest.raises(SystemExit) as exc:
        main(["ensemble", "--draws", "abc"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "--draws" in err[0] and "abc" in err[0]


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert f"    {name}" in out


def test_version_in_a_fresh_process(cli_env, ndsim_cmd):
    out = subprocess.run([*ndsim_cmd, "--version"], env=cli_env, capture_output=True, text=True)
    assert out.returncode == 0
    assert out.stdout.strip() == f"ndsim {__version__}"


def test_subprocesses_start_this_interpreter():
    """No test runs `python` from PATH: `venv/bin/python -m pytest` must test that venv."""
    import re
    from pathlib import Path

    bad = []
    for path in sorted(Path(__file__).parent.glob("test_*.py")):
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(r"""\[\s*["']python3?["']""", line):
                bad.append(f"{path.name}:{i}")
    assert not bad, bad


def test_output_without_nc_is_refused(tmp_path, cli_env, ndsim_cmd):
    import subprocess

    out = tmp_path / "results"
    proc = subprocess.run(
        [*ndsim_cmd, "run", "--no-figures", "--output", str(out)],
        env=cli_env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "ends in .nc (did you mean" in lines[0], proc.stderr
    assert not out.exists() and not (tmp_path / "results.nc").exists()
