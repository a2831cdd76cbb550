"""Experiment configs: loading files, flattening, diffs."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from tracker.errors import InvalidConfig

MAX_CONFIG_BYTES = 1_000_000
MAX_PARAM_TEXT = 500
MAX_KEY_CHARS = 200
MAX_DEPTH = 50
# YAML aliases share one object many times, so a small file can expand to
# gigabytes (a "billion laughs" file); real configs use a handful.
MAX_YAML_ALIASES = 100


_FLOAT_TAG = "tag:yaml.org,2002:float"
# PyYAML follows YAML 1.1, where a float needs a dot and a signed exponent,
# so `lr: 3e-4` would load as the text "3e-4". This pattern adds the YAML 1.2
# core schema forms (3e-4, 1E5, -.5, 1.0e5) and keeps the 1.1 ones, such as
# 1_000.5 and 1:30.5. Every branch needs a dot or an exponent, so integers
# still reach the int resolver.
_FLOAT_PATTERN = re.compile(
    r"""^(?:[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+
        |[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
    re.VERBOSE,
)


class ConfigLoader(yaml.SafeLoader):
    """A SafeLoader that reads YAML 1.2 float forms such as 3e-4 as floats."""


# Copy the inherited resolvers without the YAML 1.1 float rule, then add the
# wider rule first for each character a float can start with.
ConfigLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _FLOAT_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
for _first in "-+0123456789.":
    ConfigLoader.yaml_implicit_resolvers.setdefault(_first, []).insert(
        0, (_FLOAT_TAG, _FLOAT_PATTERN)
    )


class _BoundedLoader(ConfigLoader):
    """A SafeLoader that rejects files with more than MAX_YAML_ALIASES."""

    aliases = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_YAML_ALIASES:
                raise yaml.YAMLError(
                    f"more than {MAX_YAML_ALIASES} aliases (*name); "
                    "write the values out"
                )
        return super().compose_node(parent, index)


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a JSON or YAML file whose top level is a mapping."""
    path = Path(path)
    try:
        with path.open("rb") as file:
            # Read one byte past the limit, so /dev/zero or a huge file is
            # rejected without reading it all.
            raw = file.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise InvalidConfig(
            f"Cannot read config file {str(path)!r}: {exc.strerror}."
        ) from exc
    if len(raw) > MAX_CONFIG_BYTES:
        raise InvalidConfig(
            f"Config file {str(path)!r} is {len(raw)} bytes; the limit is "
            f"{MAX_CONFIG_BYTES}. Log large files as artifacts instead."
        )
    try:
        text = raw.decode("utf-8")
        if path.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            data = yaml.load(text, Loader=_BoundedLoader)
    except RecursionError:
        raise InvalidConfig(
            f"Config file {str(path)!r} is nested too deeply; the limit is "
            f"{MAX_DEPTH} levels."
        ) from None
    except (UnicodeDecodeError, json.JSONDecodeError, yaml.YAMLError) as exc:
        raise InvalidConfig(
            f"Config file {str(path)!r} is not valid JSON or YAML: "
            f"{' '.join(str(exc).split())}"
        ) from exc
    return validate_config(data, source=str(path))


def validate_config(data: Any, *, source: str = "config") -> dict[str, Any]:
    if not isinstance(data, Mapping):
        raise InvalidConfig(
            f"The {source!r} top level is a {type(data).__name__}; it must be a "
            'mapping of names to values, e.g. {"lr": 0.001}.'
        )
    try:
        # A JSON round trip rejects values the database cannot store.
        encoded = json.dumps(data, allow_nan=False, default=_reject)
    except RecursionError:
        raise InvalidConfig(
            f"The {source!r} is nested too deeply; the limit is {MAX_DEPTH} levels."
        ) from None
    except (TypeError, ValueError) as exc:
        found = _find_non_finite(data)
        if found is not None:
            raise InvalidConfig(_non_finite_message(source, *found)) from exc
        raise InvalidConfig(f"The {source!r} cannot be stored: {exc}.") from exc
    if len(encoded) > MAX_CONFIG_BYTES:
        raise InvalidConfig(
            f"The {source!r} is {len(encoded)} bytes as JSON; the limit is "
            f"{MAX_CONFIG_BYTES}."
        )
    result: dict[str, Any] = json.loads(encoded)
    _check_keys(result, source)
    return result


def _check_keys(config: Mapping[str, Any], source: str) -> None:
    """Reject depth, key lengths and dotted keys that flattening would merge."""
    seen: set[str] = set()
    for key, _ in flatten(config):
        if key.count(".") >= MAX_DEPTH:
            raise InvalidConfig(
                f"The {source!r} is nested too deeply; the limit is {MAX_DEPTH} levels."
            )
        if len(key) > MAX_KEY_CHARS:
            raise InvalidConfig(
                f"The {source!r} key {key[:40]!r}... has {len(key)} characters as "
                f"a dotted path; the limit is {MAX_KEY_CHARS}."
            )
        if key in seen:
            raise InvalidConfig(
                f"The {source!r} has the key {key!r} twice once nested keys are "
                "joined with dots; rename one of them."
            )
        seen.add(key)


def _find_non_finite(value: Any, path: str = "") -> tuple[str, float] | None:
    """Return the path (`a.b[2]`) and value of the first NaN or infinity, if any."""
    if isinstance(value, float):
        return None if math.isfinite(value) else (path, value)
    if isinstance(value, Mapping):
        children = [
            (f"{path}.{key}" if path else str(key), item) for key, item in value.items()
        ]
    elif isinstance(value, list | tuple):
        children = [(f"{path}[{index}]", item) for index, item in enumerate(value)]
    else:
        return None
    for child_path, item in children:
        found = _find_non_finite(item, child_path)
        if found is not None:
            return found
    return None


def _non_finite_message(source: str, path: str, value: float) -> str:
    message = (
        f"The {source!r} key `{_shorten(path)}` is {value!r}, which cannot be stored "
        "because JSON has no NaN or infinity."
    )
    if math.isinf(value):
        # PyYAML and the json module read a number beyond the float range as inf.
        message += (
            " A number beyond the 64-bit float range, such as 1e400, is read as inf."
        )
    return message + " Use a finite number, or quote the value to keep it as text."


def _shorten(text: str, limit: int = 100) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _reject(value: Any) -> Any:
    raise TypeError(f"value {value!r} of type {type(value).__name__} is not JSON")


def flatten(config: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Yield (dotted key, leaf value) pairs; lists are leaves."""
    for key, value in config.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            yield from flatten(value, dotted + ".")
        else:
            yield dotted, value


def param_text(value: Any) -> str:
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif value is None:
        text = "null"
    elif isinstance(value, int | float):
        text = repr(value)
    else:
        text = json.dumps(value, sort_keys=True)
    return text[:MAX_PARAM_TEXT]


def param_number(value: Any) -> float | None:
    """Return the value as a number when it is one, or a string of one."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float | str):
        try:
            number = float(value)
        except (ValueError, OverflowError):
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def diff(configs: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Return {dotted key: {name: value}} for keys whose values differ.

    A key missing from one config counts as a difference, shown as None.
    """
    flat = {name: dict(flatten(config)) for name, config in configs.items()}
    keys = sorted({key for values in flat.values() for key in values})
    differences: dict[str, dict[str, Any]] = {}
    for key in keys:
        values = {name: values.get(key) for name, values in flat.items()}
        present = {json.dumps(v, sort_keys=True) for v in values.values()}
        if len(present) > 1:
            differences[key] = values
    return differences
