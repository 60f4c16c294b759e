"""A throwaway PostgreSQL + PostGIS cluster made by scripts/pg.sh, for a test run or a
benchmark."""

import os
import shutil
import subprocess
from pathlib import Path

from app.settings import PROJECT_ROOT

PG = str(PROJECT_ROOT / "scripts" / "pg.sh")


def start_throwaway_cluster(cluster: Path) -> str:
    """Starts (making it if need be) the throwaway cluster in `cluster`; answers its superuser's
    URL, which carries no password: this process's clients read the cluster's password file
    (PGPASSFILE), set here."""
    started = subprocess.run(
        [PG, "start", str(cluster), "--throwaway"], check=True, stdout=subprocess.PIPE, text=True
    )
    os.environ["PGPASSFILE"] = str(cluster.resolve() / "pgpass")
    return started.stdout.strip()


def stop_cluster(cluster: Path) -> None:
    subprocess.run([PG, "stop", str(cluster)], check=False)


def remove_cluster(path: Path) -> None:
    if path.is_symlink():
        shutil.rmtree(path.resolve(), ignore_errors=True)
        path.unlink()
    else:
        shutil.rmtree(path, ignore_errors=True)
