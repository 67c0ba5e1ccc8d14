// The labelling page. Served by `python -m pipeline label`; talks to its JSON API with relative
// URLs, so every request carries the token in the page's own path. Text from the inputs is only
// ever set with textContent, never parsed as HTML.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const PALETTE = ["#0b62d6", "#c4320a", "#12805c", "#8e44ad", "#b7791f", "#d6336c", "#0f7490",
                   "#5c6b7a", "#6d9a00", "#a63d40", "#3b5bdb", "#9c6644"];

  let state = null;       // the server's state
  let item = null;        // the paragraph shown
  let reviewing = false;  // showing an earlier decision rather than the queue's next paragraph
  let backPos = -1;       // position in state.recent while going back
  let chain = Promise.resolve();
  let renders = 0;
  let actions = 0;
  let polling = null;
  let toastTimer = null;

  async function call(method, path, body) {
    const options = { method, headers: { Accept: "application/json" } };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const response = await fetch(path, options);
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    if (!response.ok) throw new Error((data && data.error) || `${response.status} ${response.statusText}`);
    return data;
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function colour(label) {
    const i = state ? state.labels.indexOf(label) : -1;
    return PALETTE[(i < 0 ? 0 : i) % PALETTE.length];
  }

  function tag(label) {
    const t = el("span", "tag", label);
    t.style.background = colour(label);
    return t;
  }

  function pct(x) { return x === null || x === undefined ? "–" : `${(100 * x).toFixed(1)}%`; }

  function toast(message, error) {
    const t = $("toast");
    t.textContent = message;
    t.className = error ? "toast error" : "toast";
    t.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { t.hidden = true; }, error ? 6000 : 3000);
  }

  // ------------------------------------------------------------------ rendering
  function renderState() {
    const s = state;
    $("out").textContent = `→ ${s.out}`;
    $("summary").textContent =
      `${s.labelled} labelled · ${s.left} left` + (s.skipped ? ` · ${s.skipped} skipped` : "") +
      (s.other_rows ? ` · ${s.other_rows} more in the file from other inputs` : "");
    const bar = $("progress");
    bar.replaceChildren();
    const counts = $("counts");
    counts.replaceChildren();
    s.labels.forEach((label, i) => {
      const n = s.counts[label] || 0;
      if (n) {
        const seg = el("span");
        seg.style.width = `${(100 * n) / Math.max(s.total, 1)}%`;
        seg.style.background = colour(label);
        seg.title = `${label}: ${n}`;
        bar.append(seg);
      }
      const c = el("span", "count");
      c.dataset.label = label;
      const sw = el("span", "swatch");
      sw.style.background = colour(label);
      c.append(sw, `${i < 9 ? i + 1 + " " : ""}${label} ${n}`);
      counts.append(c);
    });
    counts.append(el("span", "count", `left ${s.left}`));
    bar.setAttribute("aria-label", `${s.labelled} of ${s.total} labelled`);

    renderModel(s.model);

    const recent = $("recent");
    recent.replaceChildren();
    s.recent.slice(0, 12).forEach((r) => {
      const li = el("li");
      li.dataset.id = r.id;
      li.append(tag(r.label), " ", r.text);
      li.title = `${r.doc_id}: ${r.text}`;
      li.addEventListener("click", () => enqueue(() => review(r.id)));
      recent.append(li);
    });
    if (!s.recent.length) recent.append(el("li", "more", "none yet"));
    $("undo").disabled = !s.can_undo;
    $("back").disabled = !s.recent.length;
    $("train-command").textContent = `python -m pipeline train data/labels.csv ${s.out} --out models/mine`;
    document.body.dataset.labelled = s.labelled;
  }

  function renderModel(m) {
    const box = $("model");
    box.replaceChildren();
    const name = el("div", null);
    name.append("In use: ", el("b", null, m.name || (m.cold ? "none yet (cold start)" : "none")));
    box.append(name);
    const states = { idle: "ready", training: "training…", measuring: "measuring…", failed: "failed" };
    const line = el("div", null);
    line.append("Status: ", el("span", "state", states[m.state] || m.state));
    box.append(line);
    if (m.message) box.append(el("div", m.state === "failed" ? "notice" : "muted", m.message));
    $("retrain").disabled = !m.can_retrain;
    $("why-not").textContent = m.why_not && m.state !== "training" && m.state !== "measuring" ? m.why_not : "";
    const report = $("report");
    report.replaceChildren();
    const r = m.report;
    if (r) {
      const add = (text) => report.append(el("li", null, text));
      add(`Trained at ${r.finished} in ${r.seconds}s on ${r.rows} paragraphs: ${r.user_rows} of yours` +
          (r.base_rows ? ` + ${r.rows - r.user_rows} of the training data` : "") +
          (r.replaced ? ` (${r.replaced} of its rows replaced by your labels)` : "") +
          (r.saved ? `; saved to ${r.saved}` : "") + ".");
      if (r.left_out && r.left_out.length) add(`Not in the model yet (fewer than 3 examples): ${r.left_out.join(", ")}.`);
      if (r.changed !== null && r.changed !== undefined) {
        add(`Suggestions changed for ${r.changed} of the ${r.open} paragraphs left; queue re-ranked (${r.order} order).`);
      } else {
        add(`Suggestions on; queue ordered ${r.order === "uncertain" ? "least sure first" : "by document"}.`);
      }
      if (r.before) {
        add(`Before: the previous model agreed with ${r.before.correct} of your ${r.before.n} labels made since it ` +
            `was trained (${pct(r.before.accuracy)}).`);
      }
      if (r.measuring) {
        add("After: measuring the new model on your labels (cross-validation)…");
      } else if (r.after) {
        const a = r.after;
        if (!a.k) {
          add(`After: not measured (${a.note || "too few labels"}).`);
        } else {
          const onNew = r.before && a.new.n ? `${pct(a.new.accuracy)} on those ${a.new.n}, ` : "";
          add(`After: the new model, cross-validated on your labels (${a.k} folds by ${a.by}), gets ` +
              `${onNew}${pct(a.all.accuracy)} on all ${a.all.n}.` + (a.note ? ` (${a.note})` : ""));
        }
      }
    }
    document.body.dataset.modelVersion = m.version;
    document.body.dataset.modelState = m.state;
  }

  function paragraphLine(p) {
    const node = el("p");
    node.append(p.text);
    if (p.label) node.append(" ", tag(p.label));
    return node;
  }

  function renderItem() {
    const done = !item;
    $("done").hidden = !done;
    for (const id of ["where", "before", "text", "after", "suggestions", "buttons"]) $(id).hidden = done;
    for (const id of ["accept", "skip"]) $(id).disabled = done;
    $("queue").hidden = !reviewing;
    document.body.dataset.itemId = done ? "" : item.id;
    document.body.dataset.renders = ++renders;
    if (done) {
      $("document").replaceChildren();
      $("notice").hidden = true;
      return;
    }
    const where = $("where");
    where.replaceChildren();
    where.append("Document ", el("b", null, item.doc_id), ` (${item.document.index} of ${item.document.documents})`,
                 ` · paragraph ${item.position} of ${item.doc_length}`);
    if (item.heading) where.append(" · under ", el("b", null, item.heading));
    if (item.role) where.append(" · role ", el("b", null, item.role));
    where.title = item.file;

    const notice = $("notice");
    const notes = [];
    if (reviewing) notes.push("An earlier paragraph: pick a label to change it, Esc to go back to the queue.");
    if (item.label) notes.push(`Labelled ${item.label}.`);
    if (item.skipped) notes.push("You skipped this one earlier.");
    notice.textContent = notes.join(" ");
    notice.hidden = !notes.length;

    $("before").replaceChildren(...item.before.map(paragraphLine));
    $("after").replaceChildren(...item.after.map(paragraphLine));
    $("text").textContent = item.text;

    const sug = $("suggestions");
    sug.replaceChildren();
    if (!item.suggestions.length) {
      sug.append(el("span", "muted", state && state.model.cold ? "No suggestions until the first model is trained."
                                                             : "No suggestions."));
    }
    item.suggestions.forEach((sgt, i) => {
      const box = el("span", i === 0 ? "suggestion top" : "suggestion");
      box.dataset.label = sgt.label;
      box.append(tag(sgt.label), ` ${sgt.score.toFixed(2)}`);
      const bar = el("span", "bar");
      bar.style.width = `${Math.max(2, 100 * sgt.score)}%`;
      bar.style.background = colour(sgt.label);
      box.append(bar);
      sug.append(box);
    });
    $("accept").disabled = !item.suggestions.length;

    const buttons = $("buttons");
    buttons.replaceChildren();
    state.labels.forEach((label, i) => {
      const b = el("button", item.label === label ? "label chosen" : "label");
      b.type = "button";
      b.dataset.label = label;
      if (i < 9) b.append(el("kbd", null, String(i + 1)), " ");
      const sw = el("span", "swatch", " ");
      sw.style.background = colour(label);
      b.append(sw, " ", label);
      b.addEventListener("click", () => enqueue(() => pick(label)));
      buttons.append(b);
    });

    const doc = $("document");
    $("doc-title").textContent = `Document: ${item.doc_id}`;
    doc.replaceChildren();
    if (item.document.hidden_before) doc.append(el("li", "more", `… ${item.document.hidden_before} earlier paragraphs`));
    let here = null;
    item.document.paragraphs.forEach((p) => {
      const li = el("li", p.id === item.id ? "here" : null);
      li.dataset.id = p.id;
      if (p.role) li.append(el("span", "role", p.role));
      li.append(p.text);
      if (p.label) li.append(" ", tag(p.label));
      li.addEventListener("click", () => enqueue(() => review(p.id)));
      doc.append(li);
      if (p.id === item.id) here = li;
    });
    if (item.document.hidden_after) doc.append(el("li", "more", `… ${item.document.hidden_after} later paragraphs`));
    // Scroll the list only (scrollIntoView would scroll the whole page too).
    if (here) doc.scrollTop = Math.max(0, here.offsetTop - doc.clientHeight / 3);
  }

  function show(data, asReview) {
    state = data.state;
    item = data.item;
    reviewing = Boolean(asReview);
    noteNewModel();
    renderState();
    renderItem();
    watchModel();
  }

  // ------------------------------------------------------------------ actions
  async function refresh() {
    backPos = -1;
    show(await call("GET", "api/state"), false);
  }

  async function pick(label) {
    if (!item) return;
    const data = await call("POST", "api/label", { id: item.id, label });
    backPos = -1;
    show(data, false);
  }

  async function pickIndex(i) {
    if (state && i < state.labels.length) await pick(state.labels[i]);
  }

  async function accept() {
    if (!item) return;
    if (!item.suggestions.length) { toast("No suggestion yet: pick a label with 1–9."); return; }
    await pick(item.suggestions[0].label);
  }

  async function skip() {
    if (!item) return;
    const data = await call("POST", "api/skip", { id: item.id });
    backPos = -1;
    show(data, false);
  }

  async function undo() {
    const data = await call("POST", "api/undo", {});
    backPos = -1;
    if (data.item) toast("Undone: this paragraph is open again.");
    else toast("Nothing to undo.");
    show(data, false);
  }

  async function review(id) {
    const data = await call("GET", `api/item/${id}`);
    const head = state ? state.next_id : null;
    state = (await call("GET", "api/state")).state;
    item = data;
    reviewing = id !== head;
    renderState();
    renderItem();
  }

  async function back(step) {
    if (!state || !state.recent.length) return;
    const next = Math.min(Math.max(backPos + step, -1), state.recent.length - 1);
    if (next === -1) { await refresh(); return; }
    backPos = next;
    await review(state.recent[backPos].id);
  }

  async function retrain() {
    const data = await call("POST", "api/retrain", {});
    toast("Retraining in the background; keep labelling.");
    state = data.state;
    renderState();
    watchModel();
  }

  // ------------------------------------------------------------------ the model, while it trains
  let knownVersion = null;

  function noteNewModel() {
    // True (and a message) when the model in use changed since the page last looked.
    const changed = knownVersion !== null && state.model.version !== knownVersion;
    knownVersion = state.model.version;
    if (changed) toast("New model in use: suggestions updated, queue re-ranked.");
    return changed;
  }

  function watchModel() {
    const busy = state.model.state === "training" || state.model.state === "measuring";
    if (busy && !polling) polling = setInterval(() => enqueue(poll), 1000);
    if (!busy && polling) { clearInterval(polling); polling = null; }
  }

  async function poll() {
    const data = await call("GET", "api/state");
    state = data.state;
    if (noteNewModel()) {
      if (item) item = await call("GET", `api/item/${item.id}`);  // same paragraph, new suggestions
      else if (!reviewing) item = data.item;
      renderItem();
    }
    renderState();
    watchModel();
  }

  function enqueue(action) {
    // One action at a time, in the order the keys were pressed: each applies to what the one
    // before it left on screen.
    chain = chain.then(action).catch((err) => toast(err.message, true)).then(() => {
      document.body.dataset.actions = ++actions;  // for tests: every key's work is done
    });
    return chain;
  }

  const KEYS = {
    Enter: accept, s: skip, u: undo, r: retrain,
    ArrowLeft: () => back(1), Backspace: () => back(1), ArrowRight: () => back(-1),
    Escape: refresh,
  };

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
    const target = event.target;
    if (target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.isContentEditable)) return;
    let action = null;
    if (/^[1-9]$/.test(event.key)) {
      const i = Number(event.key) - 1;
      action = () => pickIndex(i);
    } else if (KEYS[event.key]) {
      action = KEYS[event.key];
    }
    if (!action) return;
    event.preventDefault();
    enqueue(action);
  });

  $("accept").addEventListener("click", () => enqueue(accept));
  $("skip").addEventListener("click", () => enqueue(skip));
  $("undo").addEventListener("click", () => enqueue(undo));
  $("back").addEventListener("click", () => enqueue(() => back(1)));
  $("queue").addEventListener("click", () => enqueue(refresh));
  $("retrain").addEventListener("click", () => enqueue(retrain));

  enqueue(refresh).then(() => { document.body.dataset.ready = "1"; });
})();
