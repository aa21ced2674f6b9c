// Server-sent events read from a fetch() response body (EventSource cannot send Authorization or choose headers).
// Follows the HTML "event stream interpretation" rules: LF, CR or CRLF line ends, lines split across chunks,
// `event:`/`data:`/`id:`/`retry:` fields, comment lines (":" heartbeats), and a blank line to dispatch.

/** An incremental parser: feed() it decoded text, it calls onEvent({type, data, id}) for each complete event. */
export class SSEParser {
  constructor(onEvent) {
    this.onEvent = onEvent;
    this.buffer = "";
    this.eventType = "";
    this.data = [];
    this.hasData = false;
    this.lastEventId = "";
    this.retry = null;
  }

  feed(text) {
    this.buffer += text;
    let start = 0;
    for (;;) {
      const cr = this.buffer.indexOf("\r", start);
      const lf = this.buffer.indexOf("\n", start);
      if (cr === -1 && lf === -1) break;
      let end;
      let next;
      if (cr !== -1 && (lf === -1 || cr < lf)) {
        // A CR at the very end may be the first half of a CRLF: wait for the next chunk to decide.
        if (cr === this.buffer.length - 1) break;
        end = cr;
        next = this.buffer[cr + 1] === "\n" ? cr + 2 : cr + 1;
      } else {
        end = lf;
        next = lf + 1;
      }
      this.line(this.buffer.slice(start, end));
      start = next;
    }
    this.buffer = this.buffer.slice(start);
  }

  /** The stream ended: a trailing lone CR still ends its line; an event without its blank line is dropped. */
  end() {
    if (this.buffer.endsWith("\r")) this.feed("\n");
    this.buffer = "";
    this.reset();
  }

  line(line) {
    if (line === "") {
      this.dispatch();
      return;
    }
    if (line.startsWith(":")) return; // a comment: heartbeats and the server's "connected"
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    switch (field) {
      case "event":
        this.eventType = value;
        break;
      case "data":
        this.data.push(value);
        this.hasData = true;
        break;
      case "id":
        if (!value.includes("\0")) this.lastEventId = value;
        break;
      case "retry":
        if (/^\d+$/.test(value)) this.retry = Number(value);
        break;
      default:
        break; // unknown fields are ignored
    }
  }

  dispatch() {
    if (!this.hasData) {
      this.reset();
      return;
    }
    const event = { type: this.eventType || "message", data: this.data.join("\n"), id: this.lastEventId };
    this.reset();
    try {
      this.onEvent(event);
    } catch (err) {
      console.error("error while handling a server event", event.type, err); // one bad event must not end the stream
    }
  }

  reset() {
    this.eventType = "";
    this.data = [];
    this.hasData = false;
  }
}

/**
 * Read a streaming Response to its end, calling onEvent for each event. Resolves when the server closes
 * the stream; rejects with an AbortError when the request's signal aborts. Answers the last event id seen.
 */
export async function readEvents(response, onEvent, { lastEventId = "" } = {}) {
  const parser = new SSEParser(onEvent);
  parser.lastEventId = lastEventId;
  const reader = response.body.getReader();
  const decoder = new TextDecoder("utf-8");
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      parser.feed(decoder.decode(value, { stream: true }));
    }
    parser.feed(decoder.decode());
    parser.end();
  } finally {
    reader.releaseLock();
  }
  return parser.lastEventId;
}

/** Parse an event's data as JSON (null when it is not JSON). */
export function jsonData(event) {
  try {
    return JSON.parse(event.data);
  } catch {
    return null;
  }
}
