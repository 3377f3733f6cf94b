"""Config and command-line input, end to end through ``cpckit config``: YAML number spellings,
overrides anywhere on the line, a folder given as the config file, bare true/false flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.cli import run


def _value(out: str, section: str, key: str) -> str:
    lines = out.splitlines()
    start = lines.index(f"{section}:")
    for line in lines[start + 1 :]:
        if line.strip().startswith(f"{key}:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"{section}.{key} not printed")


@pytest.mark.parametrize(
    ("spelling", "value"), [("1e-3", "0.001"), ("3E-4", "0.0003"), (".5e-2", "0.005")]
)
def test_yaml_numbers_in_any_spelling_are_numbers(
    tmp_path: Path, spelling: str, value: str
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(f"train:\n  lr: {spelling}\n  max_steps: 1e3\n")
    code, out, err = run("config", "--config", path)
    assert code == 0, err
    assert _value(out, "train", "lr") == value
    assert _value(out, "train", "max_steps") == "1000"


def test_overrides_may_stand_anywhere_on_the_line() -> None:
    code, out, err = run(
        "config", "--seed", "3", "train.lr=1e-2", "--epochs", "2", "model.kind=lstm"
    )
    assert code == 0, err
    assert [_value(out, "train", k) for k in ("seed", "lr", "epochs")] == ["3", "0.01", "2"]
    assert _value(out, "model", "kind") == "lstm"


def test_a_bare_true_false_flag_leaves_the_next_override_alone() -> None:
    code, out, err = run("config", "--overwrite", "train.lr=0.5")
    assert code == 0, err
    assert (_value(out, "train", "overwrite"), _value(out, "train", "lr")) == ("true", "0.5")


def test_an_unknown_word_is_a_usage_error_of_the_command() -> None:
    code, _, err = run("config", "train.lr=1e-2", "--bogus", "2")
    assert code == 2
    assert err.strip().splitlines()[-1] == "cpckit config: error: unrecognized arguments: --bogus 2"


def test_a_folder_as_the_config_file_is_one_line(tmp_path: Path) -> None:
    code, _, err = run("config", "--config", tmp_path)
    assert code == 2
    assert err.strip() == f"error: config file '{tmp_path}' is a folder: give a YAML file"


def test_out_dir_placeholders_are_filled_or_named(tmp_path: Path) -> None:
    code, out, err = run("config", "--modality", "image")
    assert code == 0, err
    assert _value(out, "train", "out_dir") == "./outputs_image"
    code, _, err = run("config", "--out-dir", "runs/{mode}")
    assert code == 2
    assert err.strip() == (
        "error: train.out_dir = 'runs/{mode}' has a placeholder that is not valid ('mode'); "
        "valid: {modality}, {time}"
    )


@pytest.mark.parametrize(
    ("command", "flag", "target", "message"),
    [
        ("embed", "--out", "file/x.npz", "error: the folder of --out '{base}/file' is a file, not a folder: give a folder path"),
        ("embed", "--out", "folder.npz", "error: --out '{base}/folder.npz' is a folder: give a file path"),
        ("evaluate", "--out-dir", "file", "error: --out-dir '{base}/file' is a file, not a folder: give a folder path"),
        ("evaluate", "--out-dir", "file/sub", "error: --out-dir '{base}/file/sub' cannot be made: '{base}/file' is a file"),
    ],
)  # fmt: skip
def test_outputs_that_cannot_be_written_are_one_line_before_any_work(
    tmp_path: Path, command: str, flag: str, target: str, message: str
) -> None:
    from helpers.cli import make_run, write_wavs

    run_dir = make_run(tmp_path / "run")
    write_wavs(tmp_path / "wavs")
    (tmp_path / "file").write_text("x")
    (tmp_path / "folder.npz").mkdir()
    extra = ["--label-regex", r"(?P<digit>\d)_"] if command == "evaluate" else []
    code, _, err = run(
        command, "--checkpoint", run_dir, "--audio-root", tmp_path / "wavs", *extra,
        flag, tmp_path / target,
    )  # fmt: skip
    assert code == 1  # a folder it names is of the wrong kind: a failed run
    assert err.strip().splitlines()[-1] == message.format(base=tmp_path)
    assert "Traceback" not in err and (tmp_path / "file").read_text() == "x"
