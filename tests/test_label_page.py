"""The labelling page in a real headless Chromium: as `.ci/run` checks it, and as an analyst uses it.

Chromium is found as in test_report.py; Selenium drives it through Debian's chromium-driver
(`apt-get install chromium chromium-driver`; .ci/run installs both). Without them the tests skip,
except when CI=true, where they fail and say what to install.
"""
import html
import os
import shutil
import subprocess
import time

import pandas as pd
import pytest

import pipeline
from conftest import REPO, run_cli
from label_helpers import LabelServer, copy_reports, gold_for, gold_labels, pick_docs
from test_report import CHROME_FLAGS, CHROMIUM

CHROMEDRIVER = shutil.which("chromedriver") or next(
    (p for p in ("/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver") if os.path.exists(p)), None)


def _need(what: str, found, install: str):
    if found:
        return found
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{what} is not installed, and CI=true: .ci/run must install it ({install})")
    pytest.skip(f"{what} not installed ({install}); required when CI=true")


def _need_chromium():
    return _need("chromium", CHROMIUM, "apt-get install -y chromium")


def _need_selenium():
    chromium = _need_chromium()
    driver = _need("chromedriver", CHROMEDRIVER, "apt-get install -y chromium-driver")
    try:
        import selenium  # noqa: F401
    except ImportError:
        _need("selenium", None, "pip install -e '.[test]'")
    return chromium, driver


def test_label_page_renders_a_reports_paragraphs_in_headless_chromium(tmp_path):
    """How the issue checks it: a folder with a report, the default model, --no-browser."""
    chromium = _need_chromium()
    folder = tmp_path / "report"
    folder.mkdir()
    shutil.copy(REPO / "data" / "sample_report.txt", folder / "sample_report.txt")
    args = [folder, "--model", REPO / "models" / "default", "--out", tmp_path / "l.csv", "--port", "0", "--no-browser"]
    with LabelServer(args, tmp_path / "server.log") as server:
        assert server.url and server.url.startswith("http://127.0.0.1:"), server.stderr()
        dom = subprocess.run([chromium, *CHROME_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr",
                              "--v=0", "--virtual-time-budget=10000", "--dump-dom", server.url],
                             capture_output=True, text=True, timeout=120)
        assert dom.returncode == 0, dom.stderr[-2000:]
        assert server.stop() == 0
    console = [line for line in dom.stderr.splitlines() if ":CONSOLE" in line]
    assert not console, console
    assert 'data-ready="1"' in dom.stdout
    paragraphs = pipeline.ingest([folder])["text"].tolist()
    assert len(paragraphs) > 50
    missing = [p for p in paragraphs if html.escape(p, quote=False) not in dom.stdout]
    assert not missing, missing[:3]
    assert 'class="suggestion top"' in dom.stdout and "sample_report" in dom.stdout


@pytest.fixture()
def browser(tmp_path):
    chromium, chromedriver = _need_selenium()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in [*CHROME_FLAGS, "--headless=new", "--window-size=1300,1000", f"--user-data-dir={tmp_path / 'profile'}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


class Page:
    """The page as the analyst sees it: what is shown, and keys pressed on it."""

    def __init__(self, driver, url):
        from selenium.webdriver.common.by import By

        self.driver, self.By = driver, By
        driver.get(url)
        self.wait_for(lambda: self.body("data-ready") == "1")

    def body(self, name):
        return self.driver.find_element(self.By.TAG_NAME, "body").get_attribute(name)

    def wait_for(self, condition, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(0.05)
        raise AssertionError(f"timed out; page says: {self.text('toast')!r}; log: {self.console()}")

    def text(self, element_id):
        return self.driver.find_element(self.By.ID, element_id).text

    def press(self, key):
        """Press a key and wait until the page has shown the result."""
        from selenium.webdriver.common.action_chains import ActionChains

        before = self.body("data-actions")
        ActionChains(self.driver).send_keys(key).perform()
        self.wait_for(lambda: self.body("data-actions") != before)

    @property
    def item_id(self):
        return int(self.body("data-item-id"))

    @property
    def labelled(self):
        return int(self.body("data-labelled"))

    def labels(self):
        return [b.get_attribute("data-label") for b in self.driver.find_elements(self.By.CSS_SELECTOR, "#buttons button")]

    def top_suggestion(self):
        return self.driver.find_element(self.By.CSS_SELECTOR, ".suggestion.top").get_attribute("data-label")

    def doc_id(self):
        return self.driver.find_element(self.By.CSS_SELECTOR, "#where b").text

    def console(self):
        return [entry for entry in self.driver.get_log("browser") if entry["level"] == "SEVERE"]


def test_an_analyst_labels_with_the_keyboard_survives_a_kill_retrains_and_trains(
        browser, corpus, raw_corpus_dir, small_csv, small_corpus, model_dir, tmp_path):
    from selenium.webdriver.common.keys import Keys

    docs = pick_docs(corpus, small_corpus)
    reports = copy_reports(corpus, raw_corpus_dir, tmp_path / "reports", docs)
    gold = gold_labels(corpus, docs)
    out = tmp_path / "my_labels.csv"
    args = [reports, "--out", out, "--model", model_dir, "--train-data", small_csv, "--port", "0", "--no-browser"]
    expected = {}  # (doc_id, text) -> label the analyst gave

    def label_with_keys(page, n, accept_at=()):
        for step in range(n):
            doc, text = page.doc_id(), page.text("text")
            if step in accept_at:  # Enter takes the model's suggestion
                label = page.top_suggestion()
                page.press(Keys.ENTER)
            else:
                label = gold_for(gold, doc, text)
                page.press(str(page.labels().index(label) + 1))
            expected[(doc, text)] = label

    # 1. Label with the keyboard, with an accepted suggestion, a skip, an undo and a look back.
    server = LabelServer(args, tmp_path / "first.log")
    page = Page(browser, server.url)
    assert page.labelled == 0 and page.text("text") and "Document" in page.text("where")
    label_with_keys(page, 6, accept_at=(2,))
    assert page.labelled == 6
    shown = page.item_id
    page.press("s")  # skip it …
    assert page.item_id != shown
    page.press("u")  # … and undo the skip: the same paragraph is back
    assert page.item_id == shown and page.labelled == 6
    last_text = list(expected)[-1]
    page.press("u")  # undo the last label too: that paragraph is open again
    assert page.labelled == 5 and page.text("text") == last_text[1]
    del expected[last_text]
    label_with_keys(page, 1)
    page.press(Keys.ARROW_LEFT)  # back to the most recent decision
    assert "An earlier paragraph" in page.text("notice") and page.labelled == 6
    page.press(Keys.ESCAPE)  # and back to the queue
    label_with_keys(page, 6)
    assert page.labelled == 12
    assert not page.console()

    # 2. Kill the server mid-way: every decision is on disk, none twice.
    server.kill()
    rows = pd.read_csv(out)
    assert len(rows) == 12 and not rows.duplicated(["doc_id", "para_index"]).any()
    assert {(d, t): lab for d, t, lab in zip(rows["doc_id"], rows["text"], rows["label"])} == expected

    # Restart on the same --out: the page picks up where it stopped.
    server = LabelServer(args, tmp_path / "second.log")
    try:
        page = Page(browser, server.url)
        assert page.labelled == 12
        assert (page.doc_id(), page.text("text")) not in expected  # the queue continues, nothing offered twice
        label_with_keys(page, 8, accept_at=(4,))
        assert page.labelled == 20

        # 3. Retrain from the page; labelling goes on meanwhile, and the page says what changed.
        version = page.body("data-model-version")
        page.press("r")
        assert page.body("data-model-state") in ("training", "measuring", "idle")
        label_with_keys(page, 1)
        assert page.labelled == 21
        page.wait_for(lambda: page.body("data-model-version") != version and page.body("data-model-state") == "idle",
                      timeout=240)
        report = page.text("report")
        assert "Suggestions changed for" in report and "Before: the previous model agreed with" in report
        assert "cross-validated on your labels (3 folds by document)" in report, report
        assert not page.console()
        assert server.stop() == 0
    finally:
        if server.proc.poll() is None:
            server.kill()
    rows = pd.read_csv(out)
    assert len(rows) == 21 and {(d, t): lab for d, t, lab in zip(rows["doc_id"], rows["text"], rows["label"])} == expected
    assert pipeline.load(tmp_path / "my_labels.model").card["label_session"]["user_labels"] == 20

    # 4. Train a model from the labels file with the CLI, beside the training data.
    r = run_cli("train", small_csv, out, "--out", tmp_path / "mine")
    assert r.returncode == 0, r.stderr
    assert pipeline.load(tmp_path / "mine").card["training_data"]["rows"] == len(small_corpus) + 21
