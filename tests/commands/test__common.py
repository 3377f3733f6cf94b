"""The flags and checks embed / evaluate / finetune share (commands/_common.py): bad input is one
`error:` line, no traceback, exit code 2 for a bad command line and 1 for missing or unusable
files; each command's help lists its flags."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from helpers.cli import COMMANDS, REGEX, make_run, run, write_wavs


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("errors")
    write_wavs(base / "wav", per_speaker=1)
    (base / "empty").mkdir()
    return {
        "base": base,
        "wav": base / "wav",
        "empty": base / "empty",
        "run": make_run(base / "run"),
    }


FOLDER_LABELS = ["--checkpoint", "{run}", "--audio-root", "{wav}", "--label-key", "folder"]
"""Valid data and labels, to which a case adds its bad flag."""

CASES = [
    (
        "evaluate",
        ["--audio-root", "{wav}", "--checkpoint", "{base}/missing"],
        "--checkpoint {base}/missing: no saved model",
    ),
    ("evaluate", ["--audio-root", "{wav}"], "give --checkpoint PATH"),
    (
        "evaluate",
        ["--checkpoint", "{run}"],
        "give the data: one of --audio-root, --image-root or --embeddings",
    ),
    (
        "evaluate",
        ["--checkpoint", "{run}", "--audio-root", "{wav}", "--image-root", "{wav}"],
        "give one of --audio-root, --image-root or --embeddings, not --audio-root and --image-root",
    ),
    (
        "evaluate",
        ["--checkpoint", "{run}", "--audio-root", "{wav}", "--label-regex", REGEX],
        "--label-regex needs --label-key, the regex group to probe (e.g. --label-key digit)",
    ),
    (
        "evaluate",
        [
            "--checkpoint",
            "{run}",
            "--audio-root",
            "{wav}",
            "--label-regex",
            REGEX,
            "--label-key",
            "word",
        ],
        "--label-key 'word' is not a label of this data; labels: digit, folder, speaker",
    ),
    (
        "evaluate",
        [
            "--checkpoint",
            "{run}",
            "--audio-root",
            "{wav}",
            "--label-key",
            "digit",
            "--protocol",
            "loo",
        ],
        "--protocol 'loo' is unknown; valid: split, kfold, fraction, group, logo",
    ),
    *[
        (
            "evaluate",
            [*FOLDER_LABELS, "--protocol", protocol],
            f"--protocol {protocol} needs --group-key",
        )
        for protocol in ("group", "logo")
    ],
    (
        "evaluate",
        [
            "--checkpoint",
            "{run}",
            "--audio-root",
            "{wav}",
            "--label-key",
            "folder",
            "--baselines",
            "pixels",
        ],
        "--baselines pixels is for images",
    ),
    (
        "evaluate",
        [
            "--checkpoint",
            "{run}",
            "--audio-root",
            "{wav}",
            "--label-key",
            "folder",
            "--protocol",
            "kfold",
            "--test-root",
            "{wav}",
        ],
        "--test-root gives a fixed train/test split",
    ),
    (
        "evaluate",
        ["--checkpoint", "{run}", "--audio-root", "{empty}", "--label-key", "folder"],
        "no audio files",
    ),
    (
        "evaluate",
        ["--checkpoint", "{run}", "--embeddings", "{base}/none.npz", "--label-key", "digit"],
        "embeddings file {base}/none.npz does not exist",
    ),
    ("embed", ["--checkpoint", "{run}", "--audio-root", "{wav}"], "give --out FILE.npz"),
    (
        "embed",
        ["--checkpoint", "{base}/missing.pth", "--audio-root", "{wav}", "--out", "x.npz"],
        "no saved model",
    ),
    (
        "embed",
        ["--checkpoint", "{run}", "--out", "x.npz"],
        "give the data: one of --audio-root or --image-root",
    ),
    (
        "finetune",
        ["--checkpoint", "{run}", "--audio-root", "{wav}", "--image-root", "{wav}"],
        "not --audio-root and --image-root",
    ),
]


FAILED_RUN = {
    "--checkpoint {base}/missing: no saved model",
    "--label-key 'word' is not a label of this data; labels: digit, folder, speaker",
    "no audio files",
    "embeddings file {base}/none.npz does not exist",
    "no saved model",
}
"""The cases about files that are missing or do not serve (exit 1); the others misuse flags (2)."""


@pytest.mark.parametrize(
    ("command", "args", "message"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
def test_bad_input_is_one_error_line_with_its_exit_code(
    data: dict[str, Path], command: str, args: list[str], message: str
) -> None:
    fill = {k: str(v) for k, v in data.items()}
    code, stdout, err = run(command, *[a.format(**fill) for a in args])
    assert code == (1 if message in FAILED_RUN else 2)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and message.format(**fill) in lines[0], err
    assert "Traceback" not in err and stdout == ""


def test_missing_checkpoint_from_a_fresh_process_has_no_traceback(data: dict[str, Path]) -> None:
    code = (
        "import sys; from cpckit import cli; "
        f"cli.SUBCOMMAND_MODULES += [c for c in {list(COMMANDS)!r} if c not in cli.SUBCOMMAND_MODULES]; "
        "sys.exit(cli.main(sys.argv[1:]))"
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            "evaluate",
            "--checkpoint",
            str(data["base"] / "gone.pth"),
            "--audio-root",
            str(data["wav"]),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"error: --checkpoint {data['base'] / 'gone.pth'}: no saved model there (expected a run "
        "folder holding cpc_model.pth, or the file itself, or a folder written by save_pretrained)"
    ]


def test_help_of_each_command_lists_its_flags() -> None:
    for command, flags in {
        "embed": [
            "--checkpoint",
            "--audio-root",
            "--image-root",
            "--out",
            "--pool",
            "--frames",
            "--windows-per-file",
            "--window-seconds",
            "--label-regex",
            "--batch-size",
        ],
        "evaluate": [
            "--embeddings",
            "--label-key",
            "--group-key",
            "--protocol",
            "--test-root",
            "--classifier",
            "--frame-labels",
            "--baselines",
            "--out-dir",
        ],
        "finetune": ["--epochs", "--lr", "--from-scratch", "--test-root"],
        "report": ["RUN_DIR"],
    }.items():
        code, stdout, _ = run(command, "--help")
        assert code == 0
        for flag in flags:
            assert flag in stdout, (command, flag)
