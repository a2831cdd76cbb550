"""`/exp show`, `share`, `note` and `tag`: one experiment at a time."""

from __future__ import annotations

from bot.commands.arguments import handle_word, one_id, slack_ids, words
from bot.commands.base import ID_HINT, CommandContext, Reply, UsageError, command
from bot.slack_text import escape, split_first
from bot.views import experiment_card
from bot.views.blocks import mention, section
from tracker.records import ExperimentRecord

SHOW_DETAILS = f"""\
Shows an experiment's card: status, key metrics, tags, config summary, \
owner, collaborators and the latest note, with buttons to share it, add a \
note or see the whole config.
{ID_HINT}
Example: `/exp show ID`"""

SHARE_DETAILS = f"""\
Adds collaborators to an experiment. Collaborators see it even when it is \
private, and may change it (share, note, tag). Sharing does not change the \
experiment's status. Only its researcher, its collaborators and admins may \
share it.
{ID_HINT}
Examples:
• `/exp share ID @bob`
• `/exp share ID @bob @carol`"""

NOTE_DETAILS = f"""\
Adds a note to an experiment, shown on its card and found by free-text \
search. Channels subscribed to `noted` events hear about it.
{ID_HINT}
Examples:
• `/exp note ID lr warmup fixed the early divergence`
• `/exp note ID rerun with seed 2 before trusting this`"""

TAG_DETAILS = f"""\
Adds (`+tag`, or a bare word) and removes (`-tag`) tags. Tags are letters, \
digits and `. _ - + / :` with no spaces; search them with `tag:NAME`.
{ID_HINT}
Examples:
• `/exp tag ID +baseline +nlp`
• `/exp tag ID -wip`
• `/exp tag ID best -draft`"""


@command(
    "show",
    usage="show ID",
    summary="show an experiment's card",
    details=SHOW_DETAILS,
)
def show(ctx: CommandContext, args: str) -> Reply:
    items = words(args)
    identifier = one_id(items)
    if len(items) > 1:
        raise UsageError(f"`show` takes one id, got {len(items)} words.")
    record = ctx.tracker.get(identifier, viewer=ctx.viewer)
    return card_reply(ctx, record)


def card_reply(ctx: CommandContext, record: ExperimentRecord, intro: str = "") -> Reply:
    """Reply with the experiment's card, headed by `intro` (mrkdwn) if given."""
    can_change = not ctx.public and (
        ctx.is_admin or record.can_be_changed_by(ctx.handle)
    )
    blocks = experiment_card(
        record,
        can_change=can_change,
        direction_of=ctx.tracker.directions(record.team),
        slack_ids=slack_ids(ctx, [record.researcher, *record.collaborators]),
    )
    if intro:
        blocks.insert(0, section(intro))
    text = intro or f"{escape(record.name)} (`{record.short_id}`) is {record.status}"
    return Reply(text=text, blocks=blocks)


@command(
    "share",
    usage="share ID @user...",
    summary="add collaborators to an experiment",
    details=SHARE_DETAILS,
    changes_data=True,
)
def share(ctx: CommandContext, args: str) -> Reply:
    items = words(args)
    identifier = one_id(items)
    if ctx.group_mentions:
        raise UsageError(
            f"Cannot share with {', '.join(ctx.group_mentions)}: share with "
            "people, not groups or channels. Name each person, e.g. `@bob @carol`."
        )
    handles = [handle_word(item) for item in items[1:]]
    if not handles:
        raise UsageError("Name at least one person to share with, e.g. `@bob`.")
    before = ctx.tracker.get(identifier, viewer=ctx.viewer)
    record = ctx.tracker.share(
        before.id, handles, actor=ctx.handle, as_admin=ctx.is_admin
    )
    ids = slack_ids(ctx, handles)
    added = [h for h in record.collaborators if h not in before.collaborators]
    name = f"*{escape(record.name)}* (`{record.short_id}`)"
    if not added:
        present = ", ".join(mention(h, ids) for h in dict.fromkeys(handles))
        return Reply(text=f"{present} can already see and change {name}.")
    recipients = ", ".join(mention(h, ids) for h in added)
    return Reply(text=f":handshake: Shared {name} with {recipients}.")


@command(
    "note",
    usage="note ID TEXT",
    summary="add a note to an experiment",
    details=NOTE_DETAILS,
    changes_data=True,
)
def note(ctx: CommandContext, args: str) -> Reply:
    identifier, text = split_first(args)
    if not identifier:
        one_id([])
    if not text.strip():
        raise UsageError("The note is empty: write its text after the id.")
    record = ctx.tracker.add_note(
        identifier, text, author=ctx.handle, as_admin=ctx.is_admin
    )
    quoted = "\n".join(f">{line}" for line in escape(text.strip()).splitlines())
    name = f"*{escape(record.name)}* (`{record.short_id}`)"
    return Reply(text=f":memo: Added a note to {name}:\n{quoted}")


@command(
    "tag",
    usage="tag ID +a -b",
    summary="add or remove an experiment's tags",
    details=TAG_DETAILS,
    changes_data=True,
)
def tag(ctx: CommandContext, args: str) -> Reply:
    items = words(args)
    identifier = one_id(items)
    add, remove = tag_changes(items[1:])
    record = ctx.tracker.tag(
        identifier, add=add, remove=remove, actor=ctx.handle, as_admin=ctx.is_admin
    )
    tag_list = " ".join(f"`{escape(t)}`" for t in record.tags) or "none"
    name = f"*{escape(record.name)}* (`{record.short_id}`)"
    return Reply(text=f":label: Tags of {name}: {tag_list}")


def tag_changes(items: list[str]) -> tuple[list[str], list[str]]:
    """Split `+a -b c` into tags to add (a, c) and to remove (b)."""
    if not items:
        raise UsageError("Give tags to change: `+tag` adds, `-tag` removes.")
    add: list[str] = []
    remove: list[str] = []
    for item in items:
        if item.startswith("-"):
            remove.append(item[1:])
        else:
            add.append(item.removeprefix("+"))
    return add, remove
