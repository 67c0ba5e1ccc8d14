"""Command line: a thin layer over ``pipeline.api``. Each ``cmd_*`` parses nothing itself; it
takes parsed arguments, calls the API and prints. Heavy libraries are imported inside the
commands, so ``--help`` and bad arguments answer at once.

Exit codes: 0 success, 2 bad usage or bad input (one line naming the file, row or column),
1 internal error (a bug: traceback shown), 130/143 interrupted by Ctrl-C/SIGTERM.
"""
from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from .config import DEFAULT_CHUNK_SIZE
from .errors import InputError, PipelineError

DESCRIPTION = """Classify the paragraphs of Chinese party-building reports (对照检查材料, 发言提纲, 问题清单,
整改方案 …) by topic: train on labelled paragraphs, evaluate, predict over folders and tables.
Run `report-topics COMMAND --help` for a command's options."""


def _progress_enabled(args) -> bool:
    return not getattr(args, "quiet", False) and sys.stderr.isatty()


class _FoldProgress:
    """``progress(done, total)`` callback for cross-validation: a tqdm bar on a terminal."""

    def __init__(self, args, what: str):
        self.enabled, self.what, self.bar = _progress_enabled(args), what, None

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        if self.bar is None:
            self.bar = tqdm(total=total, desc=self.what, unit="fold", file=sys.stderr, leave=False)
        self.bar.update(done - self.bar.n)
        if done == total:
            self.bar.close()


def _say(args, message: str) -> None:
    if not getattr(args, "quiet", False):
        print(message, file=sys.stderr)


def _config(args) -> dict:
    from .config import load_config

    return load_config(getattr(args, "config", None), getattr(args, "set", None))


def cmd_train(args) -> int:
    """Train a model on labelled paragraph tables and save it as a model folder."""
    from . import api

    config = _config(args)
    _say(args, f"training on {', '.join(map(str, args.data))} …")
    model = api.train(args.data, config=config, cv=args.cv, holdout=args.holdout, text_col=args.text_col,
                      label_col=args.label_col, group_col=args.group_col,
                      progress=_FoldProgress(args, "cross-validation"))
    model.save(args.out)
    cv = model.card["metrics"].get("cv")
    holdout = model.card["metrics"].get("holdout")
    if holdout:
        _say(args, f"held-out {holdout['source']}: accuracy {holdout['accuracy']:.4f}, macro-F1 {holdout['macro_f1']:.4f}")
    if cv:
        _say(args, f"grouped {cv['k']}-fold CV: accuracy {cv['accuracy']['mean']:.4f} ± {cv['accuracy']['std']:.4f}, "
                   f"macro-F1 {cv['macro_f1']['mean']:.4f} ± {cv['macro_f1']['std']:.4f}")
    print(f"saved {args.out} ({model.card['training_data']['rows']} rows, labels: {', '.join(model.labels)})")
    return 0


def cmd_evaluate(args) -> int:
    """Evaluate a saved model on labelled tables (evaluate MODEL_DIR DATA...), or a config by
    grouped K-fold cross-validation (evaluate --cv K DATA...): metrics with bootstrap intervals,
    calibration, baselines and errors. --report OUT_DIR writes metrics.json, report.md and report.html."""
    from . import api
    from .report import format_report, write_report

    paths = list(args.paths)
    columns = dict(text_col=args.text_col, label_col=args.label_col, group_col=args.group_col)
    if args.cv is not None:
        if args.cv < 2:
            raise InputError(f"--cv needs at least 2 folds, got {args.cv}")
        if args.allow_pickle:
            raise InputError("--allow-pickle applies only to a saved model (evaluate MODEL_DIR DATA...); "
                             "--cv trains its own")
        if paths and (Path(paths[0]) / "card.json").exists():
            raise InputError(f"{paths[0]} is a model folder; --cv trains its own models from the config "
                              "(use --config/--set), so pass only labelled tables: evaluate --cv K DATA...")
        report = api.cross_validation_report(paths, k=args.cv, config=_config(args), **columns, cv_by=args.cv_by,
                                             progress=_FoldProgress(args, "cross-validation"),
                                             learning_curve=args.learning_curve)
        title = f"Cross-validation report ({args.cv} folds)"
    else:
        if args.config or args.set:
            raise InputError("--config/--set apply only with --cv; a saved model keeps the config it was trained with")
        if args.cv_by:
            raise InputError("--cv-by applies only with --cv: it groups the cross-validation folds")
        if args.learning_curve:
            raise InputError("--learning-curve applies only with --cv: it refits the config on shares of the data "
                             "(evaluate --cv K --learning-curve DATA...)")
        if len(paths) < 2:
            raise InputError("evaluate needs a model folder and labelled data: evaluate MODEL_DIR DATA... "
                              "(or cross-validate a config: evaluate --cv K DATA...)")
        model = api.load(paths[0], allow_pickle=args.allow_pickle)
        report = api.evaluation_report(model, paths[1:], **columns)
        title = f"Evaluation report: {paths[0]}"
    print(format_report(report))
    if args.report:
        written = write_report(report, args.report, title=title)
        _say(args, "wrote " + ", ".join(str(p) for p in written.values()))
    return 0


def cmd_predict(args) -> int:
    """Label every paragraph of report files, folders of them, or tables; write .csv/.jsonl/.parquet.

    Streams the inputs in chunks across --workers processes (or a Dask cluster with --engine dask),
    journals finished chunks beside the output so --resume continues a killed job, and lists
    unreadable inputs in an errors file (exit code 2 when there are any).
    """
    from .batch import predict_to_file

    result = predict_to_file(args.model, args.inputs, args.out, workers=args.workers, resume=args.resume,
                             engine=args.engine, scheduler=args.scheduler, summary=args.summary, errors=args.errors,
                             low_confidence=args.low_confidence, text_col=args.text_col, chunk_size=args.chunk_size,
                             progress=_progress_enabled(args), allow_pickle=args.allow_pickle)
    shown = 10
    for path, reason in result.failures[:shown]:
        print(f"skipped: {reason}", file=sys.stderr)
    if len(result.failures) > shown:
        print(f"… and {len(result.failures) - shown} more in {result.errors_path}", file=sys.stderr)
    _say(args, result.summary_line())
    return 2 if result.failures else 0


def cmd_ingest(args) -> int:
    """Split raw reports into a paragraph table: doc_id, para_index, text, heading, role."""
    from . import api
    from .batch import write_table

    frame = api.ingest(args.inputs)
    write_table(frame, args.out)
    _say(args, f"wrote {len(frame)} paragraphs of {frame['doc_id'].nunique()} document(s) to {args.out}")
    return 0


def cmd_explain(args) -> int:
    """Most weighted terms per label; with TEXT, the terms that pushed its decision."""
    from . import api
    from .explain import explain_texts, top_terms

    model = api.load(args.model, allow_pickle=args.allow_pickle)
    if args.text:
        proba = model.classify([args.text]).iloc[0]
        print(f"label: {proba['label']}   score: {proba['score']:.3f}")
        for term, weight in explain_texts(model, [args.text], n=args.top)[0]:
            print(f"  {weight:+.4f}  {term}")
        return 0
    table = top_terms(model, n=args.top)
    for label, group in table.groupby("label", sort=False):
        print(f"{label}: " + "  ".join(group["term"]))
    return 0


def cmd_convert(args) -> int:
    """Rewrite a model folder in the safe format (arrays.npz and state.json, which load without
    running code). An old folder (model.joblib) is a pickle: converting it runs any code it holds,
    so it needs --allow-pickle; convert only folders you trust. The new folder is checked to give
    exactly the same scores before it is written; OUT may be the old folder itself."""
    from . import api

    model = api.convert(args.model, args.out, allow_pickle=args.allow_pickle)
    files = ", ".join(f"{name} {Path(args.out, name).stat().st_size / 1e6:.1f} MB" for name in model.card["files"])
    print(f"saved {args.out} in the safe format ({files})")
    return 0


def cmd_label(args) -> int:
    """Label paragraphs in a local web page, with the model's suggestions, and retrain from it.

    Reads what predict reads (report files, folders, tables of paragraphs or predictions), shows
    one paragraph at a time in its document with the model's top suggestions, and writes every
    decision to --out (.csv, .jsonl or .parquet) at once; rerun with the same --out to resume.
    Keys: 1-9 pick a label, Enter accepts the suggestion, s skips, u undoes, Left goes back to
    earlier decisions, r retrains. The page listens on 127.0.0.1 behind a random token in its URL,
    which is printed on one line. The labels file trains as any table does:
    train data/labels.csv MY_LABELS --out models/mine
    """
    from .labelling.server import serve

    model = args.model or (None if args.labels else str(_default_model()))
    serve(args.inputs, args.out, model=model, labels=args.labels, order=args.order, train_data=args.train_data,
          host=args.host, port=args.port, open_browser=not args.no_browser,
          say=(lambda message: None) if args.quiet else None)
    return 0


def _default_model():
    from .paths import DEFAULT_MODEL

    return DEFAULT_MODEL


def cmd_demo(args) -> int:
    """Train on the bundled corpus, evaluate on the bundled real report, and show its paragraphs labelled."""
    from .demo import run_demo

    run_demo(quiet=args.quiet)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="report-topics", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name, func, help_text):
        p = sub.add_parser(name, help=help_text, description=func.__doc__)
        p.add_argument("--quiet", "-q", action="store_true", help="print only results and errors")
        p.set_defaults(func=func)
        return p

    def allow_pickle(p):
        p.add_argument("--allow-pickle", action="store_true",
                       help="also load an old model folder (model.joblib): a pickle, which runs any code it holds; "
                            "only for folders you trust (convert them: report-topics convert)")

    def columns(p):
        p.add_argument("--text-col", default="text", help="column holding the paragraph text (default: text)")
        p.add_argument("--label-col", default="label", help="column holding the label (default: label)")
        p.add_argument("--group-col", default="doc_id", help="column identifying the document (default: doc_id)")

    p = command("train", cmd_train, "train a model on labelled tables")
    p.add_argument("data", nargs="+", help="labelled tables (.csv .tsv .jsonl .parquet .xlsx)")
    p.add_argument("--out", required=True, help="model folder to write")
    p.add_argument("--config", metavar="FILE", help="TOML or JSON config file")
    p.add_argument("--set", action="append", metavar="SECTION.KEY=VALUE", help="override one config value")
    p.add_argument("--cv", type=int, metavar="K", help="also run grouped K-fold CV and record it on the card")
    p.add_argument("--holdout", metavar="TABLE", help="labelled table never trained on; its metrics go on the card")
    columns(p)

    p = command("evaluate", cmd_evaluate, "evaluate a model (or a config by --cv) on labelled tables")
    # One positional list: MODEL_DIR DATA... normally, DATA... with --cv (no model: folds train their own).
    p.usage = ("%(prog)s [options] MODEL_DIR DATA...\n"
               "       %(prog)s --cv K [--cv-by COLUMN] [--learning-curve] [--config FILE] [--set SECTION.KEY=VALUE] "
               "[options] DATA...")
    p.add_argument("paths", nargs="+", metavar="MODEL_DIR DATA",
                   help="a model folder then labelled tables; with --cv only labelled tables")
    p.add_argument("--report", metavar="OUT_DIR", help="write metrics.json, report.md and report.html here")
    p.add_argument("--cv", type=int, metavar="K", help="grouped K-fold cross-validation of the config instead of a model")
    p.add_argument("--config", metavar="FILE", help="with --cv: TOML or JSON config file")
    p.add_argument("--set", action="append", metavar="SECTION.KEY=VALUE", help="with --cv: override one config value")
    p.add_argument("--cv-by", metavar="COLUMN",
                   help="with --cv: group the folds by this column (a writer, unit or year) instead of the document, "
                        "to score the model on writers, units or years it has not seen")
    p.add_argument("--learning-curve", action="store_true",
                   help="with --cv: also score the config trained on 1/8, 1/4, 1/2, 3/4 and all of each training fold's "
                        "documents, to answer 'do I need more labels?'")
    allow_pickle(p)
    columns(p)

    p = command("predict", cmd_predict, "label paragraphs of reports or tables")
    p.add_argument("model", help="model folder")
    p.add_argument("inputs", nargs="+", help="report files (.txt .md .docx), folders, or tables")
    p.add_argument("--out", required=True, help="output file: .csv, .jsonl or .parquet")
    p.add_argument("--text-col", default="text", help="text column of input tables (default: text)")
    p.add_argument("--workers", "-j", type=int, metavar="N", help="worker processes (default: all cores)")
    p.add_argument("--engine", choices=("local", "dask"), default="local",
                   help="local processes (default) or a dask.distributed cluster")
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                   help="with --engine dask: a running scheduler (default: start a LocalCluster)")
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted job with the same output instead of starting over")
    p.add_argument("--summary", metavar="FILE", help="also write one row per document (.csv/.jsonl/.parquet)")
    p.add_argument("--errors", metavar="FILE",
                   help="list unreadable inputs here (path, reason); default: OUT_STEM.errors.csv when any failed")
    p.add_argument("--low-confidence", type=float, metavar="P",
                   help="summary: count paragraphs scored below P (default: the model's evaluation.low_confidence)")
    p.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK_SIZE, metavar="N",
                   help="paragraphs per task, roughly: table rows, or report files grouped by size "
                        f"(default: {DEFAULT_CHUNK_SIZE})")
    allow_pickle(p)

    p = command("ingest", cmd_ingest, "split raw reports into a paragraph table")
    p.add_argument("inputs", nargs="+", help="report files or folders")
    p.add_argument("--out", required=True, help="output file: .csv, .jsonl or .parquet")

    p = command("explain", cmd_explain, "show the terms a model weighs")
    p.add_argument("model", help="model folder")
    p.add_argument("text", nargs="?", help="a paragraph to explain")
    p.add_argument("--top", type=int, default=12, help="terms to show (default: 12)")
    allow_pickle(p)

    p = command("convert", cmd_convert, "rewrite a model folder in the safe format")
    p.add_argument("model", help="model folder to convert (an old one holds model.joblib)")
    p.add_argument("--out", required=True, help="folder to write (may be the model folder itself)")
    p.add_argument("--allow-pickle", action="store_true",
                   help="required for an old folder: converting unpickles model.joblib, which runs any code it holds")

    p = command("label", cmd_label, "label paragraphs in a local web page, with suggestions, and retrain")
    p.add_argument("inputs", nargs="+", help="report files (.txt .md .docx), folders, or tables (predictions too)")
    p.add_argument("--out", required=True, metavar="LABELS",
                   help="labels file to write and resume: .csv, .jsonl or .parquet")
    p.add_argument("--model", metavar="DIR",
                   help="model whose suggestions and label set to use (default: models/default, or none with --labels)")
    p.add_argument("--labels", metavar="A,B,...",
                   help="the label set, comma-separated (default: the model's); without --model, a cold start: "
                        "the page trains a first model once two labels have 3 examples each")
    p.add_argument("--train-data", nargs="+", metavar="TABLE",
                   help="tables the model was trained on, for retraining on them plus your labels "
                        "(default: data/labels.csv when it is exactly the model's training data)")
    p.add_argument("--order", choices=("uncertain", "document"), default="uncertain",
                   help="uncertain: least sure first, spread across documents (default); document: reading order")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default: 127.0.0.1, this machine only; others print a warning)")
    p.add_argument("--port", type=int, metavar="N", help="port (default: 8765, or any free one if it is taken)")
    p.add_argument("--no-browser", action="store_true", help="print the URL without opening a browser")

    command("demo", cmd_demo, "train, evaluate and predict on the bundled data")
    return parser


_default_formatwarning = warnings.formatwarning


def _format_warning(message, category, filename, lineno, line=None) -> str:
    """Our warnings as one line, like our errors; other libraries' as they print them."""
    from .errors import ModelWarning

    if issubclass(category, ModelWarning):
        return f"warning: {message}\n"
    return _default_formatwarning(message, category, filename, lineno, line)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.quiet:
        warnings.simplefilter("ignore")
    warnings.formatwarning = _format_warning
    try:
        return args.func(args)
    except PipelineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signum", 2)  # batch.JobInterrupted knows which signal stopped the job
        if args.command == "predict":
            print(f"interrupted ({'SIGTERM' if signum == 15 else 'Ctrl-C'}); finished tasks are kept: "
                  "rerun the same command with --resume to continue", file=sys.stderr)
        else:
            print("interrupted", file=sys.stderr)
        return 128 + signum


if __name__ == "__main__":
    sys.exit(main())
