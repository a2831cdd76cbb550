"""Reproducibility facts captured when an experiment is tracked."""

from __future__ import annotations

import os
import platform
import socket
import subprocess
import sys
from functools import cache
from importlib import metadata
from typing import Any

# Packages whose versions most often explain a change in results.
KEY_PACKAGES = (
    "numpy",
    "torch",
    "jax",
    "tensorflow",
    "transformers",
    "scikit-learn",
    "nemo_run",
    "nemo_toolkit",
    "expbot",
)
GIT_TIMEOUT_SECONDS = 2


def capture(cwd: str | None = None) -> dict[str, Any]:
    """Return git state, command line, host, Python and package versions.

    The git facts are left out when git is missing, fails or times out
    (after 2 s), so a run outside a checkout is still tracked.
    """
    facts: dict[str, Any] = {
        "argv": list(sys.argv),
        "host": socket.gethostname(),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "packages": dict(package_versions()),
    }
    facts.update(git_state(cwd or os.getcwd()))
    return facts


@cache
def package_versions() -> dict[str, str]:
    versions = {}
    for name in KEY_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


@cache
def git_state(cwd: str) -> dict[str, Any]:
    """Return the commit and dirty flag of the checkout at `cwd`.

    Cached for the life of the process, because the code a process runs is
    the code it loaded at start: later commits do not describe it. A sweep
    of many runs then costs two git calls in all, not two per run.
    """
    commit = _git(cwd, "rev-parse", "HEAD")
    if commit is None:
        return {}
    status = _git(cwd, "status", "--porcelain", "--untracked-files=no")
    return {"git_commit": commit, "git_dirty": bool(status)}


def _git(cwd: str, *args: str) -> str | None:
    try:
        result = subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if result.returncode != 0:
        return None
    return result.stdout.strip()
