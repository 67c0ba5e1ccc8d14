"""The labelling session and its server: queue, decisions, resume, retrain, every endpoint's bad
requests, the lock, and a server killed with SIGKILL in the middle of a burst of labels."""
import json
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.request

import numpy as np
import pandas as pd
import pytest

import pipeline
from conftest import REPO, run_cli
from label_helpers import LabelServer, copy_reports, gold_for, gold_labels, pick_docs
from pipeline.errors import InputError
from pipeline.labelling.queue import margins, uncertain_order
from pipeline.labelling.session import NotFound, SessionError, open_session
from pipeline.labelling.store import LabelStore


@pytest.fixture(scope="module")
def docs(corpus, small_corpus):
    return pick_docs(corpus, small_corpus)


@pytest.fixture(scope="module")
def reports(corpus, raw_corpus_dir, docs, tmp_path_factory):
    return copy_reports(corpus, raw_corpus_dir, tmp_path_factory.mktemp("label") / "reports", docs)


@pytest.fixture(scope="module")
def gold(corpus, docs):
    return gold_labels(corpus, docs)


@pytest.fixture(scope="module")
def n_paragraphs(corpus, docs):
    return int(corpus["doc_id"].isin(docs).sum())


def _open(reports, out, model_dir, small_csv, **kw):
    return open_session([reports], out, model=model_dir, train_data=[small_csv], **kw)


def _gold(session, gold, i):
    return gold_for(gold, session.keys[i][0], session.paragraphs.at[i, "text"])


# --------------------------------------------------------------------------- the session

def test_session_reads_reports_and_offers_the_least_sure_first(reports, n_paragraphs, model_dir, small_csv, tmp_path):
    session = _open(reports, tmp_path / "labels.csv", model_dir, small_csv)
    assert len(session.paragraphs) == n_paragraphs and len(session.doc_names) == 3
    assert set(session.paragraphs["file"].map(lambda f: f.rsplit(".", 1)[1])) == {"txt", "docx"}
    assert session.order == uncertain_order(margins(session.proba), session.doc_codes)
    first = session.next_id()
    assert margins(session.proba)[first] == margins(session.proba).min()
    item = session.item(first)
    assert item["suggestions"][0]["score"] >= item["suggestions"][1]["score"]
    assert len(item["document"]["paragraphs"]) == item["doc_length"]  # the whole (short) document
    assert session.state()["model"]["can_retrain"] is False  # nothing labelled yet
    doc = _open(reports, tmp_path / "doc.csv", model_dir, small_csv, order="document")
    assert doc.next_id() == 0 and doc.item(0)["position"] == 1


def test_decisions_undo_skip_and_resume(reports, model_dir, small_csv, gold, tmp_path):
    out = tmp_path / "labels.jsonl"
    session = _open(reports, out, model_dir, small_csv)
    decided = {}
    for _ in range(4):
        i = session.next_id()
        decided[i] = _gold(session, gold, i)
        session.label(i, decided[i])
    skipped = session.skip(session.next_id())
    changed = next(iter(decided))
    session.label(changed, "politics" if decided[changed] != "politics" else "ideology")
    assert session.undo() == changed  # the change is undone: the earlier label is back
    assert session.labelled[changed] == decided[changed]
    last = list(decided)[-1]
    assert session.undo() == skipped and session.undo() == last
    assert last not in session.labelled and session.next_id() == last  # back at the head of the queue
    session.label(last, decided[last])
    session.skip(session.next_id())
    with pytest.raises(SessionError, match="unknown label"):
        session.label(0, "nonsense")
    with pytest.raises(NotFound):
        session.item(10_000)

    again = _open(reports, out, model_dir, small_csv)
    assert again.labelled == session.labelled and len(LabelStore(out).load().rows) == 4
    assert again.next_id() == session.next_id() and again.state()["skipped"] == 1
    assert again.undo() == last  # after a restart, undo takes back the last label in the file
    table = pd.read_json(out, lines=True)
    assert table.columns[:4].tolist() == ["doc_id", "para_index", "text", "label"]
    assert {"labelled_at", "model_label", "model_score"} <= set(table.columns)
    assert table["model_score"].between(0, 1).all()


def test_retrain_adds_labels_to_the_training_data_and_reports_what_changed(reports, n_paragraphs, model_dir, small_csv,
                                                                           small_corpus, gold, tmp_path):
    out = tmp_path / "mine.csv"
    session = _open(reports, out, model_dir, small_csv)
    with pytest.raises(SessionError, match="label some paragraphs first"):
        session.retrain()
    session.start()
    try:
        for _ in range(15):
            i = session.next_id()
            session.label(i, _gold(session, gold, i))
        session.retrain()
        with pytest.raises(SessionError, match="already being trained"):
            session.retrain()
        session.label(session.next_id(), "other")  # labelling goes on while the model trains
        state = session.wait_idle(180)
    finally:
        session.close()
    assert state["state"] == "idle" and state["version"] == 2, state
    report = state["report"]
    # a base row with the same text as a user label (a stock heading, say) gives way to it, counted
    first = pd.read_csv(out, dtype=str).head(15)
    assert report["replaced"] == int(small_corpus["text"].isin(set(first["text"])).sum())
    assert report["rows"] == len(small_corpus) - report["replaced"] + 15 and report["user_rows"] == 15
    assert report["before"]["n"] == 15 and 0 <= report["before"]["accuracy"] <= 1
    after = report["after"]
    assert after["k"] == 3 and after["by"] == "document" and after["all"]["n"] == 15 and after["new"]["n"] == 15
    assert isinstance(report["changed"], int) and report["open"] == n_paragraphs - 16
    saved = pipeline.load(tmp_path / "mine.model")
    assert saved.card["label_session"]["user_labels"] == 15
    # The retrained model carries on when the session is opened again.
    again = _open(reports, out, model_dir, small_csv)
    assert "earlier run" in again.model_name and len(again.trained_keys) == 15
    np.testing.assert_allclose(again.proba, session.proba, atol=1e-5)


def test_cold_start_trains_a_first_model_after_a_few_labels_each(reports, gold, tmp_path):
    scheme = ["discipline", "work_style", "other"]
    session = open_session([reports], tmp_path / "cold.parquet", labels=",".join(scheme), order="uncertain")
    assert session.proba is None and session.item(session.next_id())["suggestions"] == []
    assert session.next_id() == 0 and session.state()["order"] == "document"
    assert "two labels have 3 examples" in session.state()["model"]["why_not"]
    session.start()
    try:
        while session.status["state"] == "idle" and session.next_id() is not None:
            i = session.next_id()
            label = _gold(session, gold, i)
            session.label(i, label if label in scheme else "other")
        assert session.status["state"] == "training"
        counts = pd.Series(list(session.labelled.values())).value_counts()
        assert (counts >= 3).sum() == 2  # started the moment a second label had three examples
        state = session.wait_idle(180)
    finally:
        session.close()
    assert state["version"] == 1 and session.proba is not None and session.state()["order"] == "uncertain"
    assert session.item(session.next_id())["suggestions"]
    assert set(state["report"]["left_out"]) | set(session.model_labels) <= set(scheme)


def test_open_session_errors_name_what_to_fix(reports, model_dir, tmp_path):
    with pytest.raises(InputError, match="file not found"):
        open_session([tmp_path / "nope"], tmp_path / "l.csv", model=model_dir)
    with pytest.raises(InputError, match="at least two labels"):
        open_session([reports], tmp_path / "l.csv", labels="politics")
    with pytest.raises(InputError, match="unsupported labels file type"):
        open_session([reports], tmp_path / "l.txt", model=model_dir)
    with pytest.raises(InputError, match="--model DIR"):
        open_session([reports], tmp_path / "l.csv")
    session = open_session([reports], tmp_path / "l.csv", model=model_dir)  # training data unknown
    assert "--train-data" in session.state()["model"]["why_not"]


def test_tables_and_predictions_are_inputs_too(model_dir, corpus, tmp_path):
    table = tmp_path / "paras.csv"
    corpus[["doc_id", "para_index", "text"]].head(30).to_csv(table, index=False)
    predictions = tmp_path / "pred.csv"
    assert run_cli("predict", model_dir, table, "--out", predictions, "--workers", "1").returncode == 0
    session = open_session([predictions, table], tmp_path / "l.csv", model=model_dir)
    assert len(session.paragraphs) == 30  # the same paragraphs twice are offered once


# --------------------------------------------------------------------------- every endpoint, bad requests

class _Response:
    def __init__(self, status, headers, body):
        self.status_code, self.headers, self.content = status, headers, body
        self.text = body.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.content)


class _Client:
    """Raw HTTP to a real server (http.client sends a path exactly as given: no dot-segment
    clean-up, as an attacker's request would not have it either)."""

    def __init__(self, port, session, logged):
        self.port, self.session, self.logged = port, session, logged

    def request(self, method, path, *, json_body=None, content=None, headers=None):
        import http.client

        headers = dict(headers or {})
        if json_body is not None:
            content = json.dumps(json_body).encode()
            headers.setdefault("Content-Type", "application/json")
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(method, path, body=content, headers=headers)
            response = connection.getresponse()
            return _Response(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
        finally:
            connection.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, json=None, **kw):
        return self.request("POST", path, json_body=json, **kw)

    def put(self, path, json=None, **kw):
        return self.request("PUT", path, json_body=json, **kw)


@pytest.fixture()
def client(reports, trained_model, small_csv, tmp_path):
    """The app served by uvicorn on a free loopback port, in a thread of the test process."""
    import time

    import uvicorn

    from pipeline.labelling.server import allowed_hosts, listen, make_app

    session = _open(reports, tmp_path / "labels.csv", trained_model, small_csv)
    logged = []
    sock = listen("127.0.0.1", 0)
    port = sock.getsockname()[1]
    app = make_app(session, "T0KEN", hosts=allowed_hosts("127.0.0.1", port), log=logged.append)
    server = uvicorn.Server(uvicorn.Config(app, log_level="critical", access_log=False, lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        yield _Client(port, session, logged)
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


def test_page_and_files_are_served_behind_the_token(client):
    page = client.get("/T0KEN/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"] and page.headers["x-frame-options"] == "DENY"
    assert 'src="static/label.js"' in page.text and "http" not in page.text.replace("http-equiv", "")
    assert client.get("/T0KEN/static/label.js").headers["content-type"].startswith("text/javascript")
    assert "Noto Sans CJK SC" in client.get("/T0KEN/static/label.css").text
    assert client.get("/T0KEN").status_code == 307
    assert client.logged == []


@pytest.mark.parametrize("path", ["/", "/api/state", "/static/label.js", "/T0KE/api/state", "/T0KENX/api/state",
                                  "/t0ken/api/state", "/favicon.ico", "//T0KEN/api/state"])
def test_no_token_no_answer(client, path):
    r = client.get(path)
    assert r.status_code == 403 and "token" in r.json()["error"]
    assert r.headers["x-content-type-options"] == "nosniff"
    r = client.post(path, json={"id": 0, "label": "politics"})
    assert r.status_code == 403
    assert len(client.logged) == 2 and "T0KEN" not in "".join(client.logged)
    assert client.session.labelled == {}


def test_a_foreign_host_is_refused(client):
    r = client.get("/T0KEN/api/state", headers={"Host": "evil.example"})
    assert r.status_code == 403 and "Host" in r.json()["error"]


@pytest.mark.parametrize("path", ["/T0KEN/static/../cli.py", "/T0KEN/static/..%2F..%2Fcli.py", "/T0KEN/static/%2e%2e",
                                  "/T0KEN/static/index.html", "/T0KEN/static/", "/T0KEN/static/label.js/x",
                                  "/T0KEN/../../etc/passwd", "/T0KEN/%2e%2e/%2e%2e/etc/passwd", "/T0KEN/api/../../README.md",
                                  "/T0KEN/reports/a.txt", "/T0KEN/api/item/../../../../etc/passwd"])
def test_nothing_outside_the_page_is_readable(client, path):
    r = client.get(path)
    assert r.status_code in (403, 404), (path, r.status_code)
    assert "root:" not in r.text and "import" not in r.text
    assert client.logged


@pytest.mark.parametrize("raw", ["abc", "-1", "1.5", "99999999999999999999", "%20", "0x1"])
def test_bad_item_ids(client, raw):
    r = client.get(f"/T0KEN/api/item/{raw}")
    assert r.status_code == 400 and "id" in r.json()["error"]
    assert len(client.logged) == 1


def test_item_and_state(client, n_paragraphs):
    state = client.get("/T0KEN/api/state").json()
    assert state["item"]["id"] == state["state"]["next_id"]
    assert client.get("/T0KEN/api/item/0").json()["position"] == 1
    assert client.get(f"/T0KEN/api/item/{n_paragraphs}").status_code == 404


@pytest.mark.parametrize("body, status, message", [
    ({"id": 0}, 400, "missing 'label'"),
    ({"label": "politics"}, 400, "missing 'id'"),
    ({"id": "0", "label": "politics"}, 400, "integer"),
    ({"id": True, "label": "politics"}, 400, "integer"),
    ({"id": 1.0, "label": "politics"}, 400, "integer"),
    ({"id": None, "label": "politics"}, 400, "integer"),
    ({"id": -1, "label": "politics"}, 404, "no paragraph"),
    ({"id": 100_000, "label": "politics"}, 404, "no paragraph"),
    ({"id": 0, "label": "nonsense"}, 400, "unknown label"),
    ({"id": 0, "label": 3}, 400, "unknown label"),
    ({"id": 0, "label": ["politics"]}, 400, "unknown label"),
    ({"id": 0, "label": "../politics"}, 400, "unknown label"),
])
def test_bad_label_requests(client, body, status, message):
    r = client.post("/T0KEN/api/label", json=body)
    assert r.status_code == status and message in r.json()["error"], r.text
    assert len(client.logged) == 1 and str(status) in client.logged[0]
    assert client.session.labelled == {} and not client.session.store.path.exists()


def test_bad_bodies(client):
    post = lambda path, **kw: client.post(f"/T0KEN/api/{path}", **kw)  # noqa: E731
    assert post("label", content=b'{"id": 0, "label": "politics"}').status_code == 415  # no content type
    assert post("label", content=b'{"id": 0, "label": "politics"}',
                headers={"Content-Type": "text/plain"}).status_code == 415
    assert post("label", content=b"{not json", headers={"Content-Type": "application/json"}).status_code == 400
    assert post("label", content=b"\xff\xfe", headers={"Content-Type": "application/json"}).status_code == 400
    assert post("label", json=[0, "politics"]).status_code == 400
    assert post("label", content=b"{" + b" " * 70_000 + b"}", headers={"Content-Type": "application/json"}).status_code == 413
    assert post("skip", json={}).status_code == 400
    assert post("skip", json={"id": "x"}).status_code == 400
    assert post("nothing", json={}).status_code == 404
    assert client.get("/T0KEN/api/label").status_code == 405
    assert client.put("/T0KEN/api/state", json={}).status_code == 405
    assert post("retrain", json={}).status_code == 400  # nothing labelled yet
    assert len(client.logged) == 12
    assert client.session.labelled == {}


def test_label_skip_undo_through_the_api(client):
    first = client.get("/T0KEN/api/state").json()["item"]["id"]
    r = client.post("/T0KEN/api/label", json={"id": first, "label": "politics"})
    assert r.status_code == 200 and r.json()["state"]["labelled"] == 1 and r.json()["item"]["id"] != first
    second = r.json()["item"]["id"]
    r = client.post("/T0KEN/api/skip", json={"id": second})
    assert r.json()["state"]["skipped"] == 1 and r.json()["item"]["id"] not in (first, second)
    r = client.post("/T0KEN/api/skip", json={"id": first})
    assert r.status_code == 409 and "undo" in r.json()["error"]
    r = client.post("/T0KEN/api/undo", json={})
    assert r.json()["item"]["id"] == second and r.json()["state"]["skipped"] == 0
    r = client.post("/T0KEN/api/undo", json={})
    assert r.json()["item"]["id"] == first and r.json()["state"]["labelled"] == 0
    assert client.post("/T0KEN/api/undo", json={}).json()["item"]["id"] == first  # nothing left to undo
    r = client.post("/T0KEN/api/retrain", json={})
    assert r.status_code == 400 and "label some paragraphs first" in r.json()["error"]


# --------------------------------------------------------------------------- the command line

def _post(url, path, body):
    request = urllib.request.Request(url + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def _get(url, path):
    with urllib.request.urlopen(url + path, timeout=30) as response:
        return json.load(response)


def test_label_help_is_fast_and_loads_no_web_stack():
    code = "import sys, pipeline.cli; pipeline.cli.build_parser(); print([m for m in ('starlette', 'uvicorn') if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.strip() == "[]"
    r = run_cli("label", "--help")
    assert r.returncode == 0 and "--no-browser" in r.stdout and "--order {uncertain,document}" in r.stdout


def test_cli_usage_errors_are_one_line(reports, model_dir, tmp_path):
    for args, message in [((reports, "--out", tmp_path / "l.txt", "--model", model_dir), "unsupported labels file type"),
                          ((tmp_path / "missing", "--out", tmp_path / "l.csv", "--model", model_dir), "file not found"),
                          ((reports, "--out", tmp_path / "l.csv", "--labels", "one"), "at least two labels"),
                          ((reports, "--out", tmp_path / "l.csv", "--model", tmp_path), "needs card.json"),
                          ((reports, "--out", tmp_path / "l.csv", "--model", model_dir, "--port", "70000"), "--port")]:
        r = run_cli("label", *args, "--no-browser")
        assert r.returncode == 2 and message in r.stderr, (args, r.stderr)
        assert r.stderr.strip().count("\n") == 0 and "Traceback" not in r.stderr


def test_second_server_on_one_labels_file_is_refused_and_kill_9_loses_nothing(reports, model_dir, small_csv, tmp_path):
    out = tmp_path / "labels.csv"
    args = [reports, "--out", out, "--model", model_dir, "--train-data", small_csv, "--port", "0", "--no-browser"]
    acknowledged = []
    with LabelServer(args, tmp_path / "first.log") as first:
        assert first.url.startswith("http://127.0.0.1:") and first.url.endswith("/")
        second = run_cli("label", *args, timeout=120)
        assert second.returncode == 2
        assert second.stderr.strip() == (f"error: {out}: another labelling server (or a predict job) is using this "
                                         "file; stop it, or choose another --out")
        # A burst of labels from another thread; SIGKILL arrives while they are in flight.
        stop = threading.Event()

        def label_forever():
            while not stop.is_set():
                try:
                    current = _get(first.url, "api/state")["item"]["id"]
                    _post(first.url, "api/label", {"id": current, "label": "other"})
                    acknowledged.append(current)
                except (urllib.error.URLError, ConnectionError, OSError):
                    return

        worker = threading.Thread(target=label_forever)
        worker.start()
        while len(acknowledged) < 12:
            assert worker.is_alive()
            threading.Event().wait(0.01)
        first.kill()
        stop.set()
        worker.join(30)
    rows = pd.read_csv(out)
    assert not rows.duplicated(["doc_id", "para_index"]).any()
    assert len(acknowledged) <= len(rows) <= len(acknowledged) + 1  # every answered decision, at most one more

    with LabelServer(args, tmp_path / "second.log") as again:
        state = _get(again.url, "api/state")
        assert state["state"]["labelled"] == len(rows)
        assert state["item"]["label"] is None  # the queue continues with an unlabelled paragraph
        after = _post(again.url, "api/label", {"id": state["item"]["id"], "label": "politics"})
        assert after["state"]["labelled"] == len(rows) + 1
        assert again.stop() == 0
        assert "stopped:" in again.stderr()
    final = pd.read_csv(out)
    assert len(final) == len(rows) + 1 and not final.duplicated(["doc_id", "para_index"]).any()
    assert not (tmp_path / ".labels.csv.lock").exists()


def test_listening_beyond_loopback_warns(reports, model_dir, tmp_path):
    args = [reports, "--out", tmp_path / "l.csv", "--model", model_dir, "--host", "0.0.0.0", "--port", "0", "--no-browser"]
    with LabelServer(args, tmp_path / "server.log") as server:
        assert server.url.startswith("http://127.0.0.1:")
        assert "warning: listening on 0.0.0.0" in server.stderr()
        # Any Host is answered then (the token still guards every request).
        port = server.url.split(":")[2].split("/")[0]
        token = server.url.rstrip("/").rsplit("/", 1)[1]
        request = urllib.request.Request(f"http://127.0.0.1:{port}/{token}/api/state", headers={"Host": "machine.lan"})
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200
        server.stop()


def test_train_accepts_a_labels_file_beside_other_tables(reports, model_dir, small_csv, small_corpus, gold, tmp_path):
    out = tmp_path / "my_labels.csv"
    session = _open(reports, out, model_dir, small_csv)
    for _ in range(10):
        i = session.next_id()
        session.label(i, _gold(session, gold, i))
    r = run_cli("train", small_csv, out, "--out", tmp_path / "mine")
    assert r.returncode == 0, r.stderr
    model = pipeline.load(tmp_path / "mine")
    assert model.card["training_data"]["rows"] == len(small_corpus) + 10
    # and with the bundled corpus, whose tables carry other columns (writer, genre, file …)
    both = pd.concat([small_corpus.head(200), pd.read_csv(out)], ignore_index=True)
    assert pipeline.train(both).card["training_data"]["rows"] == 210
