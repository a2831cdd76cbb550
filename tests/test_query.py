"""Parser tests for the search language: tables of valid and invalid text."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracker.errors import InvalidQuery
from tracker.query import (
    MAX_DEPTH,
    MAX_TERMS,
    And,
    ConfigCmp,
    DateBound,
    Field,
    MetricCmp,
    Not,
    Or,
    Query,
    RelativeDay,
    SortKey,
    Text,
    parse,
)

a, b, c = Text("a"), Text("b"), Text("c")

VALID = [
    ("", Query()),
    ("  \t\n ", Query()),
    ("Hello", Query(Text("hello"))),
    ("and", Query(Text("and"))),
    ("or not", Query(And((Text("or"), Text("not"))))),
    ('"Machine Translation"', Query(Text("machine translation"))),
    ("\u201ccurly quotes\u201d", Query(Text("curly quotes"))),
    (r'"say \"hi\" \\ back"', Query(Text('say "hi" \\ back'))),
    ('"a\\b"', Query(Text("a\\b"))),
    ("state-of-the-art", Query(Text("state-of-the-art"))),
    ("wow!", Query(Text("wow!"))),
    ("val/loss", Query(Text("val/loss"))),
    ("a b", Query(And((a, b)))),
    ("a AND b", Query(And((a, b)))),
    ("a OR b c", Query(Or((a, And((b, c)))))),
    ("a b OR c", Query(Or((And((a, b)), c)))),
    ("a AND b OR c", Query(Or((And((a, b)), c)))),
    ("(a OR b) c", Query(And((Or((a, b)), c)))),
    ("(a b) c", Query(And((a, b, c)))),
    ("a OR (b OR c)", Query(Or((a, b, c)))),
    ("(((a)))", Query(a)),
    ("NOT a", Query(Not(a))),
    ("-a", Query(Not(a))),
    ("NOT -a", Query(a)),
    ("--a", Query(a)),
    ("a NOT b", Query(And((a, Not(b))))),
    ("NOT (a b)", Query(Not(And((a, b))))),
    ("-(a OR b)", Query(Not(Or((a, b))))),
    ('-"a b"', Query(Not(Text("a b")))),
    ("tag:nlp", Query(Field("tag", "nlp"))),
    ("TAG:nlp", Query(Field("tag", "nlp"))),
    ("tag:a:b", Query(Field("tag", "a:b"))),
    ('tag:"deep learning"', Query(Field("tag", "deep learning"))),
    ("-tag:nlp", Query(Not(Field("tag", "nlp")))),
    ("status:Completed", Query(Field("status", "completed"))),
    ("source:nemo_run", Query(Field("source", "nemo_run"))),
    ("team:nlp project:mt", Query(And((Field("team", "nlp"), Field("project", "mt"))))),
    ('project:"machine translation"', Query(Field("project", "machine translation"))),
    ("by:alice with:bob", Query(And((Field("by", "alice"), Field("with", "bob"))))),
    ("by:@alice with:@bob", Query(And((Field("by", "alice"), Field("with", "bob"))))),
    ('by:"@alice"', Query(Field("by", "alice"))),
    ("tag:@home", Query(Field("tag", "@home"))),
    ("id:3F2A9C", Query(Field("id", "3f2a9c"))),
    ("id:3f2a9c00-", Query(Field("id", "3f2a9c00-"))),
    ("accuracy>0.9", Query(MetricCmp("accuracy", ">", 0.9))),
    ("val/loss<=0.3", Query(MetricCmp("val/loss", "<=", 0.3))),
    ("bleu!=0", Query(MetricCmp("bleu", "!=", 0.0))),
    ("loss>=-1e-3", Query(MetricCmp("loss", ">=", -0.001))),
    ("acc=5", Query(MetricCmp("acc", "=", 5.0))),
    ("acc<.5", Query(MetricCmp("acc", "<", 0.5))),
    ("top-1@k.v2>3", Query(MetricCmp("top-1@k.v2", ">", 3.0))),
    ('acc>"0.5"', Query(MetricCmp("acc", ">", 0.5))),
    ("AND>3", Query(MetricCmp("AND", ">", 3.0))),
    ("config.lr=0.001", Query(ConfigCmp("lr", "=", 0.001))),
    ("config.model=transformer", Query(ConfigCmp("model", "=", "transformer"))),
    ("config.optimizer.name=adam", Query(ConfigCmp("optimizer.name", "=", "adam"))),
    ('config.seed="42"', Query(ConfigCmp("seed", "=", "42"))),
    ("config.path=s3://b/x", Query(ConfigCmp("path", "=", "s3://b/x"))),
    ("config.layers>=12", Query(ConfigCmp("layers", ">=", 12.0))),
    ("Config.lr!=1", Query(ConfigCmp("lr", "!=", 1.0))),
    (
        "since:2026-11-01",
        Query(DateBound("since", "2026-11-01", dt.date(2026, 11, 1))),
    ),
    (
        "until:2026-11-30",
        Query(DateBound("until", "2026-11-30", dt.date(2026, 11, 30))),
    ),
    (
        "since:2026-11-01T10:30",
        Query(DateBound("since", "2026-11-01T10:30", dt.datetime(2026, 11, 1, 10, 30))),
    ),
    (
        "since:2026-11-01T10:30Z",
        Query(
            DateBound(
                "since",
                "2026-11-01T10:30Z",
                dt.datetime(2026, 11, 1, 10, 30, tzinfo=dt.UTC),
            )
        ),
    ),
    ("since:7d", Query(DateBound("since", "7d", dt.timedelta(days=7)))),
    ("since:12h", Query(DateBound("since", "12h", dt.timedelta(hours=12)))),
    ("since:2w", Query(DateBound("since", "2w", dt.timedelta(weeks=2)))),
    ("since:today", Query(DateBound("since", "today", RelativeDay(0)))),
    ("until:Yesterday", Query(DateBound("until", "Yesterday", RelativeDay(1)))),
    ("sort:accuracy", Query(None, (SortKey("accuracy"),))),
    ("sort:-created", Query(None, (SortKey("created", reverse=True),))),
    ("sort:Name", Query(None, (SortKey("name"),))),
    ('sort:"-val/loss"', Query(None, (SortKey("val/loss", reverse=True),))),
    (
        "tag:x sort:acc sort:-created",
        Query(Field("tag", "x"), (SortKey("acc"), SortKey("created", True))),
    ),
    ("a sort:x b", Query(And((a, b)), (SortKey("x"),))),
    ("a OR sort:x b", Query(Or((a, b)), (SortKey("x"),))),
]


@pytest.mark.parametrize(("text", "expected"), VALID, ids=[v[0] for v in VALID])
def test_parse_valid_query(text: str, expected: Query) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(("text", "expected"), VALID, ids=[v[0] for v in VALID])
def test_to_text_round_trips(text: str, expected: Query) -> None:
    assert parse(expected.to_text()) == expected


CANONICAL = [
    ("a  AND   b", "a b"),
    ("-a", "NOT a"),
    ("(a b) OR c", "a b OR c"),
    ("(a OR b) c", "(a OR b) c"),
    ("NOT (a OR b)", "NOT (a OR b)"),
    ("Tag:NLP", "tag:NLP"),
    ('"AND"', "and"),
    ('"a:b"', '"a:b"'),
    ('"-x"', '"-x"'),
    ("project:'mt'", "project:'mt'"),
    ('project:"machine translation"', 'project:"machine translation"'),
    ("config.seed=42", "config.seed=42.0"),
    ('config.seed="42"', 'config.seed="42"'),
    ('config.op=">x"', 'config.op=">x"'),
    ("sort:-accuracy tag:x", "tag:x sort:-accuracy"),
    ("accuracy>1e-05", "accuracy>1e-05"),
]


@pytest.mark.parametrize(("text", "expected"), CANONICAL)
def test_to_text_canonical_form(text: str, expected: str) -> None:
    assert parse(text).to_text() == expected


INVALID = [
    ("a AND", 5, "a term after AND"),
    ("AND a", 0, "a term before AND"),
    ("OR b", 0, "a term before OR"),
    ("a OR", 4, "a term after OR"),
    ("a OR OR b", 5, "a term after OR"),
    ("a AND OR b", 6, "a term after AND"),
    ("a AND AND b", 6, "a term after AND"),
    ("NOT", 3, "a term after NOT"),
    ("by:@", 4, "a handle after `by:@`"),
    ("x with:@", 8, "a handle after `with:@`"),
    ("a NOT", 5, "a term after NOT"),
    ("NOT )", 4, "a term after NOT"),
    ("(a", 2, "`)` to close the `(` at position 1"),
    ("a (b (c)", 8, "`)` to close the `(` at position 3"),
    ("a)", 1, "no `(` opens this `)`"),
    ("(a OR b))", 8, "no `(` opens this `)`"),
    ("()", 1, "a term inside the parentheses"),
    ("(", 1, "a term inside the parentheses"),
    ("tag:", 4, "a value after `tag:`"),
    ('tag:""', 4, "a value after `tag:`"),
    ("since:", 6, "a value after `since:`"),
    ("colour:red", 0, "a known field (by, id, project, since, sort"),
    (":red", 0, "a known field"),
    ("http://x", 0, "a known field"),
    ("accuracy>>1", 8, "one of the operators = != < <= > >="),
    ("accuracy=>1", 8, "one of the operators"),
    ("accuracy==1", 8, "one of the operators"),
    ("accuracy<>1", 8, "one of the operators"),
    ("acc!=!=1", 3, "one of the operators"),
    ("accuracy>", 9, "a number after `>`"),
    ("accuracy>high", 9, "a number like 0.9"),
    ("a=b", 2, "a number like 0.9"),
    ("accuracy>nan", 9, "a finite number, not NaN"),
    ("accuracy>-Infinity", 9, "a finite number, not NaN"),
    ("accuracy>inf", 9, "a finite number, not NaN"),
    ("accuracy>1e999", 9, "a finite number, small enough"),
    (">0.9", 0, "a metric name or config.KEY before `>`"),
    ("accuracy > 0.9", 9, "before `>` with no space between them, e.g. `accuracy>0.9`"),
    ("acc$>1", 0, "a metric name of letters"),
    ("config.lr>NaN", 10, "a finite number"),
    ("config.model<abc", 13, "text compares only with = or !="),
    ('config.n>="5"', 10, "text compares only with = or !="),
    ("config.=1", 7, "a key after `config.`"),
    ("config.x=", 9, "a value after `=`"),
    ('"unterminated', 0, 'a closing `"`'),
    ('a tag:"open', 6, 'a closing `"`'),
    (r'"escaped end\"', 0, 'a closing `"`'),
    ('"a"b', 3, "a space or `)` after the closing quote"),
    ('tag:"a"(', 7, "a space or `)` after the closing quote"),
    ('abc"def"', 3, "a space before the opening quote"),
    ('tag:x"y"', 5, "a space before the opening quote"),
    ('""', 0, "text between the quotes"),
    ("status:done", 7, "one of the statuses running, completed, failed, cancelled"),
    ("source:web", 7, "one of the sources cli, api, nemo_run, slack"),
    ("id:xyz", 3, "an experiment id prefix of hex digits"),
    ("since:2026-13-01", 6, "a date YYYY-MM-DD"),
    ("since:2026-02-30", 6, "instead of `2026-02-30`"),
    ("until:last-week", 6, "a relative time like 12h, 7d or 2w"),
    ("since:7m", 6, "a relative time like 12h"),
    ("since:99999d", 6, "a relative time of at most 36525d"),
    ("since:123456789d", 6, "a date YYYY-MM-DD"),
    ("sort:", 5, "a sort key (created, updated, started, ended, name"),
    ("sort:-", 6, "a sort key"),
    ("sort:acc$", 5, "a metric name of letters"),
    ("(sort:x)", 1, "not `sort:` inside parentheses"),
    ("a AND sort:x", 6, "a search term after AND, not `sort:`"),
    ("NOT sort:x", 4, "a search term after NOT, not `sort:`"),
    ("-sort:x", 1, "a search term after `-`, not `sort:`"),
    ("sort:x OR a", 7, "a term before OR"),
    ("a -", 2, "a term right after `-`"),
    ("-", 0, "a term right after `-`"),
    ("(a -)", 3, "a term right after `-`"),
    ("a\x00", 1, "not the control character U+0000"),
    ("tag:\x1b[31m", 4, "not the control character U+001B"),
    ("\ud800", 0, "valid Unicode text"),
    (
        "(" * (MAX_DEPTH + 1) + "a" + ")" * (MAX_DEPTH + 1),
        MAX_DEPTH,
        f"at most {MAX_DEPTH} nested parentheses",
    ),
    (" ".join(["a"] * (MAX_TERMS + 1)), 2 * MAX_TERMS, f"at most {MAX_TERMS} terms"),
]


@pytest.mark.parametrize(
    ("text", "position", "expected"), INVALID, ids=[repr(v[0])[:40] for v in INVALID]
)
def test_parse_invalid_query(text: str, position: int, expected: str) -> None:
    with pytest.raises(InvalidQuery) as caught:
        parse(text)

    assert caught.value.position == position
    assert expected in caught.value.expected
    assert caught.value.text == text


def test_invalid_query_message_names_position() -> None:
    with pytest.raises(InvalidQuery) as caught:
        parse("tag:nlp colour:red")

    assert "position 9 (`colour:red`)" in str(caught.value)


def test_invalid_date_message_names_value() -> None:
    with pytest.raises(InvalidQuery) as caught:
        parse("since:2026-13-01")

    assert "`2026-13-01`" in str(caught.value)
    assert "YYYY-MM-DD" in str(caught.value)


def test_lowercase_keywords_are_words() -> None:
    assert parse("a and b") == Query(And((a, Text("and"), b)))


def test_sort_key_is_metric_flag() -> None:
    assert SortKey("accuracy").is_metric
    assert not SortKey("created").is_metric


# -- properties --------------------------------------------------------------

PIECES = [
    "AND", "OR", "NOT", "and", "-", "(", ")", '"', "\u201c", "\u201d", "\\",
    ":", "tag:", "tag:nlp", "status:", "status:running", "status:x", "id:3f2a",
    "id:", "by:alice", "with:", "source:cli", "team:", "project:", "colour:",
    "config.", "config.lr", "config.model", "=", "!=", "<", "<=", ">", ">=", ">>",
    "!", "accuracy", "val/loss", "0.9", "-1e-3", "1e999", "nan", "inf", "42",
    "since:", "since:7d", "since:2026-11-01", "until:2026-11-30", "until:today",
    "sort:", "sort:-", "sort:accuracy", "sort:-created", '"a b"', "x", "-x",
    "@", "/", ".", "é", "\t", "\n", "\x00", "\u00a0",
]  # fmt: skip

token_soup = st.lists(
    st.tuples(st.sampled_from(PIECES), st.sampled_from(["", " ", "  "])),
    max_size=12,
).map(lambda parts: "".join(piece + gap for piece, gap in parts))


@settings(max_examples=300)
@given(st.text(max_size=60))
def test_random_text_raises_only_invalid_query(text: str) -> None:
    try:
        parse(text)
    except InvalidQuery as error:
        assert 0 <= error.position <= len(text)


@settings(max_examples=500)
@given(token_soup)
def test_token_soup_raises_only_invalid_query(text: str) -> None:
    try:
        parse(text)
    except InvalidQuery as error:
        assert 0 <= error.position <= len(text)


@settings(max_examples=500)
@given(st.one_of(token_soup, st.text(max_size=40)))
def test_parsed_query_round_trips(text: str) -> None:
    try:
        query = parse(text)
    except InvalidQuery:
        return

    assert parse(query.to_text()) == query
