/** Types of scripts/check-images.mjs for the TypeScript tests that import its linters. */
export declare const services: readonly string[];
export declare const DOCKERFILE: string;
export declare function lintDockerfile(text: string): string[];
export declare function lintDockerignore(text: string): string[];
export declare function testCodeIn(dir: string): string[];
