"""Train a tiny logistic regression as a NeMo Run task tracked by expbot.

    pip install 'expbot[nemo]'
    python examples/nemo_train.py --lr 0.5 --epochs 60

The launch is recorded as an expbot experiment with source nemo_run. The
task logs its loss and accuracy through `current()` every few epochs, and
the experiment is completed or failed when the task ends. Find it afterwards
with `expbot search source:nemo_run` or `/exp search source:nemo_run`.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import nemo_run as run
import numpy as np

from tracker import Tracker
from tracker.nemo import current, tracked_experiment

LOG_EVERY = 5


def make_data(samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two overlapping Gaussian blobs in 2D, labelled 0 and 1."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, samples)
    centres = np.where(labels[:, None] == 1, 1.0, -1.0)
    features = centres + rng.normal(scale=1.2, size=(samples, 2))
    return features, labels.astype(float)


def loss_and_accuracy(
    weights: np.ndarray, bias: float, features: np.ndarray, labels: np.ndarray
) -> tuple[float, float]:
    probabilities = 1.0 / (1.0 + np.exp(-(features @ weights + bias)))
    eps = 1e-12
    loss = -np.mean(
        labels * np.log(probabilities + eps)
        + (1 - labels) * np.log(1 - probabilities + eps)
    )
    accuracy = np.mean((probabilities > 0.5) == (labels == 1))
    return float(loss), float(accuracy)


def train(lr: float = 0.5, epochs: int = 60, samples: int = 2000, seed: int = 0):
    """Fit logistic regression by gradient descent; runs inside the NeMo Run task."""
    experiment = current()
    features, labels = make_data(samples, seed)
    split = int(0.8 * samples)
    train_x, train_y = features[:split], labels[:split]
    val_x, val_y = features[split:], labels[split:]
    weights, bias = np.zeros(2), 0.0

    for epoch in range(1, epochs + 1):
        probabilities = 1.0 / (1.0 + np.exp(-(train_x @ weights + bias)))
        error = probabilities - train_y
        weights -= lr * train_x.T @ error / split
        bias -= lr * float(np.mean(error))
        if epoch % LOG_EVERY == 0 or epoch == epochs:
            loss, accuracy = loss_and_accuracy(weights, bias, train_x, train_y)
            val_loss, val_accuracy = loss_and_accuracy(weights, bias, val_x, val_y)
            metrics = {
                "loss": loss,
                "accuracy": accuracy,
                "val_loss": val_loss,
                "val_accuracy": val_accuracy,
            }
            experiment.log_metrics(metrics, step=epoch)
            print(
                f"epoch {epoch}: "
                + ", ".join(f"{k}={v:.4f}" for k, v in metrics.items())
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lr", type=float, default=0.5, help="learning rate")
    parser.add_argument("--epochs", type=int, default=60, help="training epochs")
    parser.add_argument("--title", default="logreg-demo", help="experiment name")
    args = parser.parse_args()

    # NeMo Run starts a Partial task as `python -m ...` looked up on PATH, so
    # put this interpreter (the one with nemo_run and expbot) first.
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    executor = run.LocalExecutor(env_vars={"PATH": path})
    tracker = Tracker()
    with tracked_experiment(
        args.title,
        tracker=tracker,
        executor=executor,
        project="examples",
        tags=["example", "numpy"],
        log_level="WARNING",
    ) as exp:
        exp.add(run.Partial(train, lr=args.lr, epochs=args.epochs), name="train")
        exp.run()

    record = tracker.get(exp.experiment_id)
    print(f"\nexpbot experiment {record.short_id} ({record.name}) is {record.status}")
    for key, value in sorted(record.metrics.items()):
        print(f"  {key} = {value:.4f}")
    if record.reason:
        print(f"  reason: {record.reason}")
    tracker.close()


# NeMo Run runs a copy of this file inside the task to find `train`, so the
# launch must only happen when the file is run as a script.
if __name__ == "__main__":
    main()
