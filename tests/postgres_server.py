"""A real PostgreSQL (Debian's, /usr/lib/postgresql/*/bin) on a free port, its cluster in a temporary folder.

    with PostgresServer(tmp_path) as postgres:   # or the `postgres_server` fixture in tests/conftest.py
        postgres.url                             # postgresql+psycopg://postgres@127.0.0.1:PORT/convscope
        postgres.restart(down=30)                # stop it (immediate), wait, start it again: data kept

Trust authentication on 127.0.0.1 only, fsync off (a test's data need not survive the machine).
initdb and pg_ctl refuse to run as root: as root they run as user postgres, on a cluster folder of
its own under /tmp (pytest's tmp_path is root's alone), removed on exit. Missing binaries skip the
test with the reason (fail under CI, which installs them).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from glob import glob
from pathlib import Path

from redis_server import free_port, wait_for_port
from support import unavailable


class PostgresServer:
    def __init__(self, folder: Path) -> None:
        found = sorted(glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parents[1].name))
        if not found:
            unavailable("PostgreSQL is not installed", "apt-get install postgresql")
        self.bin, self.port, self.database = Path(found[-1]).parent, free_port(), "convscope"
        self.as_root = os.geteuid() == 0
        if self.as_root:  # a folder user postgres owns and can reach
            folder = Path(tempfile.mkdtemp(prefix="convscope-postgres-"))
            shutil.chown(folder, "postgres", "postgres")
        self.folder, self.data = folder, folder / "data"
        self.running = False

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{self.database}"

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bin / tool), *args]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, cwd=self.folder, capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            log = self.folder / "postgres.log"
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stdout}{done.stderr}"
                               + (log.read_text()[-2000:] if log.exists() else ""))

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        created = self.data.exists()
        if not created:
            self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync",
                      "-E", "UTF8", "--locale=C")
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.folder} "
                   "-c fsync=off -c full_page_writes=off")  # commits reach the log: a stop loses none
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "postgres.log"), "-o", options,
                  "-w", "-t", "30", "start")
        self.running = True
        wait_for_port(self.port)
        if not created:
            import psycopg

            with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres",
                                 autocommit=True) as db:
                db.execute(f"CREATE DATABASE {self.database}")

    def stop(self) -> None:
        """Stop it at once (as a crash would; its committed data is kept)."""
        if self.running:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
            self.running = False

    def restart(self, down: float = 0.0) -> None:
        """Stop it, wait `down` seconds, start it again on the same port with the same data."""
        self.stop()
        time.sleep(down)
        self.start()

    def __enter__(self) -> PostgresServer:
        try:
            self.start()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.stop()
        finally:
            if self.as_root:
                shutil.rmtree(self.folder, ignore_errors=True)
