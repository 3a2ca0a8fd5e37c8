export declare const sdkDir: string;
export declare function bundleSdk(options?: { minify?: boolean }): Promise<{
  code: string;
  min: number;
  gzip: number;
}>;
