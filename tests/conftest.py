import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def corpus() -> pd.DataFrame:
    return pd.read_csv(REPO / "data" / "labels.csv")


@pytest.fixture(scope="session")
def raw_corpus_dir(tmp_path_factory) -> Path:
    """The bundled reports as raw files, built from data/annotated/ (they are generated, not in git)."""
    sys.path.insert(0, str(REPO / "data"))
    from build_corpus import build

    folder = tmp_path_factory.mktemp("raw") / "corpus"
    build(folder, labels_path=None)
    return folder


@pytest.fixture(scope="session")
def small_corpus(corpus) -> pd.DataFrame:
    """Every ninth bundled document (about 2,000 paragraphs): enough to learn every label, fast to train."""
    docs = sorted(corpus["doc_id"].unique())[::9]
    return corpus[corpus["doc_id"].isin(docs)].reset_index(drop=True)


@pytest.fixture(scope="session")
def small_csv(small_corpus, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("data") / "train.csv"
    small_corpus[["doc_id", "para_index", "text", "label"]].to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def trained_model(small_corpus):
    import pipeline

    return pipeline.train(small_corpus)


@pytest.fixture(scope="session")
def model_dir(trained_model, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("models") / "m"
    trained_model.save(path)
    return path


def run_cli(*args, cwd=None, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout)


@pytest.fixture(scope="session")
def pickled_model_dir(trained_model, tmp_path_factory) -> Path:
    from pipeline.persistence import save_pickled_folder

    return save_pickled_folder(trained_model, tmp_path_factory.mktemp("old") / "m")
