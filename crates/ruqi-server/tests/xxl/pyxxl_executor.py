"""A pyxxl executor for the ruqi-server tests (crates/ruqi-server/tests/xxl.rs).

Usage: python pyxxl_executor.py <admin base url ending in /> <listen port> <app name> [<access token>]

Listens on 127.0.0.1 only, keeps its logs in the working directory, reads no
.env file, and registers one handler. SIGTERM stops it (pyxxl then sends
registryRemove).
"""

import sys

from pyxxl import ExecutorConfig, PyxxlRunner

base_url, port, app_name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
token = sys.argv[4] if len(sys.argv) > 4 else None

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


runner.run_executor()
