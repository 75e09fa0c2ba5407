// A piano roll drawn from the notes the MIDI file holds (seconds across, pitch up, a colour per
// voice, bar lines), with a playhead the player moves. SVG, so it stays sharp at any size.
import { svg } from "./dom.js";

const NAMES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"];
export const noteName = (pitch) => `${NAMES[pitch % 12]}${Math.floor(pitch / 12) - 1}`;

// An <svg> of `sample` (voices, seconds, tempo, time_signature); `muted(i)` greys a voice out.
export function drawRoll(sample, label) {
  const notes = sample.voices.flatMap((voice, v) => voice.notes.map((n) => [v, ...n]));
  const pitches = notes.map((n) => n[1]);
  const low = (pitches.length ? Math.min(...pitches) : 60) - 2;
  const high = (pitches.length ? Math.max(...pitches) : 72) + 2;
  const span = Math.max(sample.seconds, 1);
  const root = svg("svg", { viewBox: `0 ${-high - 0.5} ${span} ${high - low + 1}`, preserveAspectRatio: "none",
                            class: "roll", role: "img", "aria-label": label });
  const grid = svg("g", { class: "grid" });
  const [num, den] = (sample.time_signature || "4/4").split("/").map(Number);
  const bar = (num * 4 / den) * 60 / (sample.tempo || 120);
  for (let t = 0; t <= span && bar > 0; t += bar) grid.append(svg("line", { x1: t, x2: t, y1: -high - 1, y2: -low + 1 }));
  for (let p = Math.ceil(low / 12) * 12; p <= high; p += 12) {
    grid.append(svg("line", { class: "c", x1: 0, x2: span, y1: -p, y2: -p }));
  }
  root.append(grid);
  sample.voices.forEach((voice, v) => {
    const group = svg("g", { class: `voice v${v % 8}`, "data-voice": v });
    for (const [pitch, start, end] of voice.notes) {
      const rect = svg("rect", { x: start, y: -pitch - 0.45, width: Math.max(end - start, 0.02), height: 0.9 });
      const title = svg("title");
      title.textContent = `${voice.name}: ${noteName(pitch)}, ${start.toFixed(2)}–${end.toFixed(2)} s`;
      rect.append(title);
      group.append(rect);
    }
    root.append(group);
  });
  root.append(svg("line", { class: "playhead", x1: 0, x2: 0, y1: -high - 1, y2: -low + 1 }));
  return root;
}

// Move every playhead of `rolls` to `seconds`.
export function movePlayhead(rolls, seconds) {
  for (const roll of rolls) {
    const line = roll.querySelector(".playhead");
    line.setAttribute("x1", seconds);
    line.setAttribute("x2", seconds);
  }
}
