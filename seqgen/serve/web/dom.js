// Small DOM and number helpers every part of the page uses.

export const $ = (id) => document.getElementById(id);

// An element with attributes ("text" sets its text) and children.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "text") node.textContent = value;
    else if (value !== false && value !== null && value !== undefined) node.setAttribute(key, value === true ? "" : value);
  }
  node.append(...children);
  return node;
}

// An SVG element (the piano roll) with attributes.
export function svg(tag, attrs = {}) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  return node;
}

export function fmt(n, digits = 3) {
  return n === null || n === undefined ? "–" : Number(n).toFixed(digits);
}

export function size(n) {
  if (n >= 1e6) return (n / 1e6).toFixed(1) + " M";
  if (n >= 1e3) return (n / 1e3).toFixed(1) + " k";
  return String(n);
}

export function plural(n, word) {
  return `${n.toLocaleString()} ${word}${n === 1 ? "" : "s"}`;
}

// A button that runs `action` on click.
export function button(text, action, attrs = {}) {
  const node = el("button", { type: "button", class: "secondary small", ...attrs, text });
  node.addEventListener("click", action);
  return node;
}

// Offer `text` as a file download (a blob URL, so nothing leaves the machine).
export function downloadText(text, name) {
  const url = URL.createObjectURL(new Blob([text], { type: "text/plain;charset=utf-8" }));
  const link = el("a", { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

// A ranked sample's score for a person: "best · 1.52 nats/token · longest copy from train 17 chars".
export function describeScore(score, place) {
  const parts = [place === 0 ? "best" : `#${place + 1}`];
  if (score.nll !== null && score.nll !== undefined) parts.push(`${score.nll.toFixed(3)} nats/token`);
  if (score.copied !== null && score.copied !== undefined) parts.push(`longest copy from train ${score.copied} ${score.unit}`);
  return parts.join(" · ");
}
