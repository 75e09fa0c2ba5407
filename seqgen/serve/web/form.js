// The form: which controls a run's domain and the server offer, honest values (an empty number
// is missing, never 0), errors shown at the field, and the request body a generation sends.
import { $, el } from "./dom.js";
import { post } from "./api.js";

const KEYS = ["C", "C#", "Db", "D", "Eb", "E", "F", "F#", "Gb", "G", "Ab", "A", "Bb", "B"];
let offered = { text: [], music: [] }; // the fields the server lists per domain
let primer = null; // the uploaded primer: {primer, name, tracks, notes}

export function setup(defaults, fields) {
  offered = fields || offered;
  for (const [id, value] of Object.entries(defaults || {})) {
    if ($(id)) $(id).value = value;
  }
  $("key").append(...["major", "minor"].flatMap((mode) => KEYS.map((k) => el("option", { text: `${k} ${mode}` }))));
  $("primer").addEventListener("change", uploadPrimer);
  $("form").addEventListener("input", (e) => clearFieldError(e.target));
}

// Show the controls of `domain` that the server accepts; hide the rest (they are not sent).
export function showDomain(domain) {
  for (const node of document.querySelectorAll("[data-domain]")) node.hidden = node.dataset.domain !== domain;
  for (const node of document.querySelectorAll("label[data-field]")) {
    const known = (offered[domain] || []).includes(node.dataset.field);
    if (!known) node.hidden = true;
    else if (!node.dataset.domain || node.dataset.domain === domain) node.hidden = false;
  }
}

function visible(control) {
  const label = control.closest("label[data-field]");
  return label && !label.hidden && !(label.closest("[data-domain]") || label).hidden;
}

function fieldLabel(control) {
  const label = control.closest("label");
  return label.firstChild.textContent.trim() || control.id;
}

function markInvalid(control, message) {
  control.setAttribute("aria-invalid", "true");
  let note = $(`${control.id}-error`);
  if (!note) {
    note = el("small", { id: `${control.id}-error`, class: "field-error" });
    control.closest("label").append(note);
  }
  note.textContent = message;
  control.setAttribute("aria-describedby", note.id);
}

export function clearFieldError(control) {
  if (!control || !control.id) return;
  control.removeAttribute("aria-invalid");
  control.removeAttribute("aria-describedby");
  const note = $(`${control.id}-error`);
  if (note) note.remove();
}

// Mark a field the server refused (its message names it) so the error shows where it is fixed.
export function markServerError(message) {
  const match = /^(\w+) must/.exec(message);
  const control = match && $(match[1]);
  if (control && visible(control)) markInvalid(control, message);
}

// The value of one visible control: a number (valueAsNumber; empty is left out), a checkbox's
// state, or text. Throws after marking the field when the browser's own checks refuse it.
function read(control) {
  clearFieldError(control);
  if (!control.checkValidity()) {
    markInvalid(control, `${fieldLabel(control)}: ${control.validationMessage}`);
    return { invalid: true };
  }
  if (control.type === "checkbox") return { value: control.checked };
  if (control.type === "number") return control.value === "" ? {} : { value: control.valueAsNumber };
  if (control.tagName === "SELECT") return control.value === "" ? {} : { value: control.value };
  return { value: control.value };
}

// The request body for `run`, or null after marking every invalid field (focus goes to the first).
export function requestBody(run) {
  const body = { checkpoint: run.name };
  const invalid = [];
  for (const label of document.querySelectorAll("label[data-field]")) {
    const control = $(label.dataset.field);
    if (!control || control.type === "file" || !visible(control)) continue; // the primer is uploaded first
    const got = read(control);
    if (got.invalid) invalid.push(control);
    else if ("value" in got) body[control.id] = got.value;
  }
  if (invalid.length) {
    invalid[0].focus();
    return null;
  }
  if (typeof body.stop === "string") body.stop = body.stop.replace(/\\n/g, "\n").replace(/\\t/g, "\t");
  if (run.domain === "music") {
    if (primer) {
      body.primer = primer.primer;
      delete body.seed;
    } else {
      delete body.only_new;
    }
    if (body.loop === false) delete body.loop;
  }
  // A random seed is always sent, so every result can say which one made it and be remade.
  if (body.random_seed === undefined) body.random_seed = Math.floor(Math.random() * 2 ** 31);
  return body;
}

async function uploadPrimer() {
  const file = $("primer").files[0];
  primer = null;
  $("only_new").disabled = true;
  clearFieldError($("primer"));
  $("primer-info").textContent = "";
  if (!file) return;
  try {
    const response = await post(`/api/primers?name=${encodeURIComponent(file.name)}`, file);
    primer = await response.json();
    $("only_new").disabled = false;
    $("primer-info").textContent = `${primer.name}: ${primer.notes} notes in ${primer.tracks} track(s); ` +
      "the samples continue it (the seed is not used).";
  } catch (err) {
    markInvalid($("primer"), err.message);
    $("primer").value = "";
  }
}
