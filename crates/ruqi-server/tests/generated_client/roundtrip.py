"""Drives every documented operation of a running ruqi-server through a
client that openapi-python-client generated from the server's own OpenAPI
document (the package `ruqi_client`, importable from PYTHONPATH).

Usage: roundtrip.py <api base URL> <admin token> <read token>

The client is made with raise_on_unexpected_status, so an answer whose status
the document does not list fails; every body is parsed into the generated
models, so an answer that does not fit its schema fails too. Each step prints
what it did; the first wrong answer ends the script with a non-zero status.
"""

import sys
import time

from ruqi_client import AuthenticatedClient, Client
from ruqi_client.api.access import token_scope
from ruqi_client.api.actions import (
    cancel_job_runs,
    pause_job,
    preview_job,
    preview_rule,
    resume_job,
    run_job,
    wake_up_scheduler,
)
from ruqi_client.api.executions import (
    cancel_execution,
    cleanup_executions,
    get_execution,
    list_executions,
    list_job_executions,
    tail_execution_log,
)
from ruqi_client.api.jobs import create_job, delete_job, get_job, list_jobs, replace_job, update_job
from ruqi_client.api.scheduler import follow_events, health, list_functions, metrics, scheduler_status
from ruqi_client.models import (
    Cancelled,
    Cleanup,
    CleanupResult,
    ErrorBody,
    Execution,
    ExecutionList,
    ExecutionLog,
    Health,
    Job,
    JobList,
    JobOrderParam,
    JobPatch,
    JobSpec,
    NextRunTimes,
    RunStarted,
    SchedulerStatus,
    ScopeName,
    StatusParam,
    TokenScope,
)
from ruqi_client.types import UNSET

BASE, ADMIN, READ = sys.argv[1], sys.argv[2], sys.argv[3]
# ruqi-server asks every write to say it is JSON, even one without a body (a
# browser cannot send that cross-origin without asking first): the document's
# 415 says so, and the client sends the header on every request.
JSON = {"Content-Type": "application/json"}
admin = AuthenticatedClient(base_url=BASE, token=ADMIN, headers=JSON, raise_on_unexpected_status=True)
reader = AuthenticatedClient(base_url=BASE, token=READ, headers=JSON, raise_on_unexpected_status=True)
anonymous = Client(base_url=BASE, headers=JSON, raise_on_unexpected_status=True)


def answer(response, status, model):
    """The parsed body of `response`, which must have `status` and be a `model`."""
    if response.status_code != status or not isinstance(response.parsed, model):
        raise AssertionError(
            f"expected {status} {model.__name__}, got {response.status_code} {response.parsed!r}: {response.content!r}"
        )
    return response.parsed


def refusal(response, status, code, field=UNSET):
    """`response` must be the documented error `status` with this `code` (and `field`)."""
    error = answer(response, status, ErrorBody)
    assert error.code == code, error
    if field is not UNSET:
        assert error.field == field, error
    return error


def step(name):
    print(f"ok: {name}", flush=True)


# Health needs no token; the scope tells each token what it may do.
assert answer(health.sync_detailed(client=anonymous), 200, Health).status == "ok"
step("health")
scope = answer(token_scope.sync_detailed(client=admin), 200, TokenScope)
assert scope.scope == ScopeName.ADMIN and scope.auth_enabled is True, scope
assert answer(token_scope.sync_detailed(client=reader), 200, TokenScope).scope == ScopeName.READ
refusal(token_scope.sync_detailed(client=anonymous), 401, "unauthorized")
step("tokenScope")

functions = answer(list_functions.sync_detailed(client=reader), 200, list)
assert "log" in [f.name for f in functions], functions
step("listFunctions")

# A job with no description, no group, no zone: the fields that come back null.
spec = JobSpec(func="log", trigger="interval", rule="1h", args={"greeting": "hello"}, is_paused=False)
created = answer(create_job.sync_detailed(client=admin, body=spec), 201, Job)
job_id = created.job_id
assert created.description is None and created.job_name is None and created.timezone is None, created
assert created.args == {"greeting": "hello"}, created
assert created.next_run_time is not None, created
step(f"createJob {job_id}")
refusal(create_job.sync_detailed(client=reader, body=spec), 403, "forbidden")
too_long = JobSpec(func="log", trigger="interval", rule="1h", description="x" * 20_000)
refusal(create_job.sync_detailed(client=admin, body=too_long), 422, "invalid", "description")
refusal(create_job.sync_detailed(client=admin, body=JobSpec(func="log", trigger="cron", rule="0 61 * * *")), 422, "invalid", "rule")
step("createJob refusals")

got = answer(get_job.sync_detailed(job_id, client=reader), 200, Job)
assert got.job_id == job_id and got.rule == "1h", got
refusal(get_job.sync_detailed("no-such-job", client=reader), 404, "not_found")
step("getJob")

page = answer(list_jobs.sync_detailed(client=reader, func="log", order=JobOrderParam.JOB_ID, limit=10), 200, JobList)
assert [j.job_id for j in page.items] == [job_id] and page.total == 1, page
step("listJobs")

replaced = answer(
    replace_job.sync_detailed(
        job_id,
        client=admin,
        body=JobSpec(func="log", trigger="cron", rule="0 3 * * *", job_name="reports", timezone="Europe/Berlin"),
    ),
    200,
    Job,
)
assert replaced.rule == "0 3 * * *" and replaced.job_name == "reports" and replaced.args is None, replaced
assert replaced.rule_description == "at 03:00 every day (Europe/Berlin)", replaced
refusal(
    replace_job.sync_detailed(job_id, client=admin, body=JobSpec(job_id="other", func="log", trigger="interval", rule="1h")),
    422,
    "invalid",
    "job_id",
)
step("replaceJob")

updated = answer(
    update_job.sync_detailed(job_id, client=admin, body=JobPatch(description="nightly", timezone=None, max_retries=2)),
    200,
    Job,
)
assert updated.description == "nightly" and updated.timezone is None and updated.max_retries == 2, updated
assert updated.job_name == "reports", updated
step("updateJob")

preview = answer(preview_job.sync_detailed(job_id, client=reader, n=3), 200, NextRunTimes)
assert len(preview.next_run_times) == 3 and preview.description == "at 03:00 every day (UTC)", preview
step("previewJob")
rule = answer(preview_rule.sync_detailed(client=reader, trigger="interval", rule="10m", n=2), 200, NextRunTimes)
assert len(rule.next_run_times) == 2 and rule.description == "every 10m", rule
refusal(preview_rule.sync_detailed(client=reader, trigger="cron", rule="* * * * *", timezone=" "), 422, "invalid", "timezone")
step("previewRule")

paused = answer(pause_job.sync_detailed(job_id, client=admin), 200, Job)
assert paused.is_paused and paused.next_run_time is None, paused
step("pauseJob")
resumed = answer(resume_job.sync_detailed(job_id, client=admin), 200, Job)
assert not resumed.is_paused and resumed.next_run_time is not None, resumed
step("resumeJob")

started = answer(run_job.sync_detailed(job_id, client=admin), 202, RunStarted)
assert started.started and started.execution_id, started
execution_id = started.execution_id
deadline = time.monotonic() + 20
while True:
    reply = get_execution.sync_detailed(execution_id, client=reader)
    # The run's row is written as it starts, just after the 202: until then, 404.
    if reply.status_code == 404 and time.monotonic() < deadline:
        refusal(reply, 404, "not_found")
        time.sleep(0.05)
        continue
    execution = answer(reply, 200, Execution)
    if execution.status != "running":
        break
    assert time.monotonic() < deadline, execution
    time.sleep(0.05)
assert execution.status == "success" and execution.error is None and execution.trigger_source == "manual", execution
step("runJob, getExecution")

log = answer(tail_execution_log.sync_detailed(execution_id, client=reader, from_line=0), 200, ExecutionLog)
assert log.finished and log.lines, log
step("tailExecutionLog")

history = answer(list_job_executions.sync_detailed(job_id, client=reader, status=StatusParam.SUCCESS), 200, ExecutionList)
assert [e.id for e in history.items] == [execution_id], history
assert history.items[0].output is UNSET, "lists leave the output out"
step("listJobExecutions")
everything = answer(list_executions.sync_detailed(client=reader, job_id=job_id, limit=5), 200, ExecutionList)
assert everything.total == 1, everything
step("listExecutions")

refusal(cancel_execution.sync_detailed(execution_id, client=admin), 409, "conflict")
step("cancelExecution (not running)")
cancelled = answer(cancel_job_runs.sync_detailed(job_id, client=admin), 200, Cancelled)
assert cancelled.cancelled == 0 and cancelled.requested_elsewhere == 0, cancelled
step("cancelJobRuns")

status = answer(scheduler_status.sync_detailed(client=reader), 200, SchedulerStatus)
assert status.jobs == 1 and status.nodes, status
step("schedulerStatus")
assert wake_up_scheduler.sync_detailed(client=admin).status_code == 204
step("wakeUpScheduler")
text = metrics.sync_detailed(client=reader)
assert text.status_code == 200 and b"ruqi_runs_started_total" in text.content, text.content[:200]
step("metrics")

# The event stream does not end: open it with the generated request, check its start, close it.
with reader.get_httpx_client().stream(**follow_events._get_kwargs()) as stream:
    assert stream.status_code == 200, stream.status_code
    assert stream.headers["content-type"].startswith("text/event-stream"), stream.headers
step("followEvents")

cleaned = answer(cleanup_executions.sync_detailed(client=admin, body=Cleanup(keep_last=0, job_id=job_id)), 200, CleanupResult)
assert cleaned.deleted == 1, cleaned
refusal(cleanup_executions.sync_detailed(client=admin, body=Cleanup()), 422, "invalid", "older_than_days")
step("cleanupExecutions")

assert delete_job.sync_detailed(job_id, client=admin).status_code == 204
refusal(get_job.sync_detailed(job_id, client=reader), 404, "not_found")
refusal(delete_job.sync_detailed(job_id, client=admin), 404, "not_found")
step("deleteJob")
print("every documented operation round-tripped")
