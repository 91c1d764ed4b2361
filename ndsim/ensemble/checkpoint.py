"""Keeping finished work of an ensemble, and resuming from it.

With an output file ``OUT.nc``, the sidecar folder ``OUT.nc.partial/`` holds
a manifest of the run's options, a checkpoint of the merged reduction and,
with ``--full``, every finished chunk's per-draw values. ``--resume``
continues from it, refusing if the scenario, data, seed, chunk size, draws
or output mode changed; the result equals an uninterrupted run bit for bit.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import numpy as np

from ndsim import summarize
from ndsim.errors import UsageError

__all__ = ["PARTIAL_SUFFIX", "Sidecar", "manifest", "open_sidecar", "report_kept"]

#: seconds between checkpoints of the merged reduction to the sidecar
CHECKPOINT_SECONDS = 10.0
#: sidecar folder suffix
PARTIAL_SUFFIX = ".partial"
#: what each manifest key is, in the words of a refusal to resume
_LABELS = {
    "scenario_sha256": "the scenario file",
    "dataset_sha256": "the data set",
    "seed": "--seed",
    "chunk_size": "--chunk-size",
    "draws": "--draws",
    "full": "--full",
    "variables": "the summarised variables",
    "ndsim_version": "the ndsim version",
}


class Sidecar:
    """``OUT.nc.partial/``: manifest, checkpoint of the merged reduction, per-draw chunks."""

    def __init__(self, target: Path):
        self.dir = target.with_name(target.name + PARTIAL_SUFFIX)

    @property
    def manifest_path(self) -> Path:
        return self.dir / "manifest.json"

    def exists(self) -> bool:
        return self.manifest_path.is_file()

    def start(self, manifest: dict) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        _replace_bytes(self.manifest_path, json.dumps(manifest, indent=1).encode())

    def manifest(self) -> dict:
        return json.loads(self.manifest_path.read_text())

    def save_state(self, acc: summarize.Accumulator, worst: np.ndarray | None) -> None:
        """Checkpoint the merged reduction and the worst balance residual so far."""
        st = acc.state()
        if worst is not None:
            st["worst_residual"] = worst
        st["extra"] = np.array(json.dumps({"draws_done": acc.next_draw}))
        tmp = self.dir / ".state.npz.tmp"
        with open(tmp, "wb") as fh:
            np.savez(fh, **st)
        os.replace(tmp, self.dir / "state.npz")

    def load_state(self) -> tuple[summarize.Accumulator, np.ndarray | None] | None:
        path = self.dir / "state.npz"
        if not path.is_file():
            return None
        with np.load(path) as st:
            data = {k: st[k] for k in st.files}
        worst = data.pop("worst_residual", None)
        data.pop("extra")
        return summarize.Accumulator.from_state(data), worst

    def chunk_path(self, start: int) -> Path:
        return chunk_path(self.dir, start)

    def save_chunk(self, start: int, full: dict[str, np.ndarray]) -> None:
        self.keep_staged(start, stage_chunk(self.dir, start, full))

    def keep_staged(self, start: int, staged: str | os.PathLike) -> None:
        """Keep the chunk a worker staged (:func:`stage_chunk`), now that it is merged."""
        kept = self.chunk_path(start)
        if kept.exists():  # (a chunk kept before, run again: the new one replaces it)
            shutil.rmtree(kept)
        os.replace(staged, kept)

    def load_chunk(self, start: int) -> Mapping[str, np.ndarray]:
        """The kept per-draw values of the chunk that starts at draw ``start``.

        A mapping that maps each array from its file when it is accessed
        (:class:`KeptChunk`), so a writer takes one variable at a time and copies
        nothing it does not compress.
        """
        return KeptChunk(self.chunk_path(start))

    def remove_unfinished(self) -> None:
        """Remove the chunks staged but never merged (or half written) by a stopped run."""
        for path in self.dir.glob(".draws_*.tmp"):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)

    def has_chunks(self) -> bool:
        return self.chunk_path(0).is_dir()

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def chunk_path(folder: str | os.PathLike, start: int) -> Path:
    """The folder of the kept draws of the chunk that starts at draw ``start``."""
    return Path(folder) / f"draws_{start:012d}"


class KeptChunk(Mapping[str, np.ndarray]):
    """The draws of a kept (or staged) chunk: one ``.npy`` file per variable in its
    folder, each mapped read-only from the file when it is accessed."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        self.names = sorted(p.stem for p in self.folder.glob("*.npy"))

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self.names:
            raise KeyError(name)
        return np.load(self.folder / f"{name}.npy", mmap_mode="r", allow_pickle=False)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)


def stage_chunk(
    folder: str | os.PathLike,
    start: int,
    full: Mapping[str, np.ndarray] | Iterable[tuple[str, np.ndarray]],
) -> str:
    """Write a chunk's draws to a temporary folder in ``folder`` (also in a worker); its path.

    ``full`` maps names to arrays, or yields (name, array) pairs: each array is written
    as it comes (a ``.npy`` file per variable, as :func:`numpy.save` writes it: no
    archive and no checksum to compute on either side), so a chunk that makes its
    arrays one at a time never holds them all. The chunk counts as kept once
    :meth:`Sidecar.keep_staged` renames the folder, when its reduction is merged: the
    sidecar keeps the chunks of the merged draws only.
    """
    path = chunk_path(folder, start)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.mkdir()
    items = full.items() if isinstance(full, Mapping) else full
    for name, values in items:
        np.save(tmp / f"{name}.npy", np.asanyarray(values), allow_pickle=False)
        del values  # the next array is made only now
    return str(tmp)


def _replace_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name("." + path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def manifest(inputs, scenario, *, seed: int, chunk_size: int, draws: int, full: bool, variables):
    """The options a resumed run must share with the run it continues."""
    from ndsim._version import __version__

    return {
        "ndsim_version": __version__,
        "scenario_sha256": getattr(scenario, "sha256", None) or "",
        "dataset_sha256": str(inputs.attrs.get("dataset_sha256", inputs.attrs.get("sha256", ""))),
        "seed": int(seed),
        "chunk_size": int(chunk_size),
        "draws": int(draws),
        "full": bool(full),
        "variables": list(variables),
    }


def open_sidecar(target: Path | None, manifest: dict, resume: bool):
    """The sidecar of ``target`` and what it kept: (sidecar, accumulator, worst residual).

    A new run starts an empty sidecar (refusing if one is left); ``resume``
    checks the manifest and loads the kept reduction (None, None if the run
    stopped before its first checkpoint). Without a target: (None, None, None).
    """
    if target is None:
        return None, None, None
    sidecar = Sidecar(target)
    if resume:
        return (sidecar, *_resume(sidecar, manifest))
    if sidecar.exists():
        raise UsageError(
            f"{sidecar.dir}: an interrupted run of this output is kept there; add --resume "
            "to continue it, or delete the folder to start again"
        )
    sidecar.start(manifest)
    return sidecar, None, None


def _resume(sidecar: Sidecar, manifest: dict):
    if not sidecar.exists():
        raise UsageError(f"--resume: nothing to resume, {sidecar.dir} does not exist")
    old = sidecar.manifest()
    changed = [_LABELS[key] for key in _LABELS if old.get(key) != manifest.get(key)]
    if changed:
        raise UsageError(
            f"--resume: {', '.join(changed)} changed since the interrupted run kept in "
            f"{sidecar.dir}; rerun with the same options, or delete that folder to start again"
        )
    if any(sidecar.dir.glob("draws_*.npz")):  # chunks kept as archives by an earlier ndsim
        raise UsageError(
            f"--resume: {sidecar.dir} holds draws kept by an earlier version of ndsim; "
            "delete that folder to start again"
        )
    sidecar.remove_unfinished()
    loaded = sidecar.load_state()
    return loaded if loaded is not None else (None, None)


def report_kept(exc: BaseException, done: int, n: int, k: int, sidecar: Sidecar) -> None:
    """Tell what the sidecar keeps (stderr) and mark the exception for the command line."""
    exc.ndsim_kept = (done, n, sidecar.dir)  # type: ignore[attr-defined]  # read by the CLI
    what = f"{done} of {n} draws ({math.ceil(done / k) if done else 0} chunks)"
    if done == n:
        every = ", every draw" if sidecar.has_chunks() else ""
        what = f"all {n} draws (the merged summaries{every})"
    print(f"ndsim: kept {what} in {sidecar.dir}", file=sys.stderr)
