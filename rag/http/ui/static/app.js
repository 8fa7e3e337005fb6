// The question page: asks POST /ask, shows the answer and its citations, and each cited
// document with every cited span in a <mark>. No framework, no build step.
//
// Offsets: the API counts Unicode code points (Python str indices); JavaScript strings count
// UTF-16 code units, in which a character outside the Basic Multilingual Plane (an emoji,
// say) takes two. Every offset is converted with utf16Offsets() before slicing.
"use strict";

/**
 * UTF-16 offsets of the given code-point offsets into `text`, as a Map (code point -> unit).
 * One pass over the text up to the largest offset; an offset past the end maps to text.length.
 */
function utf16Offsets(text, codePointOffsets) {
  const wanted = [...new Set(codePointOffsets)].sort((a, b) => a - b);
  const result = new Map();
  let codePoint = 0;
  let unit = 0;
  for (const target of wanted) {
    while (codePoint < target && unit < text.length) {
      const value = text.codePointAt(unit);
      unit += value > 0xffff ? 2 : 1;
      codePoint += 1;
    }
    result.set(target, unit);
  }
  return result;
}

/** `text` sliced by code points [start, end), as JavaScript sees it. */
function sliceCodePoints(text, start, end) {
  const at = utf16Offsets(text, [start, end]);
  return text.slice(at.get(start), at.get(end));
}

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function spanLink(docId, start, end, sha256) {
  const query = new URLSearchParams({ start: String(start), end: String(end) });
  if (sha256) query.set("sha256", sha256);
  return `/ui/documents/${encodeURIComponent(docId)}?${query}#span`;
}

async function api(path, options = {}) {
  const response = await fetch(path, {
    ...options,
    headers: { Accept: "application/json", ...(options.headers || {}) },
  });
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (!response.ok) {
    const detail = body && (body.detail || body.title);
    throw new Error(detail ? `${detail} (${response.status})` : `The server answered ${response.status}.`);
  }
  return body;
}

/**
 * The document text as nodes, with each citation's span in a <mark id="cite-N">.
 * Overlapping citations share one mark; the later ones get an empty anchor inside it.
 */
function highlightedText(text, citations) {
  const at = utf16Offsets(text, citations.flatMap((c) => [c.start, c.end]));
  const ranges = citations
    .map((c) => ({ n: c.n, start: at.get(c.start), end: at.get(c.end) }))
    .sort((a, b) => a.start - b.start || a.end - b.end);
  const merged = [];
  for (const range of ranges) {
    const last = merged[merged.length - 1];
    if (last && range.start < last.end) {
      last.end = Math.max(last.end, range.end);
      last.also.push(range.n);
    } else {
      merged.push({ ...range, also: [] });
    }
  }
  const fragment = document.createDocumentFragment();
  let position = 0;
  for (const range of merged) {
    fragment.append(text.slice(position, range.start));
    const label = [range.n, ...range.also].join(", ");
    const mark = element("mark", {
      id: `cite-${range.n}`,
      class: "cite",
      tabindex: "-1",
      "data-cite": label,
      title: `Citation ${label}`,
    });
    for (const n of range.also) mark.append(element("span", { id: `cite-${n}`, class: "anchor" }));
    mark.append(text.slice(range.start, range.end));
    fragment.append(mark);
    position = range.end;
  }
  fragment.append(text.slice(position));
  return fragment;
}

function goToCitation(n) {
  const target = document.getElementById(`cite-${n}`);
  if (!target) return;
  const mark = target.closest("mark") || target;
  const reduce = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  mark.scrollIntoView({ block: "center", behavior: reduce ? "auto" : "smooth" });
  mark.focus({ preventScroll: true });
  mark.classList.remove("flash");
  void mark.offsetWidth; // restart the animation
  mark.classList.add("flash");
  history.replaceState(null, "", `${location.pathname}${location.search}#cite-${n}`);
}

/** Scroll each document box (not the page) so that its first highlight is in sight. */
function revealFirstMarks(container) {
  for (const box of container.querySelectorAll(".doc-text")) {
    const mark = box.querySelector("mark");
    if (mark) box.scrollTop = Math.max(0, mark.offsetTop - box.clientHeight / 3);
  }
}

function citationLink(n) {
  return element("a", { href: `#cite-${n}`, class: "cite-link", "data-cite": n, "aria-label": `Citation ${n}` }, `[${n}]`);
}

function confidenceView(confidence) {
  const percent = Math.round(confidence * 100);
  const word = confidence >= 0.75 ? "high" : confidence >= 0.4 ? "medium" : "low";
  return element(
    "p",
    { class: "confidence" },
    element("span", { id: "confidence-label" }, "Confidence "),
    element("meter", { min: 0, max: 1, low: 0.4, high: 0.75, optimum: 1, value: confidence, "aria-labelledby": "confidence-label" }),
    ` ${percent}% (${word})`,
  );
}

function answerView(answer, titles) {
  const card = element("div", { class: answer.abstained ? "card abstained" : "card answered" });
  if (answer.abstained) {
    card.append(element("h2", {}, "Not in the sources"));
    card.append(element("p", { class: "answer-text" }, answer.answer));
    card.append(confidenceView(answer.confidence));
    if (answer.passages.length) {
      card.append(element("h3", {}, "Nearest passages"));
      const list = element("ol", { class: "passages" });
      for (const p of answer.passages.slice(0, 3)) {
        const excerpt = p.text.length > 280 ? `${p.text.slice(0, 280)}…` : p.text;
        list.append(
          element(
            "li",
            {},
            element("blockquote", {}, excerpt),
            element("a", { href: spanLink(p.doc_id, p.start, p.end) }, `${titles.get(p.doc_id) || p.doc_id}, characters ${p.start}–${p.end}`),
          ),
        );
      }
      card.append(list);
    }
    return card;
  }
  card.append(element("h2", {}, "Answer"));
  // The answer, with each cited part followed by a link to its highlighted source.
  const text = element("p", { class: "answer-text" });
  const parts = [...answer.citations].sort((a, b) => a.answer_start - b.answer_start);
  const at = utf16Offsets(answer.answer, parts.flatMap((c) => [c.answer_start, c.answer_end]));
  let position = 0;
  for (const c of parts) {
    const start = at.get(c.answer_start);
    const end = at.get(c.answer_end);
    if (start < position) continue;
    text.append(answer.answer.slice(position, start), answer.answer.slice(start, end), citationLink(c.n));
    position = end;
  }
  text.append(answer.answer.slice(position));
  card.append(text, confidenceView(answer.confidence));
  const list = element("ol", { class: "citations", "aria-label": "Citations" });
  for (const c of answer.citations) {
    list.append(
      element(
        "li",
        { value: c.n },
        citationLink(c.n),
        " ",
        element("q", {}, c.quote),
        element(
          "span",
          { class: "where" },
          " — ",
          // A long title is cut with an ellipsis on small screens; the whole shows on hover (title) and focus (CSS).
          element("a", { href: spanLink(c.doc_id, c.start, c.end, c.doc_sha256), title: titles.get(c.doc_id) || c.doc_id }, `${titles.get(c.doc_id) || c.doc_id}, characters ${c.start}–${c.end}`),
        ),
      ),
    );
  }
  card.append(list);
  card.append(element("p", { class: "timing" }, `Answered in ${Math.round(answer.timings_ms.total)} ms.`));
  return card;
}

function sourcesView(answer, documents) {
  const container = document.createDocumentFragment();
  for (const doc of documents) {
    const cited = answer.citations.filter((c) => c.doc_id === doc.doc_id);
    const headingId = `source-${cited[0].n}`;
    container.append(
      element(
        "article",
        { class: "source", "aria-labelledby": headingId },
        element("h3", { id: headingId }, doc.title, " ", element("small", {}, element("code", {}, doc.doc_id))),
        element("div", { class: "doc-text", tabindex: "0", "aria-label": `Text of ${doc.title}` }, highlightedText(doc.text, cited)),
      ),
    );
  }
  return container;
}

function setupAskPage(form) {
  const input = document.getElementById("question");
  const button = document.getElementById("ask-button");
  const status = document.getElementById("status");
  const answerRegion = document.getElementById("answer");
  const sourcesRegion = document.getElementById("sources");
  const sourceDocuments = document.getElementById("source-documents");
  const cache = new Map();
  let asked = 0;

  async function fetchDocument(docId) {
    if (!cache.has(docId)) cache.set(docId, api(`/documents/${encodeURIComponent(docId)}`));
    return cache.get(docId);
  }

  async function ask(question) {
    const ticket = ++asked;
    answerRegion.setAttribute("aria-busy", "true");
    button.disabled = true;
    status.textContent = "Searching the sources…";
    try {
      const answer = await api("/ask", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ question }),
      });
      answer.citations.forEach((c, i) => (c.n = i + 1));
      cache.clear(); // a document may have been replaced since the last question
      const ids = [...new Set(answer.citations.map((c) => c.doc_id))];
      const documents = await Promise.all(ids.map(fetchDocument));
      if (ticket !== asked) return; // a newer question is on its way
      const titles = new Map(documents.map((d) => [d.doc_id, d.title]));
      if (answer.abstained && answer.passages.length) {
        for (const d of await api("/documents")) titles.set(d.doc_id, d.title);
        if (ticket !== asked) return;
      }
      answerRegion.replaceChildren(answerView(answer, titles));
      answerRegion.hidden = false;
      sourceDocuments.replaceChildren(sourcesView(answer, documents));
      sourcesRegion.hidden = documents.length === 0;
      revealFirstMarks(sourceDocuments);
      status.textContent = answer.abstained ? "No answer was found in the sources." : "Answer found.";
    } catch (error) {
      if (ticket !== asked) return;
      answerRegion.replaceChildren(element("div", { class: "card error", role: "alert" }, element("h2", {}, "Something went wrong"), element("p", {}, error.message)));
      answerRegion.hidden = false;
      sourcesRegion.hidden = true;
      status.textContent = "";
    } finally {
      if (ticket === asked) {
        answerRegion.setAttribute("aria-busy", "false");
        button.disabled = false;
      }
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const question = input.value.trim();
    if (!question) {
      input.focus();
      return;
    }
    const url = new URL(location.href);
    url.searchParams.set("q", question);
    url.hash = "";
    history.replaceState(null, "", url);
    ask(question);
  });

  document.addEventListener("click", (event) => {
    const link = event.target.closest && event.target.closest("a.cite-link");
    if (!link) return;
    event.preventDefault();
    goToCitation(link.dataset.cite);
  });

  const initial = new URLSearchParams(location.search).get("q");
  if (initial) {
    input.value = initial;
    ask(initial.trim());
  }
}

function setupDocumentPage() {
  const maker = document.getElementById("gold-maker");
  if (maker) setupGoldMaker(maker);
  const mark = document.getElementById("span");
  if (!mark) return;
  mark.scrollIntoView({ block: "center" });
  mark.focus({ preventScroll: true });
}

/** Code points in a string (a surrogate pair is one). */
function codePointLength(text) {
  let n = 0;
  for (const _ of text) n += 1;
  return n;
}

/**
 * The selection inside `box` as code-point offsets into its text, or null. The DOM counts
 * UTF-16 units: the units before the selection and in it are measured with Ranges, then
 * converted by counting the code points they hold.
 */
function selectionOffsets(box) {
  const selection = window.getSelection();
  if (!selection || selection.rangeCount === 0 || selection.isCollapsed) return null;
  const range = selection.getRangeAt(0);
  if (!box.contains(range.startContainer) || !box.contains(range.endContainer)) return null;
  const before = document.createRange();
  before.selectNodeContents(box);
  before.setEnd(range.startContainer, range.startOffset);
  const all = box.textContent;
  const startUnits = before.toString().length;
  const endUnits = startUnits + range.toString().length;
  const start = codePointLength(all.slice(0, startUnits));
  return { start, end: start + codePointLength(all.slice(startUnits, endUnits)), text: all.slice(startUnits, endUnits) };
}

function setupGoldMaker(maker) {
  const box = document.getElementById("doc-text");
  const form = document.getElementById("gold-form");
  const shown = document.getElementById("gold-selection");
  const output = document.getElementById("gold-lines");
  const problem = document.getElementById("gold-error");
  const status = document.getElementById("gold-status");
  const download = document.getElementById("gold-download");
  const append = document.getElementById("gold-append");
  const key = document.getElementById("gold-key");
  const idInput = document.getElementById("gold-id");
  const lines = [];
  let chosen = null; // kept while the user types the question (typing moves the selection away)

  document.addEventListener("selectionchange", () => {
    const offsets = selectionOffsets(box);
    if (!offsets) return;
    chosen = offsets;
    const preview = offsets.text.length > 160 ? `${offsets.text.slice(0, 160)}…` : offsets.text;
    shown.textContent = `Selected characters ${offsets.start}–${offsets.end}: “${preview}”`;
  });

  function fail(message) {
    problem.textContent = message;
    problem.hidden = false;
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    problem.hidden = true;
    const kind = document.getElementById("gold-kind").value;
    const answers = document.getElementById("gold-answers").value.split("\n").map((a) => a.trim()).filter(Boolean);
    const answerable = kind !== "unanswerable";
    if (answerable && !chosen) return fail("Select the evidence in the document text first.");
    if (answerable && !answers.length) return fail("Give at least one short answer.");
    const id = idInput.value.trim();
    if (lines.some((line) => line.id === id)) return fail(`The id ${id} is already used above.`);
    const line = {
      id,
      question: document.getElementById("gold-question").value.trim(),
      answers: answerable ? answers : [],
      evidence: answerable ? [{ start: chosen.start, end: chosen.end, text: chosen.text, doc_id: box.dataset.docId }] : [],
      kind,
    };
    lines.push(line);
    output.value = lines.map((l) => JSON.stringify(l)).join("\n") + "\n";
    download.disabled = false;
    append.disabled = false;
    const match = /^(.*?)(\d+)$/.exec(id); // suggest the next id: doc-1 -> doc-2
    if (match) idInput.value = `${match[1]}${Number(match[2]) + 1}`;
    status.textContent = `Gold line ${line.id} made (${lines.length} in all).`;
  });

  download.addEventListener("click", () => {
    const blob = new Blob([output.value], { type: "application/jsonl" });
    const link = element("a", { href: URL.createObjectURL(blob), download: `${box.dataset.docId}-gold.jsonl` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  });

  append.addEventListener("click", async () => {
    problem.hidden = true;
    const pending = lines.filter((line) => !line.appended);
    try {
      for (const line of pending) {
        const { appended, ...body } = line;
        const result = await api("/gold", {
          method: "POST",
          headers: { "Content-Type": "application/json", "X-API-Key": key.value },
          body: JSON.stringify(body),
        });
        line.appended = true;
        status.textContent = `Appended ${result.id} to ${result.file} (line ${result.line}).`;
      }
      if (!pending.length) status.textContent = "Every line above is already in the server's gold file.";
    } catch (error) {
      fail(error.message);
    }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("ask-form");
  if (form) setupAskPage(form);
  else setupDocumentPage();
});

// For tests and the console.
window.rag = { utf16Offsets, sliceCodePoints, selectionOffsets };
