"""cli.py: it only dispatches, to one module per subcommand under commands/."""

from __future__ import annotations

from cpckit import cli


def test_cmd_every_subcommand_lives_in_commands() -> None:
    assert cli.SUBCOMMAND_MODULES[:2] == ["train", "config"]
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert list(sub.choices) == cli.SUBCOMMAND_MODULES  # type: ignore[attr-defined]
