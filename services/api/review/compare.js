// Compare view: choose ready documents and columns, start a comparison job, follow its
// progress, and show one row per document with a value, its evidence and page per column.
import { $, el, json, postJson, say, download, sleep, readyDocuments } from "./core.js";

// The API's default columns (checked), then the other CUAD categories.
export const DEFAULT_COLUMNS = [
  "Governing Law", "Agreement Date", "Effective Date", "Expiration Date", "Renewal Term",
  "Notice Period To Terminate Renewal", "Cap On Liability", "Change Of Control", "Non-Compete",
  "Termination For Convenience",
];
const OTHER_COLUMNS = [
  "Document Name", "Parties", "Most Favored Nation", "Exclusivity", "No-Solicit Of Customers",
  "Competitive Restriction Exception", "No-Solicit Of Employees", "Non-Disparagement",
  "Rofr/Rofo/Rofn", "Anti-Assignment", "Revenue/Profit Sharing", "Price Restrictions",
  "Minimum Commitment", "Volume Restriction", "Ip Ownership Assignment", "Joint Ip Ownership",
  "License Grant", "Non-Transferable License", "Affiliate License-Licensor",
  "Affiliate License-Licensee", "Unlimited/All-You-Can-Eat-License",
  "Irrevocable Or Perpetual License", "Source Code Escrow", "Post-Termination Services",
  "Audit Rights", "Uncapped Liability", "Liquidated Damages", "Warranty Duration", "Insurance",
  "Covenant Not To Sue", "Third Party Beneficiary",
];
// Summary fields (read from a cached summary), also accepted as columns.
const SUMMARY_FIELDS = [
  "parties", "subject", "term_and_renewal", "payment", "obligations", "liability_and_indemnity",
  "termination", "governing_law",
];
const FINAL = new Set(["done", "failed"]);
let ctx = null;
let current = null; // the comparison shown
let run = 0; // a newer start or open stops an older poll

export function setup(context) {
  ctx = context;
  $("compare-form").addEventListener("submit", start);
  $("compare-all").addEventListener("click", () => {
    const boxes = [...$("compare-docs").querySelectorAll("input")];
    const on = boxes.some((b) => !b.checked);
    for (const b of boxes) b.checked = on;
  });
  for (const format of ["csv", "xlsx", "json"]) {
    $(`export-${format}`).addEventListener("click", () => exportAs(format));
  }
  columnBoxes([...DEFAULT_COLUMNS], [...OTHER_COLUMNS]);
}

function columnBoxes(defaults, others) {
  const box = (name, checked) => el("label", { class: "choice" },
    el("input", { type: "checkbox", name: "column", value: name, checked }), ` ${name.replaceAll("_", " ")}`);
  $("compare-columns").replaceChildren(el("legend", {}, "Columns"),
    ...defaults.map((c) => box(c, true)),
    el("details", {}, el("summary", {}, `More categories (${others.length})`),
      ...others.map((c) => box(c, false))),
    el("details", {}, el("summary", {}, `Summary fields (${SUMMARY_FIELDS.length})`),
      ...SUMMARY_FIELDS.map((c) => box(c, false))));
}

// A 422 names the columns the server knows: offer those, keeping what was checked.
function offerValid(valid, checked) {
  const known = new Set(valid.map((c) => c.toLowerCase()));
  const defaults = DEFAULT_COLUMNS.filter((c) => known.has(c.toLowerCase()));
  const fixed = new Set([...defaults, ...SUMMARY_FIELDS].map((c) => c.toLowerCase()));
  columnBoxes(defaults, valid.filter((c) => !fixed.has(c.toLowerCase())));
  const keep = new Set(checked.map((c) => c.toLowerCase()));
  for (const input of $("compare-columns").querySelectorAll("input")) input.checked = keep.has(input.value.toLowerCase());
}

export async function open() {
  let docs = [];
  try {
    docs = await readyDocuments();
  } catch (e) {
    if (e.message !== "unauthenticated") say(`Documents: ${e.message}`, true);
  }
  const chosen = new Set([...$("compare-docs").querySelectorAll("input:checked")].map((i) => i.value));
  const boxes = docs.map((d) => el("label", { class: "choice" },
    el("input", { type: "checkbox", name: "document", value: d.id, checked: chosen.has(d.id) }),
    ` ${d.filename}`));
  $("compare-docs").replaceChildren(el("legend", {}, "Documents (ready)"),
    ...(boxes.length ? boxes : [el("p", {}, "No ready documents.")]));
  loadList();
}

async function loadList() {
  try {
    const { body } = await json("/v1/comparisons");
    const items = (body.comparisons || []).slice(0, 10).map((c) => el("li", {},
      el("button", { type: "button", class: "link", "data-comparison": c.id, onclick: () => follow(c.id) },
        `${(c.created_at || "").slice(0, 16).replace("T", " ")} · ${c.document_ids.length} documents · ${c.columns.length} columns`),
      ` ${c.status}`));
    $("compare-list").replaceChildren(...(items.length ? items : [el("li", {}, "None yet.")]));
  } catch (e) {
    $("compare-list").replaceChildren(el("li", {}, `Earlier comparisons unavailable: ${e.message}`));
  }
}

async function start(event) {
  event.preventDefault();
  const ids = [...$("compare-docs").querySelectorAll("input:checked")].map((i) => i.value);
  const columns = [...$("compare-columns").querySelectorAll("input:checked")].map((i) => i.value);
  if (!ids.length || !columns.length) { say("Choose at least one document and one column.", true); return; }
  const payload = { document_ids: ids, columns, use_model: $("compare-model").checked };
  try {
    const { body } = await postJson("/v1/comparisons", payload);
    say("");
    await follow(body.id, body);
  } catch (e) {
    $("compare-status").textContent = `Comparison refused: ${e.message}`;
    if (e.status === 422 && e.body && Array.isArray(e.body.valid)) offerValid(e.body.valid, columns);
  }
}

async function follow(id, first = null) {
  const mine = ++run;
  let c = first;
  $("compare-table").replaceChildren();
  $("compare-exports").hidden = true;
  for (;;) {
    if (!c) {
      try {
        c = (await json(`/v1/comparisons/${encodeURIComponent(id)}?wait=2`)).body;
      } catch (e) {
        $("compare-status").textContent = `Comparison ${id}: ${e.message}`;
        return;
      }
    }
    if (mine !== run) return;
    progress(c);
    if (FINAL.has(c.status)) break;
    c = null;
    await sleep(300);
  }
  current = c;
  if (c.table) render(c.table);
  $("compare-exports").hidden = c.status !== "done";
  loadList();
}

function progress(c) {
  const bar = $("compare-progress");
  bar.hidden = FINAL.has(c.status);
  if (c.steps_total) { bar.max = c.steps_total; bar.value = c.steps_done || 0; } else bar.removeAttribute("value");
  const steps = c.steps_total ? ` (${c.steps_done || 0}/${c.steps_total})` : "";
  const failed = c.status === "failed" ? `: ${c.error_code || ""} ${c.reason || ""}` : "";
  const step = c.step && c.step !== c.status ? `, ${c.step}` : "";
  $("compare-status").textContent = `Comparison ${c.status}${step}${steps}${failed}`;
  $("compare-status").dataset.status = c.status;
}

function render(table) {
  const head = el("tr", {}, el("th", { scope: "col" }, "Document"),
    ...table.columns.map((c) => el("th", { scope: "col" }, c)));
  const rows = table.rows.map((row) => el("tr", { "data-document": row.document_id },
    el("th", { scope: "row" }, row.filename),
    ...table.columns.map((column) => cell(row, column, row.cells[column]))));
  $("compare-table").replaceChildren(el("thead", {}, head), el("tbody", {}, rows));
}

function cell(row, column, c) {
  if (!c || c.value === null || c.value === undefined) {
    return el("td", { class: "cell empty", "data-column": column }, "not found");
  }
  const located = c.char_start !== null && c.char_start !== undefined && c.char_end > c.char_start;
  const pages = c.page ? `p. ${c.page}${c.page_end && c.page_end !== c.page ? `–${c.page_end}` : ""}` : "";
  const mark = c.verified
    ? el("span", { class: "verified", title: "verified: the quote is in the document" }, "✓")
    : el("span", { class: "badge unverified" }, "unverified");
  const body = [el("span", { class: "value" }, c.value), mark, pages ? el("span", { class: "page-ref" }, pages) : null,
    c.rule ? el("span", { class: "rule" }, c.rule) : null,
    c.quote ? el("span", { class: "cell-quote" }, `“${c.quote.length > 90 ? `${c.quote.slice(0, 90)}…` : c.quote}”`) : null];
  const attrs = {
    class: `cell${c.verified ? " is-verified" : " is-unverified"}`, "data-column": column,
    "data-verified": c.verified ? "true" : "false", title: c.quote ? `“${c.quote}”` : null,
  };
  if (!located && !c.page) return el("td", attrs, ...body);
  return el("td", attrs, el("button", {
    type: "button", class: "cell-open", "data-start": located ? c.char_start : "", "data-end": located ? c.char_end : "",
    "data-quote": c.quote || "",
    onclick: () => ctx.highlight(row.document_id, located ? c.char_start : null, located ? c.char_end : null, c.page),
  }, ...body));
}

async function exportAs(format) {
  if (!current) return;
  try {
    const name = await download(`/v1/comparisons/${encodeURIComponent(current.id)}/export?format=${format}`,
      `comparison-${current.id}.${format}`);
    say(`Saved ${name}.`);
  } catch (e) {
    say(`Export ${format}: ${e.message}`, true);
  }
}
