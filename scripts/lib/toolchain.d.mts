/** Types of scripts/lib/toolchain.mjs for the TypeScript tests that read the pins. */
export type Toolchain = {
  node: string;
  natsServer: string;
  natsServerDebian: { version: string; suite: string };
  pnpm: string;
};
export declare const root: string;
export declare const toolsDir: string;
export declare function readToolchain(): Toolchain;
export declare function pinnedNatsPath(version?: string): string;
export declare function pinnedNodePath(version?: string): string;
