"""Bad input gets an error naming the value, and the database is unchanged."""

from __future__ import annotations

import math

import pytest
from sqlalchemy import func, select

from tracker import InvalidInput, InvalidQuery, models
from tracker.configs import load_config_file
from tracker.errors import InvalidConfig


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


def test_unwritable_home_names_folder(tmp_path):
    from tracker import Tracker
    from tracker.errors import StorageError

    blocker = tmp_path / "file"
    blocker.write_text("")

    with pytest.raises(StorageError, match="EXPBOT_HOME"):
        Tracker(f"sqlite:///{blocker / 'expbot.db'}")
