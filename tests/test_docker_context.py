"""The image's build context leaves secrets out, by Docker's own .dockerignore rules.

`COPY infra ./infra` stores whatever the context holds under infra/ in a layer, and the README
tells operators to put the Postgres password and Kibana's encryption key in infra/.env and
settings in infra/newswatch.env. The rules are evaluated with a port of moby/patternmatcher
(tests/support/dockerignore.py), itself checked here on cases from its own test suite.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.dockerignore import is_excluded, parse

REPO = Path(__file__).resolve().parent.parent
RULES = parse((REPO / "infra" / "Dockerfile.dockerignore").read_text(encoding="utf-8"))

SECRET_FILES = [
    "infra/.env",
    "infra/newswatch.env",
    "infra/prod.env",
    "infra/.env.local",
    ".env",
    "config/.env",
    "config/smtp.env",
    "flows/.env",
    "infra/kibana/.env",
    "infra/tls/server.key",
    "infra/tls/ca.pem",
    ".newswatch/stack/noida.control.json",
]


@pytest.mark.parametrize(
    ("patterns", "path", "excluded"),
    [
        # Docker's matching rules (moby/patternmatcher: Pattern.compile, parent matching).
        ("**", "file", True),
        ("**", "file/", True),
        ("**/", "file", True),
        ("**/*.go", "a/b/c.go", True),
        ("**/*.go", "c.go", True),
        ("*.go", "a/b.go", False),
        ("abc/**", "abc/def/ghi", True),
        ("a*/b", "abc/b", True),
        ("a*/b", "a/c/b", False),
        ("a[b-d]e", "ace", True),
        ("dir/**", "dir/file", True),
        ("**/dir", "dir/file", True),
        # Order and re-inclusion: the last matching rule wins, parents count.
        ("**\n!infra", "infra/x.py", False),
        ("**\n!infra\n**/*.env", "infra/newswatch.env", True),
        ("**/*.env\n**\n!infra", "infra/newswatch.env", False),
    ],
)
def test_matcher_agrees_with_docker(patterns: str, path: str, excluded: bool) -> None:
    assert is_excluded(path, parse(patterns)) is excluded


def test_the_rules_before_this_fix_would_have_sent_the_secrets() -> None:
    """The shape of the old file (`**` then `!infra`): a check that can tell the difference."""
    old = parse("**\n!pyproject.toml\n!README.md\n!flows\n!ingest\n!enrich\n!infra\n!config\n")
    assert not is_excluded("infra/.env", old)
    assert not is_excluded("infra/newswatch.env", old)


@pytest.mark.parametrize("path", SECRET_FILES)
def test_secret_files_never_enter_the_build_context(path: str) -> None:
    assert is_excluded(path, RULES), path


def _copied_sources() -> list[str]:
    dockerfile = (REPO / "infra" / "Dockerfile").read_text(encoding="utf-8")
    sources = []
    for line in re.findall(r"^COPY (.+)$", dockerfile, re.MULTILINE):
        sources += line.split()[:-1]  # every word but the destination
    return sources


def test_everything_the_dockerfile_copies_is_in_the_context() -> None:
    sources = _copied_sources()
    assert {"pyproject.toml", "README.md", "prefect.yaml", "flows", "ingest", "enrich", "infra",
            "config"} <= set(sources)
    for source in sources:
        root = REPO / source
        files = [root] if root.is_file() else [p for p in root.rglob("*") if p.is_file()]
        shipped = [p for p in files if "__pycache__" not in p.parts]
        assert shipped, source
        for file in shipped:
            relative = file.relative_to(REPO).as_posix()
            if file.name.endswith(".env") or file.name == ".env":
                continue  # a local secret in the checkout: excluded above, on purpose
            assert not is_excluded(relative, RULES), relative


def test_nothing_but_the_sources_is_sent() -> None:
    for path in ("tests/test_infra_files.py", ".git/config", ".venv/bin/python", "bench/run.py",
                 ".newswatch/prefect/prefect.db", "infra/__pycache__/x.cpython-311.pyc"):
        assert is_excluded(path, RULES), path
