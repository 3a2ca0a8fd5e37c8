/** Types of scripts/check-images.mjs for the TypeScript tests that import its linters. */
export declare const services: readonly string[];
export declare function lintDockerfile(text: string, name: string): string[];
export declare function lintDockerignore(text: string): string[];
