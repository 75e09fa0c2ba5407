// Text results: the seed set apart from what the model wrote, each piece shaded by how likely
// the model found it, and per sample Copy, Download .txt, Continue from here and click-to-re-roll.
import { $, el, button, describeScore, downloadText } from "./dom.js";
import { post, streamText } from "./api.js";

// One sample from `body` with `changes`: no ranking (keep/rank need several samples to pick from).
function single(body, changes) {
  const { keep: _keep, rank: _rank, ...rest } = body;
  return { ...rest, ...changes, num_samples: 1 };
}

class TextCard {
  constructor(index, count, run, body, studio) {
    this.run = run;
    this.body = body;
    this.studio = studio;
    this.text = "";
    this.seedLength = body.seed.length;
    this.pieces = null; // [[piece, nats], ...] once shaded
    this.seedSpan = el("span", { class: "seed", title: "the seed" });
    this.genSpan = el("span", { class: "generated" });
    this.genNode = document.createTextNode("");
    this.genSpan.append(this.genNode);
    this.pre = el("pre", { class: "sample-text", tabindex: "0", "aria-label": `Sample ${index + 1} text` },
      this.seedSpan, this.genSpan);
    this.pre.addEventListener("click", (e) => this.clicked(e));
    this.quality = el("span", { class: "muted quality" });
    this.rank = el("span", { class: "rank" });
    const tools = el("p", { class: "tools" },
      button("Copy", () => this.copy()),
      button("Download .txt", () => downloadText(this.text, `${run.name}-sample-${index + 1}.txt`)),
      button("Continue from here", () => studio.generate(single(body, { seed: this.text, random_seed: undefined }),
                                                         run)));
    this.node = el("article", { class: "card text-card" },
      el("h3", { text: count > 1 ? `Sample ${index + 1} ` : "Sample " }, this.rank, this.quality), this.pre, tools);
  }

  // Add a streamed piece: the part within the seed's length shows as seed, the rest as generated.
  append(piece) {
    const before = this.text.length;
    this.text += piece;
    if (before < this.seedLength) this.seedSpan.textContent = this.text.slice(0, this.seedLength);
    const start = Math.max(before, this.seedLength);
    if (this.text.length > start) this.genNode.appendData(this.text.slice(start));
  }

  reset(seedLength) {
    this.text = "";
    this.pieces = null;
    this.seedLength = seedLength;
    this.seedSpan.replaceChildren();
    this.genNode = document.createTextNode("");
    this.genSpan.replaceChildren(this.genNode);
    this.quality.textContent = "";
    this.pre.classList.remove("shaded");
  }

  // Ask the server how likely the model found each piece and shade it (darker: less likely).
  async shade() {
    const response = await post("/api/score/text", { checkpoint: this.run.name, text: this.text });
    const { pieces } = await response.json();
    if (pieces.map((p) => p[0]).join("") !== this.text) return; // cannot be mapped back onto the text
    this.pieces = pieces;
    const seed = [];
    const generated = [];
    let at = 0;
    let nats = 0;
    let chars = 0;
    for (const [piece, nll] of pieces) {
      const p = nll === null ? 1 : Math.exp(-nll);
      const span = el("span", { class: "tok", "data-at": at, title: `p = ${(100 * p).toPrecision(3)}%` });
      span.textContent = piece;
      span.style.setProperty("--s", (1 - p).toFixed(3));
      (at < this.seedLength ? seed : generated).push(span);
      if (at >= this.seedLength && nll !== null) { nats += nll; chars += piece.length; }
      at += piece.length;
    }
    this.seedSpan.replaceChildren(...seed);
    this.genSpan.replaceChildren(...generated);
    this.pre.classList.add("shaded");
    if (chars) this.quality.textContent = `· ${(nats / chars / Math.LN2).toFixed(2)} bits/char to the model`;
  }

  // Re-roll from the clicked piece on: keep the text before it, sample the rest again.
  clicked(event) {
    const token = event.target.closest(".tok");
    if (!token || !this.pieces || this.studio.busy()) return;
    const at = Number(token.dataset.at);
    if (at < 1) return; // a generation needs at least one character to start from
    const kept = this.text.slice(0, at);
    const rest = this.offsets().filter((start) => start >= at).length;
    const body = single(this.body, { seed: kept, length: Math.max(1, rest),
                                     random_seed: Math.floor(Math.random() * 2 ** 31) });
    this.studio.task(`re-rolling from character ${at}…`, async (signal) => {
      this.reset(Math.min(this.seedLength, at));
      const done = await streamText(body, (_, piece) => this.append(piece), signal);
      await this.shade().catch(() => { this.quality.textContent = "· not shaded"; });
      return `re-rolled ${(done.texts[0].length - at).toLocaleString()} characters from character ${at}`;
    });
  }

  offsets() {
    let at = 0;
    return this.pieces.map(([piece]) => { const start = at; at += piece.length; return start; });
  }

  async copy() {
    try {
      await navigator.clipboard.writeText(this.text);
    } catch (_) { // no clipboard permission: copy the selected text the old way
      const range = document.createRange();
      range.selectNodeContents(this.pre);
      getSelection().removeAllRanges();
      getSelection().addRange(range);
      document.execCommand("copy");
    }
    $("status").textContent = "copied to the clipboard";
  }
}

// Stream a text generation into new cards in `cards`; shade them when done. Returns the status line.
export async function generateText(cards, run, body, studio, signal) {
  const samples = [];
  for (let i = 0; i < body.num_samples; i++) {
    const card = new TextCard(i, body.num_samples, run, body, studio);
    samples.push(card);
  }
  const done = await streamText(body, (index, piece) => {
    if (!samples[index].node.isConnected) cards.append(samples[index].node); // a card only once it has text
    samples[index].append(piece);
  }, signal);
  // Ranked (keep/rank): only the kept samples stay, best first, each with its score.
  const shown = done.kept ? done.kept.map((score) => samples[score.sample]) : samples;
  if (done.kept) {
    done.kept.forEach((score, place) => { shown[place].rank.textContent = `${describeScore(score, place)} `; });
    cards.replaceChildren(...shown.map((card) => card.node));
  }
  await Promise.all(shown.map((card) => card.shade().catch((err) => {
    card.quality.textContent = `· not shaded: ${err.message}`;
  })));
  const chars = done.texts.reduce((sum, t) => sum + t.length, 0);
  return `done: ${chars.toLocaleString()} characters in ${done.seconds.toFixed(1)} s`;
}
