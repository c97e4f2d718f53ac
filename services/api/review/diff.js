// Diff view: a document against its previous version (or any other document), clause by
// clause, side by side: old left, new right; changed pairs with their words marked. Also the
// upload of a new version from the document view.
import { $, el, api, json, say, sleep, readyDocuments } from "./core.js";
import { wordDiff } from "./worddiff.js";

let ctx = null;
let shown = null; // the last diff, redrawn when the "unchanged" toggle changes

export function setup(context) {
  ctx = context;
  $("diff-form").addEventListener("submit", (e) => { e.preventDefault(); load(); });
  $("diff-unchanged").addEventListener("change", () => shown && render(shown));
}

let opening = 0; // the latest open() fills the choices; an older one still waiting stops

export async function open(documentId = null, against = "") {
  const mine = ++opening;
  let docs = [];
  try {
    docs = await readyDocuments();
  } catch (e) {
    if (e.message !== "unauthenticated") say(`Documents: ${e.message}`, true);
  }
  if (mine !== opening) return;
  const keep = documentId || $("diff-doc").value;
  const keepAgainst = documentId ? against : $("diff-against").value;
  const names = new Map(docs.map((d) => [d.id, d.filename]));
  const label = (d) => (d.previous_id ? `${d.filename} (new version of ${names.get(d.previous_id) || "another"})` : d.filename);
  $("diff-doc").replaceChildren(...docs.map((d) => el("option", { value: d.id }, label(d))));
  const versioned = docs.find((d) => d.previous_id); // by default, a document that has one
  $("diff-against").replaceChildren(el("option", { value: "" }, "its previous version"),
    ...docs.map((d) => el("option", { value: d.id }, d.filename)));
  if (docs.some((d) => d.id === keep)) $("diff-doc").value = keep;
  else if (versioned) $("diff-doc").value = versioned.id;
  if (docs.some((d) => d.id === keepAgainst)) $("diff-against").value = keepAgainst;
  if (documentId) await load();
}

async function load() {
  const id = $("diff-doc").value;
  if (!id) { say("Choose a document.", true); return; }
  const against = $("diff-against").value;
  const query = against ? `?against=${encodeURIComponent(against)}` : "";
  $("diff-counts").textContent = "Comparing clauses…";
  try {
    const { body } = await json(`/v1/documents/${encodeURIComponent(id)}/diff${query}`);
    shown = body;
    render(body);
  } catch (e) {
    shown = null;
    $("diff-rows").replaceChildren();
    $("diff-counts").textContent = `No diff: ${e.message}`;
  }
}

function render(diff) {
  const c = diff.counts || {};
  $("diff-counts").textContent = `${c.changed ?? 0} changed, ${c.added ?? 0} added, ${c.removed ?? 0} removed, `
    + `${c.unchanged ?? 0} unchanged (${c.renumbered ?? 0} renumbered)`;
  const all = $("diff-unchanged").checked;
  const rows = [el("div", { class: "diff-head" }, el("div", {}, "Before"), el("div", {}, "After"))];
  let run = 0;
  const flush = () => {
    if (!run) return;
    rows.push(el("button", {
      type: "button", class: "diff-collapsed", onclick: () => { $("diff-unchanged").checked = true; render(diff); },
    }, `${run} unchanged clause${run > 1 ? "s" : ""} (show)`));
    run = 0;
  };
  for (const change of diff.changes) {
    if (change.kind === "unchanged" && !all) { run++; continue; }
    flush();
    rows.push(row(diff, change));
  }
  flush();
  if (diff.changes.length === 0) rows.push(el("p", {}, "No clauses."));
  $("diff-rows").replaceChildren(...rows);
}

// A clause's text as read: the PDF's line breaks and runs of spaces are one space (a line
// break between two Chinese characters none), so that a line broken elsewhere is no change.
const CJK = "\u3000-\u303f\u3400-\u9fff\uf900-\ufaff\uff00-\uffef";
const BREAK_IN_CJK = new RegExp(`(?<=[${CJK}])\\s*\\n\\s*(?=[${CJK}])`, "gu");
function flat(text) {
  return text.replace(BREAK_IN_CJK, "").replace(/\s+/g, " ").trim();
}

function row(diff, change) {
  const words = change.kind === "changed" && change.old && change.new ? wordDiff(flat(change.old.text), flat(change.new.text)) : null;
  const left = side(diff.against, change.old, words, "del", "old");
  const right = side(diff.document_id, change.new, words, "add", "new");
  return el("div", { class: `diff-row kind-${change.kind}`, "data-kind": change.kind },
    left, right, meta(change));
}

function side(documentId, clause, words, op, which) {
  if (!clause) return el("div", { class: `side ${which} absent` }, which === "old" ? "(not in the old version)" : "(removed)");
  const title = [clause.number, clause.heading].filter(Boolean).join(" ") || "(unnumbered)";
  const page = clause.page ? `p. ${clause.page}${clause.page_end && clause.page_end !== clause.page ? `–${clause.page_end}` : ""}` : "";
  const text = words
    ? words.filter((w) => w.op === "same" || w.op === op).map((w) => (w.op === "same" ? w.text : el(op === "del" ? "del" : "ins", {}, w.text)))
    : [flat(clause.text)];
  return el("div", { class: `side ${which}` }, el("button", {
    type: "button", class: "side-open", "data-document": documentId, "data-start": clause.char_start,
    "data-end": clause.char_end, "data-quote": clause.text.slice(0, 200),
    onclick: () => ctx.highlight(documentId, clause.char_start, clause.char_end, clause.page),
  }, el("span", { class: "clause-title" }, title, page ? el("span", { class: "page-ref" }, page) : null),
  el("span", { class: "clause-text" }, text)));
}

function findingNames(list) {
  return (list || []).map((f) => `${f.category}${f.severity ? ` (${f.severity})` : ""}`).join(", ") || "none";
}

function meta(change) {
  const parts = [el("span", { class: `badge kind ${change.kind}` }, change.kind)];
  if (change.renumbered) {
    const from = change.old && change.old.number;
    const to = change.new && change.new.number;
    parts.push(el("span", { class: "badge renumbered" }, `renumbered${from && to ? ` ${from} → ${to}` : ""}`));
  }
  if (change.kind === "changed") parts.push(el("span", {}, `similarity ${Math.round((change.similarity || 0) * 100)}%`));
  if (change.categories && change.categories.length) {
    parts.push(el("span", { class: "categories" }, `categories: ${change.categories.join(", ")}`));
  }
  const f = change.findings;
  if (f && f.change && f.change !== "same" && f.change !== "not_analysed") {
    parts.push(el("span", { class: "findings", "data-findings": f.change },
      `findings ${f.change}: before ${findingNames(f.before)}; after ${findingNames(f.after)}`));
  } else if (f && f.change === "not_analysed") {
    parts.push(el("span", { class: "findings muted" }, "findings: not analysed (run Find risks on both)"));
  }
  return el("div", { class: "meta" }, parts);
}

// A new version of the open document `previous`: uploaded, followed until ready, then one
// click to its diff against `previous`.
export async function uploadVersion(previous, file) {
  const status = $("version-status");
  const form = new FormData();
  form.append("file", file, file.name);
  status.replaceChildren(`New version ${file.name}: uploading`);
  try {
    const response = await api(`/v1/documents/${encodeURIComponent(previous.id)}/versions`, { method: "POST", body: form });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(body.detail || body.reason || `HTTP ${response.status}`);
    let d = body.document || body;
    while (d.status !== "ready" && d.status !== "failed") {
      status.replaceChildren(`New version ${d.filename}: ${d.status}`);
      await sleep(1500);
      d = (await json(`/v1/documents/${encodeURIComponent(d.id)}`)).body;
    }
    if (d.status === "failed") throw new Error(`${d.error_code}: ${d.reason || ""}`);
    status.replaceChildren(`New version ${d.filename}: ready. `, el("button", {
      type: "button", class: "link", "data-version": d.id,
      onclick: () => { ctx.show("diff"); open(d.id, previous.id); },
    }, "Show what changed"));
  } catch (e) {
    if (e.message !== "unauthenticated") status.replaceChildren(`New version refused: ${e.message}`);
  }
}
