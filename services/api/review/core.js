// Shared helpers of the review page's modules: elements, the status line, and the JSON API
// with the key from sessionStorage in the Authorization header (never in a URL).
export const KEY = "docsight.key";
export const $ = (id) => document.getElementById(id);

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v !== null && v !== undefined && v !== false) node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) node.append(c);
  return node;
}

export function say(text, error = false) {
  $("message").textContent = text;
  $("message").className = error ? "error" : "";
}

export async function api(path, options = {}) {
  const key = sessionStorage.getItem(KEY);
  if (!key) throw new Error("enter an API key first");
  const headers = { Authorization: `Bearer ${key}`, ...(options.headers || {}) };
  const response = await fetch(path, { ...options, headers });
  if (response.status === 401) {
    say("The key was refused (401): enter a valid key.", true);
    throw new Error("unauthenticated");
  }
  return response;
}

function detail(body, status) {
  const d = body.detail;
  if (Array.isArray(d)) return d.map((x) => x.msg || JSON.stringify(x)).join("; ");
  if (d && typeof d === "object") return JSON.stringify(d);
  return d || body.reason || body.error_code || `HTTP ${status}`;
}

export async function json(path, options = {}) {
  const response = await api(path, options);
  const body = await response.json().catch(() => ({}));
  if (!response.ok && response.status !== 202) {
    const error = new Error(detail(body, response.status));
    error.status = response.status;
    error.body = body;
    throw error;
  }
  return { status: response.status, body };
}

export function postJson(path, payload) {
  return json(path, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(payload),
  });
}

// A file behind the bearer header: fetched, then saved through a temporary object URL
// (a plain link could not send the header).
export async function download(path, fallbackName) {
  const response = await api(path);
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  const disposition = response.headers.get("content-disposition") || "";
  const named = disposition.match(/filename\*?=(?:UTF-8'')?"?([^";]+)"?/i);
  const name = named ? decodeURIComponent(named[1]) : fallbackName;
  const url = URL.createObjectURL(await response.blob());
  const link = el("a", { href: url, download: name, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  return name;
}

export const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

// Ready documents, for the views that choose among them.
export async function readyDocuments() {
  const docs = (await json("/v1/documents")).body.documents || [];
  return docs.filter((d) => d.status === "ready");
}
