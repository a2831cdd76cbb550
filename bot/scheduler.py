"""The report scheduler: APScheduler 3 behind a database lease.

Every `expbot serve` process starts a `SchedulerService`, but only the
holder of the `scheduler` lease runs an APScheduler `BackgroundScheduler`.
The others try to take the lease over every `RENEW_EVERY`, so a standby
resumes within one lease term of a crash. APScheduler 3 does not support
one job store shared by several running schedulers, which is why the
lease exists.

The `schedules` table is the source of truth. The leader keeps one cron
job per active schedule (`report-schedule-<id>`) in a SQLAlchemy job
store in the same database, table `expbot_apscheduler_jobs`, and
reconciles the jobs with the table every `SYNC_EVERY`, so a schedule made
through another replica is picked up within a minute. Jobs are pickled
there, so their function is the module-level `run_report_job`.

A report missed while no process ran goes out by two paths. APScheduler
runs a firing missed by less than `MISFIRE_GRACE` when the leader starts
(APScheduler 3's default grace is one second). The catch-up job, which
runs at start and every `CATCH_UP_EVERY`, sends any latest due report
that has no delivery row. The delivery row makes the two paths, and any
other process, send each (schedule, period) once.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_STOPPED
from sqlalchemy.pool import NullPool

from bot import schedule_store as store
from bot.lease import Lease
from bot.report_delivery import deliver_due
from bot.schedule_rules import ScheduleRecord, cron_trigger
from tracker.db import make_engine
from tracker.errors import ExpbotError

if TYPE_CHECKING:
    from slack_bolt import App
    from slack_sdk import WebClient

    from bot.settings import Settings
    from tracker import Tracker

logger = logging.getLogger(__name__)

LEASE_NAME = "scheduler"
JOBS_TABLE = "expbot_apscheduler_jobs"
REPORT_JOBSTORE = "default"
LOCAL_JOBSTORE = "local"
MISFIRE_GRACE = dt.timedelta(hours=6)
LEASE_TERM = dt.timedelta(seconds=60)
RENEW_EVERY = dt.timedelta(seconds=20)
SYNC_EVERY = dt.timedelta(seconds=60)
CATCH_UP_EVERY = dt.timedelta(minutes=15)
WORKERS = 4
# Interval jobs (the sync, the catch-up and those registered by other
# services) run on their own executor, whose logger is quieted, because
# APScheduler logs two INFO lines for every run of a job.
HOUSEKEEPING_EXECUTOR = "housekeeping"
logging.getLogger(f"apscheduler.executors.{HOUSEKEEPING_EXECUTOR}").setLevel(
    logging.WARNING
)
SYNC_JOB_ID = "expbot-sync-schedules"
CATCH_UP_JOB_ID = "expbot-report-catch-up"


@dataclass(frozen=True)
class IntervalJob:
    """A job that runs every `seconds` on the leader only, kept in memory."""

    job_id: str
    func: Callable[..., Any]
    seconds: float
    kwargs: dict[str, Any] = field(default_factory=dict)


_registry_lock = threading.Lock()
_services: list[SchedulerService] = []
_interval_jobs: dict[str, IntervalJob] = {}


def report_job_id(schedule_id: int) -> str:
    return f"report-schedule-{schedule_id}"


def run_report_job(schedule_id: int) -> None:
    """Send a schedule's due report.

    APScheduler pickles a reference to this job function, so it must stay
    a module-level function.
    """
    service = leading_service()
    if service is None:
        logger.warning(
            "report job for schedule %s ran where no scheduler leads; skipped",
            schedule_id,
        )
        return
    service.deliver(schedule_id)


def leading_service() -> SchedulerService | None:
    """Return this process's service that holds the lease, if any."""
    with _registry_lock:
        for service in _services:
            if service.is_leader:
                return service
    return None


def notify_schedules_changed() -> None:
    """Reconcile the jobs now if this process leads.

    Otherwise the leader picks the change up within `SYNC_EVERY`.
    """
    service = leading_service()
    if service is not None:
        service.sync_jobs()


def register_interval_job(
    job_id: str, func: Callable[..., Any], seconds: float, **kwargs: Any
) -> None:
    """Run `func(**kwargs)` every `seconds` in whichever process leads.

    For the notification dispatcher, the NeMo Run sync and other periodic
    work that one process at a time should do. The job lives in memory,
    so `func` may be any callable. Registering an id again replaces it.
    """
    job = IntervalJob(job_id, func, seconds, dict(kwargs))
    with _registry_lock:
        _interval_jobs[job_id] = job
        leaders = [service for service in _services if service.is_leader]
    for service in leaders:
        service.add_interval_job(job)


def unregister_interval_job(job_id: str) -> None:
    with _registry_lock:
        _interval_jobs.pop(job_id, None)
        leaders = [service for service in _services if service.is_leader]
    for service in leaders:
        service.remove_local_job(job_id)


class SchedulerService:
    """One process's scheduler: leads while it holds the lease, else waits."""

    def __init__(
        self,
        tracker: Tracker,
        client: WebClient,
        *,
        holder: str | None = None,
        clock: Callable[[], dt.datetime] | None = None,
        lease_term: dt.timedelta = LEASE_TERM,
        renew_every: dt.timedelta = RENEW_EVERY,
    ) -> None:
        self.tracker = tracker
        self.client = client
        self.clock = clock or tracker.clock
        self.lease = Lease(
            tracker, LEASE_NAME, holder=holder, term=lease_term, clock=self.clock
        )
        self.renew_every = renew_every
        self._scheduler: BackgroundScheduler | None = None
        self._state_lock = threading.RLock()
        self._stopping = threading.Event()
        self._keeper: threading.Thread | None = None
        self._lease_failing = False

    @property
    def holder(self) -> str:
        return self.lease.holder

    @property
    def is_leader(self) -> bool:
        return self._scheduler is not None

    @property
    def scheduler(self) -> BackgroundScheduler | None:
        return self._scheduler

    # -- lifecycle -----------------------------------------------------------

    def start(self, *, keep_lease: bool = True) -> SchedulerService:
        """Register the service and, with `keep_lease`, start the lease thread.

        Without it, the caller drives the lease with `tick()` (as tests do).
        """
        with _registry_lock:
            _services.append(self)
        if keep_lease:
            self._keeper = threading.Thread(
                target=self._keep_lease, name="expbot-scheduler-lease", daemon=True
            )
            self._keeper.start()
        return self

    def stop(self) -> None:
        """Stop scheduling, wait for running jobs and give the lease up."""
        self._stopping.set()
        if self._keeper is not None:
            self._keeper.join(timeout=self.renew_every.total_seconds() + 5)
        self._step_down(wait=True)
        with _registry_lock:
            if self in _services:
                _services.remove(self)
        try:
            self.lease.release()
        except ExpbotError:
            logger.warning("could not release lease %s", LEASE_NAME, exc_info=True)
        logger.info("scheduler %s stopped", self.holder)

    def tick(self) -> bool:
        """Take or renew the lease, and start or stop scheduling to match."""
        try:
            leading = self.lease.acquire()
        except ExpbotError:
            # Without a renewal the lease may lapse, and then another
            # process may lead, so stop scheduling at once. One warning
            # per outage, not one per round.
            if not self._lease_failing:
                logger.warning("could not renew lease %s", LEASE_NAME, exc_info=True)
            self._lease_failing = True
            leading = False
        else:
            if self._lease_failing:
                logger.info("lease %s reachable again", LEASE_NAME)
            self._lease_failing = False
        if self._stopping.is_set():
            return False
        if leading and not self.is_leader:
            self._lead()
        elif not leading and self.is_leader:
            logger.warning("scheduler %s lost lease %s", self.holder, LEASE_NAME)
            self._step_down(wait=False)
        return leading

    def _keep_lease(self) -> None:
        while not self._stopping.is_set():
            try:
                self.tick()
            except Exception:
                logger.exception("scheduler lease round failed")
            self._stopping.wait(self.renew_every.total_seconds())

    def _lead(self) -> None:
        scheduler = build_scheduler(self.tracker)
        with self._state_lock:
            # Set before start: a missed report job may run at once, and it
            # looks for the leading service.
            self._scheduler = scheduler
            try:
                scheduler.start()
                self._add_housekeeping(scheduler)
            except Exception:
                self._step_down(wait=False)
                raise
        logger.info("scheduler %s leads (lease %s)", self.holder, LEASE_NAME)
        self.sync_jobs()

    def _add_housekeeping(self, scheduler: BackgroundScheduler) -> None:
        now = dt.datetime.now(dt.UTC)
        scheduler.add_job(
            self.sync_jobs,
            "interval",
            seconds=SYNC_EVERY.total_seconds(),
            id=SYNC_JOB_ID,
            jobstore=LOCAL_JOBSTORE,
            executor=HOUSEKEEPING_EXECUTOR,
            replace_existing=True,
        )
        # The first catch-up runs at once: reports missed while no
        # process led go out as soon as one leads again.
        scheduler.add_job(
            self.catch_up,
            "interval",
            seconds=CATCH_UP_EVERY.total_seconds(),
            id=CATCH_UP_JOB_ID,
            jobstore=LOCAL_JOBSTORE,
            executor=HOUSEKEEPING_EXECUTOR,
            replace_existing=True,
            next_run_time=now,
        )
        with _registry_lock:
            interval_jobs = list(_interval_jobs.values())
        for job in interval_jobs:
            self.add_interval_job(job)

    def _step_down(self, *, wait: bool) -> None:
        with self._state_lock:
            scheduler, self._scheduler = self._scheduler, None
        if scheduler is not None:
            shutdown_scheduler(scheduler, wait=wait)

    # -- jobs ----------------------------------------------------------------

    def add_interval_job(self, job: IntervalJob) -> None:
        with self._state_lock:
            if self._scheduler is None:
                return
            self._scheduler.add_job(
                job.func,
                "interval",
                seconds=job.seconds,
                kwargs=job.kwargs,
                id=job.job_id,
                jobstore=LOCAL_JOBSTORE,
                executor=HOUSEKEEPING_EXECUTOR,
                replace_existing=True,
            )

    def remove_local_job(self, job_id: str) -> None:
        with self._state_lock:
            if self._scheduler is None:
                return
            try:
                self._scheduler.remove_job(job_id, jobstore=LOCAL_JOBSTORE)
            except JobLookupError:
                pass

    def sync_jobs(self) -> None:
        """Make the report jobs match the active schedules.

        A job whose trigger is unchanged is left alone, so its stored next
        run time, and with it APScheduler's misfire handling, survives.
        """
        with self._state_lock:
            scheduler = self._scheduler
            if scheduler is None:
                return
            active = {
                report_job_id(s.id): s for s in store.active_schedules(self.tracker)
            }
            existing = {job.id: job for job in scheduler.get_jobs(REPORT_JOBSTORE)}
            for job_id in existing.keys() - active.keys():
                scheduler.remove_job(job_id, jobstore=REPORT_JOBSTORE)
                logger.info("removed job %s", job_id)
            for job_id, schedule in active.items():
                job = existing.get(job_id)
                if job is not None and job.name == schedule.describe():
                    continue
                add_report_job(scheduler, schedule)

    def deliver(self, schedule_id: int) -> str:
        """Send one schedule's due report and return the delivery's state."""
        schedule = store.get_schedule(self.tracker, schedule_id)
        if schedule is None or not schedule.active:
            logger.info("schedule %s is gone; removing its job", schedule_id)
            self.sync_jobs()
            return "inactive"
        return deliver_due(self.tracker, self.client, schedule, self.clock())

    def catch_up(self) -> dict[int, str]:
        """Send every active schedule's latest due report that is not sent yet."""
        states: dict[int, str] = {}
        for schedule in store.active_schedules(self.tracker):
            try:
                states[schedule.id] = deliver_due(
                    self.tracker, self.client, schedule, self.clock()
                )
            except ExpbotError:
                logger.exception("catch-up for schedule %s failed", schedule.id)
        return states


def build_scheduler(tracker: Tracker) -> BackgroundScheduler:
    """Return an unstarted scheduler with the report and local job stores."""
    # A separate engine, because the job store disposes of its engine when
    # the scheduler shuts down. Without a pool, a connection that the
    # scheduler's thread still uses during that disposal is closed when
    # the thread returns it, not left to the garbage collector.
    url = tracker.db.engine.url.render_as_string(hide_password=False)
    engine = make_engine(url, poolclass=NullPool)
    return BackgroundScheduler(
        jobstores={
            REPORT_JOBSTORE: SQLAlchemyJobStore(engine=engine, tablename=JOBS_TABLE),
            LOCAL_JOBSTORE: MemoryJobStore(),
        },
        executors={
            "default": ThreadPoolExecutor(WORKERS),
            HOUSEKEEPING_EXECUTOR: ThreadPoolExecutor(WORKERS),
        },
        job_defaults={
            "coalesce": True,
            "misfire_grace_time": int(MISFIRE_GRACE.total_seconds()),
            "max_instances": 1,
        },
        timezone=dt.UTC,
    )


def shutdown_scheduler(scheduler: BackgroundScheduler, *, wait: bool) -> None:
    """Shut a scheduler down without its last round of due jobs.

    APScheduler 3's scheduler thread processes jobs once more after
    `shutdown()`, with its executors already gone: a job due then fails to
    submit and its next run time moves on as if it had run. Detaching the
    job stores first leaves that round nothing to do, and the stored jobs
    stay as they are for the next leader.
    """
    if scheduler.state == STATE_STOPPED:
        return
    scheduler.pause()
    for alias in (LOCAL_JOBSTORE, REPORT_JOBSTORE):
        try:
            scheduler.remove_jobstore(alias)
        except KeyError:
            continue
    scheduler.shutdown(wait=wait)


def add_report_job(
    scheduler: BackgroundScheduler,
    schedule: ScheduleRecord,
    next_run_time: dt.datetime | None = None,
) -> None:
    """Add or replace the cron job of a schedule in the report job store."""
    options: dict[str, Any] = {}
    if next_run_time is not None:
        options["next_run_time"] = next_run_time
    job = scheduler.add_job(
        run_report_job,
        cron_trigger(schedule),
        args=[schedule.id],
        id=report_job_id(schedule.id),
        name=schedule.describe(),
        jobstore=REPORT_JOBSTORE,
        replace_existing=True,
        misfire_grace_time=int(MISFIRE_GRACE.total_seconds()),
        coalesce=True,
        **options,
    )
    logger.info("scheduled job %s: %s", job.id, schedule.describe())


def start(app: App, settings: Settings, tracker: Tracker) -> SchedulerService:
    """Start the scheduler service for `expbot serve` (see `bot.services`)."""
    from slack_sdk import WebClient
    from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

    # A 429 means Slack did nothing, so waiting and retrying it is safe.
    # Other retries could post a report twice, so the client makes none.
    client = WebClient(
        token=app.client.token,
        base_url=app.client.base_url,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=2)],
    )
    return SchedulerService(tracker, client).start()
