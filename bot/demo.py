"""A realistic month of a small ML team's experiments, for `expbot shell --demo`.

Four researchers on two teams run four projects: learning-rate sweeps,
baselines, runs that fail (out of memory, NaN loss, preemption) or are
cancelled, shared runs with notes, a private experiment, and a few still
running. Metrics are logged over steps with noise, so leaderboards,
comparisons and summaries have something to show. The same seed gives the
same names, configs, metrics and times (experiment ids are random UUIDs).
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field

from tracker import Tracker, people

DEFAULT_SEED = 7
DAYS = 30
STEPS = 8
# Each researcher's team. The first researcher is the shell's default user.
RESEARCHERS = {"alice": "nlp", "bob": "nlp", "carol": "speech", "dan": "speech"}
FAILURE_REASONS = (
    "CUDA out of memory at step {step}: batch size {batch} is too large for A100-40GB",
    "loss became NaN at step {step}; lr {lr} is probably too high",
    "node preempted at step {step} (spot instance reclaimed)",
    "dataloader crashed at step {step}: corrupt shard train-00{shard}.tar",
)
NOTES = (
    "warmup of 2k steps fixed the early divergence",
    "best so far; rerun with seed 2 before trusting it",
    "tokenizer mismatch with the eval set, numbers are not comparable",
    "looks like overfitting after epoch 3, try more dropout",
    "using this as the baseline for the paper table",
)


@dataclass(frozen=True)
class Project:
    name: str
    team: str
    model: str
    metric: str  # the headline validation metric
    start: float  # its value before training
    end: float  # its value a good run reaches
    tags: tuple[str, ...] = ()


PROJECTS = (
    Project("mt-transformer", "nlp", "transformer-base", "bleu", 8.0, 31.0, ("mt",)),
    Project("llm-finetune", "nlp", "llama-7b-lora", "accuracy", 0.41, 0.78, ("llm",)),
    Project("asr-conformer", "speech", "conformer-m", "wer", 0.45, 0.082, ("asr",)),
    Project("kws-tiny", "speech", "ds-cnn", "accuracy", 0.62, 0.955, ("kws", "edge")),
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


def fill(tracker: Tracker, seed: int = DEFAULT_SEED) -> list[str]:
    """Record the demo month in `tracker`; return the new experiment ids.

    The tracker's clock must be a `Clock`, which this moves through the
    month and leaves at the real current time.
    """
    clock = tracker.clock
    if not isinstance(clock, Clock):
        raise TypeError("the demo needs a Tracker created with clock=demo.Clock()")
    rng = random.Random(seed)
    end_of_month = clock.now
    _add_people(tracker, clock, end_of_month)
    tracker.set_metric_direction("wer", "min", team="speech", goal=0.09)
    tracker.set_metric_direction("bleu", "max", team="nlp", goal=30.0)
    ids = [
        _record(tracker, clock, rng, plan, end_of_month)
        for plan in sorted(_plans(rng, end_of_month), key=lambda p: p.start)
    ]
    clock.now = end_of_month
    return ids


def _add_people(tracker: Tracker, clock: Clock, now: dt.datetime) -> None:
    clock.now = now - dt.timedelta(days=DAYS + 1)
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
    month_start = now - dt.timedelta(days=DAYS)
    for project in PROJECTS:
        members = [h for h, team in RESEARCHERS.items() if team == project.team]
        yield from _baselines(rng, project, members, month_start)
        yield from _sweep(rng, project, members, month_start)
    yield from _still_running(rng, now)


def _baselines(
    rng: random.Random, project: Project, members: list[str], month_start: dt.datetime
) -> Iterator[Plan]:
    for index in range(3):
        start = month_start + dt.timedelta(days=rng.uniform(0, 8))
        outcome = "failed" if index == 2 else "completed"
        yield Plan(
            project=project,
            researcher=members[index % len(members)],
            name=f"{project.name}-baseline-{index + 1}",
            config=_config(rng, project, lr=3e-4, batch=32 * (index + 1)),
            quality=rng.uniform(0.7, 0.85),
            start=start,
            hours=rng.uniform(4, 20),
            outcome=outcome,
            tags=(*project.tags, "baseline"),
        )


def _sweep(
    rng: random.Random, project: Project, members: list[str], month_start: dt.datetime
) -> Iterator[Plan]:
    day = rng.uniform(9, 20)
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
                name=f"{project.name}-sweep-lr{lr:g}-wu{warmup}",
                config=_config(rng, project, lr=lr, batch=64, warmup=warmup),
                quality=max(0.05, min(1.0, quality + rng.uniform(-0.05, 0.05))),
                start=month_start + dt.timedelta(days=day, hours=rng.uniform(0, 30)),
                hours=rng.uniform(2, 10),
                outcome=outcome,
                tags=(*project.tags, "sweep", f"lr-{lr:g}"),
                private=project.name == "llm-finetune" and lr == 1e-3,
            )


def _still_running(rng: random.Random, now: dt.datetime) -> Iterator[Plan]:
    for project, researcher in zip(PROJECTS, RESEARCHERS, strict=True):
        yield Plan(
            project=project,
            researcher=researcher,
            name=f"{project.name}-long-run",
            config=_config(rng, project, lr=3e-4, batch=128, warmup=2000),
            quality=rng.uniform(0.5, 0.8),
            start=now - dt.timedelta(hours=rng.uniform(3, 40)),
            hours=0,
            outcome="running",
            tags=(*project.tags, "long"),
        )


def _config(
    rng: random.Random, project: Project, *, lr: float, batch: int, warmup: int = 0
) -> dict[str, object]:
    return {
        "model": project.model,
        "lr": lr,
        "batch_size": batch,
        "warmup_steps": warmup,
        "optimizer": rng.choice(["adamw", "adamw", "adafactor"]),
        "dropout": rng.choice([0.1, 0.1, 0.2]),
        "seed": rng.randrange(1, 5),
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
    _collaborate(tracker, clock, rng, plan, record.id)
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
    """Log loss and the project's metric every 1000 steps; return the last step."""
    steps = STEPS if plan.outcome != "failed" else rng.randint(2, STEPS - 2)
    hours = plan.hours or (now - plan.start).total_seconds() / 3600
    if plan.outcome == "running":
        steps = max(2, int(hours / 6))
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
                f"val/{project.metric}": round(value * rng.uniform(0.99, 1.01), 4),
                "train/loss": round(loss * rng.uniform(0.97, 1.03), 4),
            },
            step=step,
        )
    return step


def _collaborate(
    tracker: Tracker, clock: Clock, rng: random.Random, plan: Plan, experiment_id: str
) -> None:
    teammates = [
        h
        for h, team in RESEARCHERS.items()
        if team == plan.project.team and h != plan.researcher
    ]
    if teammates and rng.random() < 0.3:
        collaborator = rng.choice(teammates)
        tracker.share(experiment_id, [collaborator], actor=plan.researcher)
        if rng.random() < 0.6:
            tracker.add_note(experiment_id, rng.choice(NOTES), author=collaborator)
    if rng.random() < 0.3:
        tracker.add_note(experiment_id, rng.choice(NOTES), author=plan.researcher)


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
        final = tracker.get(experiment_id).metrics
        metric = f"val/{plan.project.metric}"
        test_value = round(final.get(metric, 0.0) * rng.uniform(0.97, 1.0), 4)
        tracker.complete(
            experiment_id,
            {f"test/{plan.project.metric}": test_value},
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
