/** Types of scripts/lib/nats-binary.mjs for the TypeScript fixtures that share it. */
export declare function findNatsServer(): string | undefined;
