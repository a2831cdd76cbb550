"""A seeded, realistic workload: the experiments both trackers are given.

Everything derives from one `random.Random(seed)`, so the same seed and
size give the same experiments, names, metrics and times on every run and
on both sides. Experiments are spread over the 24 months before
`WORKLOAD_END` and come out sorted by creation time, as a team's history
would be written.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

WORKLOAD_END = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
WORKLOAD_START = WORKLOAD_END - dt.timedelta(days=730)
STEPS = 10
METRICS = ("accuracy", "val/loss", "bleu")

TEAMS = ("vision", "nlp", "speech", "robotics", "platform")
PROJECTS_PER_TEAM = 6
RESEARCHERS_PER_TEAM = 4
_PROJECT_WORDS = (
    "atlas",
    "beacon",
    "cobalt",
    "delta",
    "ember",
    "falcon",
    "garnet",
    "harbor",
    "indigo",
    "juniper",
    "kestrel",
    "lumen",
    "meridian",
    "nimbus",
    "onyx",
    "pylon",
    "quartz",
    "raven",
    "sable",
    "tundra",
    "umber",
    "vertex",
    "willow",
    "xenon",
    "yarrow",
    "zephyr",
    "aurora",
    "basalt",
    "cinder",
    "drift",
)
_PEOPLE = (
    "alice",
    "bob",
    "carol",
    "dave",
    "erin",
    "frank",
    "grace",
    "heidi",
    "ivan",
    "judy",
    "mallory",
    "niaj",
    "olivia",
    "peggy",
    "rupert",
    "sybil",
    "trent",
    "uma",
    "victor",
    "wendy",
)
TAG_VOCABULARY = (
    "baseline",
    "ablation",
    "sweep",
    "pretrain",
    "finetune",
    "lora",
    "fp16",
    "bf16",
    "augment",
    "curriculum",
    "ensemble",
    "distill",
    "quantized",
    "longrun",
    "smoke",
    "regression",
    "prod-candidate",
    "reproduce",
    "multilingual",
    "lowres",
)
# Words of experiment names. None is a substring of another word, so a
# free-text search for one word means the same on both sides.
_METHOD_WORDS = (
    "resnet",
    "vit",
    "conformer",
    "transformer",
    "mamba",
    "unet",
    "gpt",
    "bert",
    "whisper",
    "diffusion",
)
_ACTION_WORDS = (
    "warmup",
    "distillation",
    "pruning",
    "scaling",
    "tokenizer",
    "dropout",
    "schedule",
    "mixup",
    "contrastive",
    "retrieval",
)
_DESCRIPTIONS = (
    "Trained on 8 GPUs with a cosine learning rate.",
    "Rerun of last week's setup with a fixed seed.",
    "Checks whether the gain holds at a larger batch.",
    "Same recipe on the cleaned data split.",
    "",
)
_FAILURE_REASONS = (
    "CUDA out of memory",
    "NaN loss at step 4",
    "node preempted",
    "data loader timeout",
)
_STATUS_WEIGHTS = (
    ("completed", 70),
    ("failed", 15),
    ("cancelled", 5),
    ("running", 10),
)


@dataclass(frozen=True)
class ExperimentSpec:
    """One experiment as both trackers record it."""

    index: int
    name: str
    description: str
    team: str
    project: str
    researcher: str
    tags: tuple[str, ...]
    config: dict[str, Any]
    status: str
    reason: str
    created: dt.datetime
    duration: dt.timedelta
    # One mapping of metric name to value per step, STEPS of them.
    points: tuple[dict[str, float], ...]

    @property
    def final(self) -> dict[str, float]:
        return self.points[-1]

    def step_time(self, step: int) -> dt.datetime:
        return self.created + self.duration * (step + 1) / (STEPS + 1)

    @property
    def ended(self) -> dt.datetime | None:
        return None if self.status == "running" else self.created + self.duration


@dataclass(frozen=True)
class Organization:
    """Teams, their projects and researchers."""

    projects: dict[str, tuple[str, ...]]
    researchers: dict[str, tuple[str, ...]]

    @property
    def all_projects(self) -> list[str]:
        return [p for team in TEAMS for p in self.projects[team]]


def organization() -> Organization:
    projects = {}
    researchers = {}
    for number, team in enumerate(TEAMS):
        words = _PROJECT_WORDS[
            number * PROJECTS_PER_TEAM : (number + 1) * PROJECTS_PER_TEAM
        ]
        projects[team] = tuple(f"{team}-{word}" for word in words)
        people = _PEOPLE[
            number * RESEARCHERS_PER_TEAM : (number + 1) * RESEARCHERS_PER_TEAM
        ]
        researchers[team] = tuple(people)
    return Organization(projects, researchers)


def generate(size: int, seed: int = 7) -> list[ExperimentSpec]:
    """Return `size` experiments sorted by creation time."""
    rng = random.Random(seed)
    org = organization()
    span = (WORKLOAD_END - WORKLOAD_START).total_seconds()
    # Distinct whole seconds, so "newest first" has no ties on either side.
    offsets = sorted(rng.sample(range(int(span)), size))
    return [
        _experiment(rng, org, index, WORKLOAD_START + dt.timedelta(seconds=offset))
        for index, offset in enumerate(offsets)
    ]


def _experiment(
    rng: random.Random, org: Organization, index: int, created: dt.datetime
) -> ExperimentSpec:
    team = rng.choice(TEAMS)
    status = rng.choices(
        [s for s, _ in _STATUS_WEIGHTS], weights=[w for _, w in _STATUS_WEIGHTS]
    )[0]
    reason = rng.choice(_FAILURE_REASONS) if status == "failed" else ""
    if status == "cancelled":
        reason = "stopped by hand"
    name = " ".join(
        [
            rng.choice(_METHOD_WORDS),
            rng.choice(_ACTION_WORDS),
            rng.choice(("run", "trial", "try", "job")),
            f"{index:06d}",
        ]
    )
    return ExperimentSpec(
        index=index,
        name=name,
        description=rng.choice(_DESCRIPTIONS),
        team=team,
        project=rng.choice(org.projects[team]),
        researcher=rng.choice(org.researchers[team]),
        tags=tuple(sorted(rng.sample(TAG_VOCABULARY, rng.randint(3, 6)))),
        config=_config(rng),
        status=status,
        reason=reason,
        created=created,
        duration=dt.timedelta(minutes=rng.randint(5, 48 * 60)),
        points=tuple(_curve(rng)),
    )


def _config(rng: random.Random) -> dict[str, Any]:
    return {
        "lr": rng.choice((1e-5, 3e-5, 1e-4, 3e-4, 1e-3)),
        "batch_size": rng.choice((16, 32, 64, 128, 256)),
        "epochs": rng.randint(1, 50),
        "optimizer": rng.choice(("adamw", "sgd", "lion")),
        "model": rng.choice(_METHOD_WORDS),
        "dropout": round(rng.uniform(0.0, 0.5), 2),
        "warmup_steps": rng.choice((0, 500, 1000, 2000)),
        "seed": rng.randint(0, 9999),
    }


def _curve(rng: random.Random) -> Iterator[dict[str, float]]:
    """Yield STEPS points that improve towards a random final value."""
    accuracy = rng.uniform(0.55, 0.99)
    loss = rng.uniform(0.05, 1.5)
    bleu = rng.uniform(5.0, 45.0)
    for step in range(STEPS):
        progress = (step + 1) / STEPS
        noise = rng.uniform(-0.01, 0.01) if step < STEPS - 1 else 0.0
        yield {
            "accuracy": round(accuracy * (0.6 + 0.4 * progress) + noise, 6),
            "val/loss": round(loss * (2.0 - progress) + abs(noise), 6),
            "bleu": round(bleu * progress + noise, 6),
        }
