"""Issue 14: model folders that cannot run code.

A safe folder (card.json, arrays.npz, state.json) round-trips every classifier exactly; a folder
whose card matches its files but whose files carry code-running payloads is refused and the
payload never runs; damaged files are refused before they are parsed; old pickled folders load
only when asked, and convert to the safe format."""
import hashlib
import io
import json
import pickle
import shutil
import subprocess
import sys
import warnings
import zipfile

import numpy as np
import pytest

import pipeline
from conftest import run_cli
from pipeline.cli import main as cli_main
from pipeline.errors import ModelError, ModelWarning
from pipeline.paths import DEFAULT_MODEL
from pipeline.persistence import ARRAYS_FILE, CARD_FILE, SAFE_FILES, STATE_FILE, is_pickled, model_files, read_card

TEXT = "一是理论学习不够深入，学用结合不紧。\n二是落实中央八项规定精神有松懈。\n"


class _Payload:
    """Unpickling this runs code: ``open(marker, "w")`` creates the marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def payload_pickle(marker) -> bytes:
    return pickle.dumps(_Payload(marker))


def rewrite_checksums(folder) -> None:
    """What an attacker who can write the folder does: make the card match the files."""
    card = json.loads((folder / CARD_FILE).read_text(encoding="utf-8"))
    card["files"] = {name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in card["files"]}
    (folder / CARD_FILE).write_text(json.dumps(card, ensure_ascii=False), encoding="utf-8")


def npz_bytes(arrays: dict) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # allow_pickle defaults to True on save: object arrays become pickles
    return buffer.getvalue()


def saved_arrays(folder) -> dict:
    with np.load(folder / ARRAYS_FILE, allow_pickle=False) as npz:
        return {name: npz[name] for name in npz.files}


@pytest.fixture
def safe_copy(model_dir, tmp_path):
    copy = tmp_path / "model"
    shutil.copytree(model_dir, copy)
    return copy


@pytest.fixture
def texts(corpus):
    return corpus["text"].tolist()[::4] + ["", "ABC 123", "党" * 500]


def cli_refuses(folder, tmp_path, capsys, *extra) -> str:
    """predict on ``folder`` through the CLI: exit 2, one line on stderr, no traceback."""
    (tmp_path / "in.txt").write_text(TEXT, encoding="utf-8")
    code = cli_main(["predict", str(folder), str(tmp_path / "in.txt"), "--out", str(tmp_path / "out.csv"), *extra])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    assert not (tmp_path / "out.csv").exists()
    return err


# --- the format ------------------------------------------------------------------------------

def test_folder_layout_and_card(model_dir):
    assert sorted(p.name for p in model_dir.iterdir()) == [ARRAYS_FILE, CARD_FILE, STATE_FILE]
    card = read_card(model_dir)
    assert card["format_version"] == 2 and card["model_format"] == {"name": "npz-json", "version": 1}
    assert card["files"] == {name: hashlib.sha256((model_dir / name).read_bytes()).hexdigest() for name in SAFE_FILES}
    assert "model_sha256" not in card
    arrays = saved_arrays(model_dir)  # plain numbers: numpy reads them without allow_pickle
    assert all(a.dtype.kind in "biuf" for a in arrays.values())
    state = json.loads((model_dir / STATE_FILE).read_text(encoding="utf-8"))
    assert state["classes"] == card["labels"] and state["classifier"]["type"] == "linear_svc"
    assert isinstance(state["features"]["words"]["words"], list)


def test_saving_is_deterministic(trained_model, tmp_path):
    trained_model.save(tmp_path / "a")
    trained_model.save(tmp_path / "b")
    for name in SAFE_FILES:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


ROUND_TRIPS = [
    ("linear_svc", "temperature", {}),
    ("linear_svc", "sigmoid", {}),
    ("linear_svc", "isotonic", {}),
    ("sgd", "temperature", {}),
    ("sgd", "sigmoid", {}),
    ("sgd", "isotonic", {}),
    ("logistic_regression", "temperature", {}),
    # n-grams too long for 63-bit keys: vocabularies saved as JSON lists of strings
    ("linear_svc", "temperature", {"word_ngram_max": 5, "char_ngram_max": 4}),
]


@pytest.mark.parametrize("kind, calibration, features", ROUND_TRIPS,
                         ids=[f"{k}-{c}{'-string-vocab' if f else ''}" for k, c, f in ROUND_TRIPS])
@pytest.mark.parametrize("labels", ["multiclass", "binary"])
def test_round_trip_is_exact(kind, calibration, features, labels, small_corpus, texts, tmp_path):
    data = small_corpus.head(600)
    if labels == "binary":
        data = small_corpus[small_corpus["label"].isin(["discipline", "ideology"])].head(300)
    model = pipeline.train(data, config={"classifier": {"type": kind, "calibration": calibration},
                                         "features": features})
    if features:  # at least the characters (4 × 21 bits) are counted as strings
        assert not dict(model.pipeline.named_steps["features"].transformer_list)["chars"]._use_int_keys()
    model.save(tmp_path / "m")
    loaded = pipeline.load(tmp_path / "m")
    # Exact, not approximately: the arrays are the fitted ones, bit for bit, and the estimators
    # compute with the same code on them.
    assert np.array_equal(loaded.predict(texts), model.predict(texts))
    assert np.array_equal(loaded.predict_proba(texts), model.predict_proba(texts))
    assert (loaded.features(texts) != model.features(texts)).nnz == 0
    assert loaded.labels == model.labels and loaded.card == model.card
    from pipeline.explain import top_terms

    assert top_terms(loaded).equals(top_terms(model))


# --- crafted folders: the card matches, the files carry payloads ----------------------------

def _npz_payload(folder, marker):
    (folder / ARRAYS_FILE).write_bytes(payload_pickle(marker))


def _json_payload(folder, marker):
    (folder / STATE_FILE).write_bytes(payload_pickle(marker))


def _both_payloads(folder, marker):
    _npz_payload(folder, marker)
    _json_payload(folder, marker)


def _object_array_replaces_coef(folder, marker):
    arrays = saved_arrays(folder)
    arrays["classifier.linear.coef"] = np.array([_Payload(marker)], dtype=object)
    (folder / ARRAYS_FILE).write_bytes(npz_bytes(arrays))


def _extra_object_array(folder, marker):
    arrays = saved_arrays(folder)
    arrays["zz_extra"] = np.array([_Payload(marker)], dtype=object)
    (folder / ARRAYS_FILE).write_bytes(npz_bytes(arrays))


def _pickle_as_npy_member(folder, marker):
    arrays = saved_arrays(folder)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, array in arrays.items():
            member = io.BytesIO()
            np.save(member, array)
            archive.writestr(f"{name}.npy", payload_pickle(marker) if name.endswith("coef") else member.getvalue())
    (folder / ARRAYS_FILE).write_bytes(buffer.getvalue())


def _npy_header_then_pickle(folder, marker):
    """An .npy (not a zip) whose body is a pickle: np.load would unpickle it with allow_pickle=True."""
    buffer = io.BytesIO()
    np.save(buffer, np.array([_Payload(marker)], dtype=object), allow_pickle=True)
    (folder / ARRAYS_FILE).write_bytes(buffer.getvalue())


def _unknown_classifier_type(folder, marker):
    state = json.loads((folder / STATE_FILE).read_text(encoding="utf-8"))
    state["classifier"]["type"] = f"os.system:touch {marker}"
    (folder / STATE_FILE).write_text(json.dumps(state, ensure_ascii=False), encoding="utf-8")


def _unknown_calibration(folder, marker):
    state = json.loads((folder / STATE_FILE).read_text(encoding="utf-8"))
    state["classifier"]["calibration"]["method"] = "sklearn.calibration._SigmoidCalibration"
    (folder / STATE_FILE).write_text(json.dumps(state, ensure_ascii=False), encoding="utf-8")


def _jsonpickle_style_entry(folder, marker):
    state = json.loads((folder / STATE_FILE).read_text(encoding="utf-8"))
    state["classifier"]["py/reduce"] = [{"py/function": "builtins.open"}, {"py/tuple": [str(marker), "w"]}]
    (folder / STATE_FILE).write_text(json.dumps(state, ensure_ascii=False), encoding="utf-8")


def _unknown_type_in_card(folder, marker):
    card = json.loads((folder / CARD_FILE).read_text(encoding="utf-8"))
    card["config"]["classifier"]["type"] = "pickle"
    (folder / CARD_FILE).write_text(json.dumps(card, ensure_ascii=False), encoding="utf-8")


def _pickle_listed_on_the_card(folder, marker):
    (folder / "model.joblib").write_bytes(payload_pickle(marker))
    card = json.loads((folder / CARD_FILE).read_text(encoding="utf-8"))
    card["files"]["model.joblib"] = ""
    (folder / CARD_FILE).write_text(json.dumps(card, ensure_ascii=False), encoding="utf-8")


def _safe_card_with_model_sha256(folder, marker):
    """A safe card that also names a pickle: the files decide the format, never the pickle."""
    (folder / "model.joblib").write_bytes(payload_pickle(marker))
    card = json.loads((folder / CARD_FILE).read_text(encoding="utf-8"))
    card["model_sha256"] = hashlib.sha256(payload_pickle(marker)).hexdigest()
    (folder / CARD_FILE).write_text(json.dumps(card, ensure_ascii=False), encoding="utf-8")


CRAFTED = {
    "pickle-as-npz": (_npz_payload, "not an .npz"),
    "pickle-as-json": (_json_payload, "not valid JSON"),
    "pickle-as-both": (_both_payloads, "not valid JSON"),
    "object-array-instead-of-coef": (_object_array_replaces_coef, "object"),
    "extra-object-array": (_extra_object_array, "object"),
    "pickle-inside-npz-member": (_pickle_as_npy_member, "npy|magic"),
    "npy-file-holding-a-pickle": (_npy_header_then_pickle, "not an .npz"),
    "unknown-classifier-type": (_unknown_classifier_type, "knows only"),
    "unknown-calibration": (_unknown_calibration, "knows only"),
    "jsonpickle-entry": (_jsonpickle_style_entry, "unknown entry"),
    "unknown-type-in-card": (_unknown_type_in_card, "config"),
    "pickle-listed-on-card": (_pickle_listed_on_the_card, "files must list exactly"),
    "pickle-beside-safe-files": (_safe_card_with_model_sha256, "does not list"),
}


@pytest.mark.parametrize("craft, message", CRAFTED.values(), ids=CRAFTED.keys())
def test_crafted_folder_is_refused_and_nothing_runs(craft, message, safe_copy, tmp_path, capsys):
    marker = tmp_path / "PWNED"
    craft(safe_copy, marker)
    rewrite_checksums(safe_copy)
    for allow_pickle in (False, True):  # the flag is about old folders; it never makes a safe one unpickle
        with pytest.raises(ModelError, match=message):
            pipeline.load(safe_copy, allow_pickle=allow_pickle)
    cli_refuses(safe_copy, tmp_path, capsys)
    cli_refuses(safe_copy, tmp_path, capsys, "--allow-pickle")
    assert not marker.exists()


def test_the_payloads_are_live(tmp_path):
    """The payloads above do run when loaded the unsafe way, so their not running means something."""
    marker = tmp_path / "PWNED"
    pickle.loads(payload_pickle(marker)).close()
    assert marker.exists()
    marker.unlink()
    np.load(io.BytesIO(npz_bytes({"x": np.array([_Payload(marker)], dtype=object)})), allow_pickle=True)["x"][0].close()
    assert marker.exists()


def _attack_every_model_file(source, tmp_path):
    """The issue's check: copy the folder, replace each model file with a code-running payload,
    rewrite the card's checksums; predict must exit 2 with one line and nothing may run."""
    (tmp_path / "in.txt").write_text(TEXT, encoding="utf-8")
    card = read_card(source)
    for target in [[name] for name in card["files"]] + [list(card["files"])]:
        folder = tmp_path / ("attack-" + "-".join(target))
        shutil.copytree(source, folder)
        marker = tmp_path / "PWNED"
        for name in target:
            (folder / name).write_bytes(payload_pickle(marker))
        rewrite_checksums(folder)
        r = run_cli("predict", folder, tmp_path / "in.txt", "--out", tmp_path / "out.csv")
        assert r.returncode == 2, r.stderr
        assert r.stderr.count("\n") == 1 and r.stderr.startswith("error: ") and "Traceback" not in r.stderr
        assert not marker.exists() and not (tmp_path / "out.csv").exists()


def test_attack_on_a_saved_model(model_dir, tmp_path):
    _attack_every_model_file(model_dir, tmp_path)


def test_attack_on_the_default_model(tmp_path):
    if is_pickled(read_card(DEFAULT_MODEL)):
        pytest.skip("models/default is still in the old pickled format; re-save it in the safe format: "
                    "python -m pipeline convert models/default --out models/default --allow-pickle")
    _attack_every_model_file(DEFAULT_MODEL, tmp_path)


# --- damaged, missing and unknown files -----------------------------------------------------

def _truncate(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _flip(data: bytes) -> bytes:
    i = len(data) // 2
    return data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1:]


@pytest.mark.parametrize("name", SAFE_FILES)
@pytest.mark.parametrize("damage", [_truncate, _flip], ids=["truncated", "byte-flipped"])
def test_damaged_file_is_refused_before_it_is_parsed(name, damage, safe_copy, monkeypatch, tmp_path, capsys):
    path = safe_copy / name
    path.write_bytes(damage(path.read_bytes()))

    def never(*args, **kwargs):
        raise AssertionError("a damaged file was parsed")

    # Nothing may parse the file, or rebuild a model from it, once its checksum is wrong.
    monkeypatch.setattr(np, "load", never)
    monkeypatch.setattr(zipfile, "ZipFile", never)
    monkeypatch.setattr("pipeline.model.restore_pipeline", never)
    with pytest.raises(ModelError, match=rf"{name}: sha256 .* does not match the card"):
        pipeline.load(safe_copy)
    assert "sha256" in cli_refuses(safe_copy, tmp_path, capsys)


def test_flipped_byte_that_keeps_the_json_valid(safe_copy):
    """Only the checksum can catch this one: the file still parses."""
    path = safe_copy / STATE_FILE
    data = path.read_text(encoding="utf-8")
    digit = next(i for i, ch in enumerate(data) if ch.isdigit())
    path.write_text(data[:digit] + str((int(data[digit]) + 1) % 10) + data[digit + 1:], encoding="utf-8")
    json.loads(path.read_text(encoding="utf-8"))
    with pytest.raises(ModelError, match="state.json: sha256"):
        pipeline.load(safe_copy)


def test_missing_and_unknown_files(safe_copy):
    (safe_copy / "notes.txt").write_text("hello", encoding="utf-8")
    with pytest.raises(ModelError, match="notes.txt, which the card does not list"):
        pipeline.load(safe_copy)
    (safe_copy / "notes.txt").unlink()
    (safe_copy / STATE_FILE).unlink()
    with pytest.raises(ModelError, match="state.json: missing"):
        pipeline.load(safe_copy)


def test_card_without_checksums_is_refused(safe_copy):
    card = json.loads((safe_copy / CARD_FILE).read_text(encoding="utf-8"))
    del card["files"]
    (safe_copy / CARD_FILE).write_text(json.dumps(card), encoding="utf-8")
    with pytest.raises(ModelError, match="lists no files"):
        pipeline.load(safe_copy)


def test_newer_model_format_is_refused(safe_copy):
    card = json.loads((safe_copy / CARD_FILE).read_text(encoding="utf-8"))
    card["model_format"]["version"] = 2
    (safe_copy / CARD_FILE).write_text(json.dumps(card), encoding="utf-8")
    with pytest.raises(ModelError, match="newer than this tool"):
        pipeline.load(safe_copy)


@pytest.mark.parametrize("change, message", [
    (lambda a: a.update({"features.chars.idf": a["features.chars.idf"][:-1]}), "shape"),
    (lambda a: a.update({"classifier.linear.coef": a["classifier.linear.coef"].astype(np.int64)}), "dtype"),
    (lambda a: a.update({"classifier.linear.coef": np.full_like(a["classifier.linear.coef"], np.nan)}), "NaN"),
    (lambda a: a.pop("classifier.calibration.beta"), "missing"),
    (lambda a: a.update({"features.words.terms": a["features.words.terms"][::-1].copy()}), "increasing"),
    (lambda a: a.update({"x": np.zeros(3)}), "unexpected array"),
    (lambda a: a.update({"features.chars.idf": a["features.chars.idf"].astype("U8")}), "<U8"),
], ids=["shape", "dtype", "nan", "missing", "unsorted-vocabulary", "extra-array", "text-array"])
def test_arrays_that_do_not_fit_are_refused(change, message, safe_copy):
    arrays = saved_arrays(safe_copy)
    change(arrays)
    (safe_copy / ARRAYS_FILE).write_bytes(npz_bytes(arrays))
    rewrite_checksums(safe_copy)
    with pytest.raises(ModelError, match=message):
        pipeline.load(safe_copy)


@pytest.mark.parametrize("change, message", [
    (lambda s: s.update(classes=s["classes"][::-1]), "sorted order"),
    (lambda s: s.update(classes=[c + "x" for c in s["classes"]]), "differ from the model"),
    (lambda s: s["features"]["words"].update(words=[1, 2]), "list of texts"),
    (lambda s: s["features"].pop("chars"), "features.chars is missing"),
    (lambda s: s["classifier"].update(type="logistic_regression"), "config says"),
    (lambda s: s["classifier"]["linear"].update(classes="labels"), "knows only"),
], ids=["classes-order", "classes-not-the-card's", "words-type", "missing-vectorizer", "type-mismatch",
        "linear-classes"])
def test_state_that_does_not_fit_is_refused(change, message, safe_copy):
    state = json.loads((safe_copy / STATE_FILE).read_text(encoding="utf-8"))
    change(state)
    (safe_copy / STATE_FILE).write_text(json.dumps(state, ensure_ascii=False), encoding="utf-8")
    rewrite_checksums(safe_copy)
    with pytest.raises(ModelError, match=message):
        pipeline.load(safe_copy)


# --- old pickled folders --------------------------------------------------------------------

def test_old_folder_needs_allow_pickle(pickled_model_dir, tmp_path, capsys, small_csv):
    with pytest.raises(ModelError, match="--allow-pickle"):
        pipeline.load(pickled_model_dir)
    assert "--allow-pickle" in cli_refuses(pickled_model_dir, tmp_path, capsys)
    for argv in (["evaluate", str(pickled_model_dir), str(small_csv)], ["explain", str(pickled_model_dir)]):
        assert cli_main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "--allow-pickle" in err and "convert" in err


def test_old_folder_loads_with_allow_pickle(pickled_model_dir, trained_model, texts):
    with pytest.warns(ModelWarning, match="old pickled model"):
        model = pipeline.load(pickled_model_dir, allow_pickle=True)
    assert np.array_equal(model.predict_proba(texts), trained_model.predict_proba(texts))


def test_old_folder_on_the_command_line_with_allow_pickle(pickled_model_dir, tmp_path):
    (tmp_path / "in.txt").write_text(TEXT, encoding="utf-8")
    r = run_cli("predict", pickled_model_dir, tmp_path / "in.txt", "--out", tmp_path / "out.csv", "--allow-pickle")
    assert r.returncode == 0, r.stderr
    warning = [line for line in r.stderr.splitlines() if line.startswith("warning:")]
    assert len(warning) == 1 and "convert" in warning[0] and "Traceback" not in r.stderr
    r = run_cli("explain", pickled_model_dir, "--allow-pickle", "--quiet")
    assert r.returncode == 0 and "warning" not in r.stderr


def test_old_folder_checksum_is_checked_before_unpickling(pickled_model_dir, tmp_path):
    folder = tmp_path / "old"
    shutil.copytree(pickled_model_dir, folder)
    marker = tmp_path / "PWNED"
    (folder / "model.joblib").write_bytes(payload_pickle(marker))
    with pytest.raises(ModelError, match="sha256"):
        pipeline.load(folder, allow_pickle=True)
    assert not marker.exists()


def test_convert(pickled_model_dir, trained_model, texts, tmp_path, capsys):
    out = tmp_path / "new"
    assert cli_main(["convert", str(pickled_model_dir), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--allow-pickle" in err and not out.exists()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModelWarning)
        assert cli_main(["convert", str(pickled_model_dir), "--out", str(out), "--allow-pickle"]) == 0
    assert sorted(p.name for p in out.iterdir()) == [ARRAYS_FILE, CARD_FILE, STATE_FILE]
    converted = pipeline.load(out)  # no flag needed any more
    assert np.array_equal(converted.predict_proba(texts), trained_model.predict_proba(texts))
    assert np.array_equal(converted.predict(texts), trained_model.predict(texts))
    old_card, new_card = read_card(pickled_model_dir), read_card(out)
    assert new_card["converted_from"]["model_sha256"] == old_card["model_sha256"]
    for key in ("labels", "config", "training_data", "metrics", "versions", "created"):
        assert new_card[key] == old_card[key]
    # the same files as saving the in-memory model directly
    assert model_files(trained_model) == {name: (out / name).read_bytes() for name in SAFE_FILES}


def test_convert_in_place_with_the_api(pickled_model_dir, tmp_path):
    folder = tmp_path / "m"
    shutil.copytree(pickled_model_dir, folder)
    with pytest.warns(ModelWarning):
        pipeline.convert(folder, folder, allow_pickle=True)
    assert not is_pickled(read_card(folder)) and not (folder / "model.joblib").exists()
    pipeline.convert(folder, tmp_path / "again")  # a safe folder converts without the flag


def test_converting_an_attacked_old_folder_runs_nothing_without_the_flag(pickled_model_dir, tmp_path):
    folder = tmp_path / "old"
    shutil.copytree(pickled_model_dir, folder)
    marker = tmp_path / "PWNED"
    (folder / "model.joblib").write_bytes(payload_pickle(marker))
    card = json.loads((folder / CARD_FILE).read_text(encoding="utf-8"))
    card["model_sha256"] = hashlib.sha256(payload_pickle(marker)).hexdigest()
    (folder / CARD_FILE).write_text(json.dumps(card), encoding="utf-8")
    with pytest.raises(ModelError, match="--allow-pickle"):
        pipeline.convert(folder, tmp_path / "new")
    assert not marker.exists()


# --- workers: Dask payload and spawned pool workers get the safe format -----------------------

def test_worker_payload_is_the_safe_format(trained_model, model_dir, texts):
    from pipeline.engines import ModelPayload

    payload = ModelPayload.from_model(trained_model, None)
    assert sorted(payload.files) == sorted(SAFE_FILES)
    assert payload.files == {name: (model_dir / name).read_bytes() for name in SAFE_FILES}
    rebuilt = pickle.loads(pickle.dumps(payload)).load()  # as Dask or a spawned worker receives it
    assert np.array_equal(rebuilt.predict_proba(texts), trained_model.predict_proba(texts))
    assert ModelPayload.from_model(None, model_dir).files == payload.files
    damaged = ModelPayload(payload.card, {**payload.files, ARRAYS_FILE: payload.files[ARRAYS_FILE][:-1]})
    with pytest.raises(ModelError, match="sha256"):
        damaged.load()


def test_worker_payload_of_an_old_folder_is_the_safe_format(pickled_model_dir, model_dir):
    from pipeline.engines import ModelPayload

    with pytest.warns(ModelWarning):
        model = pipeline.load(pickled_model_dir, allow_pickle=True)
    payload = ModelPayload.from_model(model, None)
    assert payload.files == {name: (model_dir / name).read_bytes() for name in SAFE_FILES}


def test_spawned_pool_workers_rebuild_the_model(trained_model, model_dir, tmp_path, monkeypatch):
    """Where fork is not available, pool workers get the safe format's bytes and rebuild the model."""
    import pipeline.engines as engines
    from pipeline.batch import predict_to_file

    table = tmp_path / "t.csv"
    table.write_text("text\n" + "\n".join(["一是理论学习不够深入。", "落实中央八项规定精神有松懈。"] * 20) + "\n",
                     encoding="utf-8")
    predict_to_file(trained_model, [table], tmp_path / "serial.csv", workers=1, chunk_size=10)
    used = []

    def spawning_pool(name, model, *, model_dir, workers, scheduler=None):
        used.append(workers)
        return engines.PoolEngine(model, workers, start_method="spawn")

    monkeypatch.setattr(engines, "make_engine", spawning_pool)
    predict_to_file(model_dir, [table], tmp_path / "spawned.csv", workers=2, chunk_size=10)
    assert used == [2]
    assert (tmp_path / "serial.csv").read_text(encoding="utf-8") == (tmp_path / "spawned.csv").read_text(encoding="utf-8")


def test_loading_a_safe_folder_needs_no_unpickling(model_dir):
    """In a fresh process with pickle's loaders disabled, a safe folder still loads and predicts."""
    code = ("import pickle, sys, pipeline\n"
            "def refuse(*a, **k): raise RuntimeError('unpickling attempted')\n"
            "pickle.loads = pickle.load = refuse\n"
            "import joblib; joblib.load = refuse\n"
            "m = pipeline.load(sys.argv[1]); print(m.predict(['一是理论学习不够深入'])[0])\n")
    r = subprocess.run([sys.executable, "-c", code, str(model_dir)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() in read_card(model_dir)["labels"]


def test_format_benchmark_runs(model_dir):
    """benchmarks/bench_model_format.py end to end on a small model (figures are not checked)."""
    import importlib.util

    from conftest import REPO

    spec = importlib.util.spec_from_file_location("bench_model_format", REPO / "benchmarks" / "bench_model_format.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    result = bench.run(model_dir, repeat=2, cold=0)
    assert result["identical_predictions"] and set(result["bytes"]) == {"safe", "joblib"}
    assert "safe/joblib" in bench.format_result(result)
