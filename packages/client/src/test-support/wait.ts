/** Polls `check` until it returns a value other than `undefined`/`false`, or fails after `timeoutMs`. */
export async function waitFor<T>(
  check: () => T | undefined | false,
  description: string,
  timeoutMs = 5_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${description}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/**
 * Asserts that `check` stays false for `windowMs`. Only for "nothing happens" claims, where no event can be
 * polled for; keep the window short and make the thing that must not happen fast (e.g. zero backoff).
 */
export async function expectQuiet(check: () => boolean, description: string, windowMs = 150): Promise<void> {
  const deadline = Date.now() + windowMs;
  while (Date.now() < deadline) {
    if (check()) throw new Error(`unexpected: ${description}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  if (check()) throw new Error(`unexpected: ${description}`);
}

/** A promise with its resolve function outside, to hold a handler until the test lets it go. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}
