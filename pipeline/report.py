"""Evaluation reports for people: a terminal summary, ``report.md`` and a self-contained ``report.html``.

Everything here renders the dict of ``evaluation.evaluate_report`` / ``cv_report``; no number
is computed here, so the JSON, the Markdown and the page always agree. Plots are drawn with
matplotlib (Agg, no display needed) and embedded as base64 PNG, so the page is one file an
analyst can mail. Plot labels use the label ids (ASCII), so no CJK font is needed; Chinese
paragraph text appears only in HTML tables, which the browser renders with its own fonts.
"""
from __future__ import annotations

import base64
import html
import io
import os
from pathlib import Path

import numpy as np

from .persistence import write_json


# ---- terminal ---------------------------------------------------------------------------------

def _fold_groups(cv: dict) -> str:
    """What the folds were grouped by: "document", or the ``--cv-by`` column."""
    grouped_by = cv.get("grouped_by", "doc_id")
    return "document" if grouped_by == "doc_id" else grouped_by


def format_report(report: dict) -> str:
    from .evaluation import format_metrics

    lines = [format_metrics(report), ""]
    lines.append(f"top-2 accuracy = {report['top2_accuracy']:.4f}")
    iv = report["intervals"]
    for key, name in (("accuracy", "accuracy"), ("macro_f1", "macro-F1")):
        lines.append(f"{name}: {iv[key]['point']:.4f}  95% CI [{iv[key]['low']:.4f}, {iv[key]['high']:.4f}]"
                     f"  ({iv['n_samples']} bootstrap samples of {iv['n_units']} {iv['unit']}s)")
    if iv.get("note"):
        lines.append(f"note: {iv['note']}")
    if "cv" in report:
        cv = report["cv"]
        groups = "documents" if _fold_groups(cv) == "document" else f"{_fold_groups(cv)} groups"
        lines.append(f"grouped {cv['k']}-fold CV over {cv['n_groups']} {groups} (mean ± std over folds):")
        for key in ("accuracy", "macro_f1", "weighted_f1", "top2_accuracy"):
            lines.append(f"  {key:<14} {cv[key]['mean']:.4f} ± {cv[key]['std']:.4f}")
    lines.append(f"expected calibration error = {report['calibration']['ece']:.4f}")
    if "learning_curve" in report:
        lines += _learning_curve_lines(report["learning_curve"])
    for name, b in report["baselines"].items():
        lines.append(f"baseline {name:<9} accuracy {b['accuracy']:.4f}  macro-F1 {b['macro_f1']:.4f}  ({b['description']})")
    if report["confused_pairs"]:
        pairs = ", ".join(f"{p['gold']}→{p['predicted']} ({p['count']})" for p in report["confused_pairs"][:5])
        lines.append(f"most confused (gold→predicted): {pairs}")
    return "\n".join(lines)


def _learning_curve_rows(curve: dict) -> list[list]:
    rows = []
    for p in curve["points"]:
        if "skipped" in p:
            rows.append([f"{p['fraction']:.3g}", "", "skipped", p["skipped"], "", ""])
        else:
            rows.append([f"{p['fraction']:.3g}", p["train_paragraphs"], p["accuracy"],
                         f"[{p['accuracy_low']:.3f}, {p['accuracy_high']:.3f}]", p["macro_f1"],
                         f"[{p['macro_f1_low']:.3f}, {p['macro_f1_high']:.3f}]"])
    return rows


_LEARNING_HEADER = ["share of documents", "training paragraphs", "accuracy", "95% CI", "macro-F1", "95% CI"]


def _learning_curve_lines(curve: dict) -> list[str]:
    lines = [f"learning curve ({curve['k']} folds grouped by {_fold_groups(curve)}; training documents subsampled):"]
    for row in _learning_curve_rows(curve):
        share, n, acc, acc_ci, mf1, mf1_ci = row
        if acc == "skipped":
            lines.append(f"  {share:>6}  skipped: {acc_ci}")
        else:
            lines.append(f"  {share:>6}  {n:>6} paragraphs  accuracy {acc:.4f} {acc_ci}  macro-F1 {mf1:.4f} {mf1_ci}")
    lines.append(f"  {curve['verdict']}")
    return lines


# ---- markdown ---------------------------------------------------------------------------------

def _md_table(header: list[str], rows: list[list]) -> str:
    def cell(v):
        if isinstance(v, float):
            return f"{v:.3f}"
        return str(v).replace("|", "\\|").replace("\n", " ")

    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(out)


def _headline_rows(report: dict) -> list[list]:
    iv = report["intervals"]
    rows = [["model", report["accuracy"], f"[{iv['accuracy']['low']:.3f}, {iv['accuracy']['high']:.3f}]",
             report["macro_f1"], f"[{iv['macro_f1']['low']:.3f}, {iv['macro_f1']['high']:.3f}]",
             report["weighted_f1"], report["top2_accuracy"]]]
    for name, b in report["baselines"].items():
        rows.append([f"baseline: {name}", b["accuracy"], "", b["macro_f1"], "", b["weighted_f1"], ""])
    return rows


_HEADLINE = ["system", "accuracy", "95% CI", "macro-F1", "95% CI", "weighted-F1", "top-2 accuracy"]


def render_markdown(report: dict, title: str = "Evaluation report") -> str:
    iv = report["intervals"]
    parts = [f"# {title}", "",
             f"{report['setup']['mode']}; n = {report['n']} paragraphs; intervals: {iv['method']} over "
             f"{iv['n_units']} {iv['unit']}s ({iv['n_samples']} samples, seed {iv['random_state']})."
             + (f" Note: {iv['note']}." if iv.get("note") else ""), "",
             "## Summary", "", _md_table(_HEADLINE, _headline_rows(report)), ""]
    if "cv" in report:
        cv = report["cv"]
        parts += [f"## Cross-validation ({cv['k']} folds grouped by {_fold_groups(cv)})", "",
                  _md_table(["metric", "mean", "std", "folds"],
                            [[k, cv[k]["mean"], cv[k]["std"], ", ".join(f"{v:.3f}" for v in cv[k]["folds"])]
                             for k in ("accuracy", "macro_f1", "weighted_f1", "top2_accuracy")]), ""]
    parts += ["## Per label", "", _md_table(["label", "precision", "recall", "f1", "support"],
                                            [[l, v["precision"], v["recall"], v["f1"], v["support"]]
                                             for l, v in report["per_label"].items()]), ""]
    conf = report["confusion"]
    parts += ["## Confusion matrix (rows: gold, columns: predicted; counts)", "",
              _md_table(["gold \\ predicted", *conf["labels"]],
                        [[l, *row] for l, row in zip(conf["labels"], conf["matrix"])]), ""]
    parts += ["## Most confused pairs", "", _md_table(["gold", "predicted", "count", "share of gold"],
                                                      [[p["gold"], p["predicted"], p["count"], p["share_of_gold"]]
                                                       for p in report["confused_pairs"]]), ""]
    cal = report["calibration"]
    parts += [f"## Calibration (expected calibration error {cal['ece']:.4f})", "",
              _md_table(["score bin", "count", "mean score", "accuracy"],
                        [[f"{b['low']:.1f}–{b['high']:.1f}", b["count"],
                          "" if b["mean_score"] is None else b["mean_score"],
                          "" if b["accuracy"] is None else b["accuracy"]] for b in cal["bins"]]), ""]
    if "learning_curve" in report:
        curve = report["learning_curve"]
        parts += [f"## Learning curve ({curve['k']} folds grouped by {_fold_groups(curve)})", "",
                  _md_table(_LEARNING_HEADER, _learning_curve_rows(curve)), "", curve["verdict"], ""]
    parts += [f"## Errors ({len(report['errors'])} of {report['n_errors']} shown, most confident first)", "",
              _md_table(["gold", "predicted", "score", "terms", "text"],
                        [[e["gold"], e["predicted"], e["score"], _terms_text(e), e["text"]]
                         for e in report["errors"]]), ""]
    return "\n".join(parts)


def _terms_text(error: dict) -> str:
    return ", ".join(f"{t} ({w:+.3f})" for t, w in error.get("terms") or [])


# ---- plots ------------------------------------------------------------------------------------

def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _figure(figsize):
    # matplotlib's object API, not pyplot: no global backend switch, nothing to close, and a
    # notebook that calls this keeps its own inline plotting.
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    return fig, fig.subplots()


def plot_report(report: dict) -> dict[str, str]:
    """The report's figures as base64 PNG: confusion, per_label, intervals, calibration."""
    plots = {}
    conf = report["confusion"]
    labels, norm, counts = conf["labels"], np.asarray(conf["normalized"]), np.asarray(conf["matrix"])
    size = max(4.0, 0.7 * len(labels) + 2)
    fig, ax = _figure((size + 1, size))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    for i in range(len(labels)):
        for j in range(len(labels)):
            if counts[i, j]:
                ax.text(j, i, f"{counts[i, j]}\n{norm[i, j]:.0%}", ha="center", va="center", fontsize=7,
                        color="white" if norm[i, j] > 0.5 else "black")
    fig.colorbar(im, ax=ax, label="share of gold row")
    ax.set_title("Confusion matrix (row-normalised)")
    plots["confusion"] = _png(fig)

    per = report["per_label"]
    names = list(per)
    x = np.arange(len(names))
    fig, ax = _figure((max(6, len(names) * 1.1), 3.8))
    for k, (metric, color) in enumerate((("precision", "#4c72b0"), ("recall", "#dd8452"), ("f1", "#55a868"))):
        ax.bar(x + (k - 1) * 0.27, [per[n][metric] for n in names], width=0.27, label=metric, color=color)
    ax.set_xticks(x, [f"{n}\n(n={per[n]['support']})" for n in names], fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("label (n = gold paragraphs)")
    ax.set_ylabel("score")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    ax.set_title("Per-label precision, recall, F1")
    plots["per_label"] = _png(fig)

    iv = report["intervals"]
    fig, ax = _figure((7, 3.2))
    systems = [("model", iv["accuracy"], iv["macro_f1"])] + [
        (f"baseline: {n}", {"point": b["accuracy"]}, {"point": b["macro_f1"]}) for n, b in report["baselines"].items()]
    for row, (name, acc, mf1) in enumerate(systems):
        for offset, stat, color in ((-0.15, acc, "#4c72b0"), (0.15, mf1, "#c44e52")):
            y = row + offset
            if "low" in stat:
                ax.errorbar(stat["point"], y, xerr=[[stat["point"] - stat["low"]], [stat["high"] - stat["point"]]],
                            fmt="o", color=color, capsize=4)
            else:
                ax.plot(stat["point"], y, "o", color=color, mfc="white")
    ax.plot([], [], "o", color="#4c72b0", label="accuracy")
    ax.plot([], [], "o", color="#c44e52", label="macro-F1")
    ax.set_yticks(range(len(systems)), [s[0] for s in systems])
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("score")
    ax.set_ylabel("system")
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(f"Model with 95% bootstrap intervals ({iv['unit']}s resampled) and baselines")
    plots["intervals"] = _png(fig)

    cal = report["calibration"]
    fig, ax = _figure((4.5, 4.2))
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect calibration")
    bins = [b for b in cal["bins"] if b["count"]]
    ax.plot([b["mean_score"] for b in bins], [b["accuracy"] for b in bins], "o-", label="model")
    ax.set_xlabel("mean top score in bin")
    ax.set_ylabel("accuracy in bin")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title(f"Reliability (ECE = {cal['ece']:.3f})")
    plots["calibration"] = _png(fig)

    if "learning_curve" in report:
        points = [p for p in report["learning_curve"]["points"] if "accuracy" in p]
        fig, ax = _figure((6, 3.8))
        n = [p["train_paragraphs"] for p in points]
        for metric, color in (("accuracy", "#4c72b0"), ("macro_f1", "#c44e52")):
            ax.fill_between(n, [p[f"{metric}_low"] for p in points], [p[f"{metric}_high"] for p in points],
                            color=color, alpha=0.15)
            ax.plot(n, [p[metric] for p in points], "o-", color=color, label=metric.replace("_", "-"))
        ax.set_xscale("log", base=2)
        ax.set_xlabel("training paragraphs per fold (log scale)")
        ax.set_ylabel("score on held-out folds")
        ax.legend(fontsize=8, loc="lower right")
        ax.set_title("Learning curve (95% intervals shaded)")
        plots["learning_curve"] = _png(fig)
    return plots


# ---- html -------------------------------------------------------------------------------------

# Chinese fonts first by platform (Windows, macOS, Linux), so paragraphs never fall back to a
# Latin font's missing-glyph boxes; system-ui last for the Latin text.
_FONTS = ('"Microsoft YaHei","PingFang SC","Hiragino Sans GB","Noto Sans CJK SC","Source Han Sans SC",'
          '"WenQuanYi Micro Hei","WenQuanYi Zen Hei",system-ui,-apple-system,"Segoe UI",sans-serif')
_CSS = """
body{font-family:%s;margin:2rem auto;max-width:1100px;color:#222;padding:0 1rem}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}
th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:right;vertical-align:top}
th{background:#f3f3f3}th.l,td.l,td.text{text-align:left}td.text{min-width:24em;max-width:640px}
img{max-width:100%%;display:block;margin:.5rem 0}.note{color:#555;font-size:.9rem}
""" % _FONTS


def _html_table(header: list[str], rows: list[list], left: set[int] = frozenset({0})) -> str:
    def cell(i, v):
        text = f"{v:.3f}" if isinstance(v, float) else html.escape(str(v))
        cls = ' class="text"' if i in left and i == len(header) - 1 else (' class="l"' if i in left else "")
        return f"<td{cls}>{text}</td>"

    head = "".join(("<th class=\"l\">" if i in left else "<th>") + f"{html.escape(h)}</th>" for i, h in enumerate(header))
    body = "".join("<tr>" + "".join(cell(i, v) for i, v in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


# Records on <body> how many figures decoded, and logs any that did not: lets a headless
# browser test (and an analyst's console) tell a broken page from a working one. It also draws
# two different Chinese characters and an unassigned code point in the page's font: when no
# font has Chinese glyphs all three come out as the same missing-glyph box, and the page says
# so (data-cjk-glyphs="missing", and a console warning naming the fonts to install).
_IMAGE_CHECK = """
<script>
function cjkGlyphsRender() {
  var canvas = document.createElement("canvas"), ctx = canvas.getContext("2d", {willReadFrequently: true});
  canvas.width = canvas.height = 48;
  var font = getComputedStyle(document.body).fontFamily;
  function draw(ch) {
    ctx.clearRect(0, 0, 48, 48); ctx.fillStyle = "#000"; ctx.font = "32px " + font; ctx.fillText(ch, 4, 38);
    return Array.prototype.join.call(ctx.getImageData(0, 0, 48, 48).data, ",");
  }
  var a = draw("\u653f"), b = draw("\u6cbb"), missing = draw("\ufffe");
  return a !== b && a !== missing && b !== missing;
}
window.addEventListener("load", function () {
  var imgs = document.images, ok = 0;
  for (var i = 0; i < imgs.length; i++) {
    if (imgs[i].complete && imgs[i].naturalWidth > 0) ok++; else console.error("figure did not load: " + imgs[i].alt);
  }
  document.body.setAttribute("data-figures-loaded", ok + "/" + imgs.length);
  var glyphs = cjkGlyphsRender();
  document.body.setAttribute("data-cjk-glyphs", glyphs ? "ok" : "missing");
  if (!glyphs) console.warn("Chinese text has no font here: install Noto Sans CJK SC, Source Han Sans SC or WenQuanYi");
});
</script>"""


def render_html(report: dict, title: str = "Evaluation report") -> str:
    plots = plot_report(report)
    iv = report["intervals"]

    def img(name, alt):
        return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{plots[name]}">'

    parts = [f"<h1>{html.escape(title)}</h1>",
             f'<p class="note">{html.escape(report["setup"]["mode"])}; n = {report["n"]} paragraphs; '
             f'intervals: {iv["method"]} over {iv["n_units"]} {html.escape(iv["unit"])}s ({iv["n_samples"]} samples, '
             f'seed {iv["random_state"]}).'
             + (f' Note: {html.escape(iv["note"])}.' if iv.get("note") else "") + '</p>',
             "<h2>Summary and baselines</h2>", _html_table(_HEADLINE, _headline_rows(report)),
             img("intervals", "accuracy and macro-F1 with intervals, and baselines")]
    if "cv" in report:
        cv = report["cv"]
        parts += [f"<h2>Cross-validation ({cv['k']} folds grouped by {html.escape(_fold_groups(cv))})</h2>",
                  _html_table(["metric", "mean", "std", "folds"],
                              [[k, cv[k]["mean"], cv[k]["std"], ", ".join(f"{v:.3f}" for v in cv[k]["folds"])]
                               for k in ("accuracy", "macro_f1", "weighted_f1", "top2_accuracy")])]
    parts += ["<h2>Per label</h2>", img("per_label", "per-label precision, recall and F1"),
              _html_table(["label", "precision", "recall", "f1", "support"],
                          [[l, v["precision"], v["recall"], v["f1"], v["support"]] for l, v in report["per_label"].items()])]
    conf = report["confusion"]
    parts += ["<h2>Confusion matrix</h2>", img("confusion", "confusion matrix heatmap"),
              _html_table(["gold \\ predicted", *conf["labels"]], [[l, *row] for l, row in zip(conf["labels"], conf["matrix"])]),
              "<h2>Most confused pairs</h2>",
              _html_table(["gold", "predicted", "count", "share of gold"],
                          [[p["gold"], p["predicted"], p["count"], p["share_of_gold"]] for p in report["confused_pairs"]],
                          left={0, 1})]
    cal = report["calibration"]
    parts += [f"<h2>Calibration (ECE {cal['ece']:.4f})</h2>", img("calibration", "reliability diagram"),
              _html_table(["score bin", "count", "mean score", "accuracy"],
                          [[f"{b['low']:.1f}–{b['high']:.1f}", b["count"], "" if b["mean_score"] is None else b["mean_score"],
                            "" if b["accuracy"] is None else b["accuracy"]] for b in cal["bins"]])]
    if "learning_curve" in report:
        curve = report["learning_curve"]
        parts += [f"<h2>Learning curve ({curve['k']} folds grouped by {html.escape(_fold_groups(curve))})</h2>",
                  img("learning_curve", "learning curve: accuracy and macro-F1 against training size"),
                  _html_table(_LEARNING_HEADER, _learning_curve_rows(curve)),
                  f'<p class="verdict">{html.escape(curve["verdict"])}</p>']
    parts += [f"<h2>Errors ({len(report['errors'])} of {report['n_errors']} shown, most confident first)</h2>",
              _html_table(["gold", "predicted", "score", "terms that pushed the decision", "text"],
                          [[e["gold"], e["predicted"], e["score"], _terms_text(e), e["text"]] for e in report["errors"]],
                          left={0, 1, 3, 4})]
    body = "\n".join(parts) + _IMAGE_CHECK
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>\n<body>\n{body}\n</body></html>\n")


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_report(report: dict, out_dir: str | os.PathLike, title: str = "Evaluation report") -> dict[str, Path]:
    """Write metrics.json, report.md and report.html into ``out_dir`` (each file atomically)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"metrics": out / "metrics.json", "markdown": out / "report.md", "html": out / "report.html"}
    write_json(paths["metrics"], report)
    _write_text(paths["markdown"], render_markdown(report, title))
    _write_text(paths["html"], render_html(report, title))
    return paths
