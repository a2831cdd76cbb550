"""Block Kit views of experiments, lists, dashboards and modals.

Every builder returns `slack_sdk.models.blocks` objects within Slack's
limits (50 blocks a message, 100 a view, 3000 characters a section, 150 a
header, 2000 a button value) and escapes user text for mrkdwn.
"""

from bot.views.blocks import (
    ACTION_ADD_NOTE,
    ACTION_MORE,
    ACTION_SHARE,
    ACTION_SHOW,
    ACTION_SHOW_CONFIG,
    CALLBACK_INFO,
    CALLBACK_NOTE,
    CALLBACK_SHARE,
    BlockLimitError,
    check_blocks,
    escape,
    paginate,
)
from bot.views.cards import experiment_card, experiment_row
from bot.views.compare import comparison_blocks
from bot.views.home import home_view
from bot.views.leaderboard import leaderboard_blocks
from bot.views.lists import (
    SEARCH_PAGE_SIZE,
    MatchCount,
    PageRequest,
    more_value,
    parse_more_value,
    search_results,
)
from bot.views.modals import (
    card_modal,
    config_blocks,
    config_modal,
    loading_modal,
    message_modal,
    note_modal,
    read_metadata,
    share_modal,
)
from bot.views.render_text import render_text
from bot.views.summary import summary_blocks

__all__ = [
    "ACTION_ADD_NOTE",
    "ACTION_MORE",
    "ACTION_SHARE",
    "ACTION_SHOW",
    "ACTION_SHOW_CONFIG",
    "CALLBACK_INFO",
    "CALLBACK_NOTE",
    "CALLBACK_SHARE",
    "SEARCH_PAGE_SIZE",
    "BlockLimitError",
    "MatchCount",
    "PageRequest",
    "card_modal",
    "check_blocks",
    "comparison_blocks",
    "config_blocks",
    "config_modal",
    "escape",
    "experiment_card",
    "experiment_row",
    "home_view",
    "leaderboard_blocks",
    "loading_modal",
    "message_modal",
    "more_value",
    "note_modal",
    "paginate",
    "parse_more_value",
    "read_metadata",
    "render_text",
    "search_results",
    "share_modal",
    "summary_blocks",
]
