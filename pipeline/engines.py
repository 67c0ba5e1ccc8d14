"""Where batch tasks run: in this process, in a pool of local processes, or on Dask.

Every engine takes an iterator of ``batch.Task`` and yields ``batch.TaskResult`` as tasks
finish (in any order: the journal puts them back in order). Each keeps only a few tasks per
worker in flight, so memory stays flat however large the input, and each loads the model once
per worker process, never per task.

- ``SerialEngine`` (one worker): no processes, no pickling.
- ``PoolEngine`` (local, N workers): a ``ProcessPoolExecutor``. The model is loaded and the
  segmentation dictionary warmed in this process *before* the pool forks, so on Linux workers
  share them copy-on-write instead of each spending a second on jieba's start-up. Where fork is
  not available each worker gets the model once, by the pool's initializer, in the safe format
  (``ModelPayload``), and rebuilds it.
- ``DaskEngine``: a ``dask.distributed`` cluster, local or remote. The model's files in the safe
  format (``arrays.npz``, ``state.json``) are scattered to every worker once
  (``client.scatter(..., broadcast=True)``); a worker checks them against the card's sha256
  and rebuilds the model from them on its first task (nothing is unpickled as a model), then
  keeps it for the rest of the job. Tables travel as row slices; report files are shipped as
  bytes to workers on other machines (which then need neither the model folder nor the inputs
  on disk), while workers on this machine read them directly.
"""
from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import signal
import sys
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from .errors import PipelineError
from .model import TopicModel

DASK_INSTALL_HINT = 'the Dask engine needs dask.distributed: pip install "report-topics[dask]"'
IN_FLIGHT_PER_WORKER = 2
WORKER_WAIT_SECONDS = 60


def make_engine(name: str, model: TopicModel, *, model_dir: Path | None, workers: int, scheduler: str | None = None):
    if name == "dask":
        return DaskEngine(model, model_dir=model_dir, workers=workers, scheduler=scheduler)
    if workers == 1:
        return SerialEngine(model)
    return PoolEngine(model, workers)


def model_fingerprint(model: TopicModel) -> str:
    """Identifies the model in a job's journal (``persistence.model_id``)."""
    from .persistence import model_id

    return model_id(model)


def warm_up(model: TopicModel) -> TopicModel:
    """Build every segmenter's dictionary now (about a second for jieba), not on the first task."""
    for value in model.pipeline.get_params(deep=True).values():
        if hasattr(value, "warm_up") and callable(value.warm_up) and not isinstance(value, type):
            value.warm_up()
    return model


def dask_setup(server=None) -> None:
    """Dask's preload hook, for a running cluster (README: "Running on a cluster").

    ``dask scheduler --preload pipeline.engines`` (``server`` is the Scheduler): the scheduler
    unpickles every submitted task, so it imports this package on a job's first task unless
    preloaded (measured: 1.5 CPU-s of a 13 s job, on the machine's busiest moment).

    ``dask worker --preload pipeline.engines`` (``server`` is the Worker): import what a task
    needs and build the default segmenter's dictionary when the worker starts, so the first job
    does not pay for them (measured: about 1.5 s of a 5 s job on two workers).

    ``dask worker --preload-nanny pipeline.engines`` (``server`` is the Nanny, before it starts
    its worker): do not set ``MALLOC_TRIM_THRESHOLD_`` for the worker, as a LocalCluster of ours
    does not (why: ``LOCAL_CLUSTER_CONFIG``). A value the machine's own environment sets is kept.
    """
    from distributed import Nanny, Scheduler

    if isinstance(server, Scheduler):
        return  # importing this module was the work
    if isinstance(server, Nanny):
        server.pre_spawn_env.pop("MALLOC_TRIM_THRESHOLD_", None)  # what the worker starts with
        server.env.pop("MALLOC_TRIM_THRESHOLD_", None)  # what it sets once started (too late for glibc)
        return
    import sklearn.calibration  # noqa: F401  (the classes a model is rebuilt with)
    import sklearn.svm  # noqa: F401

    from .config import DEFAULT_CONFIG
    from .preprocess import Segmenter

    pre = DEFAULT_CONFIG["preprocess"]
    Segmenter(pre["backend"], hmm=pre["hmm"], use_stopwords=pre["use_stopwords"]).warm_up()


class SerialEngine:
    ships_inputs = False
    workers = 1

    def __init__(self, model: TopicModel):
        self.model = warm_up(model)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def map_unordered(self, tasks: Iterable) -> Iterator:
        from .batch import run_task

        for task in tasks:
            yield run_task(self.model, task)


# The model inside a pool worker process, set once by the initializer.
_WORKER_MODEL: TopicModel | None = None


def _init_pool_worker(model: "TopicModel | ModelPayload", parent_pid: int) -> None:
    global _WORKER_MODEL
    # Ctrl-C reaches the whole process group; the parent decides when the job stops (at a safe
    # point, see batch._StopRequest), so a worker neither dies mid-task nor prints a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    die_with_parent(parent_pid)
    if isinstance(model, ModelPayload):  # spawned: rebuild from the safe format's bytes
        model = model.load()
    _WORKER_MODEL = warm_up(model)  # already warm when forked; loads the dictionary when spawned


def die_with_parent(parent_pid: int) -> None:
    """Have the kernel kill this worker when the job's process dies, however it dies (SIGKILL
    included): a job killed from outside must not leave workers of ~300 MB each behind."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_pdeathsig = 1
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0) != 0:
        return  # not permitted here; the pool's own shutdown still ends the worker normally
    if os.getppid() != parent_pid:  # the parent died before the request was in place
        os._exit(1)


def _run_in_pool(task):
    from .batch import run_task

    return run_task(_WORKER_MODEL, task)


def _ready() -> bool:
    return True


class PoolEngine:
    ships_inputs = False

    def __init__(self, model: TopicModel, workers: int, start_method: str | None = None):
        self.model = warm_up(model)
        self.workers = workers
        # fork on Linux; elsewhere (or when asked, as a test does) the platform's spawn/forkserver
        self.start_method = start_method or ("fork" if sys.platform.startswith("linux") else None)
        self.pool = None

    def __enter__(self):
        # fork shares the loaded model and warm dictionary; other start methods send each worker
        # the model's safe-format files once, through the initializer, and the worker rebuilds it.
        forked = self.start_method == "fork"
        context = multiprocessing.get_context(self.start_method) if self.start_method else None
        if forked:
            # Keep the garbage collector off the inherited heap: scanning it would write to every
            # object and copy the model page by page into each worker.
            gc.freeze()
        shipped = self.model if forked else ModelPayload.from_model(self.model, None)
        self.pool = ProcessPoolExecutor(self.workers, mp_context=context, initializer=_init_pool_worker,
                                        initargs=(shipped, os.getpid()))
        # Start the workers now, before this process opens files or starts threads (tqdm's
        # monitor, Arrow's I/O pool) that a forked child must not inherit mid-use.
        self.pool.submit(_ready).result()
        return self

    def __exit__(self, exc_type, *exc):
        self.pool.shutdown(wait=exc_type is None, cancel_futures=True)
        gc.unfreeze()  # a notebook that runs many jobs must not keep their objects out of GC for good
        return False

    def map_unordered(self, tasks: Iterable) -> Iterator:
        tasks = iter(tasks)
        limit = self.workers * IN_FLIGHT_PER_WORKER
        running = set()
        exhausted = False
        while True:
            while not exhausted and len(running) < limit:
                task = next(tasks, None)
                if task is None:
                    exhausted = True
                else:
                    running.add(self.pool.submit(_run_in_pool, task))
            if not running:
                return
            done, running = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                yield future.result()


# --------------------------------------------------------------------------- Dask

@dataclass(frozen=True)
class ModelPayload:
    """A model as data, to send to other processes: its card and the bytes of its safe-format
    files. ``load`` checks every file against the card's sha256 and rebuilds the model from
    arrays and JSON, exactly as ``pipeline.load`` does from a folder."""

    card: dict
    files: dict

    @property
    def sha256(self) -> str:
        """One digest for the model's files (``persistence.files_digest``)."""
        from .persistence import files_digest

        return files_digest(self.card["files"])

    @classmethod
    def from_model(cls, model: TopicModel | None, model_dir: Path | None) -> "ModelPayload":
        """From the model in memory when there is one (whatever format it was loaded from), else
        from the saved folder (its files, checked against the card)."""
        from .persistence import model_files, read_model_files, safe_card

        if model is None:
            card, files = read_model_files(model_dir)
            return cls(card, files)
        files = model_files(model)
        return cls(safe_card(model.card, files), files)

    def load(self) -> TopicModel:
        from .persistence import model_from_files

        return warm_up(model_from_files(self.card, self.files, where="the model sent to this worker"))


# On a Dask worker: the last model used, by sha256. One model per worker process, loaded on the
# first task that needs it; a later job with another model replaces it.
_DASK_MODEL: tuple[str, TopicModel] | None = None


def _dask_run_task(task, payload: ModelPayload):
    global _DASK_MODEL
    from .batch import run_task

    if _DASK_MODEL is None or _DASK_MODEL[0] != payload.sha256:
        _DASK_MODEL = (payload.sha256, payload.load())
    return run_task(_DASK_MODEL[1], task)


def _this_machine() -> set[str]:
    import socket

    names = {"127.0.0.1", "::1", "localhost"}
    try:
        hostname = socket.gethostname()
        names |= {hostname, socket.getfqdn(), *socket.gethostbyname_ex(hostname)[2]}
    except OSError:
        pass
    return names


def workers_share_disk(client) -> bool:
    """True when every worker runs on this machine, so it can read the inputs itself."""
    hosts = {info.get("host") for info in client.scheduler_info()["workers"].values()}
    return bool(hosts) and hosts <= _this_machine()


# Modules a LocalCluster's workers need, imported once in the forkserver they are forked from.
_FORKSERVER_PRELOAD = ["distributed", "numpy", "scipy", "pandas", "pyarrow", "sklearn", "pipeline.engines"]

# Dask settings for the LocalCluster a job starts for itself (a running cluster keeps its own).
# Measured on a 200,000-paragraph job on 2 cores, 2 workers, in the order of their effect:
LOCAL_CLUSTER_CONFIG = {
    # Dask starts workers as fresh interpreters, which import everything again: 13.2 CPU-s per
    # worker for work a forked one does in 11.0. Plain fork from this process is unsafe (Dask's
    # event-loop thread is running); a forkserver is single-threaded and has the package imported.
    "distributed.worker.multiprocessing-method": "forkserver",
    # Dask sets MALLOC_TRIM_THRESHOLD_=65536 so that workers holding large data hand freed memory
    # back to the OS. Setting it turns off glibc's adaptive mmap threshold: every buffer over
    # 128 KiB (each task's arrays and frames) is then mapped and unmapped afresh — 3× the page
    # faults (900,000 vs 300,000 per worker) and 7–10 % more CPU per worker. Our tasks hold no
    # data between them and memory stays flat without it, so it stays unset (None unsets it).
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
    # Diagnostics for a dashboard this cluster does not have, and the event-loop watchdog whose
    # warnings it silences: each wakes the worker's event loop, which then takes the GIL from the
    # task. Together they halved the workers' event-loop CPU and took 4–5 % off the job.
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "5s",
    # How often a worker checks its memory against the pause and terminate limits: our tasks'
    # memory is flat and bounded, so once a second is soon enough.
    "distributed.worker.memory.monitor-interval": "1s",
}


@contextlib.contextmanager
def _local_cluster_settings():
    """Apply ``LOCAL_CLUSTER_CONFIG`` while a LocalCluster starts (its workers copy the config)."""
    import dask
    from distributed.utils import get_mp_context

    with dask.config.set(LOCAL_CLUSTER_CONFIG):
        get_mp_context().set_forkserver_preload(_FORKSERVER_PRELOAD)
        yield


class DaskEngine:
    # Decided once connected: workers on other machines get the report bytes from the client;
    # workers on this machine read the files themselves (measured: shipping them through the
    # client cost 15 % of a 2-worker job on one machine).
    ships_inputs = True

    def __init__(self, model: TopicModel | None, *, model_dir: Path | None, workers: int, scheduler: str | None):
        try:
            import distributed  # noqa: F401
        except ImportError:
            raise PipelineError(DASK_INSTALL_HINT) from None
        self.model = model
        self.model_dir = model_dir
        self.workers = workers
        self.scheduler = scheduler
        self.client = self.cluster = None

    def __enter__(self):
        import logging
        import uuid

        from distributed import Client, LocalCluster

        try:
            if self.scheduler:
                self.client = Client(self.scheduler, timeout=WORKER_WAIT_SECONDS)
            else:
                with _local_cluster_settings():
                    self.cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True,
                                                dashboard_address=None, silence_logs=logging.ERROR)
                self.client = Client(self.cluster)
            self.client.wait_for_workers(1, timeout=WORKER_WAIT_SECONDS)
        except (OSError, TimeoutError) as exc:
            self.__exit__(None)
            where = self.scheduler or "a local cluster"
            raise PipelineError(f"cannot reach Dask workers at {where} within {WORKER_WAIT_SECONDS}s: {exc}") from None
        self.workers = max(len(self.client.scheduler_info()["workers"]), 1) if self.scheduler else self.workers
        self.ships_inputs = not workers_share_disk(self.client)
        self.token = uuid.uuid4().hex[:12]
        self.payload = self.client.scatter(ModelPayload.from_model(self.model, self.model_dir), broadcast=True,
                                           hash=False)
        return self

    def __exit__(self, *exc):
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()
        return False

    def map_unordered(self, tasks: Iterable) -> Iterator:
        from distributed import as_completed

        tasks = iter(tasks)
        threads = sum(self.client.nthreads().values()) or self.workers
        limit = threads * IN_FLIGHT_PER_WORKER
        running = as_completed()
        count = 0

        def submit() -> bool:
            nonlocal count
            task = next(tasks, None)
            if task is None:
                return False
            running.add(self.client.submit(_dask_run_task, task, self.payload, pure=False,
                                           key=f"report-topics-{self.token}-{task.task_id}"))
            count += 1
            return True

        while count < limit and submit():
            pass
        for future in running:
            result = future.result()
            future.release()
            submit()
            yield result
