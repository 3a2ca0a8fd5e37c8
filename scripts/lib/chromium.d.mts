/** Types of scripts/lib/chromium.mjs for the TypeScript tests that launch Chromium. */
export declare const CHROMIUM_PATH: string;
export declare class ChromiumMissingError extends Error {
  code: "chromium_missing";
}
export declare function chromiumLaunchOptions(): {
  executablePath: string;
  headless: true;
  args: string[];
};
export declare function ensureChromium(log?: (line: string) => void): string;
