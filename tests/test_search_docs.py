"""docs/search.md shows the error message that `expbot search` really prints."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tracker.cli import main

DOCS = Path(__file__).resolve().parent.parent / "docs" / "search.md"
# The shell session in the docs' Errors section: a command, then its stderr.
_SAMPLE = re.compile(r"```\n\$ expbot search '([^'\n]*)'\n(.*?)```", re.DOTALL)


def test_docs_error_sample_matches_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("EXPBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'expbot.db'}")
    main(["db", "upgrade"])
    found = _SAMPLE.search(DOCS.read_text())
    assert found is not None, "no `$ expbot search '...'` sample in docs/search.md"
    query, documented = found.groups()

    status = main(["search", query])

    assert status == 1
    assert " ".join(capsys.readouterr().err.split()) == " ".join(documented.split())


def test_invalid_query_names_no_repository_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("EXPBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'expbot.db'}")
    main(["db", "upgrade"])

    main(["search", "tag:"])

    assert "docs/" not in capsys.readouterr().err
