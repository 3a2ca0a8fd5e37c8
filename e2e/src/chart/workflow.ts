import { createRequire } from "node:module";

/** One problem of @action-validator/core, possibly with the alternatives of a `oneOf` it tried. */
type ValidationError = {
  code: string;
  title: string;
  detail?: string;
  path?: string;
  states?: { errors: ValidationError[] }[];
};
type Validator = { validateWorkflow(src: string): { errors: ValidationError[] } };

// A CommonJS package with a WebAssembly build of action-validator (SchemaStore's GitHub workflow schema plus
// its own checks); loaded through require, as its types describe named exports only.
const core = createRequire(import.meta.url)("@action-validator/core") as Validator;

function describe(error: ValidationError, depth = 0): string[] {
  const line = `${"  ".repeat(depth)}${error.path ?? ""} ${error.title}${error.detail ? `: ${error.detail}` : ""}`;
  return [
    line,
    ...(error.states ?? []).flatMap((state) => state.errors.flatMap((e) => describe(e, depth + 1))),
  ];
}

/** The problems action-validator finds in a workflow file's text, one line each (empty when valid). */
export async function validateWorkflowText(text: string): Promise<string[]> {
  return core.validateWorkflow(text).errors.flatMap((error) => describe(error));
}
