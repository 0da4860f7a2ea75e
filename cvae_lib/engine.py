"""Running a list of tasks (:mod:`cvae_lib.tasks`): one at a time, in N local processes, or on Ray.

* ``Engine()``: one after another in this process, as the library always ran them.
* ``Engine(jobs=N)``: N local worker processes (:class:`concurrent.futures.ProcessPoolExecutor`),
  the machine's cores split between them; a task starts once the tasks it needs have finished
  (the order comes from :class:`graphlib.TopologicalSorter`).
* ``Engine(kind="ray", address=...)``: a Ray cluster (``pip install cvae-lib[cluster]``); each task
  is a Ray task whose arguments are the results of the tasks it needs, so Ray itself waits for them,
  asks for ``threads`` CPUs and, where the cluster has GPUs, a share of one.

Whatever runs them, each task trains with the seed of its own configuration, so the numbers are
the same; with the same thread count per task on the same CPU model, bit for bit (another model's
kernels round differently: the record names each task's CPU). Each finished task prints one line
(done / total, elapsed, an estimate of what is left) and leaves a record: its seconds, the worker
and the device it ran on, whether it loaded what an earlier run made (:attr:`Engine.records`).
"""
from __future__ import annotations

import concurrent.futures
import dataclasses
import graphlib
import multiprocessing
import os
import signal
import socket
import threading
import time

from .tasks import Task, release_data

ENGINES = ("local", "ray")
GPU_SHARE = 0.25  # of a GPU per Ray task: the models are small, four train side by side on one


class TaskFailed(RuntimeError):
    """A task raised: the message names the task and says what went wrong."""


@dataclasses.dataclass
class Engine:
    jobs: int = 1  # tasks at a time (local processes, or the Ray tasks' CPUs divided by ``threads``)
    kind: str = "local"  # "local" or "ray"
    address: str | None = None  # a Ray cluster's address; None starts one on this machine
    threads: int | None = None  # threads per task; default: this machine's cores divided by ``jobs``
    records: list[dict] = dataclasses.field(default_factory=list)

    def __post_init__(self):
        if self.kind not in ENGINES:
            raise ValueError(f"unknown engine {self.kind!r}; use one of {', '.join(ENGINES)}")
        if type(self.jobs) is not int or self.jobs < 1:
            raise ValueError(f"jobs must be a positive int, got {self.jobs!r}")
        if self.threads is not None and (type(self.threads) is not int or self.threads < 1):
            raise ValueError(f"threads must be a positive int, got {self.threads!r}")
        if self.address is not None and self.kind != "ray":
            raise ValueError("an address is for the Ray engine: add --engine ray")

    @property
    def threads_per_task(self) -> int | None:
        if self.threads is not None:
            return self.threads
        if self.jobs == 1 and self.kind == "local":
            return None  # this process as it is
        return max(1, (os.cpu_count() or 1) // self.jobs)

    def describe(self) -> str:
        if self.kind == "ray":
            where = f"the Ray cluster at {self.address}" if self.address else "a Ray cluster on this machine"
            return f"{where}, {self.threads_per_task} thread(s) per task"
        if self.jobs == 1:
            return "one task at a time in this process"
        return f"{self.jobs} local processes, {self.threads_per_task} thread(s) each"

    def run(self, tasks: list[Task], *, progress: bool = True, log=print,
            expected_seconds: dict[str, float] | None = None) -> dict[str, dict]:
        """Run every task once its needs are done; return ``{key: record the task returned}``.

        ``progress`` shows the training bars of a task run in this process (workers never draw
        them); ``expected_seconds`` (what each task took before) sharpens the estimate of what is left.
        """
        graph = _graph(tasks)
        tracker = _Progress(tasks, self, log, expected_seconds or {})
        if self.kind == "ray":
            return _run_on_ray(self, graph, tracker)
        if self.jobs == 1:
            return _run_here(self, graph, tracker, progress)
        return _run_in_processes(self, graph, tracker)


def _graph(tasks: list[Task]) -> dict[str, Task]:
    by_key = {}
    for task in tasks:
        if task.key in by_key:
            raise ValueError(f"two tasks are named {task.key!r}")
        by_key[task.key] = task
    for task in tasks:
        missing = [need for need in task.needs if need not in by_key]
        if missing:
            raise ValueError(f"task {task.key!r} needs {missing[0]!r}, which is not in the list")
    graphlib.TopologicalSorter({key: task.needs for key, task in by_key.items()}).prepare()  # no cycles
    return by_key


def execute(task: Task, threads: int | None, progress: bool = False, device: str | None = None) -> dict:
    """Run one task where this is called; its output with the record of where and how long."""
    import torch

    from .util import cpu_model, flush_denormal_floats

    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    flush_denormal_floats()
    if device is not None:
        task = dataclasses.replace(task, config=dataclasses.replace(task.config, device=device))
    start = time.perf_counter()
    try:  # a failure keeps its type and its one-line message (they name the file or setting)
        output = task.run(progress=progress)
    finally:
        torch.set_num_threads(before)
    seconds = time.perf_counter() - start
    return {"output": output, "seconds": seconds, "worker": f"{socket.gethostname()}:{os.getpid()}",
            "device": task.config.device, "threads": threads or before, "cpu": cpu_model()}


def _run_here(engine: Engine, graph: dict[str, Task], tracker: _Progress, progress: bool) -> dict[str, dict]:
    outputs = {}
    try:
        for key in graphlib.TopologicalSorter({k: t.needs for k, t in graph.items()}).static_order():
            outputs[key] = tracker.finished(graph[key], execute(graph[key], engine.threads_per_task, progress))
    finally:
        release_data()  # the splits a worker keeps for its next task; this process goes on with other work
    return outputs


class _Stop(BaseException):
    """Raised in a worker the parent stops, so that half-written files are removed on the way out."""


_in_task = False  # in a worker: whether a task is running (else a stop just ends the process)


def _stop(signum, frame):
    if _in_task:
        raise _Stop
    os._exit(128 + signal.SIGTERM)


def _worker_start() -> None:
    # Ctrl-C reaches every process of the terminal: the parent stops the run and says what was
    # kept; the workers must not each print a traceback of their own. The parent then stops them
    # with SIGTERM, which unwinds the task (an atomic write deletes its temporary file) before exiting.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _stop)
    # tqdm would make a semaphore shared between processes, which a worker stopped that way leaves
    # behind (Python warns of it at exit); a worker draws no bars, a thread lock is all it needs
    from tqdm import tqdm

    tqdm.set_lock(threading.RLock())


def _execute_in_worker(task: Task, threads: int | None) -> dict:
    global _in_task
    try:
        _in_task = True
        return execute(task, threads)
    except _Stop:
        os._exit(128 + signal.SIGTERM)
    finally:
        _in_task = False


def _run_in_processes(engine: Engine, graph: dict[str, Task], tracker: _Progress) -> dict[str, dict]:
    order = graphlib.TopologicalSorter({k: t.needs for k, t in graph.items()})
    order.prepare()
    outputs, running = {}, {}
    # "spawn": a fresh interpreter per worker (forking a process that already runs torch's thread
    # pools can hang); each worker then keeps its data and imports for the tasks it gets next.
    pool = concurrent.futures.ProcessPoolExecutor(engine.jobs, mp_context=multiprocessing.get_context("spawn"),
                                                  initializer=_worker_start)
    try:
        while order.is_active():
            for key in order.get_ready():
                running[pool.submit(_execute_in_worker, graph[key], engine.threads_per_task)] = key
            done, _ = concurrent.futures.wait(running, return_when=concurrent.futures.FIRST_COMPLETED)
            for future in done:
                key = running.pop(future)
                outputs[key] = tracker.finished(graph[key], future.result())
                order.done(key)
    except BaseException:
        # stop at the first failure (or Ctrl-C): what finished is saved, nothing else starts
        workers = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for process in workers:
            process.terminate()
        pool.shutdown(wait=True)  # workers gone and the pool's queues closed before the caller reports
        raise
    pool.shutdown()
    return outputs


def _ray_execute(task: Task, threads: int, *needed) -> dict:
    """A Ray task: ``needed`` are the records of the tasks it waits for (Ray resolves them first)."""
    import ray

    return execute(task, threads, device="cuda" if ray.get_gpu_ids() else "cpu")


def _run_on_ray(engine: Engine, graph: dict[str, Task], tracker: _Progress) -> dict[str, dict]:
    try:
        import ray
    except ImportError:
        raise ValueError("the Ray engine needs Ray: pip install 'cvae-lib[cluster]' (or pip install ray)") from None
    started_here = not ray.is_initialized()
    if started_here:
        threads = engine.threads_per_task
        options = ({"address": engine.address} if engine.address
                   else {"num_cpus": engine.jobs * threads, "include_dashboard": False})
        ray.init(**options, log_to_driver=False, configure_logging=False)
    try:
        gpus = ray.cluster_resources().get("GPU", 0)
        remote = ray.remote(_ray_execute)
        refs, keys = {}, {}
        for key in graphlib.TopologicalSorter({k: t.needs for k, t in graph.items()}).static_order():
            task = graph[key]
            ref = remote.options(num_cpus=engine.threads_per_task, num_gpus=GPU_SHARE if gpus else 0).remote(
                task, engine.threads_per_task, *(refs[need] for need in task.needs))
            refs[key], keys[ref] = ref, key
        outputs, pending = {}, list(refs.values())
        try:
            while pending:
                ready, pending = ray.wait(pending, num_returns=1)
                key = keys[ready[0]]
                try:
                    result = ray.get(ready[0])
                except ray.exceptions.RayTaskError as exc:  # the task's own exception, not Ray's wrapper
                    cause = getattr(exc, "cause", None)
                    if isinstance(cause, Exception):
                        raise cause from None
                    raise TaskFailed(f"task {key} failed: {str(exc).splitlines()[0]}") from None
                outputs[key] = tracker.finished(graph[key], result)
        except BaseException:
            for ref in pending:
                ray.cancel(ref)
            raise
        return outputs
    finally:
        if started_here:
            ray.shutdown()


class _Progress:
    """One line per finished task, and its record."""

    def __init__(self, tasks: list[Task], engine: Engine, log, expected: dict[str, float]):
        self.total, self.engine, self.log, self.expected = len(tasks), engine, log, expected
        self.left = {task.key: task for task in tasks}
        self.start = time.perf_counter()
        self.made: list[float] = []  # seconds of the tasks this run made (not loaded)
        engine.records.clear()

    def finished(self, task: Task, result: dict) -> dict:
        output = result["output"]
        loaded = bool(output.get("loaded"))
        if not loaded:
            self.made.append(result["seconds"])
        self.left.pop(task.key)
        record = {"task": task.key, "action": task.action, "seconds": round(result["seconds"], 3),
                  "made_seconds": round(output.get("made_seconds", result["seconds"]), 3),
                  "loaded": loaded, "worker": result["worker"], "device": result["device"],
                  "threads": result["threads"], "cpu": result["cpu"],
                  "finished_after": round(time.perf_counter() - self.start, 3)}
        self.engine.records.append(record)
        done = self.total - len(self.left)
        what = (f"loaded (made in {_duration(record['made_seconds'])})" if loaded
                else f"done in {_duration(result['seconds'])}")
        self.log(f"[{done}/{self.total}] {task.key}: {what} on {result['worker']} ({result['device']}); "
                 f"{_duration(time.perf_counter() - self.start)} elapsed{self._estimate()}")
        return output

    def _estimate(self) -> str:
        if not self.left:
            return ""
        typical = sum(self.made) / len(self.made) if self.made else None
        known = [self.expected.get(key, typical) for key in self.left]
        if any(seconds is None for seconds in known):
            return ""
        workers = 1 if self.engine.kind == "local" and self.engine.jobs == 1 else self.engine.jobs
        return f", about {_duration(sum(known) / workers)} left"


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
