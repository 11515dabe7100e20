"""A large table's full synchronization in chunks shared by two real Celery worker processes
against the sandbox: every record arrives exactly once, also when one worker is killed (SIGKILL)
while it holds a chunk."""

import signal
import socket
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from erpcrm.celery import app
from syncjobs import fullsync, fullsync_chunks, services
from syncjobs.engine import synchronize
from syncjobs.engine.run import MappingBusy
from syncjobs.models import CrmCoupling, FullSyncChunk, FullSyncLine, FullSyncRun, JobRun
from tests.factories.erp import CustomerFactory
from tests.plugins.processes import (
    WorkerProcess,
    worker_ready,
    worker_spawn,
    worker_start,
    worker_stop,
)

pytestmark = [pytest.mark.django_db(transaction=True)]

CHUNK_ROWS = 4
CUSTOMERS = 40  # ten chunks


@pytest.fixture
def two_workers(child_process_env, tmp_path) -> Iterator[list[WorkerProcess]]:
    """Two worker processes on the test's queue that split tables of more than CHUNK_ROWS
    records (the setting is read by the worker that runs the line)."""
    app.control.purge()
    workers: list[WorkerProcess] = []
    try:
        for _ in range(2):
            workers.append(worker_spawn(tmp_path, {"FULLSYNC_CHUNK_ROWS": str(CHUNK_ROWS)}))
        for worker in workers:
            worker_ready(worker)
        yield workers
    finally:
        for worker in workers:
            worker_stop(worker)


@pytest.fixture
def slow_account_creates(sandbox) -> Iterator[None]:
    # Each chunk takes a moment at the CRM, so both workers have chunks to take and a chunk is
    # held long enough to kill its worker.
    sandbox.control(
        "config",
        {
            "add_rules": [
                {"method": "POST", "path": "accounts", "fault": "latency", "latency_ms": 150}
            ]
        },
    )
    yield
    sandbox.control("config", {"rules": []})


def _customers(crm_salesperson) -> tuple[str, list]:
    prefix = f"Chunked {uuid.uuid4().hex[:6]}"
    customers = [
        CustomerFactory(name=f"{prefix} {n:03}", salesperson=crm_salesperson)
        for n in range(CUSTOMERS)
    ]
    return prefix, customers


def _accounts(sync_setup, prefix: str) -> Counter:
    rows = sync_setup.crm.all_rows("accounts", "?$select=name,accountid")
    return Counter(r["name"] for r in rows if (r["name"] or "").startswith(prefix))


def _assert_exactly_once(sync_setup, prefix, customers) -> None:
    accounts = _accounts(sync_setup, prefix)
    assert accounts == Counter({c.name: 1 for c in customers})
    couplings = CrmCoupling.objects.filter(erp_uuid__in=[c.uuid for c in customers])
    assert couplings.count() == len(customers)
    assert set(couplings.values_list("state", flat=True)) == {CrmCoupling.State.COUPLED}


def _line() -> FullSyncLine:
    return FullSyncRun.objects.get().lines.get(name="CUSTOMER")


@pytest.mark.worker
@pytest.mark.sandbox
def test_two_workers_share_a_large_table_and_every_record_arrives_once(
    sync_setup, crm_salesperson, two_workers, slow_account_creates
):
    prefix, customers = _customers(crm_salesperson)

    call_command(
        "fullsync", "--only", "CUSTOMER", "--wait", "--interval", "0.2", "--timeout", "120",
        stdout=StringIO(),
    )  # fmt: skip

    line = _line()
    assert line.status == FullSyncLine.Status.FINISHED, line.message
    chunks = list(line.chunks.all())
    assert len(chunks) == CUSTOMERS // CHUNK_ROWS
    assert {c.status for c in chunks} == {FullSyncChunk.Status.DONE}
    assert sum(c.records for c in chunks) == CUSTOMERS
    # Both workers ran chunks of the one table.
    pids = {str(w.proc.pid) for w in two_workers}
    assert {c.claimed_by.rpartition(":")[2] for c in chunks} == pids
    _assert_exactly_once(sync_setup, prefix, customers)
    # The line's to-CRM job sums its chunks and holds their record changes; the review line
    # shows every record done.
    job = line.to_crm_job
    assert (job.inserted, job.failed, job.finished_at is not None) == (CUSTOMERS, 0, True)
    assert job.changes.count() == CUSTOMERS
    status = fullsync.fullsync_status()["lines"][0]
    assert status["done"] >= CUSTOMERS and status["percent"] == 100
    assert line.from_crm_job is not None and line.from_crm_job.full
    assert sync_setup.mapping("CUSTOMER").running_by == ""


@pytest.mark.worker
@pytest.mark.sandbox
def test_a_worker_killed_while_it_holds_a_chunk_loses_nothing_and_duplicates_nothing(
    sync_setup, crm_salesperson, two_workers, slow_account_creates
):
    prefix, customers = _customers(crm_salesperson)
    victim, survivor = two_workers
    holder = f"{socket.gethostname()}:{victim.proc.pid}"

    run = fullsync.fullsync_start(run=fullsync.fullsync_prepare(only=["CUSTOMER"]))
    survivor.wait_for(
        lambda: FullSyncChunk.objects.filter(
            status=FullSyncChunk.Status.RUNNING, claimed_by=holder
        ).exists(),
        timeout=60,
    )
    killed = FullSyncChunk.objects.get(status=FullSyncChunk.Status.RUNNING, claimed_by=holder)
    victim.proc.send_signal(signal.SIGKILL)
    victim.proc.wait(timeout=10)

    survivor.wait_for(
        lambda: FullSyncRun.objects.get(pk=run.pk).status != FullSyncRun.Status.RUNNING,
        timeout=120,
    )
    line = _line()
    assert line.status == FullSyncLine.Status.FINISHED, line.message
    killed.refresh_from_db()
    # Redone by the surviving worker.
    assert killed.status == FullSyncChunk.Status.DONE
    assert killed.attempts == 2
    assert killed.claimed_by.rpartition(":")[2] == str(survivor.proc.pid)
    assert set(line.chunks.values_list("status", flat=True)) == {FullSyncChunk.Status.DONE}
    _assert_exactly_once(sync_setup, prefix, customers)
    job = line.to_crm_job
    assert job.failed == 0
    # A record the killed worker had already created counts once, as unchanged on the redo.
    assert job.inserted + job.modified + job.unchanged == CUSTOMERS


@pytest.mark.worker
@pytest.mark.sandbox
def test_a_chunk_whose_worker_died_is_taken_up_by_a_restarted_worker(
    sync_setup, crm_salesperson, two_workers, slow_account_creates, tmp_path
):
    """Both workers gone, the one restarted takes up the dead chunk when it starts."""
    prefix, customers = _customers(crm_salesperson)
    first, second = two_workers
    worker_stop(second)
    holder = f"{socket.gethostname()}:{first.proc.pid}"

    run = fullsync.fullsync_start(run=fullsync.fullsync_prepare(only=["CUSTOMER"]))
    first.wait_for(
        lambda: FullSyncChunk.objects.filter(
            status=FullSyncChunk.Status.RUNNING, claimed_by=holder
        ).exists(),
        timeout=60,
    )
    first.proc.send_signal(signal.SIGKILL)
    first.proc.wait(timeout=10)
    # The messages of the chunks it had not started are still queued: purged here, so that only
    # the restarted worker's sweep can bring the run to its end.
    app.control.purge()
    time.sleep(0.2)

    restarted = worker_start(tmp_path, {"FULLSYNC_CHUNK_ROWS": str(CHUNK_ROWS)})
    two_workers.append(restarted)
    restarted.wait_for(
        lambda: FullSyncRun.objects.get(pk=run.pk).status != FullSyncRun.Status.RUNNING,
        timeout=120,
    )
    line = _line()
    assert line.status == FullSyncLine.Status.FINISHED, line.message
    _assert_exactly_once(sync_setup, prefix, customers)


# --- the same steps in this process: the lease, the line's end, a restart --------------------


@pytest.mark.sandbox
def test_a_chunked_line_holds_its_mapping_against_a_scheduled_run_until_its_last_chunk(
    sync_setup, crm_salesperson, settings
):
    settings.FULLSYNC_CHUNK_ROWS = 3
    prefix = f"Inline {uuid.uuid4().hex[:6]}"
    customers = [
        CustomerFactory(name=f"{prefix} {n}", salesperson=crm_salesperson) for n in range(7)
    ]
    app.control.purge()
    run = fullsync.fullsync_start(run=fullsync.fullsync_prepare(only=["CUSTOMER"]))
    line = _line()

    # The line's task splits the table and leaves the work to its chunks.
    assert fullsync.line_run(line_id=line.pk).status == FullSyncLine.Status.IN_PROCESS
    chunks = list(line.chunks.all())
    assert [(c.after_pk, c.upto_pk) for c in chunks] == [
        (None, customers[2].pk),
        (customers[2].pk, customers[5].pk),
        (customers[5].pk, None),
    ]
    # A scheduled run of the mapping waits for the full synchronization.
    with pytest.raises(MappingBusy):
        synchronize(sync_setup.mapping("CUSTOMER"), direction="to_crm")

    # One chunk's task runs it, then the chunks nobody has taken yet.
    assert fullsync_chunks.chunk_work(chunk_id=chunks[1].pk).ran == 3
    assert fullsync_chunks.chunk_work(chunk_id=chunks[0].pk).ran == 0  # done: left alone
    line.refresh_from_db()
    assert (line.status, line.running_by) == (FullSyncLine.Status.IN_PROCESS, "chunks-done")

    assert fullsync.line_run(line_id=line.pk).status == FullSyncLine.Status.FINISHED
    line.refresh_from_db()
    assert (line.to_crm_job.inserted, line.to_crm_job.status) == (7, JobRun.Status.SUCCEEDED)
    assert line.attempts == 1
    mapping = sync_setup.mapping("CUSTOMER")
    assert mapping.running_by == "" and mapping.erp_watermark_at == line.to_crm_job.started_at
    assert FullSyncRun.objects.get(pk=run.pk).status == FullSyncRun.Status.FINISHED
    _assert_exactly_once(sync_setup, prefix, customers)

    # Restarted, the line splits its table again.
    fullsync.line_restart(line=line)
    assert fullsync.line_run(line_id=line.pk).status == FullSyncLine.Status.IN_PROCESS
    assert line.chunks.filter(status=FullSyncChunk.Status.PENDING).count() == 3
    app.control.purge()


@pytest.mark.sandbox
def test_chunks_stopped_by_the_crm_run_again_when_the_line_is_retried(
    sync_setup, crm_salesperson, sandbox, settings
):
    settings.FULLSYNC_CHUNK_ROWS = 3
    prefix = f"Retried {uuid.uuid4().hex[:6]}"
    customers = [
        CustomerFactory(name=f"{prefix} {n}", salesperson=crm_salesperson) for n in range(5)
    ]
    app.control.purge()
    fullsync.fullsync_start(run=fullsync.fullsync_prepare(only=["CUSTOMER"]))
    line = _line()
    fullsync.line_run(line_id=line.pk)
    first = line.chunks.first()
    # The CRM refuses every write: the chunk's pass stops (worth trying again), and so does
    # every chunk the task takes after it.
    rule = {
        "method": "POST",
        "path": "batch|accounts",
        "fault": "error",
        "status": 403,
        "count": -1,
    }
    sandbox.control("config", {"rules": [rule]})
    try:
        fullsync_chunks.chunk_work(chunk_id=first.pk)
    finally:
        sandbox.control("config", {"rules": []})
    assert set(line.chunks.values_list("status", flat=True)) == {FullSyncChunk.Status.FAILED}
    first.refresh_from_db()
    assert first.message.startswith("stopped: the CRM did not answer")

    # The line tries again later (its transient failure counts as an attempt)...
    outcome = fullsync.line_run(line_id=line.pk)
    line.refresh_from_db()
    assert (outcome.status, outcome.retry_in, line.attempts) == (FullSyncLine.Status.READY, 1, 1)
    assert line.message.startswith("Attempt 1 of 4 failed")
    # ... and then its failed chunks run again.
    assert fullsync.line_run(line_id=line.pk).status == FullSyncLine.Status.IN_PROCESS
    assert fullsync_chunks.chunk_work(chunk_id=first.pk).ran == 2
    assert fullsync.line_run(line_id=line.pk).status == FullSyncLine.Status.FINISHED
    line.refresh_from_db()
    assert (line.to_crm_job.status, line.to_crm_job.failed) == (JobRun.Status.SUCCEEDED, 0)
    _assert_exactly_once(sync_setup, prefix, customers)
    app.control.purge()


def test_a_chunked_line_shows_its_finished_chunks_and_what_the_running_ones_have_done():
    services.default_setup_reset(options=services.DefaultSetupOptions(areas=["currencies"]))
    run = fullsync.fullsync_start(run=fullsync.fullsync_prepare(only=["CURRENCY"]))
    app.control.purge()
    line = run.lines.get()
    mapping = line.mapping
    job = JobRun.objects.create(
        job_name=mapping.name, mapping=mapping, direction="to_crm", full=True, inserted=4
    )
    running = JobRun.objects.create(
        job_name=mapping.name, mapping=mapping, direction="to_crm", full=True, inserted=3
    )
    FullSyncLine.objects.filter(pk=line.pk).update(
        status=FullSyncLine.Status.IN_PROCESS, running_by="chunks", to_crm_job=job,
        erp_count=10, started_at=timezone.now(),
    )  # fmt: skip
    FullSyncChunk.objects.create(line=line, position=0, upto_pk=5, status="done", records=4)
    chunk = FullSyncChunk.objects.create(
        line=line, position=1, after_pk=5, status="running", job=running
    )

    shown = fullsync.fullsync_status()["lines"][0]
    assert (shown["done"], shown["total"], shown["percent"]) == (7, 10, 70)
    assert (shown["chunks_done"], shown["chunks_total"]) == (1, 2)
    assert shown["to_crm_job"]["inserted"] == 7
    # The job row itself holds the finished chunks only.
    job.refresh_from_db()
    assert job.inserted == 4

    FullSyncChunk.objects.filter(pk=chunk.pk).update(status="pending", job=None)
    assert fullsync.fullsync_status()["lines"][0]["done"] == 4
