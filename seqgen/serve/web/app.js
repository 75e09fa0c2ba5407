// seqgen playground: lists runs, sends generation requests, streams text, shows music.
"use strict";

const $ = (id) => document.getElementById(id);
const SEEDS = {
  text: { label: "Seed text", value: "ROMEO:", hint: "The samples start with this text." },
  music: { label: "Seed notes", value: "C4 E4 G4",
           hint: "Note names sounding together at the start (e.g. C4 E4 G4); empty: the model starts alone." },
};
let runs = [];
let current = null; // the selected run's facts
let controller = null; // aborts the request in flight

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  node.append(...children);
  return node;
}

function fmt(n, digits = 3) {
  return n === null || n === undefined ? "–" : Number(n).toFixed(digits);
}

function size(n) {
  if (n >= 1e6) return (n / 1e6).toFixed(1) + " M";
  if (n >= 1e3) return (n / 1e3).toFixed(1) + " k";
  return String(n);
}

function label(run) {
  if (run.error) return `${run.name} (unreadable)`;
  return `${run.name} (${run.domain})`;
}

function showError(message) {
  $("error").textContent = message || "";
  $("error").hidden = !message;
}

function setBusy(busy, text) {
  $("generate").disabled = busy || !current || Boolean(current.error);
  $("cancel").disabled = !busy;
  $("status").textContent = text || "";
  document.body.classList.toggle("busy", busy);
}

async function loadRuns() {
  try {
    const response = await fetch("/api/checkpoints");
    const data = await response.json();
    if (!response.ok) throw new Error(data.error || response.statusText);
    runs = data.runs;
    $("folder").textContent = `runs under ${data.folder}/`;
    fillDefaults(data.defaults);
  } catch (err) {
    showError(`Could not list checkpoints: ${err.message}`);
    return;
  }
  const select = $("checkpoint");
  select.replaceChildren(...runs.map((run) => el("option", { value: run.name, text: label(run) })));
  select.disabled = runs.length === 0;
  $("no-runs").hidden = runs.length > 0;
  if (runs.length) selectRun(runs[0].name);
  else setBusy(false);
}

// The form starts from the server's defaults (seqgen.generate's), the values of fields a request leaves out.
function fillDefaults(defaults) {
  for (const [id, value] of Object.entries(defaults || {})) {
    if ($(id)) $(id).value = value;
  }
}

function selectRun(name) {
  const previous = current && current.domain;
  current = runs.find((run) => run.name === name) || null;
  $("checkpoint").value = name;
  const facts = $("facts");
  facts.replaceChildren();
  showError(current && current.error ? current.error : "");
  if (!current || current.error) {
    $("loss").hidden = true;
    setBusy(false);
    return;
  }
  const rows = [
    ["corpus", current.corpus],
    ["domain", `${current.domain} (${current.tokenizer} tokens, vocab ${current.vocab})`],
    ["model", `${current.cell}, ${current.layers} × ${current.hidden}`],
    ["parameters", size(current.params)],
    ["best val loss", `${fmt(current.best_val)} nats/token`],
    ["step", current.step],
    ["file", current.file],
  ];
  for (const [key, value] of rows) facts.append(el("dt", { text: key }), el("dd", { text: String(value) }));
  const img = $("loss-curve");
  img.onerror = () => { $("loss").hidden = true; };
  img.onload = () => { $("loss").hidden = false; };
  img.src = `${current.loss_curve}?v=${current.modified}`;
  const domain = current.domain;
  document.body.dataset.domain = domain;
  for (const node of document.querySelectorAll("[data-domain]")) node.hidden = node.dataset.domain !== domain;
  if (previous !== domain) {
    $("seed-label").textContent = SEEDS[domain].label;
    $("seed").value = SEEDS[domain].value;
    $("seed-hint").textContent = SEEDS[domain].hint;
    $("results").replaceChildren();
  }
  setBusy(false);
}

function intOrNull(id) {
  const value = $(id).value.trim();
  return value === "" ? null : Number(value);
}

function request() {
  const body = {
    checkpoint: current.name,
    seed: $("seed").value,
    temperature: Number($("temperature").value),
    top_k: Number($("top_k").value),
    top_p: Number($("top_p").value),
    num_samples: Number($("num_samples").value),
    random_seed: intOrNull("random_seed"),
  };
  if (current.domain === "text") {
    body.length = Number($("length").value);
    body.stop = $("stop").value.replace(/\\n/g, "\n").replace(/\\t/g, "\t");
  } else {
    body.bars = Number($("bars").value);
  }
  return body;
}

async function post(url, body) {
  controller = new AbortController();
  const response = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
    signal: controller.signal,
  });
  if (!response.ok) {
    let message = response.statusText;
    try { message = (await response.json()).error || message; } catch (_) { /* not JSON */ }
    throw new Error(message);
  }
  return response;
}

function textCard(index, count) {
  const pre = el("pre", { class: "sample-text", id: `sample-${index}` });
  const card = el("article", { class: "card" });
  if (count > 1) card.append(el("h3", { text: `Sample ${index + 1}` }));
  card.append(pre);
  return [card, pre];
}

async function generateText(body) {
  const results = $("results");
  const pres = [];
  for (let i = 0; i < body.num_samples; i++) {
    const [card, pre] = textCard(i, body.num_samples);
    results.append(card);
    pres.push(pre);
  }
  const response = await post("/api/generate/text", body);
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let finished = false;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let event = "message";
      let data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) event = line.slice(7);
        else if (line.startsWith("data: ")) data += line.slice(6);
      }
      const payload = JSON.parse(data);
      if (event === "text") {
        pres[payload.sample].textContent += payload.text;
        setBusy(true, "generating…");
      } else if (event === "done") {
        const chars = payload.texts.reduce((sum, t) => sum + t.length, 0);
        setBusy(false, `done: ${chars.toLocaleString()} characters in ${payload.seconds.toFixed(1)} s`);
        finished = true;
      } else if (event === "error") {
        throw new Error(payload.error);
      }
    }
  }
  if (!finished) throw new Error("the server closed the stream before the samples were finished");
}

function musicCard(sample, index) {
  const card = el("article", { class: "card music" });
  card.append(el("h3", { text: `Sample ${sample.sample}` },
    el("span", { class: "muted", text: ` · ${sample.notes} notes · ${sample.seconds.toFixed(1)} s` })));
  const files = sample.files;
  if (files.png) {
    card.append(el("img", { class: "roll", src: files.png, alt: `Piano roll of sample ${sample.sample}` }));
  }
  if (files.wav) {
    const audio = el("audio", { controls: "", preload: "metadata", src: files.wav });
    card.append(audio);
  }
  const links = el("p", { class: "downloads" });
  if (files.midi) links.append(el("a", { href: files.midi, download: "", class: "button", text: "Download MIDI" }));
  if (files.musicxml) {
    links.append(el("a", { href: files.musicxml, download: "", class: "button secondary", text: "Download MusicXML" }));
  }
  card.append(links);
  for (const [format, message] of Object.entries(sample.errors)) {
    card.append(el("p", { class: "error", text: `${format}: ${message}` }));
  }
  card.dataset.index = index;
  return card;
}

async function generateMusic(body) {
  const response = await post("/api/generate/music", body);
  const data = await response.json();
  $("results").classList.add("music");
  $("results").replaceChildren(...data.samples.map(musicCard));
  setBusy(false, `done: ${data.samples.length} sample${data.samples.length > 1 ? "s" : ""} in ${data.seconds.toFixed(1)} s`);
}

async function generate(event) {
  event.preventDefault();
  if (!current || current.error) return;
  showError("");
  $("results").replaceChildren();
  $("results").classList.remove("music");
  setBusy(true, "generating…");
  try {
    const body = request();
    if (current.domain === "text") await generateText(body);
    else await generateMusic(body);
  } catch (err) {
    if (err.name === "AbortError") setBusy(false, "stopped");
    else {
      showError(err.message);
      setBusy(false, "");
    }
    return;
  } finally {
    controller = null;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("checkpoint").addEventListener("change", (e) => selectRun(e.target.value));
  $("form").addEventListener("submit", generate);
  $("cancel").addEventListener("click", () => controller && controller.abort());
  loadRuns();
});
