"""expbot's experiment tracker: storage, search and the `expbot` CLI."""

from tracker.api import Run, Tracker
from tracker.errors import (
    AmbiguousId,
    ExpbotError,
    ExperimentNotFound,
    InvalidInput,
    InvalidQuery,
    InvalidTransition,
    PermissionDenied,
)
from tracker.nemo.task import current
from tracker.records import ExperimentRecord

__all__ = [
    "AmbiguousId",
    "ExpbotError",
    "ExperimentNotFound",
    "ExperimentRecord",
    "InvalidInput",
    "InvalidQuery",
    "InvalidTransition",
    "PermissionDenied",
    "Run",
    "Tracker",
    "current",
]
