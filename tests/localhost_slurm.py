"""A real single-node Slurm on localhost for the tests: `gpu` and `cpu` partitions, two fake
GPUs (gres files that are symlinks to /dev/null, so Slurm allocates them and sets
CUDA_VISIBLE_DEVICES). Needs root and Debian's slurmctld, slurmd, slurm-client and munge
(installed here when missing). The facts behind each setting: shared/notes/slurm-localhost.md.

    with LocalSlurm(scratch) as slurm:
        slurm.run("sbatch", ...)

The daemons are stopped by the PIDs in their pid files, whatever happened inside the block.
"""

from __future__ import annotations

import os
import pwd
import signal
import subprocess
import time
from pathlib import Path

from .helpers import apt_install

PACKAGES = ["slurmctld", "slurmd", "slurm-client", "munge"]
ETC = Path("/etc/slurm")
MARK = "# written by eigscale tests/localhost_slurm.py"


class SlurmUnavailable(RuntimeError):
    """This machine cannot run the localhost Slurm (not root, no apt, a real config present)."""


def install() -> None:
    """apt-get install the Slurm and munge packages unless they are already there."""
    try:
        apt_install(PACKAGES, ("slurmctld", "slurmd", "sbatch", "munged"))
    except PermissionError as e:
        raise SlurmUnavailable(str(e)) from e


def _mem_mb() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) // 1024 - 2048  # leave room for the test itself
    raise SlurmUnavailable("no MemAvailable in /proc/meminfo")


class LocalSlurm:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.conf = root / "slurm.conf"
        self.env = {**os.environ, "SLURM_CONF": str(self.conf)}

    # -- setup -------------------------------------------------------------------------
    def _write_config(self) -> None:
        r = self.root
        for d in ("state", "spool", "log", "run", "gpus"):
            (r / d).mkdir(parents=True, exist_ok=True)
        for i in range(2):
            gpu = r / "gpus" / f"gpu{i}"
            if not gpu.is_symlink():
                gpu.symlink_to("/dev/null")
        cpus = min(os.cpu_count() or 2, 2)
        self.conf.write_text(f"""{MARK}
ClusterName=eigscale-test
SlurmctldHost=localhost
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
MinJobAge=300
ReturnToService=2
GresTypes=gpu
StateSaveLocation={r}/state
SlurmdSpoolDir={r}/spool
SlurmctldPidFile={r}/run/slurmctld.pid
SlurmdPidFile={r}/run/slurmd.pid
SlurmctldLogFile={r}/log/slurmctld.log
SlurmdLogFile={r}/log/slurmd.log
NodeName=localhost NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={_mem_mb()} Gres=gpu:2 State=UNKNOWN
PartitionName=cpu Nodes=localhost Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=localhost MaxTime=INFINITE State=UP
""")
        (r / "gres.conf").write_text(
            f"{MARK}\nAutoDetect=off\nNodeName=localhost Name=gpu File={r}/gpus/gpu[0-1]\n")
        # jobs started by the executor plugin lose SLURM_CONF: the config must also be at the
        # compiled-in path. Never overwrite a real cluster's config.
        ETC.mkdir(exist_ok=True)
        for name in ("slurm.conf", "gres.conf"):
            target = ETC / name
            if target.exists() and MARK not in target.read_text():
                raise SlurmUnavailable(f"{target} belongs to a real Slurm; not touching it")
            target.unlink(missing_ok=True)
            target.symlink_to(r / name)

    def _start_munge(self) -> None:
        if subprocess.run(["munge", "-n"], capture_output=True).returncode == 0:
            return  # already running
        key = Path("/etc/munge/munge.key")
        munge = pwd.getpwnam("munge")
        if not key.exists() or key.stat().st_size == 0:
            subprocess.run(["mungekey", "-c", "-f", "-k", str(key)], check=True)
            os.chown(key, munge.pw_uid, munge.pw_gid)
            key.chmod(0o600)
        run = Path("/run/munge")
        run.mkdir(exist_ok=True)
        os.chown(run, munge.pw_uid, munge.pw_gid)
        subprocess.run(["runuser", "-u", "munge", "--", "munged"], check=True)

    def start(self, timeout: float = 60) -> LocalSlurm:
        install()
        if os.geteuid() != 0:
            raise SlurmUnavailable("the localhost Slurm runs its daemons as root")
        running = subprocess.run(["pgrep", "-x", "slurmctld|slurmd"], capture_output=True,
                                 text=True).stdout.split()
        if running:  # it would answer in our cluster's place, on the same ports
            raise SlurmUnavailable(f"Slurm daemons already running (pids {running})")
        self._write_config()
        self._start_munge()
        subprocess.run(["slurmctld", "-f", str(self.conf), "-c", "-i"], check=True,
                       env=self.env)
        subprocess.run(["slurmd", "-f", str(self.conf), "-N", "localhost"], check=True,
                       env=self.env)
        deadline = time.time() + timeout
        while time.time() < deadline:
            # one line per partition the node is in
            state = set(self.run("sinfo", "-h", "-N", "-o", "%T", check=False).stdout.split())
            if state == {"idle"}:
                return self
            time.sleep(0.5)
        self.stop()
        raise SlurmUnavailable(f"the node did not become idle in {timeout} s (state {state!r}); "
                               f"see {self.root / 'log'}")

    def stop(self) -> None:
        """Kill both daemons by their pid files; wait until they are gone."""
        for name in ("slurmd", "slurmctld"):
            pidfile = self.root / "run" / f"{name}.pid"
            try:
                pid = int(pidfile.read_text().strip())
            except (OSError, ValueError):
                continue
            try:
                os.kill(pid, signal.SIGTERM)
                for _ in range(50):
                    os.kill(pid, 0)
                    time.sleep(0.1)
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for name in ("slurm.conf", "gres.conf"):
            link = ETC / name
            if link.is_symlink() and link.resolve() == (self.root / name).resolve():
                link.unlink()

    def __enter__(self) -> LocalSlurm:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- use ---------------------------------------------------------------------------
    def run(self, *cmd: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(cmd, env=self.env, capture_output=True, text=True, check=check,
                              timeout=60)

    def job(self, job_id: str) -> dict[str, str]:
        """`scontrol show job` as key -> value (finished jobs stay MinJobAge seconds)."""
        out = self.run("scontrol", "show", "job", "-o", job_id).stdout
        fields = {}
        for item in out.split():
            k, sep, v = item.partition("=")
            if sep:
                fields[k] = v
        return fields
