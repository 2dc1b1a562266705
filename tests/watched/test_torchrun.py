"""Under torchrun only rank 0 reports: one page, the other ranks' watch does nothing."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from redis_server import free_port

HERE = Path(__file__).parent


def test_only_rank_0_of_a_torchrun_serves_the_page(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    launcher = subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                                 "--master_port", str(free_port()), str(HERE / "torchrun_loop.py"), str(tmp_path)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                                start_new_session=True)
    try:
        stdout, stderr = launcher.communicate(timeout=240)
    finally:
        if launcher.poll() is None:  # the ranks too, not only their launcher
            os.killpg(launcher.pid, signal.SIGKILL)
            launcher.communicate()
    done = subprocess.CompletedProcess(launcher.args, launcher.returncode, stdout, stderr)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert any(line.startswith("rank 0: Watch http://127.0.0.1:") for line in lines), done.stdout
    assert "rank 1: Idle None" in lines
    assert done.stderr.count("is live at") == 1  # one page, announced once
    page = json.loads(next(line for line in lines if line.startswith("rank 0 page: "))[len("rank 0 page: "):])
    assert page["source"] == "watch" and page["step"] == 20
