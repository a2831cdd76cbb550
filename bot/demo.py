"""A realistic month of a small ML team's experiments, for `expbot shell --demo`.

Four researchers on two teams run four projects. Each project has
baselines, a learning-rate sweep and a rerun of the sweep's best run.
Some runs fail (out of memory, NaN loss, preemption) or are cancelled,
some are shared and noted, two are private, and a few still run. Every
run logs its project's metric (`accuracy`, `bleu` or `wer`), `val/loss`
and `train/loss` over steps, so the examples in the README and in
`/exp help` find something.

The month ends now, and starts at least 10 days before this calendar
month began, so the last complete month (what `/exp report` shows) has
data too. The same seed gives the same names, configs, metrics and notes
(experiment ids are random UUIDs).
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from tracker import Tracker, people

DEFAULT_SEED = 7
DAYS = 30
# Days of the previous calendar month that the demo always covers.
PREVIOUS_MONTH_DAYS = 10
STEPS = 6
# Each researcher's team. The first researcher is the shell's default user.
RESEARCHERS = {"alice": "nlp", "bob": "nlp", "carol": "speech", "dan": "speech"}
FAILURE_REASONS = (
    "CUDA out of memory at step {step}: batch size {batch} is too large for A100-40GB",
    "loss became NaN at step {step}; lr {lr} is probably too high",
    "node preempted at step {step} (spot instance reclaimed)",
    "dataloader crashed at step {step}: corrupt shard train-00{shard}.tar",
)
# Notes that fit each outcome, so that no failed run is "the baseline".
NOTES = {
    "completed": (
        "looks like overfitting after epoch 3, try more dropout",
        "tokenizer mismatch with the eval set, numbers are not comparable",
        "matches the published numbers within noise",
    ),
    "failed": (
        "same failure on the previous attempt; retrying with a smaller batch",
        "restarted from the last checkpoint as a new run",
    ),
    "cancelled": ("stopped to free the GPUs for the warmup runs",),
    "running": ("loss still falling; will check again tomorrow",),
}
BASELINE_NOTE = "using this as the baseline for the paper table"
BEST_NOTE = "best learning rate of this sweep ({lr:g}); rerun with seed 2"


@dataclass(frozen=True)
class Project:
    name: str
    team: str
    model: str
    run_prefix: str  # the start of its runs' names
    metric: str  # the headline validation metric
    start: float  # its value before training
    end: float  # its value a good run reaches
    tags: tuple[str, ...] = ()


PROJECTS = (
    Project("mt", "nlp", "transformer-base", "transformer-mt", "bleu", 8.0, 31.0),
    Project("intent", "nlp", "bert-base", "bert-intent", "accuracy", 0.41, 0.93),
    Project("asr", "speech", "conformer-m", "conformer-asr", "wer", 0.45, 0.082),
    Project("kws", "speech", "ds-cnn", "dscnn-kws", "accuracy", 0.62, 0.965, ("edge",)),
)


@dataclass
class Clock:
    """A settable clock for the Tracker, so records get past timestamps."""

    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    def __call__(self) -> dt.datetime:
        return self.now


@dataclass(frozen=True)
class Plan:
    """One experiment to record: what it is and how it ends."""

    project: Project
    researcher: str
    name: str
    config: dict[str, object]
    quality: float  # 0..1, how close the run gets to the project's `end`
    start: dt.datetime
    hours: float
    outcome: str  # completed, failed, cancelled or running
    tags: tuple[str, ...]
    private: bool = False
    note: str = ""  # a note its researcher adds when it ends


def fill(tracker: Tracker, seed: int = DEFAULT_SEED) -> list[str]:
    """Record the demo month in `tracker`; return the new experiment ids.

    The tracker's clock must be a `Clock`, which this moves through the
    month and leaves at the real current time.
    """
    clock = tracker.clock
    if not isinstance(clock, Clock):
        raise TypeError("the demo needs a Tracker created with clock=demo.Clock()")
    rng = random.Random(seed)
    now = clock.now
    _add_people(tracker, clock, month_start(now))
    tracker.set_metric_direction("wer", "min", team="speech", goal=0.09)
    tracker.set_metric_direction("bleu", "max", team="nlp", goal=30.0)
    ids = [
        _record(tracker, clock, rng, plan, now)
        for plan in sorted(_plans(rng, now), key=lambda p: p.start)
    ]
    clock.now = now
    return ids


def month_start(now: dt.datetime) -> dt.datetime:
    """Return when the demo month starts, for a month that ends at `now`."""
    first_of_month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return min(
        now - dt.timedelta(days=DAYS),
        first_of_month - dt.timedelta(days=PREVIOUS_MONTH_DAYS),
    )


def _add_people(tracker: Tracker, clock: Clock, start: dt.datetime) -> None:
    clock.now = start - dt.timedelta(days=1)
    for number, (handle, team) in enumerate(RESEARCHERS.items(), start=1):
        people.link_slack_user(
            tracker,
            handle,
            f"U0DEMO{number:03d}",
            email=f"{handle}@example.com",
            display_name=handle.capitalize(),
            team=team,
        )


def _plans(rng: random.Random, now: dt.datetime) -> Iterator[Plan]:
    start = month_start(now)
    for project in PROJECTS:
        members = [h for h, team in RESEARCHERS.items() if team == project.team]
        yield from _baselines(rng, project, members, start, now)
        sweep = list(_sweep(rng, project, members, start, now))
        best = max(
            (plan for plan in sweep if plan.outcome == "completed"),
            key=lambda plan: plan.quality,
        )
        note = BEST_NOTE.format(lr=best.config["lr"])
        yield from (
            replace(plan, note=note) if plan is best else plan for plan in sweep
        )
        yield _rerun(rng, best, now)
    yield from _still_running(rng, now)


def _tags(project: Project, *extra: str) -> tuple[str, ...]:
    return (project.team, project.name, *project.tags, *extra)


def _baselines(
    rng: random.Random,
    project: Project,
    members: list[str],
    start: dt.datetime,
    now: dt.datetime,
) -> Iterator[Plan]:
    span = now - start
    for index in range(3):
        outcome = "failed" if index == 2 else "completed"
        yield Plan(
            project=project,
            researcher=members[index % len(members)],
            name=f"{project.run_prefix}-baseline-{index + 1}",
            config=_config(rng, project, lr=3e-4, batch=32 * (index + 1)),
            quality=rng.uniform(0.7, 0.85),
            start=start + span * rng.uniform(0, 0.2),
            hours=rng.uniform(4, 20),
            outcome=outcome,
            tags=_tags(project, "baseline"),
            note=BASELINE_NOTE if index == 0 else "",
        )


def _sweep(
    rng: random.Random,
    project: Project,
    members: list[str],
    start: dt.datetime,
    now: dt.datetime,
) -> Iterator[Plan]:
    begins = start + (now - start) * rng.uniform(0.3, 0.55)
    owner = rng.choice(members)
    for lr in (1e-4, 3e-4, 1e-3, 3e-3):
        for warmup in (0, 2000):
            quality = 0.9 - abs(math.log10(lr / 3e-4)) * 0.35 + warmup / 20000
            outcome = "completed"
            if lr >= 3e-3 and warmup == 0:
                outcome = "failed"
            elif rng.random() < 0.12:
                outcome = "cancelled"
            yield Plan(
                project=project,
                researcher=owner,
                name=f"{project.run_prefix}-sweep-lr{lr:g}-wu{warmup}",
                # A sweep varies the learning rate and warmup only.
                config=_config(
                    rng, project, lr=lr, batch=64, warmup=warmup, fixed=True
                ),
                quality=max(0.05, min(1.0, quality + rng.uniform(-0.05, 0.05))),
                start=begins + dt.timedelta(hours=rng.uniform(0, 30)),
                hours=rng.uniform(2, 10),
                outcome=outcome,
                tags=_tags(project, "sweep", f"lr-{lr:g}"),
                private=project.name == "intent" and lr == 1e-3,
            )


def _rerun(rng: random.Random, best: Plan, now: dt.datetime) -> Plan:
    """Plan the rerun of a sweep's best run with another seed, in the last week."""
    return Plan(
        project=best.project,
        researcher=best.researcher,
        name=f"{best.project.run_prefix}-best-seed2",
        config={**best.config, "seed": 2},
        quality=min(1.0, best.quality + 0.02),
        start=now - dt.timedelta(days=rng.uniform(2, 6)),
        hours=rng.uniform(4, 10),
        outcome="completed",
        tags=_tags(best.project, "rerun"),
        note="seed 2 confirms the sweep's best learning rate",
    )


def _still_running(rng: random.Random, now: dt.datetime) -> Iterator[Plan]:
    for project, researcher in zip(PROJECTS, RESEARCHERS, strict=True):
        yield Plan(
            project=project,
            researcher=researcher,
            name=f"{project.run_prefix}-long-run",
            config=_config(rng, project, lr=3e-4, batch=128, warmup=2000),
            quality=rng.uniform(0.5, 0.8),
            start=now - dt.timedelta(hours=rng.uniform(13, 40)),
            hours=0,
            outcome="running",
            tags=_tags(project, "long"),
        )


def _config(
    rng: random.Random,
    project: Project,
    *,
    lr: float,
    batch: int,
    warmup: int = 0,
    fixed: bool = False,
) -> dict[str, object]:
    return {
        "model": project.model,
        "lr": lr,
        "batch_size": batch,
        "warmup_steps": warmup,
        "optimizer": "adamw" if fixed else rng.choice(["adamw", "adafactor"]),
        "dropout": 0.1 if fixed else rng.choice([0.1, 0.2]),
        "seed": 1 if fixed else rng.randrange(1, 5),
    }


def _record(
    tracker: Tracker,
    clock: Clock,
    rng: random.Random,
    plan: Plan,
    now: dt.datetime,
) -> str:
    clock.now = plan.start
    record = tracker.track(
        plan.name,
        description=f"{plan.project.model} on {plan.project.name}",
        config=plan.config,
        tags=plan.tags,
        team=plan.project.team,
        project=plan.project.name,
        researcher=plan.researcher,
        visibility="private" if plan.private else "team",
        source=rng.choice(["cli", "api", "nemo_run"]),
        capture=False,
    )
    last_step = _log_curve(tracker, clock, rng, plan, record.id, now)
    _collaborate(tracker, rng, plan, record.id)
    _finish(tracker, clock, rng, plan, record.id, last_step)
    return record.id


def _log_curve(
    tracker: Tracker,
    clock: Clock,
    rng: random.Random,
    plan: Plan,
    experiment_id: str,
    now: dt.datetime,
) -> int:
    """Log the losses and the project's metric per 1000 steps; return the last step."""
    steps = STEPS if plan.outcome != "failed" else rng.randint(2, STEPS - 2)
    hours = plan.hours or (now - plan.start).total_seconds() / 3600
    if plan.outcome == "running":
        steps = max(2, min(STEPS - 1, int(hours / 6)))
    project = plan.project
    target = project.start + (project.end - project.start) * plan.quality
    step = 0
    for index in range(1, steps + 1):
        progress = index / STEPS
        clock.now = plan.start + dt.timedelta(hours=hours * min(1.0, progress))
        if clock.now > now:
            break
        shape = (1 - math.exp(-3 * progress)) / (1 - math.exp(-3))
        value = project.start + (target - project.start) * min(1.0, shape)
        loss = 4.0 * math.exp(-2 * progress) * (1.1 - 0.3 * plan.quality)
        step = index * 1000
        tracker.log_metrics(
            experiment_id,
            {
                project.metric: round(value * rng.uniform(0.99, 1.01), 4),
                "val/loss": round(loss * rng.uniform(1.05, 1.15), 4),
                "train/loss": round(loss * rng.uniform(0.97, 1.03), 4),
            },
            step=step,
        )
    return step


def _collaborate(
    tracker: Tracker, rng: random.Random, plan: Plan, experiment_id: str
) -> None:
    teammates = [
        h
        for h, team in RESEARCHERS.items()
        if team == plan.project.team and h != plan.researcher
    ]
    notes = NOTES[plan.outcome]
    if teammates and rng.random() < 0.3:
        collaborator = rng.choice(teammates)
        tracker.share(experiment_id, [collaborator], actor=plan.researcher)
        if rng.random() < 0.6:
            tracker.add_note(experiment_id, rng.choice(notes), author=collaborator)
    if plan.note:
        tracker.add_note(experiment_id, plan.note, author=plan.researcher)
    elif rng.random() < 0.3:
        tracker.add_note(experiment_id, rng.choice(notes), author=plan.researcher)


def _finish(
    tracker: Tracker,
    clock: Clock,
    rng: random.Random,
    plan: Plan,
    experiment_id: str,
    last_step: int,
) -> None:
    clock.now = plan.start + dt.timedelta(hours=plan.hours)
    if plan.outcome == "completed":
        tracker.complete(
            experiment_id,
            artifacts=[f"s3://ml-team/checkpoints/{plan.name}/final.pt"],
        )
    elif plan.outcome == "failed":
        reason = rng.choice(FAILURE_REASONS).format(
            step=last_step + rng.randrange(1, 999),
            batch=plan.config.get("batch_size"),
            lr=plan.config.get("lr"),
            shard=rng.randrange(10, 99),
        )
        tracker.fail(experiment_id, reason)
    elif plan.outcome == "cancelled":
        tracker.cancel(experiment_id, "superseded by the warmup runs of this sweep")
