// Music results: facts counted from the MIDI file, a piano roll that opens full size with a
// playhead, a player with loop and per-voice mute/solo, and a MIDI link a DAW can take by drag.
import { $, el, button, describeScore, plural } from "./dom.js";
import { post } from "./api.js";
import { drawRoll, movePlayhead } from "./roll.js";
import { Player } from "./player.js";

const clock = (s) => `${Math.floor(s / 60)}:${String(Math.floor(s % 60)).padStart(2, "0")}`;

function facts(sample) {
  const parts = [plural(sample.tracks, "track"), plural(sample.notes, "note"), plural(sample.bars, "bar"),
                 `${sample.seconds.toFixed(1)} s`, sample.key, `${Math.round(sample.tempo)} BPM`, sample.time_signature];
  return parts.filter(Boolean).join(" · ");
}

// The MIDI link, draggable into a DAW: Chromium reads "DownloadURL" drag data as a file drop.
function midiLink(url, name) {
  const link = el("a", { href: url, download: name, class: "button", draggable: "true",
                         title: "Download, or drag into your DAW", text: "Download MIDI" });
  link.addEventListener("dragstart", (event) => {
    event.dataTransfer.setData("DownloadURL", `audio/midi:${name}:${new URL(url, location.href).href}`);
    event.dataTransfer.setData("text/uri-list", new URL(url, location.href).href);
  });
  return link;
}

// Fade the notes of the voices that are not heard, in every roll of a sample.
function paintVoices(rolls, player) {
  for (const roll of rolls) {
    for (const group of roll.querySelectorAll(".voice")) {
      group.classList.toggle("silent", !player.audible(Number(group.dataset.voice)));
    }
  }
}

function playerControls(sample, player, rolls) {
  const play = el("button", { type: "button", class: "small", "aria-label": `Play sample ${sample.sample}`,
                              text: "Play" });
  const time = el("span", { class: "muted time", text: `0:00 / ${clock(sample.seconds)}` });
  player.onTime = (t) => {
    movePlayhead(rolls, t);
    time.textContent = `${clock(t)} / ${clock(player.duration || sample.seconds)}`;
    play.textContent = player.playing ? "Pause" : "Play";
    play.dataset.time = t.toFixed(3);
  };
  play.addEventListener("click", async () => {
    try {
      if (player.playing) player.stop();
      else await player.play();
      play.textContent = player.playing ? "Pause" : "Play";
    } catch (err) {
      $("status").textContent = `cannot play: ${err.message}`;
    }
  });
  const loop = el("input", { type: "checkbox", class: "loop" });
  loop.addEventListener("change", () => player.setLoop(loop.checked));
  const row = el("div", { class: "player" }, play, el("label", { class: "check" }, loop, " Loop"), time);
  const voices = el("ul", { class: "voices", "aria-label": "Voices" });
  if (player.urls.length > 1) {
    sample.voices.forEach((voice, i) => {
      const toggle = (kind, text) => button(text, (e) => {
        e.target.setAttribute("aria-pressed", String(player.toggle(kind, i)));
        paintVoices(rolls, player);
      }, { "aria-pressed": "false", "aria-label": `${text} ${voice.name}`, class: `secondary small ${kind}` });
      voices.append(el("li", {}, el("span", { class: `swatch v${i % 8}` }), ` ${voice.name} `,
                       toggle("muted", "Mute"), toggle("solo", "Solo")));
    });
  }
  return el("div", { class: "controls" }, row, voices);
}

// Open the roll full size in the dialog, with the card's controls moved in while it is open.
function openRoll(sample, player, controls, rolls, home) {
  const dialog = $("roll-dialog");
  const big = drawRoll(sample, `Piano roll of sample ${sample.sample}, full size`);
  big.classList.add("large");
  big.style.setProperty("--seconds", sample.seconds);
  big.addEventListener("click", (e) => {
    const box = big.getBoundingClientRect();
    player.seek(((e.clientX - box.left) / box.width) * Math.max(sample.seconds, 1));
  });
  rolls.push(big);
  paintVoices(rolls, player);
  $("roll-title").textContent = `Sample ${sample.sample} · ${facts(sample)}`;
  $("roll-body").replaceChildren(el("div", { class: "roll-scroll" }, big), controls);
  dialog.onclose = () => {
    rolls.splice(rolls.indexOf(big), 1);
    home.append(controls);
  };
  dialog.showModal();
  movePlayhead(rolls, player.time());
}

function musicCard(sample, place, run) {
  const card = el("article", { class: "card music" });
  card.append(el("h3", { text: `Sample ${sample.sample}` }), el("p", { class: "muted facts", text: facts(sample) }));
  if (sample.score) card.append(el("p", { class: "rank", text: describeScore(sample.score, place) }));
  const files = sample.files;
  const rolls = [];
  const audio = sample.stems.length ? sample.stems : files.wav ? [files.wav] : [];
  const player = new Player(audio, () => {});
  const small = drawRoll(sample, `Piano roll of sample ${sample.sample}`);
  rolls.push(small);
  const home = el("div", { class: "home" });
  const controls = audio.length ? playerControls(sample, player, rolls) : el("div");
  home.append(controls);
  const open = button("Open full size", () => openRoll(sample, player, controls, rolls, home), { class: "small open" });
  small.addEventListener("click", () => open.click());
  card.append(small, home);
  const base = `${run.name}-sample-${sample.sample}`;
  const links = el("p", { class: "downloads" }, open);
  if (files.midi) links.append(midiLink(files.midi, `${base}.mid`));
  const extra = { musicxml: "MusicXML", wav: "WAV", png: "Roll image" };
  for (const [format, text] of Object.entries(extra)) {
    if (files[format]) links.append(el("a", { href: files[format], download: "", class: "button secondary", text }));
  }
  card.append(links);
  for (const [format, message] of Object.entries(sample.errors)) {
    card.append(el("p", { class: "error", text: `${format}: ${message}` }));
  }
  return card;
}

// Generate music into `cards`; returns the status line.
export async function generateMusic(cards, run, body, signal) {
  const response = await post("/api/generate/music", body, signal);
  const data = await response.json();
  cards.classList.add("music");
  cards.replaceChildren(...data.samples.map((sample, place) => musicCard(sample, place, run)));
  return `done: ${plural(data.samples.length, "sample")} in ${data.seconds.toFixed(1)} s`;
}
