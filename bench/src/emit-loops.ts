import { sleep } from "./clock.js";
import { paced } from "./pacing.js";

/** Emits message `i` of a phase (the way each baseline server or publisher sends one targeted message). */
export type EmitterFor = (payloadBytes: number, users: string[]) => (phase: number, i: number) => void;

export type SaturateParams = { phase: number; messages: number; payloadBytes: number; users: string[] };
export type PacedParams = {
  phase: number;
  rate: number;
  durationMs: number;
  payloadBytes: number;
  users: string[];
};

/** The `saturate` (as fast as it goes, yielding every 500) and `paced` RPC handlers of a sender. */
export function emitLoops(emitterFor: EmitterFor) {
  return {
    saturate: async (params: unknown) => {
      const { phase, messages, payloadBytes, users } = params as SaturateParams;
      const emit = emitterFor(payloadBytes, users);
      for (let i = 0; i < messages; i++) {
        emit(phase, i);
        if (i % 500 === 499) await new Promise<void>((resolve) => setImmediate(resolve));
      }
      await sleep(0);
      return messages;
    },
    paced: async (params: unknown) => {
      const { phase, rate, durationMs, payloadBytes, users } = params as PacedParams;
      const emit = emitterFor(payloadBytes, users);
      return paced(rate, durationMs, (i) => emit(phase, i));
    },
  };
}
