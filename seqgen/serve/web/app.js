// seqgen playground: lists runs and their quality cues, runs generations one at a time into the
// history, and wires the page's buttons and keys. Text and music results live in text.js and music.js.
import { $, el, fmt, size } from "./dom.js";
import { getJSON } from "./api.js";
import { setup, showDomain, requestBody, markServerError } from "./form.js";
import { generateText } from "./text.js";
import { generateMusic } from "./music.js";
import { addResult, clearHistory } from "./history.js";

const SEEDS = {
  text: { label: "Seed text", value: "ROMEO:", hint: "The samples start with this text." },
  music: { label: "Seed notes", value: "C4 E4 G4",
           hint: "Note names sounding together at the start (e.g. C4 E4 G4); empty: the model starts alone." },
};
let runs = [];
let current = null; // the selected run's facts
let controller = null; // aborts the request in flight

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

// Run one request at a time: `work(signal)` resolves with the status line; errors show once.
async function task(label, work, onFail = () => {}) {
  showError("");
  setBusy(true, label);
  controller = new AbortController();
  try {
    setBusy(false, await work(controller.signal));
  } catch (err) {
    onFail(err);
    if (err.name === "AbortError") setBusy(false, "stopped");
    else {
      showError(err.message);
      markServerError(err.message);
      setBusy(false, "");
    }
  } finally {
    controller = null;
  }
}

// Generate `body` from the selected run into a new result at the top of the history.
function generate(body, run = current) {
  if (controller) return;
  if (body.random_seed === undefined) body.random_seed = Math.floor(Math.random() * 2 ** 31);
  const result = addResult(run, body, () => !controller && generate({ ...body }, run));
  const work = (signal) => run.domain === "text"
    ? generateText(result.cards, run, body, studio, signal)
    : generateMusic(result.cards, run, body, signal);
  // A failed or stopped request leaves no empty card: a result with nothing in it goes.
  return task("generating…", work, () => { if (!result.cards.textContent) result.remove(); });
}

const studio = { generate, task, busy: () => Boolean(controller) };

function cue(run) {
  const node = $("cue");
  node.hidden = !run.barely_trained;
  node.textContent = run.barely_trained
    ? `Barely trained: ${run.step} steps. Expect noise; train for a few thousand steps (seqgen train) for real samples.`
    : "";
}

function selectRun(name) {
  const previous = current && current.domain;
  current = runs.find((run) => run.name === name) || null;
  $("checkpoint").value = name;
  $("facts").replaceChildren();
  showError(current && current.error ? current.error : "");
  $("cue").hidden = true;
  if (!current || current.error) {
    $("loss").hidden = true;
    setBusy(false);
    return;
  }
  const known = (value) => value !== null && value !== undefined;
  const quality = known(current.bits_per_char)
    ? `${fmt(current.bits_per_char)} bits/char (${fmt(current.best_val)} nats/token)`
    : known(current.nats_per_quarter)
      ? `${fmt(current.nats_per_quarter)} nats per quarter note (${fmt(current.best_val)} nats/token)`
      : `${fmt(current.best_val)} nats/token`;
  const rows = [
    ["corpus", current.corpus],
    ["domain", `${current.domain} (${current.tokenizer} tokens, vocab ${current.vocab})`],
    ["model", `${current.cell}, ${current.layers} × ${current.hidden}`],
    ["parameters", size(current.params)],
    ["best val loss", quality],
    ["steps trained", current.step.toLocaleString()],
    ["file", current.file],
  ];
  for (const [key, value] of rows) $("facts").append(el("dt", { text: key }), el("dd", { text: String(value) }));
  cue(current);
  const img = $("loss-curve");
  img.onerror = () => { $("loss").hidden = true; };
  img.onload = () => { $("loss").hidden = false; };
  img.src = `${current.loss_curve}?v=${current.modified}`;
  $("loss-caption").textContent = current.few_points
    ? `Only ${current.curve_points} point${current.curve_points === 1 ? "" : "s"} so far: too few for a curve. ` +
      "Train longer to see a trend."
    : "train and validation loss (nats/token) by step";
  const domain = current.domain;
  document.body.dataset.domain = domain;
  showDomain(domain);
  if (previous !== domain) {
    $("seed-label").textContent = SEEDS[domain].label;
    $("seed").value = SEEDS[domain].value;
    $("seed-hint").textContent = SEEDS[domain].hint;
  }
  setBusy(false);
}

async function loadRuns() {
  try {
    const data = await getJSON("/api/checkpoints");
    runs = data.runs;
    $("folder").textContent = `runs under ${data.folder}/`;
    setup(data.defaults, data.fields);
  } catch (err) {
    showError(`Could not list checkpoints: ${err.message}`);
    return;
  }
  const select = $("checkpoint");
  select.replaceChildren(...runs.map((run) => el("option", { value: run.name,
                                                            text: run.error ? `${run.name} (unreadable)` : `${run.name} (${run.domain})` })));
  select.disabled = runs.length === 0;
  $("no-runs").hidden = runs.length > 0;
  if (runs.length) selectRun(runs[0].name);
  else setBusy(false);
}

function submit(event) {
  event.preventDefault();
  showError(""); // an old error never outlives a new attempt, valid or not
  if (!current || current.error || controller) return;
  const body = requestBody(current);
  if (body) generate(body);
  else $("status").textContent = "fix the marked field first";
}

document.addEventListener("DOMContentLoaded", () => {
  $("checkpoint").addEventListener("change", (e) => selectRun(e.target.value));
  $("form").addEventListener("submit", submit);
  $("cancel").addEventListener("click", () => controller && controller.abort());
  $("clear").addEventListener("click", clearHistory);
  $("shade").addEventListener("change", (e) => document.body.classList.toggle("no-shade", !e.target.checked));
  $("roll-close").addEventListener("click", () => $("roll-dialog").close());
  document.addEventListener("keydown", (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key === "Enter" && !$("generate").disabled) {
      e.preventDefault();
      $("form").requestSubmit();
    }
  });
  loadRuns();
});
