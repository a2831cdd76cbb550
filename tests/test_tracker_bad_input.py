"""Bad input gets an error naming the value, and the database is unchanged."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import pytest
from sqlalchemy import func, select

from tracker import InvalidInput, InvalidQuery, models, validation
from tracker.configs import load_config_file
from tracker.errors import InvalidConfig
from tracker.validation import MAX_METRIC_NAME_CHARS


def table_counts(tracker):
    tables = (
        models.Experiment,
        models.Event,
        models.MetricPoint,
        models.MetricSummary,
        models.Note,
        models.Tag,
        models.ConfigVersion,
        models.Collaborator,
    )
    with tracker.db.read() as session:
        return {
            t.__tablename__: session.scalar(select(func.count()).select_from(t))
            for t in tables
        }


@pytest.fixture
def running(tracker):
    return tracker.track("run", researcher="alice", config={"lr": 1})


@pytest.mark.parametrize(
    ("metrics", "named"),
    [
        ({"accuracy": "high"}, "'high'"),
        ({"accuracy": math.nan}, "nan"),
        ({"accuracy": math.inf}, "inf"),
        ({"accuracy": True}, "True"),
        ({"accuracy": Decimal("NaN")}, "NaN"),
        ({"accuracy": Decimal("-Infinity")}, "Infinity"),
        ({"accuracy": Decimal("sNaN")}, "sNaN"),
        ({"accuracy": 1j}, "1j"),
        ({"ok": 1.0, "bad": None}, "None"),
        ({"9lives": 1.0}, "9lives"),
    ],
)
def test_bad_metric_changes_nothing(tracker, running, metrics, named):
    before = table_counts(tracker)

    with pytest.raises(InvalidInput, match=named):
        tracker.log_metrics(running.id, metrics)

    assert table_counts(tracker) == before


def test_bad_metric_on_complete_keeps_running(tracker, running):
    with pytest.raises(InvalidInput, match="not finite"):
        tracker.complete(running.id, {"loss": math.nan})

    assert tracker.get(running.id).status == "running"


@pytest.mark.parametrize("name", ["", "   ", "x" * 201])
def test_bad_name_rejected(tracker, name):
    before = table_counts(tracker)

    with pytest.raises(InvalidInput, match="name"):
        tracker.track(name, researcher="alice")

    assert table_counts(tracker) == before


def test_huge_note_rejected(tracker, running):
    before = table_counts(tracker)
    text = "x" * 10_000_000

    with pytest.raises(InvalidInput, match="10000000 characters"):
        tracker.add_note(running.id, text)

    assert table_counts(tracker) == before


@pytest.mark.parametrize("tag", ["has space", "", "x" * 65])
def test_bad_tag_rejected(tracker, running, tag):
    with pytest.raises(InvalidInput, match="tag"):
        tracker.tag(running.id, add=[tag])

    assert tracker.get(running.id).tags == ()


def test_config_not_mapping_rejected(tracker):
    with pytest.raises(InvalidConfig, match="list"):
        tracker.track("run", researcher="alice", config=[1, 2])


def test_config_file_not_yaml(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("lr: [unclosed\n")

    with pytest.raises(InvalidConfig, match="config.yaml"):
        load_config_file(path)


def test_config_file_scalar_rejected(tmp_path):
    path = tmp_path / "config.json"
    path.write_text("42")

    with pytest.raises(InvalidConfig, match="int"):
        load_config_file(path)


def test_config_file_missing(tmp_path):
    with pytest.raises(InvalidConfig, match="nope.json"):
        load_config_file(tmp_path / "nope.json")


@pytest.mark.parametrize(
    "query", ["(tag:nlp", "tag:nlp)", "tag:nlp AND", "OR tag:x", "since:yesterdayish"]
)
def test_bad_query_names_position(tracker, query):
    with pytest.raises(InvalidQuery) as caught:
        tracker.search(query)

    assert 0 <= caught.value.position <= len(query)
    assert "position" in str(caught.value)


def test_unsupported_database_hides_password():
    from tracker import Tracker

    with pytest.raises(InvalidInput, match="Unsupported database 'mysql'") as caught:
        Tracker("mysql://user:hunter2@db/expbot")

    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    ("url", "suggested"),
    [
        (
            "postgresql+psycopg2://user:hunter2@db:5432/expbot",
            "'postgresql+psycopg://user:***@db:5432/expbot'",
        ),
        ("postgresql+asyncpg://db/expbot", "'postgresql+psycopg://db/expbot'"),
        ("sqlite+pysqlcipher:////tmp/expbot.db", "'sqlite:////tmp/expbot.db'"),
    ],
)
def test_other_driver_names_supported_url(url, suggested):
    from tracker import Tracker

    with pytest.raises(InvalidInput, match="Unsupported database driver") as caught:
        Tracker(url)

    assert f"Use {suggested}." in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_unwritable_home_names_folder(tmp_path):
    from tracker import Tracker
    from tracker.errors import StorageError

    blocker = tmp_path / "file"
    blocker.write_text("")

    with pytest.raises(StorageError, match="EXPBOT_HOME"):
        Tracker(f"sqlite:///{blocker / 'expbot.db'}")


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("name", "innocent\x1b]0;pwned\x07", "control character"),
        ("name", "nul\x00name", "control character"),
        ("description", "bell\x07", "control character"),
        ("name", "caf\udce9", "not valid Unicode"),
    ],
)
def test_control_characters_rejected(tracker, field, value, named):
    before = table_counts(tracker)
    options = {"name": "ok", field: value}

    with pytest.raises(InvalidInput, match=named):
        tracker.track(researcher="alice", **options)

    assert table_counts(tracker) == before


def test_note_keeps_newlines(tracker, running):
    noted = tracker.add_note(running.id, "line one\n\tline two")

    assert noted.notes[-1].text == "line one\n\tline two"


def test_huge_integer_metric_rejected(tracker, running):
    with pytest.raises(InvalidInput, match="too large"):
        tracker.log_metrics(running.id, {"x": 10**400})


@pytest.mark.parametrize("value", [Decimal("1e400"), Fraction(10**400, 3)])
def test_huge_exact_metric_rejected(tracker, running, value):
    before = table_counts(tracker)

    with pytest.raises(InvalidInput, match="too large for a 64-bit float"):
        tracker.log_metrics(running.id, {"x": value})

    assert table_counts(tracker) == before


def test_exact_number_metrics_stored(tracker, running):
    metrics = {"loss": Decimal("0.5"), "accuracy": Fraction(3, 4), "step_time": 2}

    tracker.log_metrics(running.id, metrics, step=1)

    stored = tracker.get(running.id).metrics
    assert stored == {"loss": 0.5, "accuracy": 0.75, "step_time": 2.0}
    assert all(type(value) is float for value in stored.values())


def test_decimal_metric_messages_unchanged():
    with pytest.raises(InvalidInput) as not_finite:
        validation.metric_value("loss", Decimal("NaN"))
    with pytest.raises(InvalidInput) as not_number:
        validation.metric_value("loss", True)

    assert str(not_finite.value) == (
        "Metric `loss` value Decimal('NaN') is not finite; NaN and infinity "
        "cannot be compared, so log them as a note or fail the run."
    )
    assert str(not_number.value) == (
        "Metric `loss` value True is not a number; log numbers only, "
        "e.g. accuracy=0.91."
    )


def test_too_many_metrics_rejected(tracker, running):
    metrics = {f"m{i}": 1.0 for i in range(1001)}

    with pytest.raises(InvalidInput, match="1001 metrics"):
        tracker.log_metrics(running.id, metrics)


def test_large_step_stored(tracker, running):
    tracker.log_metrics(running.id, {"loss": 0.5}, step=3_000_000_000)

    assert tracker.metric_history(running.id)[0].step == 3_000_000_000


def test_step_past_64_bits_names_the_largest(tracker, running):
    tracker.log_metrics(running.id, {"loss": 0.5}, step=2**63 - 1)
    before = table_counts(tracker)
    with pytest.raises(InvalidInput, match=str(2**63 - 1)):
        tracker.log_metrics(running.id, {"loss": 0.4}, step=2**63)
    assert table_counts(tracker) == before


@pytest.mark.parametrize(
    ("config", "named"),
    [
        ({"a.b": 1, "a": {"b": 2}}, "'a.b' twice"),
        ({"k" * 250: 1}, "250 characters"),
        ({"n": 10**400}, None),
    ],
)
def test_config_edge_cases(tracker, config, named):
    if named is None:
        record = tracker.track("big", researcher="alice", config=config)
        assert record.config == config
        return
    with pytest.raises(InvalidConfig, match=named):
        tracker.track("run", researcher="alice", config=config)


def test_deep_config_rejected(tracker):
    config: dict = {}
    inner = config
    for _ in range(5000):
        inner["x"] = {}
        inner = inner["x"]

    with pytest.raises(InvalidConfig, match="nested too deeply"):
        tracker.track("deep", researcher="alice", config=config)


def test_yaml_alias_bomb_rejected(tmp_path):
    lines = ['a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for level in range(1, 12):
        previous = chr(ord("a") + level - 1)
        name = chr(ord("a") + level)
        refs = ", ".join(f"*{previous}" for _ in range(10))
        lines.append(f"{name}: &{name} [{refs}]")
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines))

    with pytest.raises(InvalidConfig, match="aliases"):
        load_config_file(path)


def test_endless_config_file_rejected():
    with pytest.raises(InvalidConfig, match="limit is"):
        load_config_file("/dev/zero")


def test_lone_string_is_one_collaborator(tracker, running):
    shared = tracker.share(running.id, "bob")

    assert shared.collaborators == ("bob",)


def test_naive_start_rejected(tracker):
    import datetime as dt

    with pytest.raises(InvalidInput, match="no time zone"):
        tracker.track("run", researcher="alice", started_at=dt.datetime(2026, 1, 1))


def test_parallel_direction_settings(database_url):
    from concurrent.futures import ThreadPoolExecutor

    from tracker import Tracker

    tracker = Tracker(database_url)
    with ThreadPoolExecutor(8) as pool:
        results = list(
            pool.map(
                lambda i: tracker.set_metric_direction("newmetric", "min", goal=i),
                range(8),
            )
        )

    assert len(results) == 8
    assert tracker.directions()("newmetric") == "min"
    tracker.close()


@pytest.mark.parametrize("steps", [None, 5, 2.5])
def test_batch_that_is_not_a_list_rejected(tracker, running, steps):
    before = table_counts(tracker)
    with pytest.raises(InvalidInput, match="list of \\(step, metrics\\) pairs"):
        tracker.log_metrics_batch(running.id, steps)
    assert table_counts(tracker) == before


@pytest.mark.parametrize("identifier", [12345678, None, b"12345678", 1.5])
def test_id_that_is_not_text_rejected(tracker, running, identifier):
    before = table_counts(tracker)
    with pytest.raises(InvalidInput, match=repr(identifier).replace(".", "\\.")):
        tracker.log_metrics(identifier, {"loss": 0.5})
    assert table_counts(tracker) == before


def test_metric_name_at_the_length_limit(tracker, running):
    longest = "m" * MAX_METRIC_NAME_CHARS
    tracker.log_metrics(running.id, {longest: 1.0})
    assert tracker.get(running.id).metrics[longest] == 1.0

    before = table_counts(tracker)
    with pytest.raises(InvalidInput, match=f"at most {MAX_METRIC_NAME_CHARS}"):
        tracker.log_metrics(running.id, {longest + "m": 1.0})
    assert table_counts(tracker) == before


@pytest.mark.parametrize("limit", [math.inf, "ten", None])
def test_search_page_that_is_not_a_number_rejected(tracker, running, limit):
    with pytest.raises(InvalidInput, match="Invalid page"):
        tracker.search("", limit=limit)
    with pytest.raises(InvalidInput, match="Invalid page"):
        tracker.search("", offset=limit)


@pytest.mark.parametrize("limit", [math.inf, "ten", None])
def test_leaderboard_limit_that_is_not_a_number_rejected(tracker, running, limit):
    with pytest.raises(InvalidInput, match="Invalid leaderboard limit"):
        tracker.leaderboard("loss", limit=limit)


@pytest.mark.postgres
def test_missing_postgres_database_says_create(postgres_server):
    from tracker import Tracker
    from tracker.errors import StorageError

    url = postgres_server.rsplit("/", 1)[0] + "/expbot_no_such_database"

    with pytest.raises(StorageError) as caught:
        Tracker(url)

    assert 'database "expbot_no_such_database" does not exist' in str(caught.value)
    assert "`createdb expbot_no_such_database`" in str(caught.value)


def test_refused_connection_says_check_server():
    from tracker import Tracker
    from tracker.errors import StorageError

    # Port 1 on loopback: nothing listens there, so the connection is refused.
    with pytest.raises(StorageError) as caught:
        Tracker("postgresql+psycopg://postgres@127.0.0.1:1/expbot")

    assert "Check that the server is running" in str(caught.value)
