// hiergenre page: upload covers to POST /predict, browse GET /taxonomy/{genre}. No dependencies.
"use strict";

const $ = (sel) => document.querySelector(sel);
const el = (tag, cls, text) => {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
};
const pct = (p) => `${(100 * p).toFixed(p < 0.1 ? 1 : 0)}%`;

async function detailOf(response) {
  try {
    const body = await response.json();
    return body;
  } catch (_) {
    return { detail: `${response.status} ${response.statusText}` };
  }
}

// ---- model badge -------------------------------------------------------------------------
async function loadHealth() {
  const badge = $("#model");
  try {
    const r = await fetch("/health");
    const h = await r.json();
    badge.textContent = `${h.model} \u00b7 ${h.image_size}px \u00b7 ${h.device}`;
    badge.title = `run ${h.run}; ${h.nodes} genres; uploads up to ${h.max_upload_mb} MB`;
    return h.root;
  } catch (_) {
    badge.textContent = "server unreachable";
    badge.classList.add("bad");
  }
}

// ---- covers ------------------------------------------------------------------------------
// Merge the top paths of one cover into a tree: shared prefixes drawn once.
function pathTree(paths) {
  const root = { children: new Map() };
  paths.forEach((p, rank) => {
    let node = root;
    p.path.forEach((name, depth) => {
      if (!node.children.has(name)) {
        node.children.set(name, { name, prob: p.probs[depth], rank, children: new Map() });
      }
      node = node.children.get(name);
    });
  });
  return root;
}

function drawTree(node, depth) {
  const list = el("ul", depth === 0 ? "tree" : "");
  for (const child of node.children.values()) {
    const item = el("li", child.rank === 0 ? "best" : "");
    const row = el("div", "node");
    row.append(el("span", "name", child.name));
    const bar = el("span", "track");
    const fill = el("span", "fill");
    fill.style.width = `${Math.max(1, 100 * child.prob)}%`;
    bar.append(fill);
    row.append(bar, el("span", "prob", pct(child.prob)));
    item.append(row);
    if (child.children.size) item.append(drawTree(child, depth + 1));
    list.append(item);
  }
  return list;
}

function coverCard(file) {
  const card = el("li", "card pending");
  const img = el("img", "thumb");
  img.alt = file.name;
  img.src = URL.createObjectURL(file);
  const body = el("div", "card-body");
  body.append(el("div", "file", file.name), el("div", "status", "predicting\u2026"));
  card.append(img, body);
  return card;
}

function showResult(card, result) {
  if (result.error) return showError(card, result.error); // this file could not be read
  const body = card.querySelector(".card-body");
  card.classList.remove("pending");
  body.querySelector(".status").remove();
  const top = result.paths[0];
  if (!top) {
    body.append(el("div", "error", "no genre path for this cover"));
    return;
  }
  const headline = el("div", "top-path", top.path.join(" \u203a "));
  headline.dataset.path = top.path.join(" > ");
  body.append(headline, drawTree(pathTree(result.paths), 0));
}

function showError(card, message) {
  card.classList.remove("pending");
  card.classList.add("failed");
  card.querySelector(".status").replaceWith(el("div", "error", message));
}

async function predictFile(file) {
  const card = coverCard(file);
  $("#results").prepend(card);
  const form = new FormData();
  form.append("files", file, file.name);
  const query = new URLSearchParams({ top_k: $("#top-k").value, decode: $("#decode").value });
  try {
    const r = await fetch(`/predict?${query}`, { method: "POST", body: form });
    const body = await detailOf(r);
    const result = body.results && body.results[0];
    if (result && result.error) return showError(card, result.error); // the file's own reason
    if (!r.ok) return showError(card, body.detail || `error ${r.status}`);
    showResult(card, result);
  } catch (err) {
    showError(card, `the server did not answer (${err.message})`);
  }
}

function addFiles(files) {
  for (const file of files) predictFile(file);
}

function setupDrop() {
  const drop = $("#drop");
  const input = $("#file-input");
  input.addEventListener("change", () => {
    addFiles([...input.files]);
    input.value = "";
  });
  ["dragenter", "dragover"].forEach((t) => drop.addEventListener(t, (e) => {
    e.preventDefault();
    drop.classList.add("over");
  }));
  ["dragleave", "drop"].forEach((t) => drop.addEventListener(t, (e) => {
    e.preventDefault();
    drop.classList.remove("over");
  }));
  drop.addEventListener("drop", (e) => addFiles([...e.dataTransfer.files]));
  $("#clear").addEventListener("click", () => { $("#results").innerHTML = ""; });
}

// ---- taxonomy ----------------------------------------------------------------------------
function chip(name, cls) {
  const b = el("button", `chip ${cls || ""}`.trim(), name);
  b.type = "button";
  b.addEventListener("click", () => explain(name));
  return b;
}

function showGenre(g) {
  const box = $("#genre");
  box.innerHTML = "";
  const crumbs = el("nav", "crumbs");
  g.path.forEach((name, i) => {
    if (i) crumbs.append(el("span", "sep", "\u203a"));
    crumbs.append(i === g.path.length - 1 ? el("strong", "here", name) : chip(name, "link"));
  });
  box.append(crumbs);
  if (g.query && g.query.toLowerCase() !== g.name.toLowerCase()) {
    box.append(el("p", "resolved", `\u201c${g.query}\u201d is ${g.name}`));
  }
  const facts = el("p", "facts");
  const leaves = g.is_leaf ? "a leaf" : `${g.children.length} children, ${g.num_descendants} genres below, ${g.num_leaves} leaves`;
  facts.textContent = `level ${g.level} of ${g.max_level} \u00b7 ${leaves}`;
  box.append(facts, el("p", "head", `A hierarchical model learns here: ${g.head}.`));
  if (g.children.length) {
    box.append(el("h3", "", "Sub-genres"));
    const kids = el("div", "chips");
    g.tree.children.forEach((c) => {
      const b = chip(c.name);
      if (c.num_children) b.append(el("span", "count", String(c.num_children)));
      kids.append(b);
    });
    box.append(kids);
  }
  if (g.siblings.length) {
    box.append(el("h3", "", "Siblings"));
    const sib = el("div", "chips");
    g.siblings.forEach((s) => sib.append(chip(s, "quiet")));
    box.append(sib);
  }
}

function showUnknown(query, body) {
  const box = $("#genre");
  box.innerHTML = "";
  box.append(el("p", "error", `No genre called \u201c${query}\u201d.`));
  const suggestions = body.suggestions || [];
  if (suggestions.length) {
    const line = el("p", "did-you-mean", "Did you mean ");
    suggestions.forEach((s, i) => {
      if (i) line.append(i === suggestions.length - 1 ? " or " : ", ");
      line.append(chip(s, "suggestion"));
    });
    line.append("?");
    box.append(line);
  }
}

async function explain(query) {
  query = query.trim();
  if (!query) return;
  $("#query").value = query;
  const r = await fetch(`/taxonomy/${encodeURIComponent(query)}?depth=1`);
  const body = await detailOf(r);
  if (r.status === 404) return showUnknown(query, body);
  if (!r.ok) {
    $("#genre").innerHTML = "";
    $("#genre").append(el("p", "error", body.detail || `error ${r.status}`));
    return;
  }
  showGenre(body);
}

function setupSearch() {
  $("#search").addEventListener("submit", (e) => {
    e.preventDefault();
    explain($("#query").value);
  });
}

setupDrop();
setupSearch();
loadHealth().then((root) => { if (root && !$("#genre").hasChildNodes()) explain(root); });
