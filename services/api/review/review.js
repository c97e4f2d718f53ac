// docsight review page: plain JavaScript over the JSON API. The key lives in sessionStorage
// and goes in the Authorization header only (never in a URL). The compare, calendar and diff
// views are modules of their own.
import { KEY, $, el, say, api, json } from "./core.js";
import * as compare from "./compare.js";
import * as calendar from "./calendar.js";
import * as diff from "./diff.js";

const state = { doc: null, pages: 0, uploads: new Map(), timer: null, loaded: new Map(), observer: null };
const VIEWS = ["documents", "document", "reports", "compare", "calendar", "diff"];

function show(view) {
  for (const v of VIEWS) $(v).hidden = view !== v;
  for (const b of document.querySelectorAll("nav [data-view]")) {
    if (b.dataset.view === view) b.setAttribute("aria-current", "page");
    else b.removeAttribute("aria-current");
  }
  if (view === "reports") loadReports();
  if (view === "documents") loadDocuments();
  if (view === "compare") compare.open();
  if (view === "calendar") calendar.open();
  if (view === "diff") diff.open();
}

// ---- documents and uploads ----
const FINAL = new Set(["ready", "failed"]);

async function loadDocuments() {
  let docs = [];
  try {
    docs = (await json("/v1/documents")).body.documents || [];
  } catch (e) {
    if (e.message !== "unauthenticated") say(`Documents: ${e.message}`, true);
    $("doc-table").tBodies[0].replaceChildren();
    $("doc-empty").hidden = false;
    return;
  }
  const rows = docs.map((d) =>
    el("tr", { "data-document": d.id, "data-status": d.status },
      el("td", {}, el("button", { type: "button", class: "link", onclick: () => openDocument(d.id) }, d.filename)),
      el("td", { class: `status-${d.status}` }, d.status),
      el("td", {}, d.kind || ""),
      el("td", {}, d.progress.pages_total ?? ""),
      el("td", {}, d.status === "failed" ? `${d.error_code}: ${d.reason || ""}` : "")));
  $("doc-table").tBodies[0].replaceChildren(...rows);
  $("doc-empty").hidden = docs.length > 0;
  if ($("message").className === "error") say("");
  for (const d of docs) if (state.uploads.has(d.id)) updateUpload(d);
  clearTimeout(state.timer);
  if (docs.some((d) => !FINAL.has(d.status)) && !$("documents").hidden) {
    state.timer = setTimeout(loadDocuments, 1500);
  }
}

function updateUpload(d) {
  const row = state.uploads.get(d.id);
  const p = d.progress;
  const total = (p.pages_total || 0) + (p.chunks_total || 0);
  const done = p.pages_parsed + p.chunks_embedded;
  row.cells[1].textContent = d.status === "failed" ? `failed: ${d.reason || d.error_code}` : d.status;
  if (row.dataset.note) row.cells[1].append(row.dataset.note);
  const bar = row.querySelector("progress");
  if (d.status === "ready") { bar.max = 1; bar.value = 1; }
  else if (total > 0) { bar.max = total; bar.value = done; }
}

function uploadRow(name) {
  const row = el("tr", {}, el("td", {}, name), el("td", {}, "uploading"),
    el("td", {}, el("progress", { max: 1, "aria-label": `progress of ${name}` })));
  $("uploads").hidden = false;
  $("uploads").tBodies[0].append(row);
  return row;
}

function upload(files) {
  const list = [...files].filter((f) => f.size > 0);
  if (!list.length) return;
  const key = sessionStorage.getItem(KEY);
  if (!key) { say("Enter an API key first.", true); return; }
  const rows = list.map((f) => uploadRow(f.name));
  const form = new FormData();
  for (const f of list) form.append("files", f, f.name);
  const xhr = new XMLHttpRequest(); // fetch reports no upload progress
  xhr.open("POST", "/v1/documents");
  xhr.setRequestHeader("Authorization", `Bearer ${key}`);
  xhr.upload.onprogress = (e) => {
    for (const r of rows) { const b = r.querySelector("progress"); b.max = e.total; b.value = e.loaded; }
  };
  xhr.onload = () => {
    let body = {};
    try { body = JSON.parse(xhr.responseText); } catch { /* shown below */ }
    if (xhr.status === 401) { say("The key was refused (401).", true); return; }
    if (xhr.status >= 400 || !body.accepted) {
      for (const r of rows) r.cells[1].textContent = `refused: ${body.detail || xhr.status}`;
      return;
    }
    const byName = new Map(rows.map((r, i) => [list[i].name, r]));
    for (const a of body.accepted) {
      const row = byName.get(a.document.filename);
      if (!row) continue;
      state.uploads.set(a.document.id, row);
      row.setAttribute("data-document", a.document.id);
      if (a.duplicate) row.dataset.note = " (uploaded before: not indexed again)";
      updateUpload(a.document);
    }
    for (const r of body.rejected) {
      const row = byName.get(r.filename);
      if (row) row.cells[1].textContent = `rejected: ${r.reason}`;
    }
    loadDocuments();
  };
  xhr.onerror = () => say("Upload failed: the server could not be reached.", true);
  xhr.send(form);
}

// ---- one document: pages, highlights, jobs ----
async function openDocument(id) {
  $("version-input").disabled = true; // a new version needs the document it follows: open first
  const { body: d } = await json(`/v1/documents/${encodeURIComponent(id)}`);
  state.doc = d;
  $("document").dataset.document = d.id;
  state.pages = d.progress.pages_total || 0;
  $("doc-title").textContent = d.filename;
  $("summary").replaceChildren();
  $("risks").replaceChildren();
  $("job-status").textContent = "";
  $("version-status").replaceChildren();
  $("version-input").disabled = false;
  const scope = $("scope").options[1];
  scope.disabled = false;
  scope.textContent = `this document (${d.filename})`;
  $("scope").value = "one";
  const holders = [];
  for (let n = 1; n <= state.pages; n++) {
    holders.push(el("div", { class: "page", id: `page-${n}`, "data-page": n },
      el("span", { class: "page-no" }, `p. ${n}`)));
  }
  $("pages").replaceChildren(...holders);
  show("document");
  // Pages load as they come near the view: a long report does not render every page at once.
  if (state.observer) state.observer.disconnect();
  state.loaded = new Map();
  state.observer = new IntersectionObserver((entries) => {
    for (const e of entries) if (e.isIntersecting) ensurePage(Number(e.target.dataset.page));
  }, { root: $("pages"), rootMargin: "1200px 0px" });
  for (const h of holders) state.observer.observe(h);
  if (holders.length) await ensurePage(1);
}

function ensurePage(n) {
  const holder = $(`page-${n}`);
  if (!holder) return Promise.resolve();
  if (!state.loaded.has(n)) state.loaded.set(n, loadPage(state.doc.id, n, holder));
  return state.loaded.get(n);
}

async function loadPage(id, n, holder) {
  try {
    const response = await api(`/v1/documents/${encodeURIComponent(id)}/pages/${n}.png?width=1000`);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const url = URL.createObjectURL(await response.blob());
    const img = el("img", { src: url, alt: `page ${n}` });
    await new Promise((ok) => { img.onload = ok; img.onerror = ok; holder.prepend(img); });
    holder.classList.add("loaded");
  } catch (e) {
    holder.prepend(el("p", { class: "missing" }, `page ${n}: image unavailable (${e.message})`));
    holder.classList.add("loaded");
  }
}

async function highlight(documentId, start, end, page) {
  if (!state.doc || state.doc.id !== documentId) await openDocument(documentId);
  else if ($("document").hidden) show("document"); // from the compare, calendar or diff view
  for (const old of document.querySelectorAll("[data-highlight]")) old.remove();
  let boxes = [];
  if (start !== null && start !== undefined && end > start) {
    try {
      const { body } = await json(`/v1/documents/${encodeURIComponent(documentId)}/highlights?start=${start}&end=${end}`);
      if (body.located) boxes = body.boxes;
    } catch (e) {
      say(`Highlight unavailable: ${e.message}`, true);
    }
  }
  await Promise.all([...boxes.map((b) => b.page), page].filter(Boolean).map(ensurePage));
  let first = null;
  for (const box of boxes) {
    const holder = $(`page-${box.page}`);
    const img = holder && holder.querySelector("img");
    if (!img) continue;
    const scale = img.clientWidth / box.width;
    for (const [x0, y0, x1, y1] of box.rects) {
      const mark = el("div", { class: "hl", "data-highlight": box.page });
      Object.assign(mark.style, {
        left: `${x0 * scale}px`, top: `${y0 * scale}px`,
        width: `${(x1 - x0) * scale}px`, height: `${(y1 - y0) * scale}px`,
      });
      holder.append(mark);
      first = first || mark;
    }
  }
  const target = first || (page ? $(`page-${page}`) : null);
  if (target) target.scrollIntoView({ block: "center" });
  if (!first && page) say(`Page ${page}: the passage could not be located on the page image.`);
}

async function runJob(kind) {
  const d = state.doc;
  const status = $("job-status");
  const extra = kind === "risks" ? "&include_unverified=true" : "";
  status.textContent = `${kind}: starting`;
  try {
    let { status: code, body } = await json(`/v1/documents/${d.id}/${kind}?wait=1${extra}`, { method: "POST" });
    while (code === 202) {
      const progress = body.steps_total ? ` (${body.steps_done ?? 0}/${body.steps_total})` : "";
      status.textContent = `${kind}: ${body.status}${body.step ? `, ${body.step}` : ""}${progress}`;
      ({ body } = await json(`/v1/jobs/${body.id}?wait=10${extra}`));
      if (body.status === "failed") throw new Error(`${body.error_code}: ${body.reason}`);
      code = body.status === "done" ? 200 : 202;
      if (code === 200) body = body.result;
    }
    status.textContent = `${kind}: done${body.cached ? " (cached)" : ""}, model ${body.model}`;
    if (state.doc.id !== d.id) return;
    if (kind === "summary") renderSummary(body.summary);
    else renderRisks(body.report);
  } catch (e) {
    status.textContent = `${kind} failed: ${e.message}`;
  }
}

function evidenceButtons(evidence) {
  return evidence.map((ev) => el("button", {
    type: "button", class: "link quote", "data-quote": ev.quote, "data-start": ev.char_start, "data-end": ev.char_end,
    onclick: () => highlight(state.doc.id, ev.char_start, ev.char_end, ev.page),
  }, `p. ${ev.page}: “${ev.quote}”`));
}

function field(name, item) {
  const unverified = !item.verified;
  return el("div", { class: `field${unverified ? " unverified" : ""}`, "data-field": name },
    el("h4", {}, name.replaceAll("_", " "),
      unverified ? el("span", { class: "badge unverified" }, "unverified") : null),
    el("p", {}, item.text || (item.value ? `${item.value} (${item.period})` : "not stated")),
    evidenceButtons(item.evidence || []));
}

function renderSummary(summary) {
  const parts = [];
  for (const [name, value] of Object.entries(summary)) {
    if (Array.isArray(value)) value.forEach((v, i) => parts.push(field(`${v.name || name} ${i + 1}`, v)));
    else parts.push(field(name, value));
  }
  $("summary").replaceChildren(...parts);
}

function renderRisks(report) {
  const parts = [];
  for (const severity of ["high", "medium", "low"]) {
    const found = report.findings.filter((f) => f.severity === severity);
    if (!found.length) continue;
    parts.push(el("h4", {}, `${severity} (${found.length})`));
    for (const f of found) {
      parts.push(el("button", {
        type: "button", class: "finding", "data-finding": f.severity,
        "data-start": f.char_start ?? "", "data-end": f.char_end ?? "", "data-quote": f.quote,
        onclick: () => highlight(f.document_id, f.char_start, f.char_end, f.page),
      }, el("strong", {}, f.category.replaceAll("_", " ")),
      el("span", { class: `badge ${f.severity}` }, f.severity),
      f.grounded ? null : el("span", { class: "badge unverified" }, "unverified"),
      el("span", { class: "reason" }, f.reason),
      el("span", { class: "quote" }, `p. ${f.page ?? "?"}: “${f.quote}”`)));
    }
  }
  if (!parts.length) parts.push(el("p", {}, "No findings."));
  $("risks").replaceChildren(...parts);
}

// ---- questions, streamed ----
async function ask(event) {
  event.preventDefault();
  const question = $("question").value.trim();
  if (!question) return;
  const body = { question, stream: true };
  if ($("scope").value === "one" && state.doc) body.document_ids = [state.doc.id];
  $("answer").textContent = "…";
  $("citations").replaceChildren();
  try {
    const response = await api("/v1/questions", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    if (!response.ok) {
      const err = await response.json().catch(() => ({}));
      throw new Error(err.detail || `HTTP ${response.status}`);
    }
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    let text = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const raw = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const name = (raw.match(/^event: (.*)$/m) || [])[1];
        const data = JSON.parse((raw.match(/^data: (.*)$/m) || [, "null"])[1]);
        if (name === "delta") { text += data; $("answer").textContent = text; }
        else if (name === "answer") showAnswer(data);
        else if (name === "error") throw new Error(data.detail || data.error_code);
      }
    }
  } catch (e) {
    $("answer").textContent = `No answer: ${e.message}`;
  }
}

function showAnswer(answer) {
  $("answer").textContent = answer.answer;
  const evidence = answer.evidence || [];
  const passage = (docId, chunk) => evidence.find((e) => e.document_id === docId && e.chunk_number === chunk);
  const buttons = answer.citations.map((c) => {
    const ev = c.chunk_numbers.map((n) => passage(c.document_id, n)).find(Boolean);
    return el("button", {
      type: "button", "data-citation": c.document_id,
      "data-start": ev ? ev.char_start : "", "data-end": ev ? ev.char_end : "", "data-quote": ev ? ev.excerpt : "",
      onclick: () => highlight(c.document_id, ev ? ev.char_start : null, ev ? ev.char_end : null, c.page_start),
    }, `${c.marker} p. ${c.page_start}${c.page_end !== c.page_start ? `–${c.page_end}` : ""}`);
  });
  if (!buttons.length) buttons.push(el("span", {}, "No citation. "));
  const passages = evidence.map((e) => el("button", {
    type: "button", class: "link", "data-evidence": e.document_id, "data-start": e.char_start, "data-end": e.char_end,
    "data-quote": e.excerpt,
    onclick: () => highlight(e.document_id, e.char_start, e.char_end, e.page_start),
  }, `${e.filename} p. ${e.page_start}: ${e.excerpt.slice(0, 120)}…`));
  $("citations").replaceChildren(el("p", {}, "Citations: ", ...buttons),
    el("details", {}, el("summary", {}, `Passages given to the model (${passages.length})`),
      el("ul", {}, passages.map((b) => el("li", {}, b)))));
}

// ---- daily reports ----
async function loadReports() {
  try {
    const { body } = await json("/v1/reports");
    $("report-list").replaceChildren(...body.reports.map((r) => el("li", {},
      el("button", { type: "button", class: "link", "data-report": r.date, onclick: () => openReport(r.date) },
        r.date), ` ${r.status}`)));
    if (!body.reports.length) $("report-list").replaceChildren(el("li", {}, "No reports yet."));
  } catch (e) {
    if (e.message !== "unauthenticated") say(`Reports: ${e.message}`, true);
  }
}

async function openReport(date) {
  const response = await api(`/v1/reports/${date}?format=html`);
  const frame = $("report-frame");
  frame.srcdoc = response.ok ? await response.text() : `<p>Report ${date}: HTTP ${response.status}</p>`;
  frame.hidden = false;
}

async function buildReport(event) {
  event.preventDefault();
  const date = $("report-date").value;
  try {
    await json(`/v1/reports/${date}?wait=30`, { method: "POST" });
  } catch (e) {
    say(`Report ${date}: ${e.message}`, true);
  }
  await loadReports();
}

// ---- start ----
// A link such as the calendar feed's events carry: /review?document=ID&page=N&start=S&end=E
// opens that document with the quote highlighted (once a key is set).
const link = new URLSearchParams(location.search);

function openLink() {
  const id = link.get("document");
  if (!id) return false;
  const num = (name) => (link.get(name) === null ? null : Number(link.get(name)));
  link.delete("document");  // followed once
  highlight(id, num("start"), num("end"), num("page") ?? 1).catch((e) => say(`Document: ${e.message}`, true));
  return true;
}

function start() {
  $("key-form").addEventListener("submit", (e) => {
    e.preventDefault();
    sessionStorage.setItem(KEY, $("key-input").value.trim());
    $("key-input").value = "";
    say("Key set for this browser tab.");
    if (!openLink()) show("documents");
  });
  $("key-forget").addEventListener("click", () => { sessionStorage.removeItem(KEY); say("Key forgotten."); show("documents"); });
  for (const b of document.querySelectorAll("nav [data-view]")) b.addEventListener("click", () => show(b.dataset.view));
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); upload(e.dataTransfer.files); });
  $("file-input").addEventListener("change", (e) => { upload(e.target.files); e.target.value = ""; });
  $("version-input").addEventListener("change", (e) => {
    if (e.target.files.length) diff.uploadVersion(state.doc, e.target.files[0]);
    e.target.value = "";
  });
  const context = { highlight, show };
  compare.setup(context);
  calendar.setup(context);
  diff.setup(context);
  $("summarise").addEventListener("click", () => runJob("summary"));
  $("find-risks").addEventListener("click", () => runJob("risks"));
  $("ask-form").addEventListener("submit", ask);
  $("report-form").addEventListener("submit", buildReport);
  $("report-date").value = new Date().toISOString().slice(0, 10);
  if (sessionStorage.getItem(KEY)) { if (!openLink()) show("documents"); }
  else say("Enter an API key to start.");
}

start();
