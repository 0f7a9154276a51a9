"""A pyxxl executor for the ruqi-server tests (crates/ruqi-server/tests/xxl.rs).

Usage: python pyxxl_executor.py <admin base url ending in /> <listen port> <app name> [<access token>]

Listens on 127.0.0.1 only, keeps its logs in the working directory, reads no
.env file. SIGTERM stops it (pyxxl then sends registryRemove).

Handlers:
- hello: answers "hello from pyxxl";
- fail: raises, with the message "no such account";
- lines: writes "line 1" … "line N" to the run's log (N = params) and
  answers "wrote N lines";
- slow: writes "sleeping S s" and sleeps S seconds (S = params, default 30);
  when stopped, writes the file stopped-<logId> in the working directory
  (the moment the stop reached the handler) before it ends;
- shard: answers "shard I of T" from broadcastIndex and broadcastTotal.
"""

import asyncio
import sys

from pyxxl import ExecutorConfig, PyxxlRunner
from pyxxl.ctx import g

base_url, port, app_name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
token = sys.argv[4] if len(sys.argv) > 4 and sys.argv[4] else None

config = ExecutorConfig(
    xxl_admin_baseurl=base_url,
    executor_app_name=app_name,
    executor_listen_host="127.0.0.1",
    executor_listen_port=port,
    access_token=token,
    executor_log_path="pyxxl.log",
    log_local_dir="logs",
    dotenv_try=False,
)
runner = PyxxlRunner(config)


@runner.register(name="hello")
async def hello() -> str:
    return "hello from pyxxl"


@runner.register(name="fail")
async def fail() -> str:
    raise RuntimeError("no such account")


@runner.register(name="lines")
async def lines() -> str:
    count = int(g.xxl_run_data.executorParams or "3")
    for i in range(1, count + 1):
        g.logger.info("line %d", i)
    return "wrote %d lines" % count


@runner.register(name="slow")
async def slow() -> str:
    seconds = float(g.xxl_run_data.executorParams or "30")
    g.logger.info("sleeping %s s", seconds)
    try:
        await asyncio.sleep(seconds)
    except asyncio.CancelledError:
        with open("stopped-%d" % g.xxl_run_data.logId, "w") as marker:
            marker.write("stopped")
        raise
    return "slept"


@runner.register(name="shard")
async def shard() -> str:
    data = g.xxl_run_data
    return "shard %s of %s" % (data.broadcastIndex, data.broadcastTotal)


runner.run_executor()
