"""The search language: a tokenizer and a recursive-descent parser to an AST.

The grammar, with AND binding tighter than OR:

    query    := or_expr? END
    or_expr  := and_expr ("OR" and_expr)*
    and_expr := unary (["AND"] unary)*     two adjacent terms are ANDed
    unary    := ("NOT" | "-") unary | primary
    primary  := "(" or_expr ")" | term

A term is a free word, a "quoted phrase", `field:value`, a metric
comparison `accuracy>0.9` or a config comparison `config.lr=0.001`.
`sort:KEY` terms order the results. They may appear anywhere outside
parentheses except as the operand of AND, OR or NOT. The keywords AND, OR
and NOT count only in upper case, so `and` is a free word.

`parse` raises `InvalidQuery` and nothing else, whatever the text. It
rejects what it cannot read exactly instead of guessing, because a guess
would return a plausible but wrong list of experiments.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from typing import Literal, NoReturn

from tracker.errors import InvalidQuery
from tracker.models import SOURCES, STATUSES

FIELDS = (
    "by", "id", "project", "since", "sort", "source", "status", "tag", "team",
    "until", "with",
)  # fmt: skip
BUILTIN_SORT_KEYS = ("created", "updated", "started", "ended", "name", "duration")
OPERATORS = ("=", "!=", "<", "<=", ">", ">=")
KEYWORDS = ("AND", "OR", "NOT")

# Limits that keep the parser's recursion and the generated SQL small.
# SQLite rejects expressions nested deeper than 1000 levels by default
# (SQLITE_MAX_EXPR_DEPTH), and a long AND chain nests one level per term.
MAX_TERMS = 100
MAX_DEPTH = 32
# 100 years: `now - delta` stays inside Python's datetime range.
MAX_RELATIVE_DAYS = 36525

OPEN_QUOTES = '"\u201c'
CLOSE_QUOTES = '"\u201d'
_SEPARATORS = "()" + OPEN_QUOTES
_ESCAPABLE = ("\\", '"', "\u201c", "\u201d")

METRIC_NAME = re.compile(r"[\w\-/.@]+")
NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_NON_FINITE = re.compile(r"[+-]?(?:nan|inf|infinity)", re.IGNORECASE)
_HEX_PREFIX = re.compile(r"[0-9a-f-]+")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(?::[0-9]{2})?"
    r"(?:Z|[+-][0-9]{2}:[0-9]{2})?"
)
_RELATIVE = re.compile(r"([0-9]{1,7})([hdw])")
_RELATIVE_UNIT_DAYS = {"h": 1 / 24, "d": 1, "w": 7}
_TIME_FORMS = (
    "a date YYYY-MM-DD, a time YYYY-MM-DDTHH:MM, a relative time like 12h, "
    "7d or 2w, or today or yesterday"
)


@dataclass(frozen=True)
class Text:
    """A free word or quoted phrase, lower-cased, matched as a substring."""

    value: str


@dataclass(frozen=True)
class Field:
    """`name:value` for a field other than since, until and sort."""

    name: str
    value: str


@dataclass(frozen=True)
class MetricCmp:
    """A comparison with the latest value of a metric."""

    name: str
    operator: str
    value: float


@dataclass(frozen=True)
class ConfigCmp:
    """A comparison with a config parameter: numeric for a float, else text."""

    key: str
    operator: str
    value: float | str


@dataclass(frozen=True)
class RelativeDay:
    """A calendar day counted back from today: 0 is today, 1 yesterday."""

    days_ago: int


TimePoint = dt.date | dt.datetime | dt.timedelta | RelativeDay


@dataclass(frozen=True)
class DateBound:
    """`since:` or `until:` on the creation time, with `value` as typed.

    `point` is a calendar day (`date` or `RelativeDay`), an instant
    (`datetime`, naive when the query gave no offset) or a time before now
    (`timedelta`).
    """

    bound: Literal["since", "until"]
    value: str
    point: TimePoint


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class And:
    operands: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    operands: tuple[Node, ...]


Node = Text | Field | MetricCmp | ConfigCmp | DateBound | Not | And | Or


@dataclass(frozen=True)
class SortKey:
    """One `sort:` term: a built-in key or a metric name.

    `reverse` is set by a leading `-`. It turns a built-in key from
    ascending to descending, and a metric from best first to worst first.
    """

    name: str
    reverse: bool = False

    @property
    def is_metric(self) -> bool:
        return self.name not in BUILTIN_SORT_KEYS

    def to_text(self) -> str:
        return f"sort:{'-' if self.reverse else ''}{self.name}"


@dataclass(frozen=True)
class Query:
    """A parsed query: the filter (None matches every experiment) and order."""

    where: Node | None = None
    sort: tuple[SortKey, ...] = ()

    def to_text(self) -> str:
        """Render the query in canonical form, which `parse` reads back equal."""
        parts = [] if self.where is None else [render(self.where)]
        parts.extend(key.to_text() for key in self.sort)
        return " ".join(parts)


def parse(text: str) -> Query:
    """Parse search text into a `Query`, raising `InvalidQuery` on any error."""
    return _Parser(text).parse()


# -- tokenizer ---------------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    """One token. `kind` is word, phrase, (, ), -, AND, OR, NOT or end.

    For a word, `text` is its unquoted part and `quoted` the quoted value
    glued to it, as in `tag:"deep learning"`. For a phrase, `text` is the
    content without the quotes.
    """

    kind: str
    position: int
    text: str = ""
    quoted: str | None = None
    quote_position: int = -1


def _tokenize(text: str) -> list[_Token]:
    _check_characters(text)
    tokens: list[_Token] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char.isspace():
            index += 1
        elif char in "()":
            tokens.append(_Token(char, index))
            index += 1
        elif char == "-":
            _check_term_follows(text, index)
            tokens.append(_Token("-", index))
            index += 1
        elif char in OPEN_QUOTES:
            value, end = _read_quoted(text, index)
            tokens.append(_Token("phrase", index, value))
            index = end
        else:
            token, index = _read_word(text, index)
            tokens.append(token)
    tokens.append(_Token("end", len(text)))
    return tokens


def _check_characters(text: str) -> None:
    # PostgreSQL rejects NUL in text, and lone surrogates cannot be encoded
    # as UTF-8, so such input would fail later as a database error.
    for index, char in enumerate(text):
        code = ord(char)
        if (code < 32 and char not in "\t\n\r\v\f") or code == 0x7F:
            raise InvalidQuery(
                text, index, f"printable text, not the control character U+{code:04X}"
            )
        if 0xD800 <= code <= 0xDFFF:
            raise InvalidQuery(text, index, "valid Unicode text")


def _check_term_follows(text: str, index: int) -> None:
    following = text[index + 1 : index + 2]
    if not following or following.isspace() or following == ")":
        raise InvalidQuery(
            text, index, "a term right after `-` (quote a lone `-` to search for it)"
        )


def _read_quoted(text: str, start: int) -> tuple[str, int]:
    """Read the quoted string at `start`, returning it and the index after it.

    A backslash escapes a quote or a backslash. Curly quotes count as
    quotes because some chat clients replace straight ones while typing.
    """
    characters: list[str] = []
    index = start + 1
    while index < len(text):
        char = text[index]
        if char == "\\" and text[index + 1 : index + 2] in _ESCAPABLE:
            characters.append(text[index + 1])
            index += 2
        elif char in CLOSE_QUOTES:
            _check_after_quote(text, index + 1)
            return "".join(characters), index + 1
        else:
            characters.append(char)
            index += 1
    raise InvalidQuery(text, start, 'a closing `"` for the quote opened here')


def _check_after_quote(text: str, index: int) -> None:
    if index < len(text) and not text[index].isspace() and text[index] != ")":
        raise InvalidQuery(text, index, "a space or `)` after the closing quote")


def _read_word(text: str, start: int) -> tuple[_Token, int]:
    index = start
    while (
        index < len(text)
        and not text[index].isspace()
        and text[index] not in _SEPARATORS
    ):
        index += 1
    bare = text[start:index]
    if index < len(text) and text[index] in OPEN_QUOTES:
        quoted, end = _read_quoted(text, index)
        return _Token("word", start, bare, quoted, index), end
    kind = bare if bare in KEYWORDS else "word"
    return _Token(kind, start, bare), index


def find_operator(word: str) -> tuple[int, str] | None:
    """Return the index and spelling of the first `:` or comparison operator."""
    for index, char in enumerate(word):
        pair = word[index : index + 2]
        if pair in ("<=", ">=", "!="):
            return index, pair
        if char in ":=<>":
            return index, char
    return None


# -- parser ------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.index = 0
        self.depth = 0
        self.terms = 0
        self.sort: list[SortKey] = []

    def peek(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def fail(self, position: int, expected: str) -> NoReturn:
        raise InvalidQuery(self.text, position, expected)

    def parse(self) -> Query:
        where = self.parse_or()
        token = self.peek()
        if token.kind == ")":
            self.fail(
                token.position, "a term or the end of the query (no `(` opens this `)`)"
            )
        return Query(where, tuple(self.sort))

    def parse_or(self) -> Node | None:
        first = self.parse_and()
        operands = [] if first is None else [first]
        while self.peek().kind == "OR":
            operator = self.advance()
            if not operands:
                self.fail(operator.position, "a term before OR")
            operand = self.parse_and()
            if operand is None:
                self.fail(self.peek().position, "a term after OR")
            operands.append(operand)
        return _combine(Or, operands)

    def parse_and(self) -> Node | None:
        operands: list[Node] = []
        while self.peek().kind not in ("end", ")", "OR"):
            token = self.peek()
            if token.kind == "AND":
                self.advance()
                if not operands:
                    self.fail(token.position, "a term before AND")
                operands.append(self.parse_unary("AND"))
            elif _is_sort_term(token):
                self.take_sort(token)
            else:
                operands.append(self.parse_unary(None))
        return _combine(And, operands)

    def parse_unary(self, after: str | None) -> Node:
        negations = 0
        while self.peek().kind in ("NOT", "-"):
            kind = self.advance().kind
            after = "NOT" if kind == "NOT" else "`-`"
            negations += 1
        node = self.parse_primary(after)
        for _ in range(negations):
            node = _negate(node)
        return node

    def parse_primary(self, after: str | None) -> Node:
        token = self.peek()
        if token.kind == "(":
            return self.parse_group()
        if token.kind not in ("word", "phrase"):
            self.fail(token.position, f"a term after {after}" if after else "a term")
        if _is_sort_term(token):
            self.fail(token.position, f"a search term after {after}, not `sort:`")
        self.advance()
        self.count_term(token)
        return _Term(self.text, token).node()

    def parse_group(self) -> Node:
        opening = self.advance()
        self.depth += 1
        if self.depth > MAX_DEPTH:
            self.fail(opening.position, f"at most {MAX_DEPTH} nested parentheses")
        inner = self.parse_or()
        closing = self.peek()
        if inner is None:
            self.fail(closing.position, "a term inside the parentheses")
        if closing.kind != ")":
            self.fail(
                closing.position,
                f"`)` to close the `(` at position {opening.position + 1}",
            )
        self.advance()
        self.depth -= 1
        return inner

    def take_sort(self, token: _Token) -> None:
        if self.depth > 0:
            self.fail(token.position, "a search term, not `sort:` inside parentheses")
        self.advance()
        self.count_term(token)
        node = _Term(self.text, token).sort_key()
        self.sort.append(node)

    def count_term(self, token: _Token) -> None:
        self.terms += 1
        if self.terms > MAX_TERMS:
            self.fail(token.position, f"at most {MAX_TERMS} terms in one query")


def _is_sort_term(token: _Token) -> bool:
    if token.kind != "word":
        return False
    found = find_operator(token.text)
    if found is None or found[1] != ":":
        return False
    return token.text[: found[0]].lower() == "sort"


def _starts_with_operator(value: str) -> bool:
    return value.startswith(("<", ">", "=", "!="))


def _combine(kind: type[And] | type[Or], operands: list[Node]) -> Node | None:
    """Join operands with AND or OR, flattening nested nodes of the same kind."""
    if not operands:
        return None
    if len(operands) == 1:
        return operands[0]
    flat: list[Node] = []
    for operand in operands:
        if isinstance(operand, kind):
            flat.extend(operand.operands)
        else:
            flat.append(operand)
    return kind(tuple(flat))


def _negate(node: Node) -> Node:
    return node.operand if isinstance(node, Not) else Not(node)


# -- terms -------------------------------------------------------------------


class _Term:
    """The reader of one word or phrase token: it checks the value and builds a node."""

    def __init__(self, text: str, token: _Token) -> None:
        self.text = text
        self.token = token

    def fail(self, position: int, expected: str) -> NoReturn:
        raise InvalidQuery(self.text, position, expected)

    def node(self) -> Node:
        token = self.token
        if token.kind == "phrase":
            if not token.text:
                self.fail(token.position, "text between the quotes")
            return Text(token.text.lower())
        found = find_operator(token.text)
        if found is None:
            if token.quoted is not None:
                self.fail(token.quote_position, "a space before the opening quote")
            return Text(token.text.lower())
        index, operator = found
        name, value, value_position = self.split(index, operator)
        if operator == ":":
            return self.field(name, value, value_position)
        return self.comparison(name, operator, value, value_position)

    def split(self, index: int, operator: str) -> tuple[str, str, int]:
        """Return the name, the value and the value's position in the query."""
        token = self.token
        name = token.text[:index]
        rest = token.text[index + len(operator) :]
        if token.quoted is None:
            return name, rest, token.position + index + len(operator)
        if rest:
            self.fail(token.quote_position, "a space before the opening quote")
        return name, token.quoted, token.quote_position

    def field(self, name: str, value: str, position: int) -> Node:
        field = name.lower()
        if field not in FIELDS:
            self.fail(
                self.token.position,
                f"a known field ({', '.join(FIELDS)}) before `:`, "
                'or quotes around text that contains ":"',
            )
        if not value:
            self.fail(position, f"a value after `{name}:`")
        if field in ("since", "until"):
            point = _parse_time(self.text, value, position)
            bound: Literal["since", "until"] = "since" if field == "since" else "until"
            return DateBound(bound, value, point)
        if field == "status":
            return Field(field, self.choice(value, STATUSES, "statuses", position))
        if field == "source":
            return Field(field, self.choice(value, SOURCES, "sources", position))
        if field == "id":
            prefix = value.lower()
            if not _HEX_PREFIX.fullmatch(prefix):
                self.fail(
                    position, "an experiment id prefix of hex digits, like 3f2a9c"
                )
            return Field(field, prefix)
        if field in ("by", "with") and value.startswith("@"):
            # People are written as mentions in Slack, and users type the
            # same `by:@alice` in the CLI.
            value = value[1:]
            if not value:
                self.fail(position + 1, f"a handle after `{name}:@`, like alice")
        return Field(field, value)

    def choice(
        self, value: str, choices: tuple[str, ...], noun: str, position: int
    ) -> str:
        normalized = value.lower()
        if normalized not in choices:
            self.fail(position, f"one of the {noun} {', '.join(choices)}")
        return normalized

    def comparison(
        self, name: str, operator: str, value: str, position: int
    ) -> MetricCmp | ConfigCmp:
        operator_position = self.token.position + len(name)
        if not name:
            expected = f"a metric name or config.KEY before `{operator}`"
            if operator_position > 0 and self.text[operator_position - 1].isspace():
                expected += f" with no space between them, e.g. `accuracy{operator}0.9`"
            self.fail(operator_position, expected)
        if self.token.quoted is None and _starts_with_operator(value):
            self.fail(
                operator_position,
                f"one of the operators {' '.join(OPERATORS)} followed by a value",
            )
        if name.lower().startswith("config."):
            return self.config(name[len("config.") :], operator, value, position)
        if not METRIC_NAME.fullmatch(name):
            self.fail(
                self.token.position,
                "a metric name of letters, digits and _ - / . @",
            )
        if not value:
            self.fail(position, f"a number after `{operator}`")
        return MetricCmp(name, operator, self.number(value, position))

    def config(self, key: str, operator: str, value: str, position: int) -> ConfigCmp:
        if not key:
            self.fail(self.token.position + len("config."), "a key after `config.`")
        if not value:
            self.fail(position, f"a value after `{operator}`")
        if self.token.quoted is None and (
            NUMBER.fullmatch(value) or _NON_FINITE.fullmatch(value)
        ):
            return ConfigCmp(key, operator, self.number(value, position))
        if operator not in ("=", "!="):
            self.fail(
                position,
                f"a number after `{operator}`, because text compares only with = or !=",
            )
        return ConfigCmp(key, operator, value)

    def number(self, value: str, position: int) -> float:
        if _NON_FINITE.fullmatch(value):
            self.fail(position, "a finite number, not NaN or infinity")
        if not NUMBER.fullmatch(value):
            self.fail(position, "a number like 0.9, -3 or 1e-4")
        number = float(value)
        if math.isinf(number):
            self.fail(position, "a finite number, small enough for a float")
        return number

    def sort_key(self) -> SortKey:
        index = self.token.text.index(":")
        _, value, position = self.split(index, ":")
        reverse = value.startswith("-")
        name = value[1:] if reverse else value
        if not name:
            self.fail(
                position + len(value),
                f"a sort key ({', '.join(BUILTIN_SORT_KEYS)}) or a metric name",
            )
        if name.lower() in BUILTIN_SORT_KEYS:
            return SortKey(name.lower(), reverse)
        if not METRIC_NAME.fullmatch(name):
            self.fail(
                position,
                f"a sort key ({', '.join(BUILTIN_SORT_KEYS)}) or a metric name "
                "of letters, digits and _ - / . @",
            )
        return SortKey(name, reverse)


def _parse_time(text: str, value: str, position: int) -> TimePoint:
    normalized = value.upper()
    if normalized in ("TODAY", "YESTERDAY"):
        return RelativeDay(0 if normalized == "TODAY" else 1)
    relative = _RELATIVE.fullmatch(value.lower())
    if relative is not None:
        return _parse_relative(text, relative, position)
    try:
        if _DATE.fullmatch(normalized):
            return dt.date.fromisoformat(normalized)
        if _DATETIME.fullmatch(normalized):
            return dt.datetime.fromisoformat(normalized)
    except ValueError:
        pass  # a well-formed but impossible date, like 2026-02-30
    raise InvalidQuery(text, position, f"{_TIME_FORMS} instead of `{value}`")


def _parse_relative(text: str, match: re.Match[str], position: int) -> dt.timedelta:
    amount, unit = int(match[1]), match[2]
    if amount * _RELATIVE_UNIT_DAYS[unit] > MAX_RELATIVE_DAYS:
        raise InvalidQuery(
            text, position, f"a relative time of at most {MAX_RELATIVE_DAYS}d"
        )
    if unit == "h":
        return dt.timedelta(hours=amount)
    if unit == "w":
        return dt.timedelta(weeks=amount)
    return dt.timedelta(days=amount)


# -- rendering ---------------------------------------------------------------


def render(node: Node) -> str:
    """Render a node as query text that parses back to an equal node."""
    if isinstance(node, Text):
        return node.value if _is_plain_word(node.value) else _quote(node.value)
    if isinstance(node, Field):
        return f"{node.name}:{_render_value(node.value)}"
    if isinstance(node, MetricCmp):
        return f"{node.name}{node.operator}{node.value!r}"
    if isinstance(node, ConfigCmp):
        return f"config.{node.key}{node.operator}{_render_config_value(node.value)}"
    if isinstance(node, DateBound):
        return f"{node.bound}:{node.value}"
    if isinstance(node, Not):
        return f"NOT {_render_operand(node.operand)}"
    if isinstance(node, And):
        return " ".join(_render_operand(operand) for operand in node.operands)
    return " OR ".join(render(operand) for operand in node.operands)


def _render_operand(node: Node) -> str:
    if isinstance(node, (And, Or)):
        return f"({render(node)})"
    return render(node)


def _is_plain_word(value: str) -> bool:
    return (
        _is_plain_value(value)
        and not value.startswith("-")
        and value not in KEYWORDS
        and find_operator(value) is None
    )


def _is_plain_value(value: str) -> bool:
    return bool(value) and not any(
        char.isspace() or char in _SEPARATORS or char in CLOSE_QUOTES for char in value
    )


def _render_value(value: str) -> str:
    return value if _is_plain_value(value) else _quote(value)


def _render_config_value(value: float | str) -> str:
    if isinstance(value, float):
        return repr(value)
    looks_special = (
        NUMBER.fullmatch(value)
        or _NON_FINITE.fullmatch(value)
        or _starts_with_operator(value)
    )
    return _quote(value) if looks_special else _render_value(value)


def _quote(value: str) -> str:
    escaped = "".join("\\" + char if char in _ESCAPABLE else char for char in value)
    return f'"{escaped}"'
