"""cli.py: it only dispatches, to one module per subcommand under commands/; and the habits of a
command line, through the installed ``cpckit`` console script: ``--version``, shell completion,
exit codes, a closed pipe, Ctrl-C, and the time left in a run's plain log lines."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

import cpckit
from cpckit import cli
from helpers.cli import console_script
from helpers.training import train_args


def _script(*args: object, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    command, env = console_script(*args)
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)


def _subcommands() -> dict[str, list[str]]:
    """Each subcommand's ``--`` flags, from the parsers."""
    _, commands = cli._build()
    return {
        name: [s for a in p._actions for s in a.option_strings if s.startswith("--")]
        for name, p in commands.items()
    }


def test_cmd_every_subcommand_lives_in_commands() -> None:
    assert cli.SUBCOMMAND_MODULES[:2] == ["train", "config"]
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert list(sub.choices) == cli.SUBCOMMAND_MODULES  # type: ignore[attr-defined]


def test_version_is_the_name_and_the_package_version() -> None:
    done = _script("--version")
    assert (done.returncode, done.stdout, done.stderr) == (0, f"cpckit {cpckit.__version__}\n", "")


COMPLETE = r"""
source "$1"
cd "$2"
complete_line() {  # what <Tab> offers at the end of the words given
  COMP_WORDS=("$@"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
  COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}; COMPREPLY=()
  _shtab_cpckit cpckit "${COMP_WORDS[-1]}" "${COMP_WORDS[-2]}"
  printf '%s|%s\n' "$*" "${COMPREPLY[*]}"
}
complete_line cpckit ''
complete_line cpckit tr
complete_line cpckit --print-completion ''
complete_line cpckit train --ep
complete_line cpckit train --seed 3 train.lr=1e-3 --ep
complete_line cpckit train --context ''
complete_line cpckit train --use-mock-data t
complete_line cpckit train --audio-root ''
complete_line cpckit train --config ''
complete_line cpckit report ''
"""


def test_bash_completion_completes_commands_flags_values_and_paths(tmp_path: Path) -> None:
    done = _script("--print-completion", "bash")
    assert done.returncode == 0 and done.stderr == ""
    script = tmp_path / "cpckit.bash"
    script.write_text(done.stdout)
    assert subprocess.run(["bash", "-n", str(script)], capture_output=True).returncode == 0
    (tmp_path / "work" / "runs").mkdir(parents=True)
    (tmp_path / "work" / "c.yaml").write_text("train: {}\n")
    flags = _subcommands()
    lines = [f"cpckit {name} --" for name in flags]
    harness = COMPLETE + "".join(f"complete_line {line}\n" for line in lines)
    shell = subprocess.run(
        ["bash", "-c", harness, "bash", str(script), str(tmp_path / "work")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shell.returncode == 0 and shell.stderr == "", shell.stderr
    offered = dict(line.split("|", 1) for line in shell.stdout.splitlines())
    assert offered["cpckit "] == " ".join(cli.SUBCOMMAND_MODULES)
    assert offered["cpckit tr"] == "train"
    assert offered["cpckit --print-completion "] == "bash zsh"
    assert offered["cpckit train --ep"] == "--epochs"
    assert offered["cpckit train --seed 3 train.lr=1e-3 --ep"] == "--epochs"
    assert offered["cpckit train --context "] == "gru lstm transformer"
    assert offered["cpckit train --use-mock-data t"] == "true"
    assert offered["cpckit train --audio-root "] == "runs"  # folders only
    assert sorted(offered["cpckit train --config "].split()) == ["c.yaml", "runs"]
    assert offered["cpckit report "] == "runs"
    for name, names in flags.items():  # every flag of every subcommand
        assert sorted(offered[f"cpckit {name} --"].split()) == sorted(names), name


def test_zsh_completion_names_every_command_and_a_bad_shell_is_a_usage_error(
    tmp_path: Path,
) -> None:
    done = _script("--print-completion", "zsh")
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout.startswith("#compdef cpckit")
    for name, flags in _subcommands().items():
        assert re.search(rf"^_shtab_cpckit_{name}_options=\($", done.stdout, re.M), name
        assert all(flag in done.stdout for flag in flags), name
    if shutil.which("zsh"):
        script = tmp_path / "_cpckit"
        script.write_text(done.stdout)
        assert subprocess.run(["zsh", "-n", str(script)], capture_output=True).returncode == 0
    bad = _script("--print-completion", "fish")
    assert bad.returncode == 2 and bad.stdout == ""
    last = bad.stderr.strip().splitlines()[-1]
    assert last.startswith("cpckit: error: argument --print-completion: invalid choice: 'fish'")
    assert "bash" in last and "zsh" in last


def test_exit_codes_tell_a_usage_error_from_a_failed_run(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    usage = [
        (["train", "--bogus"], "cpckit train: error: unrecognized arguments: --bogus"),
        (["nope"], "cpckit: error: argument COMMAND: invalid choice: 'nope'"),
        (
            ["bench", "--warmup", "-5"],
            "cpckit bench: error: argument --warmup: expected an integer",
        ),
        (["config", "train.nope=1"], "error: unknown config key 'train.nope'"),
        (["prepare", "fsdd", "--classes", "0,1"], "error: --classes is an option of"),
    ]
    failed = [
        (["report", tmp_path / "missing"], f"error: run folder not found: {tmp_path / 'missing'}"),
        (["prepare", "fsdd", "--root", tmp_path / "file"], f"error: root {tmp_path / 'file'} is"),
    ]
    for status, cases in ((2, usage), (1, failed)):
        for args, message in cases:
            done = _script(*args)
            last = done.stderr.strip().splitlines()[-1]
            assert done.returncode == status and last.startswith(message), (args, done.stderr)
            assert "Traceback" not in done.stderr
    assert _script("config", "--keys").returncode == 0


def _closed_reader(*args: str, unbuffered: bool = False) -> tuple[int, str]:
    """``cpckit ARGS`` writing into a pipe whose reader closed it before the first write."""
    command, env = console_script(*args, unbuffered=unbuffered)
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the only reader: every write of the child now fails with EPIPE
    err = proc.stderr.read().decode()
    proc.stderr.close()
    return proc.wait(timeout=60), err


def test_a_closed_pipe_ends_quietly_with_status_141() -> None:
    for args in (["--help"], ["train", "--help"], ["config", "--keys"]):
        assert _closed_reader(*args) == (141, ""), args
    # unbuffered, the first print fails at once, inside the command
    assert _closed_reader("config", "--keys", unbuffered=True) == (141, "")


def test_head_reads_the_first_lines_and_cpckit_says_nothing() -> None:
    command, env = console_script()
    script = command[0]
    pipelines = [f"{script} --help | head -1", f"{script} train --help | head -2"]
    pipelines.append(f"{script} config --keys | head -1")
    shell = "".join(f'{p}; echo "status ${{PIPESTATUS[0]}}"\n' for p in pipelines)
    done = subprocess.run(
        ["bash", "-c", shell], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.stderr == ""
    lines = done.stdout.splitlines()
    assert lines[0].startswith("usage: cpckit [-h] [--version]")
    assert lines[2].startswith("usage: cpckit train [-h]") and lines[3].startswith(" " * 20)
    assert lines[5] == "data.modality = 'audio'"
    # 0 when the whole text fit into the pipe before head left, 141 when it did not
    assert [line for line in lines if line.startswith("status ")] == [
        lines[1],
        lines[4],
        lines[6],
    ]
    assert {lines[1], lines[4], lines[6]} <= {"status 0", "status 141"}


PLAIN_LINE = re.compile(
    r"epoch (?P<epoch>\d+)/1000 batch (?P<batch>[12])/2 loss \d+\.\d{4} acc \d\.\d{3} "
    r"step (?P<step>\d+)/2000 \d+\.\d\d steps/s elapsed \d\d:\d\d eta (\d+:)?\d\d:\d\d"
)
"""A plain progress line of the run below: 2 batches an epoch, 1000 epochs, 2000 steps."""


@pytest.mark.slow
def test_a_run_logs_its_time_left_and_ctrl_c_ends_it_with_130(tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = train_args(out, "--epochs", "1000", "data.n_train=16", "train.batch_size=8")
    command, env = console_script(*args)

    def default_sigint() -> None:  # a shell's background job starts with SIGINT ignored
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    proc = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=default_sigint,
    )
    assert proc.stdout is not None
    progress: list[str] = []
    try:
        for line in proc.stdout:  # stdout is a pipe: plain lines, one per step
            if re.match(r"epoch \d+/1000 batch", line):
                progress.append(line.rstrip("\n"))
            if len(progress) == 3:
                break
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
        proc.wait()
    assert len(progress) == 3, err
    for n, line in enumerate(progress, start=1):
        match = PLAIN_LINE.fullmatch(line)
        assert match is not None, line
        assert (match["step"], match["epoch"], match["batch"]) == (
            str(n),
            str((n + 1) // 2),
            str(2 - n % 2),
        )
    assert proc.returncode == 130
    assert err.strip().splitlines()[-1] == "interrupted" and "Traceback" not in err
    # the first Ctrl-C ends the fit at the end of the step (no interrupt inside a logger)
    assert "Ctrl-C: stopping after this step (Ctrl-C again to stop now)" in err
    assert json.loads((out / "manifest.json").read_text())["status"] == "interrupted"
