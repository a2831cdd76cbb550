"""Slack text: escaping echoes, parsing mentions, links and entities."""

from __future__ import annotations

import pytest

from bot.slack_text import (
    code,
    escape,
    group_mentions,
    mentioned_user_ids,
    parse_token,
    split_first,
    split_words,
    to_plain,
    unescape,
    unquote,
)

HANDLES = {"U0ALICE": "alice", "U0BOB": "bob"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a & b", "a &amp; b"),
        ("<!channel> hi", "&lt;!channel&gt; hi"),
        ("<@U0BOB>", "&lt;@U0BOB&gt;"),
        ("accuracy>0.9", "accuracy&gt;0.9"),
        ("&amp;", "&amp;amp;"),
    ],
)
def test_escape_defuses_markup(text: str, expected: str) -> None:
    assert escape(text) == expected


@pytest.mark.parametrize("text", ["a & b", "<x>", "&lt;", "&amp;lt;", "x > 1 < 2"])
def test_unescape_reverses_escape(text: str) -> None:
    assert unescape(escape(text)) == text


def test_code_cannot_be_closed_early() -> None:
    assert code("a`<!here>") == "`a'&lt;!here&gt;`"


@pytest.mark.parametrize(
    ("inner", "kind", "target", "label"),
    [
        ("@U0BOB|bob", "user", "U0BOB", "bob"),
        ("@U0BOB", "user", "U0BOB", ""),
        ("#C0MLTEAM|ml-team", "channel", "C0MLTEAM", "ml-team"),
        ("!here", "special", "here", ""),
        ("!subteam^S123|@ml", "special", "subteam^S123", "@ml"),
        ("https://example.com/x|the run", "link", "https://example.com/x", "the run"),
        ("mailto:bob@example.com|bob", "link", "mailto:bob@example.com", "bob"),
    ],
)
def test_parse_token_kinds(inner: str, kind: str, target: str, label: str) -> None:
    token = parse_token(inner)
    assert (token.kind, token.target, token.label) == (kind, target, label)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("share 3f2a9c <@U0BOB|bob> <@U0ALICE>", "share 3f2a9c @bob @alice"),
        ("search by:<@U0BOB|robert>", "search by:@bob"),
        (
            "note 3f2a9c see <https://wandb.ai/r/1|the curve>",
            "note 3f2a9c see https://wandb.ai/r/1",
        ),
        ("note x ping <!channel> and <!here>", "note x ping @channel and @here"),
        ("note x for <!subteam^S123|@ml-team>", "note x for @ml-team"),
        ("note x in <#C0MLTEAM|ml-team>", "note x in #ml-team"),
        ("search accuracy&gt;0.9 &amp; bleu&lt;30", "search accuracy>0.9 & bleu<30"),
        ("note x &amp;lt; stays", "note x &lt; stays"),
        ("note x at <!date^1700000000^{date}|Nov 14>", "note x at Nov 14"),
    ],
)
def test_to_plain_resolves_tokens(text: str, expected: str) -> None:
    assert to_plain(text, HANDLES.__getitem__) == expected


def test_to_plain_without_resolver_uses_label() -> None:
    assert to_plain("share x <@U0BOB|bob> <@U0CAROL>") == "share x @bob @U0CAROL"


def test_to_plain_then_escape_blocks_injection() -> None:
    plain = to_plain("note x &lt;!channel&gt;")
    assert plain == "note x <!channel>"
    assert "<!channel>" not in escape(plain)


def test_mentioned_user_ids_in_order() -> None:
    text = "share x <@U0BOB|bob> <#C1|c> <@U0ALICE> <@U0BOB>"
    assert mentioned_user_ids(text) == ["U0BOB", "U0ALICE"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('bert "learning rate" tag:nlp', ["bert", '"learning rate"', "tag:nlp"]),
        ("  a   b ", ["a", "b"]),
        ('"unclosed phrase', ['"unclosed phrase']),
        ("", []),
        ('summary team:"ml research" all', ["summary", 'team:"ml research"', "all"]),
        ("team:\u201cml research\u201d", ["team:\u201cml research\u201d"]),
        ('a:"x \\" y" b', ['a:"x \\" y"', "b"]),
        ("a\nb\tc", ["a", "b", "c"]),
        ("it\u2019s fine", ["it\u2019s", "fine"]),
    ],
)
def test_split_words_keeps_phrases(text: str, expected: list[str]) -> None:
    assert split_words(text) == expected


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ('team:"ml research"', "team:ml research"),
        ("\u201cml research\u201d", "ml research"),
        ('"say \\"hi\\""', 'say "hi"'),
        ('"back\\\\slash"', "back\\slash"),
        ('"kept \\n"', "kept \\n"),
        ("plain", "plain"),
    ],
)
def test_unquote_cases(word: str, expected: str) -> None:
    assert unquote(word) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("note abc\nfirst line", ("note", "abc\nfirst line")),
        ("  show\t3f2a9c ", ("show", "3f2a9c ")),
        ("help", ("help", "")),
        ("   ", ("", "")),
    ],
)
def test_split_first_at_any_whitespace(text: str, expected: tuple[str, str]) -> None:
    assert split_first(text) == expected


def test_group_mentions_finds_groups_only() -> None:
    text = (
        "share x <@U0BOB|bob> <!subteam^S0ML|@ml-team> <!here> <!channel> "
        "<!everyone> <#C0GENERAL|general> <!date^1700000000^{date}|Nov 14> "
        "<https://example.com|site>"
    )
    assert group_mentions(text) == [
        "@ml-team",
        "@here",
        "@channel",
        "@everyone",
        "#general",
    ]
