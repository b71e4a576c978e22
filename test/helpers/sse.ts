// A server-sent-events client for tests: reads a real HTTP event stream and hands out parsed events.
export interface SseEvent {
  id: string | undefined;
  event: string;
  data: unknown;
}

export interface SseStream {
  /** The next event matching `predicate` (earlier ones are kept in `received`), or throws after `timeoutMs`. */
  next(predicate?: (e: SseEvent) => boolean, timeoutMs?: number): Promise<SseEvent>;
  received: SseEvent[];
  /** Resolves when the server ends the stream (or the client closes it). */
  ended: Promise<void>;
  close(): void;
}

export async function openSse(url: string, headers: Record<string, string> = {}): Promise<{ status: number; stream: SseStream }> {
  const controller = new AbortController();
  const response = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: controller.signal });
  const received: SseEvent[] = [];
  let consumed = 0;
  const waiters: (() => void)[] = [];
  let ended: Promise<void> = Promise.resolve();
  if (response.ok && response.body) {
    ended = (async () => {
      const decoder = new TextDecoder();
      let buffer = '';
      try {
        for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
          buffer += decoder.decode(chunk, { stream: true });
          let end: number;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const fields = block.split('\n').filter((l) => l && !l.startsWith(':'));
            if (fields.length === 0) continue;
            const get = (name: string) => fields.filter((l) => l.startsWith(`${name}:`)).map((l) => l.slice(name.length + 1).replace(/^ /, ''));
            received.push({ id: get('id')[0], event: get('event')[0] ?? 'message', data: JSON.parse(get('data').join('\n') || 'null') });
            for (const w of waiters.splice(0)) w();
          }
        }
      } catch {
        /* aborted */
      }
    })();
  }
  const stream: SseStream = {
    received,
    ended,
    async next(predicate = () => true, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        while (consumed < received.length) {
          const e = received[consumed++]!;
          if (predicate(e)) return e;
        }
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no matching event within ${timeoutMs} ms; got ${received.map((e) => e.event).join(', ')}`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, Math.min(left, 500));
        });
      }
    },
    close: () => controller.abort(),
  };
  return { status: response.status, stream };
}
