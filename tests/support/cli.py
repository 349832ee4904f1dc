"""Running `newswatch` commands in-process, as a user would type them."""

from __future__ import annotations

from click.testing import CliRunner

from flows.cli.main import cli


def invoke(*args: str) -> tuple[int, str]:
    """Exit code and output of `newswatch ARGS` (exceptions propagate: a crash is a failure)."""
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output
