"""Model folders: ``card.json`` plus the model as data, ``arrays.npz`` and ``state.json``.

The safe format (``npz-json``, version 1) stores a fitted model as what it is: numbers and
text. ``arrays.npz`` holds the numeric arrays (vocabulary keys, idf weights, coefficients,
intercepts, calibration parameters), an uncompressed zip of ``.npy`` files; ``state.json``
holds the word list, the labels and the few other values. The settings (n-gram ranges,
segmenter, classifier type, calibration method) are the card's config. Loading:

1. reads ``card.json`` and checks that the folder holds exactly the files the card lists;
2. reads each file and checks its sha256 against the card *before* parsing a byte of it;
3. parses ``state.json`` with ``json`` and ``arrays.npz`` with a header check of every array
   (numeric dtype, size matching the file) and ``np.load(..., allow_pickle=False)``;
4. builds the estimators with ``build_pipeline(config)`` and sets their fitted attributes
   (``model.restore_pipeline``), checking every entry's type, dtype and shape.

No step imports, instantiates or calls anything named by the folder, and nothing is
unpickled, so loading a folder runs no code from it, whoever wrote it. Any problem is a
one-line ``ModelError``.

Folders saved before this format (``model.joblib``, a pickle) are loaded only with
``allow_pickle=True``, after the same checksum check: unpickling runs whatever code the file
holds. ``convert_model`` rewrites such a folder in the safe format.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import shutil
import tempfile
import warnings
import zipfile
from datetime import datetime, timezone
from pathlib import Path

from .errors import ModelError, ModelWarning

CARD_FILE = "card.json"
ARRAYS_FILE = "arrays.npz"
STATE_FILE = "state.json"
SAFE_FILES = (ARRAYS_FILE, STATE_FILE)
MODEL_FORMAT = {"name": "npz-json", "version": 1}
PICKLE_FILE = "model.joblib"  # the old format: a joblib pickle, loaded only with allow_pickle=True
# The card's own layout: 1 = old folders (model.joblib, model_sha256); 2 = model_format and files.
FORMAT_VERSION = 2
_TRACKED_LIBRARIES = ("scikit-learn", "numpy", "scipy", "pandas", "joblib", "jieba", "rjieba")
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed, so that the same model always gives the same bytes


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
        "model_format": dict(MODEL_FORMAT),
        "labels": list(labels),
        "config": config,
        "training_data": training,
        "metrics": metrics or {},
        "versions": library_versions(),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


# ---- writing -------------------------------------------------------------------------------

def model_files(model) -> dict[str, bytes]:
    """The safe format's files of ``model``, as bytes: the same model always gives the same bytes."""
    from .model import pipeline_state

    meta, arrays = pipeline_state(model.pipeline)
    state = json.dumps(meta, ensure_ascii=False, separators=(",", ":"), allow_nan=False) + "\n"
    return {ARRAYS_FILE: _npz_bytes(arrays), STATE_FILE: state.encode("utf-8")}


def safe_card(card: dict, files: dict[str, bytes]) -> dict:
    """``card`` as saved with ``files``: the format and the sha256 of every file on it."""
    card = {key: value for key, value in card.items() if key not in ("model_sha256", "files")}
    card.update(format_version=FORMAT_VERSION, model_format=dict(MODEL_FORMAT))
    card = {"format_version": card.pop("format_version"), "model_format": card.pop("model_format"), **card}
    card["files"] = {name: hashlib.sha256(files[name]).hexdigest() for name in sorted(files)}
    return card


def save_model(model, path: str | os.PathLike) -> Path:
    """Write the folder in the safe format, atomically: build it beside the target, then rename it
    into place. ``model.card`` becomes the card as written (format and file checksums)."""
    path = Path(path)
    files = model_files(model)
    card = safe_card(model.card, files)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    umask = os.umask(0)
    os.umask(umask)
    staging.chmod(0o777 & ~umask)  # mkdtemp makes it private; a model folder is shared like any other
    try:
        for name, data in files.items():
            (staging / name).write_bytes(data)
        write_json(staging / CARD_FILE, card)
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
    model.card.clear()
    model.card.update(card)
    return path


def save_pickled_folder(model, path: str | os.PathLike) -> Path:
    """A model folder in the old format, as ``save`` wrote it before the safe format: model.joblib
    (a joblib pickle, compress=3) and a card (format_version 1) with its sha256. Kept only so the
    tests and the format benchmark can make such folders; ``save`` never writes it."""
    import joblib

    path = Path(path)
    path.mkdir(parents=True)
    joblib.dump(model.pipeline, path / PICKLE_FILE, compress=3)
    card = {k: v for k, v in model.card.items() if k not in ("files", "model_format")}
    card["format_version"] = 1
    card["model_sha256"] = file_sha256(path / PICKLE_FILE)
    write_json(path / CARD_FILE, card)
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


def _npz_bytes(arrays: dict) -> bytes:
    """An uncompressed ``.npz`` (what ``np.savez`` writes) with fixed member dates."""
    import numpy as np

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name in sorted(arrays):
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_DATE)
            with archive.open(info, "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.ascontiguousarray(arrays[name]), allow_pickle=False)
    return buffer.getvalue()


# ---- reading -------------------------------------------------------------------------------

def is_pickled(card: dict) -> bool:
    """True for a card of the old format, whose model is ``model.joblib`` (a pickle)."""
    return "files" not in card and "model_sha256" in card


def read_card(path: str | os.PathLike) -> dict:
    """The card of the folder ``path``, its layout checked (not yet the files it lists)."""
    path = Path(path)
    if not path.is_dir():
        raise ModelError(f"{path}: not a model folder (expected a folder with {CARD_FILE}, {ARRAYS_FILE} "
                         f"and {STATE_FILE})")
    card_path = path / CARD_FILE
    if not card_path.is_file():
        raise ModelError(f"{card_path}: missing; a model folder needs {CARD_FILE} beside its model files")
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"{card_path}: not valid JSON ({exc})") from None
    if not isinstance(card, dict):
        raise ModelError(f"{card_path}: must hold a JSON object")
    version = card.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise ModelError(f"{card_path}: format_version {version!r} is not a version number")
    if version > FORMAT_VERSION:
        raise ModelError(f"{card_path}: format_version {version!r} is newer than this tool understands "
                         f"({FORMAT_VERSION}); upgrade the package to load this model")
    if is_pickled(card):
        if not isinstance(card["model_sha256"], str):
            raise ModelError(f"{card_path}: model_sha256 must be a text")
        return card
    if "files" not in card:
        raise ModelError(f"{card_path}: lists no files (no 'files' with their sha256); cannot verify the model, "
                         "refusing to load it")
    fmt = card.get("model_format")
    if not isinstance(fmt, dict) or fmt.get("name") != MODEL_FORMAT["name"]:
        raise ModelError(f"{card_path}: model_format {fmt!r} is not one this tool reads ({MODEL_FORMAT['name']!r})")
    fmt_version = fmt.get("version")
    if isinstance(fmt_version, bool) or not isinstance(fmt_version, int):
        raise ModelError(f"{card_path}: model_format version {fmt_version!r} is not a version number")
    if fmt_version > MODEL_FORMAT["version"]:
        raise ModelError(f"{card_path}: model format version {fmt_version} is newer than this tool understands "
                         f"({MODEL_FORMAT['version']}); upgrade the package to load this model")
    files = card["files"]
    if not isinstance(files, dict) or sorted(files) != sorted(SAFE_FILES) or not all(
            isinstance(v, str) and len(v) == 64 for v in files.values()):
        listed = sorted(files) if isinstance(files, dict) else files
        raise ModelError(f"{card_path}: files must list exactly {', '.join(SAFE_FILES)} with their sha256, "
                         f"got {listed!r}")
    for key in ("labels", "config"):
        if key not in card:
            raise ModelError(f"{card_path}: has no {key!r}")
    return card


def read_model_files(path: str | os.PathLike, card: dict | None = None) -> tuple[dict, dict[str, bytes]]:
    """The card and the bytes of every file it lists, each checked against its sha256.

    The folder must hold exactly ``card.json`` and the listed files: a missing file or one the
    card does not list is refused (a model folder is not a place for anything else)."""
    path = Path(path)
    card = read_card(path) if card is None else card
    if is_pickled(card):
        raise ModelError(f"{path}: is an old pickled model folder; read it with load_model(..., allow_pickle=True)")
    present = {entry.name for entry in path.iterdir()}
    expected = {CARD_FILE, *card["files"]}
    missing, unknown = sorted(expected - present), sorted(present - expected)
    if missing:
        raise ModelError(f"{path / missing[0]}: missing; the card lists it. Copy the whole folder again")
    if unknown:
        raise ModelError(f"{path}: holds {', '.join(map(_shown, unknown))}, which the card does not list; a model "
                         f"folder holds only {', '.join(sorted(expected))}. Refusing to load it: remove what you did "
                         "not put there")
    files = {}
    for name in sorted(card["files"]):
        file = path / name
        if not file.is_file():
            raise ModelError(f"{file}: not a regular file")
        files[name] = file.read_bytes()
    verify_files(card, files, where=path)
    return card, files


def verify_files(card: dict, files: dict[str, bytes], where) -> None:
    """Refuse ``files`` unless they are exactly the card's and each matches its sha256."""
    if sorted(files) != sorted(card["files"]):
        raise ModelError(f"{where}: files {sorted(files)} are not the card's {sorted(card['files'])}")
    for name in sorted(files):
        actual, expected = hashlib.sha256(files[name]).hexdigest(), card["files"][name]
        if actual != expected:
            raise ModelError(f"{Path(str(where)) / name}: sha256 {actual[:16]}… does not match the card's "
                             f"{expected[:16]}…; the file is corrupt, truncated or was replaced. Refusing to read it; "
                             "copy the folder again")


def model_from_files(card: dict, files: dict[str, bytes], where="model"):
    """Check ``files`` against the card, then rebuild the model from them (no code is run)."""
    from .config import merge_config
    from .errors import ConfigError
    from .model import TopicModel, restore_pipeline

    verify_files(card, files, where)
    folder = Path(str(where))
    try:
        meta = json.loads(files[STATE_FILE].decode("utf-8"), parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ModelError(f"{folder / STATE_FILE}: not valid JSON ({exc})") from None
    arrays = read_npz(files[ARRAYS_FILE], folder / ARRAYS_FILE)
    try:
        config = merge_config(card["config"])
    except (ConfigError, AttributeError, TypeError) as exc:
        raise ModelError(f"{folder / CARD_FILE}: its config cannot be used ({exc})") from None
    pipeline = restore_pipeline(config, meta, arrays, where=str(folder / STATE_FILE),
                                arrays_where=str(folder / ARRAYS_FILE))
    labels = [str(c) for c in pipeline.classes_]
    if card["labels"] != labels:
        raise ModelError(f"{folder / CARD_FILE}: labels {card['labels']!r} differ from the model's {labels!r}")
    return TopicModel(pipeline, card)


def _shown(name: str) -> str:
    """A name from the folder as it can be shown in a one-line message."""
    return name if name.isprintable() else repr(name)


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


def read_npz(data: bytes, where) -> dict:
    """The arrays of an ``.npz`` file, refusing anything but plain numeric arrays.

    Before numpy reads an array, its header is checked: a numeric dtype (never an object,
    text or record array, which is what could carry a pickle), and a size that matches the
    bytes in the file (a truncated array, or a header that claims more, is refused). Then
    ``np.load(..., allow_pickle=False)`` reads them, so not even a missed case can unpickle."""
    import numpy as np

    from .state import NUMERIC_DTYPES

    if not data.startswith(b"PK\x03\x04"):  # else np.load would take it for a .npy or a pickle
        raise ModelError(f"{where}: not an .npz file (it does not start as a zip archive)")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            names = [info.filename for info in infos]
            if len(set(names)) != len(names):
                raise ModelError(f"{where}: the same array is stored twice")
            for info in infos:
                if not info.filename.endswith(".npy") or info.is_dir():
                    raise ModelError(f"{where}: holds {info.filename!r}, which is not a .npy array")
                if info.compress_type != zipfile.ZIP_STORED:
                    raise ModelError(f"{where}: {_shown(info.filename)} is compressed; this format stores "
                                     "arrays uncompressed")
                with archive.open(info) as member:
                    version = np.lib.format.read_magic(member)
                    if version == (1, 0):
                        shape, _, dtype = np.lib.format.read_array_header_1_0(member)
                    elif version == (2, 0):
                        shape, _, dtype = np.lib.format.read_array_header_2_0(member)
                    else:
                        raise ModelError(f"{where}: {_shown(info.filename)} has .npy version {version}; expected 1.0 or 2.0")
                    header = member.tell()
                if dtype not in NUMERIC_DTYPES:
                    raise ModelError(f"{where}: {_shown(info.filename)} is an array of {dtype}; only numeric arrays "
                                     "(bool, int32, int64, float32, float64) are allowed")
                if header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize != info.file_size:
                    raise ModelError(f"{where}: {_shown(info.filename)} holds {info.file_size - header} bytes of data, "
                                     f"not what its header says ({shape} of {dtype})")
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            return {name: npz[name] for name in npz.files}  # allow_pickle=False: never unpickles
    except ModelError:
        raise
    except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile, zipfile.LargeZipFile) as exc:
        problem = " ".join(str(exc).split())  # one line, whatever the library wrote
        raise ModelError(f"{where}: not a readable .npz file ({exc.__class__.__name__}: {problem})") from None


def load_model(path: str | os.PathLike, *, allow_pickle: bool = False):
    """Verify, then rebuild. Raises ``ModelError`` on any problem, before reading a file that
    does not match the card. An old pickled folder needs ``allow_pickle=True``."""
    path = Path(path)
    card = read_card(path)
    if is_pickled(card):
        return _load_pickle(path, card, allow_pickle)
    card, files = read_model_files(path, card)
    return model_from_files(card, files, where=path)


def convert_command(path) -> str:
    return f"python -m pipeline convert {path} --out NEW_DIR --allow-pickle"


def _load_pickle(path: Path, card: dict, allow_pickle: bool, converting: bool = False):
    if not allow_pickle:
        raise ModelError(
            f"{path}: old model format ({PICKLE_FILE}, a pickle: loading it can run any code it holds); "
            f"if you trust whoever wrote it, pass --allow-pickle (Python: allow_pickle=True), or rewrite it "
            f"in the safe format: {convert_command(path)}")
    model_path = path / PICKLE_FILE
    try:
        data = model_path.read_bytes()
    except FileNotFoundError:
        raise ModelError(f"{model_path}: missing; the folder has a card but no model") from None
    actual = hashlib.sha256(data).hexdigest()
    if actual != card["model_sha256"]:
        raise ModelError(
            f"{model_path}: sha256 {actual[:16]}… does not match the card's {str(card['model_sha256'])[:16]}…; "
            "the file is corrupt or was replaced. Refusing to unpickle it; retrain or copy the folder again")
    advice = "converting it to the safe format" if converting else f"convert it to the safe format: {convert_command(path)}"
    warnings.warn(f"{path}: loading an old pickled model ({PICKLE_FILE}), which can run code; {advice}",
                  ModelWarning, stacklevel=3)
    trained_with = card.get("versions", {}).get("scikit-learn")
    running = library_versions()["scikit-learn"]
    if trained_with and trained_with != running:
        warnings.warn(f"{path}: pickled with scikit-learn {trained_with}, running {running}; scikit-learn does not "
                      "support unpickling models across versions. Retrain if predictions look wrong.",
                      ModelWarning, stacklevel=3)
    import joblib

    from .model import TopicModel

    try:
        pipeline = joblib.load(io.BytesIO(data))
    except Exception as exc:
        raise ModelError(f"{model_path}: cannot be loaded ({exc.__class__.__name__}: {exc})") from None
    return TopicModel(pipeline, card)


# ---- identity and conversion ---------------------------------------------------------------

def files_digest(hashes: dict[str, str]) -> str:
    """One sha256 for a set of files, from theirs."""
    lines = "".join(f"{name}\t{hashes[name]}\n" for name in sorted(hashes))
    return hashlib.sha256(lines.encode("utf-8")).hexdigest()


def model_id(model) -> str:
    """Identifies a model (in a batch job's journal): a digest of its safe-format files' sha256,
    the same whether it was saved or only trained, or an old folder's ``model_sha256``."""
    card = model.card
    if isinstance(card.get("files"), dict):
        return files_digest(card["files"])
    if card.get("model_sha256"):
        return card["model_sha256"]
    return files_digest({name: hashlib.sha256(data).hexdigest() for name, data in model_files(model).items()})


# Texts every conversion is checked on, beside texts made of the model's own vocabulary.
_PROBE_TEXTS = [
    "一是理论学习不够深入，学懂弄通做实有差距。",
    "严格落实中央八项规定精神，坚决反对特权思想和特权现象。",
    "基层党组织建设存在薄弱环节，三会一课制度落实不到位。",
    "形式主义、官僚主义问题仍然存在，文山会海现象没有根本扭转。",
    "",
    "ABC 123 ！？",
]


def probe_texts(model, n: int = 40) -> list[str]:
    """Fixed sentences plus texts built from the model's own words and characters, so that a
    comparison of two models' scores touches a good part of their vocabularies."""
    names = []
    for name, vectorizer in model.pipeline.named_steps["features"].transformer_list:
        terms = [str(t).replace(" ", "") for t in vectorizer.get_feature_names_out()]
        names += terms[:: max(1, len(terms) // (n * 15))]
    chunks = ["".join(names[i:i + 15]) for i in range(0, len(names), 15)]
    return _PROBE_TEXTS + chunks


def convert_model(source: str | os.PathLike, out: str | os.PathLike, *, allow_pickle: bool = False):
    """Rewrite the model folder ``source`` in the safe format at ``out`` (which may be ``source``).

    An old pickled folder is unpickled, so this needs ``allow_pickle=True``: convert only folders
    you trust. Before anything is written, the model is rebuilt from the new files and must give
    exactly the same labels and scores as the loaded one on probe texts (``probe_texts``)."""
    import numpy as np

    source, out = Path(source), Path(out)
    card = read_card(source)
    model = _load_pickle(source, card, allow_pickle, converting=True) if is_pickled(card) else load_model(source)
    if is_pickled(card):
        model.card["converted_from"] = {"format": "joblib", "model_sha256": card["model_sha256"],
                                        "converted": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    texts = probe_texts(model)
    files = model_files(model)
    rebuilt = model_from_files(safe_card(model.card, files), files, where=out)
    if not (np.array_equal(model.predict_proba(texts), rebuilt.predict_proba(texts))
            and np.array_equal(model.predict(texts), rebuilt.predict(texts))):
        raise ModelError(f"{source}: the model rebuilt from the safe format does not give the same scores; "
                         "nothing written (please report this)")
    save_model(model, out)
    return model
