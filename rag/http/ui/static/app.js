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
        element("span", { class: "where" }, " — ", element("a", { href: spanLink(c.doc_id, c.start, c.end, c.doc_sha256) }, `${titles.get(c.doc_id) || c.doc_id}, characters ${c.start}–${c.end}`)),
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
  const mark = document.getElementById("span");
  if (!mark) return;
  mark.scrollIntoView({ block: "center" });
  mark.focus({ preventScroll: true });
}

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("ask-form");
  if (form) setupAskPage(form);
  else setupDocumentPage();
});

// For tests and the console.
window.rag = { utf16Offsets, sliceCodePoints };
