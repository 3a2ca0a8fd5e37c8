import WebSocket from "ws";
import { InspectorError } from "./presence-inspector.js";

/**
 * Evaluates `expression` in another Node process through its inspector and returns the value (JSON-able).
 *
 * @example
 * await evaluateIn(url, "process.pid") // 1234
 */
export async function evaluateIn(url: string, expression: string, timeoutMs = 10_000): Promise<unknown> {
  const ws = new WebSocket(url);
  try {
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", (error) => reject(new InspectorError(`inspector ${url}: ${error.message}`)));
    });
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new InspectorError(`evaluate: no answer`)), timeoutMs);
      ws.on("message", (data: Buffer) => {
        const message = JSON.parse(data.toString()) as {
          id?: number;
          result?: { result?: { value?: unknown }; exceptionDetails?: { text?: string } };
          error?: { message: string };
        };
        if (message.id !== 1) return;
        clearTimeout(timer);
        const failure = message.error?.message ?? message.result?.exceptionDetails?.text;
        if (failure) reject(new InspectorError(`evaluate: ${failure}`));
        else resolve(message.result?.result?.value);
      });
      ws.send(
        JSON.stringify({ id: 1, method: "Runtime.evaluate", params: { expression, returnByValue: true } }),
      );
    });
  } finally {
    ws.close();
  }
}
