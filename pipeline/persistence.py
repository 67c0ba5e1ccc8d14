"""Model folders: ``model.joblib`` plus ``card.json``.

Unpickling runs code, so ``load_model`` reads the card first, hashes ``model.joblib`` and
refuses to unpickle anything whose sha256 differs from the card's. This catches a partial
copy, a corrupted download or an accidental overwrite; it does not make an untrusted folder
safe (whoever can write the file can rewrite the card too). Only load models you trust.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import tempfile
import warnings
from datetime import datetime, timezone
from pathlib import Path

import joblib

from .errors import ModelError

MODEL_FILE = "model.joblib"
CARD_FILE = "card.json"
FORMAT_VERSION = 1
_TRACKED_LIBRARIES = ("scikit-learn", "numpy", "scipy", "pandas", "joblib", "jieba", "rjieba")


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def library_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    versions = {"python": platform.python_version()}
    for name in _TRACKED_LIBRARIES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def new_card(*, labels, config, data_sha256: str, n_rows: int, metrics: dict | None = None,
             label_counts: dict | None = None) -> dict:
    training = {"sha256": data_sha256, "rows": int(n_rows)}
    if label_counts is not None:  # what the model knew of the label mix: its majority baseline
        training["label_counts"] = {str(k): int(v) for k, v in sorted(label_counts.items())}
    return {
        "format_version": FORMAT_VERSION,
        "labels": list(labels),
        "config": config,
        "training_data": training,
        "metrics": metrics or {},
        "versions": library_versions(),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def save_model(model, path: str | os.PathLike) -> Path:
    """Write the folder atomically: build it beside the target, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    umask = os.umask(0)
    os.umask(umask)
    staging.chmod(0o777 & ~umask)  # mkdtemp makes it private; a model folder is shared like any other
    try:
        joblib.dump(model.pipeline, staging / MODEL_FILE, compress=3)
        model.card["model_sha256"] = file_sha256(staging / MODEL_FILE)
        write_json(staging / CARD_FILE, model.card)
        if path.exists():
            backup = path.with_name(f".{path.name}.old")
            shutil.rmtree(backup, ignore_errors=True)
            path.rename(backup)
            staging.rename(path)
            shutil.rmtree(backup, ignore_errors=True)
        else:
            staging.rename(path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return path


def write_json(path: Path, data) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2, default=_json_default) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _json_default(value):
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def read_card(path: str | os.PathLike) -> dict:
    path = Path(path)
    if not path.is_dir():
        raise ModelError(f"{path}: not a model folder (expected a folder with {MODEL_FILE} and {CARD_FILE})")
    card_path = path / CARD_FILE
    if not card_path.exists():
        raise ModelError(f"{card_path}: missing; a model folder needs {CARD_FILE} beside {MODEL_FILE}")
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"{card_path}: not valid JSON ({exc})") from None
    if not isinstance(card, dict) or "model_sha256" not in card:
        raise ModelError(f"{card_path}: has no model_sha256; cannot verify {MODEL_FILE}, refusing to load it")
    version = card.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelError(
            f"{card_path}: format_version {version!r} is newer than this tool understands ({FORMAT_VERSION}); "
            "upgrade the package to load this model"
        )
    return card


def read_verified(path: str | os.PathLike) -> tuple[dict, bytes]:
    """The card and the bytes of ``model.joblib``, read once and checked against the card's
    sha256. Everything that unpickles a model (here, or a Dask worker) starts from these."""
    path = Path(path)
    card = read_card(path)
    model_path = path / MODEL_FILE
    try:
        data = model_path.read_bytes()
    except FileNotFoundError:
        raise ModelError(f"{model_path}: missing; the folder has a card but no model") from None
    actual = hashlib.sha256(data).hexdigest()
    if actual != card["model_sha256"]:
        raise ModelError(
            f"{model_path}: sha256 {actual[:16]}… does not match the card's {str(card['model_sha256'])[:16]}…; "
            "the file is corrupt or was replaced. Refusing to unpickle it; retrain or copy the folder again"
        )
    return card, data


def load_model(path: str | os.PathLike):
    """Verify, then unpickle. Raises ``ModelError`` before unpickling on any mismatch."""
    import io

    from .model import TopicModel

    path = Path(path)
    card, data = read_verified(path)
    trained_with = card.get("versions", {}).get("scikit-learn")
    running = library_versions()["scikit-learn"]
    if trained_with and trained_with != running:
        warnings.warn(
            f"{path}: trained with scikit-learn {trained_with}, running {running}; scikit-learn does not "
            "support loading models across versions. Retrain with this version if predictions look wrong.",
            stacklevel=2,
        )
    try:
        pipeline = joblib.load(io.BytesIO(data))
    except Exception as exc:
        raise ModelError(f"{path / MODEL_FILE}: cannot be loaded ({exc.__class__.__name__}: {exc})") from None
    return TopicModel(pipeline, card)
