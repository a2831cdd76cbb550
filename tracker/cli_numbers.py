"""argparse types for number arguments, whose errors show a valid example.

argparse reports a failed `type=int` as "invalid int value: 'x'", which
names a Python function instead of what to type. These types raise
`ArgumentTypeError`, which argparse prints after the argument's name:
"argument --limit: 'x' is not a whole number; give e.g. --limit 20".
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def whole_number(example: str, *, minimum: int | None = None) -> Callable[[str], int]:
    """Build a type that parses an integer of at least `minimum`.

    `example` is a valid use of the argument, e.g. "--limit 20".
    """

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a whole number; give e.g. {example}"
            ) from None
        if minimum is not None and value < minimum:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not {minimum} or more; give e.g. {example}"
            )
        return value

    return parse


def finite_number(example: str) -> Callable[[str], float]:
    """Build a type that parses a float other than NaN and infinity."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a number; give e.g. {example}"
            ) from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a finite number; give e.g. {example}"
            )
        return value

    return parse
