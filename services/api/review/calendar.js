// Calendar view: obligations and key dates across the tenant's documents, grouped by month
// (undated ones last, with the rule they follow), and calendar feeds to subscribe to.
import { $, el, json, postJson, say } from "./core.js";

const KINDS = {
  effective_date: "effective date", expiration_date: "expiration date", renewal: "renewal",
  notice_deadline: "notice deadline", payment_due: "payment due", reporting: "reporting", audit: "audit",
};
let ctx = null;

const iso = (d) => d.toISOString().slice(0, 10);

export function setup(context) {
  ctx = context;
  const today = new Date();
  $("due-after").value = iso(today);
  $("due-before").value = iso(new Date(today.getTime() + 90 * 86_400_000));
  $("obligations-form").addEventListener("submit", (e) => { e.preventDefault(); load(); });
  $("obligation-kind").addEventListener("change", load);
  $("obligations-rebuild").addEventListener("click", rebuild);
  $("feed-form").addEventListener("submit", createFeed);
  $("feed-copy").addEventListener("click", copyFeed);
}

export function open() {
  load();
  loadFeeds();
}

async function fetchObligations(params) {
  const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v));
  return (await json(`/v1/obligations?${query}`)).body.obligations || [];
}

async function load() {
  const box = $("obligations");
  box.setAttribute("aria-busy", "true");
  try {
    const kind = $("obligation-kind").value;
    const dated = await fetchObligations({ due_after: $("due-after").value, due_before: $("due-before").value, kind });
    let all = dated;
    if ($("undated").checked) { // the API gives undated ones only when no date bound is set
      const seen = new Set(dated.map((o) => o.id));
      const undated = (await fetchObligations({ kind })).filter((o) => !o.due_date && !seen.has(o.id));
      all = dated.concat(undated);
    }
    render(all);
  } catch (e) {
    if (e.message !== "unauthenticated") box.replaceChildren(el("p", { class: "error" }, `Obligations: ${e.message}`));
  } finally {
    box.removeAttribute("aria-busy");
  }
}

function monthOf(o) {
  if (!o.due_date) return "No calendar date (see the rule)";
  const [y, m] = o.due_date.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, 1)).toLocaleDateString(undefined, { year: "numeric", month: "long", timeZone: "UTC" });
}

function render(list) {
  if (!list.length) {
    $("obligations").replaceChildren(el("p", {}, "No obligation falls due in these dates."));
    return;
  }
  const groups = new Map();
  for (const o of list) {
    const m = monthOf(o);
    if (!groups.has(m)) groups.set(m, []);
    groups.get(m).push(o);
  }
  const parts = [];
  for (const [month, items] of groups) {
    parts.push(el("section", { class: "month", "data-month": month },
      el("h3", {}, `${month} (${items.length})`),
      el("ul", { class: "obligations" }, items.map(item))));
  }
  $("obligations").replaceChildren(...parts);
}

function item(o) {
  const located = o.char_start !== null && o.char_start !== undefined && o.char_end > o.char_start;
  return el("li", { class: `obligation${o.verified ? "" : " unverified"}`, "data-obligation": o.kind },
    el("span", { class: "due" }, o.due_date || "undated"),
    el("strong", {}, KINDS[o.kind] || o.kind),
    o.party ? el("span", { class: "party" }, ` · ${o.party}`) : null,
    o.verified ? null : el("span", { class: "badge unverified" }, "unverified"),
    el("span", { class: "doc" }, o.filename),
    o.rule ? el("span", { class: "rule" }, o.rule) : null,
    el("button", {
      type: "button", class: "link quote", "data-start": located ? o.char_start : "", "data-end": located ? o.char_end : "",
      "data-quote": o.quote || "",
      onclick: () => ctx.highlight(o.document_id, located ? o.char_start : null, located ? o.char_end : null, o.page),
    }, `p. ${o.page ?? "?"}: “${o.quote || ""}”`));
}

async function rebuild() {
  say("Reading the key dates of every ready contract again…");
  try {
    const { body } = await json("/v1/obligations/rebuild", { method: "POST" });
    const failed = body.failed && body.failed.length ? `; failed: ${body.failed.join(", ")}` : "";
    say(`${body.obligations} key dates and obligations read from ${body.documents} contracts${failed}.`);
  } catch (e) {
    say(`Read again: ${e.message}`, true);
  }
  load();
}

async function createFeed(event) {
  event.preventDefault();
  const name = $("feed-name").value.trim() || "docsight obligations";
  try {
    const { body } = await postJson("/v1/calendar-feeds", { name });
    const url = new URL(body.url, window.location.origin).href;
    $("feed-url-input").value = url;
    $("feed-url").hidden = false;
    say("Calendar feed created: copy its address now, it is shown only once.");
    loadFeeds();
  } catch (e) {
    say(`Calendar feed: ${e.message}`, true);
  }
}

async function copyFeed() {
  const input = $("feed-url-input");
  input.select();
  try {
    await navigator.clipboard.writeText(input.value);
    say("Feed address copied.");
  } catch {
    say("Select the address and copy it (the browser refused the clipboard).");
  }
}

async function loadFeeds() {
  try {
    const { body } = await json("/v1/calendar-feeds");
    const feeds = (body.feeds || []).filter((f) => !f.revoked_at);
    $("feed-list").replaceChildren(...feeds.map((f) => el("li", { "data-feed": f.id },
      `${f.name} (since ${(f.created_at || "").slice(0, 10)}) `,
      el("button", { type: "button", onclick: () => revoke(f.id) }, "Revoke"))));
  } catch (e) {
    $("feed-list").replaceChildren(el("li", {}, `Feeds unavailable: ${e.message}`));
  }
}

async function revoke(id) {
  try {
    await json(`/v1/calendar-feeds/${encodeURIComponent(id)}`, { method: "DELETE" });
    say("Feed revoked: its address no longer answers.");
  } catch (e) {
    say(`Revoke: ${e.message}`, true);
  }
  loadFeeds();
}
