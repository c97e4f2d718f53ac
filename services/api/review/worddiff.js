// Word-level difference of two texts (a longest common subsequence of tokens): numbers (with
// their separators: "1,000,000"), Latin words and whitespace runs are tokens; each Chinese
// character is a token of its own.
const TOKEN = /[\u3400-\u9fff\uf900-\ufaff]|\p{N}+(?:[.,]\p{N}+)*|[\p{L}\p{N}]+|\s+|[^\s\p{L}\p{N}]/gu;
const LIMIT = 4_000_000; // cells of the LCS table; past it the middle is one change

export function tokens(text) {
  return text.match(TOKEN) || [];
}

// [{op: "same"|"del"|"add", text}], in order: the old text is the "same" and "del" parts,
// the new text the "same" and "add" parts.
export function wordDiff(oldText, newText) {
  const a = tokens(oldText);
  const b = tokens(newText);
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  const x = a.slice(head, a.length - tail);
  const y = b.slice(head, b.length - tail);
  const out = [];
  const push = (op, text) => {
    if (!text) return;
    const last = out[out.length - 1];
    if (last && last.op === op) last.text += text;
    else out.push({ op, text });
  };
  push("same", a.slice(0, head).join(""));
  if ((x.length + 1) * (y.length + 1) > LIMIT) {
    push("del", x.join(""));
    push("add", y.join(""));
  } else {
    for (const [op, t] of middle(x, y)) push(op, t);
  }
  push("same", a.slice(a.length - tail).join(""));
  return out;
}

function middle(x, y) {
  const n = x.length;
  const m = y.length;
  const w = m + 1;
  const table = new Uint32Array((n + 1) * w); // table[i*w+j]: LCS length of x[i:], y[j:]
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      table[i * w + j] = x[i] === y[j] ? table[(i + 1) * w + j + 1] + 1
        : Math.max(table[(i + 1) * w + j], table[i * w + j + 1]);
    }
  }
  const ops = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (x[i] === y[j]) { ops.push(["same", x[i]]); i++; j++; }
    else if (table[(i + 1) * w + j] >= table[i * w + j + 1]) ops.push(["del", x[i++]]);
    else ops.push(["add", y[j++]]);
  }
  while (i < n) ops.push(["del", x[i++]]);
  while (j < m) ops.push(["add", y[j++]]);
  return ops;
}
