"""MLflow's side: the same workload through `MlflowClient` on SQLite.

One MLflow experiment per project, one run per expbot experiment. Team,
researcher and project are run tags, each workload tag is a tag with the
value `true`, and the config is the run's params. This is how a team
sharing one tracking database would lay out MLflow.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bench.questions import MLFLOW_STATUS, Question, epoch_ms
from bench.workload import STEPS, ExperimentSpec, organization

logger = logging.getLogger(__name__)

# Rows per INSERT statement during the bulk load.
_BULK_CHUNK = 500


class MlflowSide:
    name = "mlflow"

    def __init__(self, database_url: str, artifact_root: Path) -> None:
        from mlflow.tracking import MlflowClient

        self.database_url = database_url
        self.artifact_root = artifact_root
        self.client = MlflowClient(tracking_uri=database_url)
        self.experiment_ids: dict[str, str] = {}
        for project in organization().all_projects:
            self.experiment_ids[project] = self._experiment_id(project)

    def _experiment_id(self, project: str) -> str:
        found = self.client.get_experiment_by_name(project)
        if found is not None:
            return str(found.experiment_id)
        location = (self.artifact_root / project).as_uri()
        return str(self.client.create_experiment(project, artifact_location=location))

    def close(self) -> None:
        pass

    def write(
        self, spec: ExperimentSpec, *, history: bool = True, batched: bool = False
    ) -> None:
        """Record one run with the call pattern of a training script.

        The params go in the first step's `log_batch`, so the run takes the
        same number of calls as on expbot's side: create, one per step,
        end. With `batched`, one `log_batch` carries every step's metrics,
        as expbot's `log_metrics_batch` does.
        """
        from mlflow.entities import Param

        run = self.client.create_run(
            self.experiment_ids[spec.project],
            start_time=epoch_ms(spec.created),
            tags=_run_tags(spec),
            run_name=spec.name,
        )
        run_id = run.info.run_id
        params = [Param(key, str(value)) for key, value in spec.config.items()]
        if history and batched:
            metrics = [m for step in range(STEPS) for m in _metrics(spec, step)]
            self.client.log_batch(
                run_id, metrics=metrics, params=params, synchronous=True
            )
        else:
            steps = range(STEPS) if history else [STEPS - 1]
            for step in steps:
                self.client.log_batch(
                    run_id,
                    metrics=_metrics(spec, step),
                    params=params,
                    synchronous=True,
                )
                params = []
        if spec.ended is not None:
            self.client.set_terminated(
                run_id, MLFLOW_STATUS[spec.status], end_time=epoch_ms(spec.ended)
            )

    def bulk_load(self, specs: Iterable[ExperimentSpec]) -> None:
        """Insert runs straight into MLflow's tables, bypassing the client.

        Rows match what `create_run`, `log_batch` and `set_terminated`
        write, with the final step's metrics only, as on expbot's side for
        rows beyond the write-throughput sample.
        """
        from mlflow.store.tracking.dbmodels.models import (
            SqlLatestMetric,
            SqlMetric,
            SqlParam,
            SqlRun,
            SqlTag,
        )
        from sqlalchemy import create_engine, insert

        tables = [SqlRun, SqlTag, SqlParam, SqlMetric, SqlLatestMetric]
        batch: dict[Any, list[dict[str, Any]]] = {model: [] for model in tables}
        engine = create_engine(self.database_url)
        with engine.begin() as connection:
            for count, spec in enumerate(specs, start=1):
                for model, rows in _bulk_rows(spec, self).items():
                    batch[model].extend(rows)
                if count % _BULK_CHUNK == 0:
                    _flush(connection, batch, insert)
            _flush(connection, batch, insert)
        engine.dispose()

    def search(self, question: Question) -> list[str]:
        if question.mlflow_project is None:
            scope = list(self.experiment_ids.values())
        else:
            scope = [self.experiment_ids[question.mlflow_project]]
        runs = self.client.search_runs(
            scope,
            filter_string=question.mlflow_filter,
            order_by=list(question.mlflow_order_by) or None,
            max_results=question.limit,
        )
        return [run.info.run_name for run in runs]


def _run_tags(spec: ExperimentSpec) -> dict[str, str]:
    tags = {
        "mlflow.runName": spec.name,
        "team": spec.team,
        "researcher": spec.researcher,
        "project": spec.project,
    }
    if spec.description:
        tags["mlflow.note.content"] = spec.description
    tags.update({tag: "true" for tag in spec.tags})
    return tags


def _metrics(spec: ExperimentSpec, step: int) -> list[Any]:
    from mlflow.entities import Metric

    moment = epoch_ms(spec.step_time(step))
    return [
        Metric(key, value, moment, step) for key, value in spec.points[step].items()
    ]


def _bulk_rows(
    spec: ExperimentSpec, side: MlflowSide
) -> dict[Any, list[dict[str, Any]]]:
    from mlflow.store.tracking.dbmodels.models import (
        SqlLatestMetric,
        SqlMetric,
        SqlParam,
        SqlRun,
        SqlTag,
    )

    run_id = uuid.uuid4().hex
    experiment_id = side.experiment_ids[spec.project]
    ended = spec.ended
    run = {
        "run_uuid": run_id,
        "name": spec.name,
        "artifact_uri": (side.artifact_root / spec.project / run_id).as_uri(),
        "experiment_id": int(experiment_id),
        "source_type": "UNKNOWN",
        "source_name": "",
        "entry_point_name": "",
        "user_id": "unknown",
        "status": MLFLOW_STATUS[spec.status],
        "start_time": epoch_ms(spec.created),
        "end_time": None if ended is None else epoch_ms(ended),
        "source_version": "",
        "lifecycle_stage": "active",
    }
    tags = [
        {"key": k, "value": v, "run_uuid": run_id} for k, v in _run_tags(spec).items()
    ]
    params = [
        {"key": k, "value": str(v), "run_uuid": run_id} for k, v in spec.config.items()
    ]
    moment = epoch_ms(spec.step_time(STEPS - 1))
    metrics = [
        {
            "key": k,
            "value": v,
            "timestamp": moment,
            "step": STEPS - 1,
            "is_nan": False,
            "run_uuid": run_id,
        }
        for k, v in spec.final.items()
    ]
    return {
        SqlRun: [run],
        SqlTag: tags,
        SqlParam: params,
        SqlMetric: metrics,
        SqlLatestMetric: [dict(m) for m in metrics],
    }


def _flush(
    connection: Any, batch: dict[Any, list[dict[str, Any]]], insert: Any
) -> None:
    for model, rows in batch.items():
        if rows:
            connection.execute(insert(model.__table__), rows)
            rows.clear()
