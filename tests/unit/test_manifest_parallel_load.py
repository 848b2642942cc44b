"""Loading manifests in two processes gives exactly what loading them in one does.

Workspaces from PARALLEL_MIN_BYTES on are read by this process and a forked child at
once (the child's half comes back pickled); documents, their order, the digest and every
diagnostic must not depend on which process read a file.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reconciler.errors import DiagnosticSink
from reconciler.manifest import loader
from reconciler.manifest.loader import DocumentReader

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


def _files(tmp_path: Path) -> list[tuple[Path, str]]:
    texts = {
        "a.yaml": "kind: Authorization\nmetadata: {name: a}\n---\nkind: Job\nmetadata: {name: j}\n",
        "b.yaml": "kind: Authorization\nmetadata: {name: '{{ team }}-b'}\nspec: {label: \"{{ team | upper }}\"}\n",
        "c.yaml": "kind: Job\nmetadata: {name: c}\nspec:\n  config: {x: [1, 2\n",  # broken YAML
        "d.yaml": "---\n---\nkind: Job\nmetadata: {name: d}\n",  # empty documents keep their index
        "e.yaml": "kind: Job\nmetadata: {name: '{{ missing }}'}\n",  # undefined template variable
    }
    files = []
    for name, text in texts.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        files.append((tmp_path / name, name))
    return files


def _load(files: list[tuple[Path, str]], parallel: bool) -> tuple[list[tuple[object, ...]], str, list[str]]:
    sink = DiagnosticSink()
    reader = DocumentReader(files, {"team": "growth"}, sink, parallel=parallel)
    documents = [(d.file, d.index, d.data, d.start_line, d.line(["metadata", "name"])) for d in reader]
    return documents, reader.digest, [d.format() for d in sink.items]


def test_two_processes_read_what_one_reads(tmp_path: Path) -> None:
    files = _files(tmp_path)
    forks: list[int] = []
    real_worker = loader._Worker

    class CountingWorker(real_worker):  # type: ignore[misc, valid-type]
        def __init__(self, *args: object) -> None:
            super().__init__(*args)  # type: ignore[arg-type]
            forks.append(self.pid)

    loader._Worker = CountingWorker  # type: ignore[misc]
    try:
        parallel = _load(files, parallel=True)
    finally:
        loader._Worker = real_worker  # type: ignore[misc]
    serial = _load(files, parallel=False)
    assert forks, "the parallel load did not fork"
    assert parallel == serial
    documents, _, diagnostics = serial
    # (file, index in the file, first line, line of metadata.name): the empty document of d.yaml keeps its index
    assert [(d[0], d[1], d[3], d[4]) for d in documents] == [
        ("a.yaml", 0, 1, 2), ("a.yaml", 1, 4, 5), ("b.yaml", 0, 1, 2), ("d.yaml", 1, 3, 4)]
    assert documents[2][2]["metadata"]["name"] == "growth-b"
    assert [m.split(":", 2)[:2] for m in diagnostics] == [["c.yaml", "4"], ["e.yaml", "2"]]


def test_on_started_runs_after_the_fork_so_a_thread_started_there_costs_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The plan's early snapshot is a thread started from on_started: the load must still fork."""
    import threading

    files = _files(tmp_path)
    events: list[str] = []
    real_worker = loader._Worker

    class RecordingWorker(real_worker):  # type: ignore[misc, valid-type]
        def __init__(self, *args: object) -> None:
            events.append(f"fork with {threading.active_count()} thread(s)")
            super().__init__(*args)  # type: ignore[arg-type]

    release = threading.Event()
    helper = threading.Thread(target=release.wait, daemon=True)

    def on_started() -> None:
        events.append("started")
        helper.start()

    monkeypatch.setattr(loader, "_Worker", RecordingWorker)
    monkeypatch.setattr(loader, "PARALLEL_MIN_BYTES", 1)  # these small files count as big
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})  # and this machine has 2 CPUs
    sink = DiagnosticSink()
    reader = DocumentReader(files, {"team": "growth"}, sink, on_started=on_started)
    try:
        documents = list(reader)
        assert events == ["fork with 1 thread(s)", "started"]
        assert [d.file for d in documents] == ["a.yaml", "a.yaml", "b.yaml", "d.yaml"]
    finally:
        release.set()
        helper.join()
