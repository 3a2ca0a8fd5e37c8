/** Types of scripts/k8s.mjs for the TypeScript tests that check the rendered manifests. */
export declare const OVERLAYS: Record<string, string>;
export declare function renderedFile(overlay: string): string;
export declare function valuesFiles(overlay: string): string[];
export declare function renderOverlay(overlay: string, chartDir?: string): string;
export declare function staleOverlays(): string[];
