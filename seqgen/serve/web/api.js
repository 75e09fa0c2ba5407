// Talking to the server: JSON requests, errors as messages, server-sent events as callbacks.

export class RequestError extends Error {}

// POST `body` as JSON (or a Blob as raw bytes); the response, or an Error with the server's message.
export async function post(url, body, signal) {
  const raw = body instanceof Blob;
  const response = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": raw ? "application/octet-stream" : "application/json" },
    body: raw ? body : JSON.stringify(body),
    signal,
  });
  if (!response.ok) {
    let message = response.statusText;
    try { message = (await response.json()).error || message; } catch (_) { /* not JSON */ }
    throw new RequestError(message);
  }
  return response;
}

export async function getJSON(url) {
  const response = await fetch(url);
  const data = await response.json();
  if (!response.ok) throw new RequestError(data.error || response.statusText);
  return data;
}

// Read a server-sent-events response, calling onEvent(name, data) per event, until it ends.
export async function readEvents(response, onEvent) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
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
      onEvent(event, JSON.parse(data));
    }
  }
}

// Stream one text generation: onText(sample, piece) per piece; resolves with the done event's data.
export async function streamText(body, onText, signal) {
  const response = await post("/api/generate/text", body, signal);
  let finished = null;
  await readEvents(response, (event, data) => {
    if (event === "text") onText(data.sample, data.text);
    else if (event === "done") finished = data;
    else if (event === "error") throw new RequestError(data.error);
  });
  if (!finished) throw new RequestError("the server closed the stream before the samples were finished");
  return finished;
}
