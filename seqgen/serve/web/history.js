// Results stay, newest first, until cleared: each shows its run, random seed and settings, and
// can be made again or pinned beside others for comparison.
import { $, el, button } from "./dom.js";

let count = 0;

// What a request asked for, in a line a person reads ("seed 42 · temperature 0.8 · 400 tokens").
function settings(body) {
  const skip = new Set(["checkpoint", "seed", "primer"]);
  const parts = [`random seed ${body.random_seed}`];
  for (const [key, value] of Object.entries(body)) {
    if (!skip.has(key) && key !== "random_seed" && value !== "") parts.push(`${key.replaceAll("_", " ")} ${JSON.stringify(value)}`);
  }
  return parts.join(" · ");
}

function updateClear() {
  $("clear").disabled = !$("results").querySelector(".result");
  $("pinned").hidden = !$("pinned").querySelector(".result");
}

// A new result at the top of the history; its `cards` receive the samples. `again()` remakes it.
export function addResult(run, body, again) {
  count += 1;
  const number = count;
  const seedLine = body.primer ? "primer file" : body.seed ? `seed “${body.seed.slice(0, 60)}${body.seed.length > 60 ? "…" : ""}”` : "no seed";
  const pin = button("Pin", () => {
    const pinned = pin.getAttribute("aria-pressed") !== "true";
    pin.setAttribute("aria-pressed", String(pinned));
    pin.textContent = pinned ? "Unpin" : "Pin";
    if (pinned) $("pinned").append(node);
    else {
      const later = [...$("results").children].find((other) => Number(other.dataset.number) < number);
      $("results").insertBefore(node, later || null);
    }
    updateClear();
  }, { "aria-pressed": "false", class: "secondary small pin" });
  const cards = el("div", { class: "cards" });
  const node = el("section", { class: "result", "data-number": number, "aria-label": `Result ${number}` },
    el("header", { class: "result-head" },
      el("div", {},
        el("strong", { text: `#${number} · ${run.name}` }),
        el("span", { class: "muted", text: ` · ${seedLine}` }),
        el("div", { class: "muted settings-line", text: settings(body) })),
      el("div", { class: "result-tools" },
        button("Regenerate", again, { class: "secondary small regenerate" }), pin,
        button("Remove", () => remove(), { class: "secondary small", "aria-label": `Remove result ${number}` }))),
    cards);
  $("results").prepend(node);
  updateClear();
  const remove = () => { node.remove(); updateClear(); };
  return { node, cards, remove };
}

// Remove every result that is not pinned.
export function clearHistory() {
  for (const node of [...$("results").querySelectorAll(".result")]) node.remove();
  updateClear();
}
