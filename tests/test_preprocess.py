import pickle
import subprocess
import sys

import pytest

from pipeline.preprocess import Segmenter, normalize_text


def test_nfkc_and_whitespace():
    assert normalize_text("　ＡＢＣ１２３  全角\t数字\u200b ") == "ABC123 全角 数字"


def test_normalize_is_idempotent():
    text = "２０２１年  ，学习　“四个意识”…"
    once = normalize_text(text)
    assert normalize_text(once) == once


@pytest.mark.parametrize("backend", ["jieba", "rjieba"])
def test_user_dictionary_terms_stay_whole(backend):
    words = Segmenter(backend)("坚决做到两个维护，严格落实中央八项规定精神，克服形式主义")
    assert {"两个维护", "中央八项规定", "形式主义"} <= set(words)
    assert "，" not in words  # stopwords (punctuation) dropped


def test_one_character_words_are_kept():
    assert "税" in Segmenter("jieba")("税 收 征管")


def test_segmenter_pickles_by_settings_and_loads_in_a_fresh_process(tmp_path):
    seg = Segmenter("jieba", hmm=False)
    path = tmp_path / "seg.pkl"
    path.write_bytes(pickle.dumps(seg))
    assert len(pickle.dumps(seg)) < 1000  # settings only, not the dictionary
    code = f"import pickle; s = pickle.load(open({str(path)!r}, 'rb')); print('|'.join(s('落实三会一课制度')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out.split("|") == seg("落实三会一课制度")


def test_traditional_script_reads_as_simplified(trained_model, corpus, small_corpus):
    """Traditional-script mirrors of reports are common on the web; the model sees them as the
    simplified text it was trained on."""
    import opencc

    from pipeline.preprocess import normalize_texts

    assert normalize_texts(["關於鞏固脫貧攻堅成果的對照檢查材料"], to_simplified=True) == ["关于巩固脱贫攻坚成果的对照检查材料"]
    assert normalize_texts(["關於"], to_simplified=False) == ["關於"]
    held = corpus[~corpus["doc_id"].isin(small_corpus["doc_id"])]["text"].head(200).tolist()
    traditional = [opencc.OpenCC("s2t").convert(t) for t in held]
    assert sum(a != b for a, b in zip(held, traditional)) > 150  # the copy really is traditional
    same = (trained_model.predict(traditional) == trained_model.predict(held)).mean()
    assert same >= 0.97, same
