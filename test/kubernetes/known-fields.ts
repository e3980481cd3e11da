// The API schemas kubernetes-models validates with allow fields they do not
// know, so a misspelt field ("readinesProbe") would pass them and be
// dropped (or refused) by the API server. This walks an object against the
// same models' TypeScript interfaces, with the TypeScript checker, and
// names every field the interface lacks.
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const MODEL_TYPES = fileURLToPath(new URL('./model-types.ts', import.meta.url));
let models: { checker: ts.TypeChecker; byKind: ts.Type } | null = null;

function load(): { checker: ts.TypeChecker; byKind: ts.Type } {
  if (models !== null) return models;
  const program = ts.createProgram([MODEL_TYPES], {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    strict: true,
    types: [],
    skipLibCheck: true,
    noEmit: true,
    allowImportingTsExtensions: true,
  });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(MODEL_TYPES)!;
  const symbol = checker.getSymbolAtLocation(source)!;
  const exported = checker.getExportsOfModule(symbol).find((s) => s.name === 'Models')!;
  models = { checker, byKind: checker.getDeclaredTypeOfSymbol(exported) };
  return models;
}

function walk(checker: ts.TypeChecker, value: unknown, type: ts.Type, path: string, unknown: string[]): void {
  const target = checker.getNonNullableType(type);
  if (value === null || typeof value !== 'object') return;
  const candidates = target.isUnion() ? target.types : [target];
  if (Array.isArray(value)) {
    const element = candidates.map((t) => checker.getIndexTypeOfType(t, ts.IndexKind.Number)).find((t) => t !== undefined);
    if (element === undefined) unknown.push(`${path} (not a list in the schema)`);
    else value.forEach((item, i) => walk(checker, item, element, `${path}[${i}]`, unknown));
    return;
  }
  // An object: the first candidate of the union that is an object type.
  const objectType = candidates.find((t) => (t.flags & ts.TypeFlags.Object) !== 0) ?? target;
  for (const [key, child] of Object.entries(value)) {
    const property = checker.getPropertyOfType(objectType, key);
    if (property !== undefined) {
      walk(checker, child, checker.getTypeOfSymbol(property), `${path}.${key}`, unknown);
      continue;
    }
    const index = checker.getIndexTypeOfType(objectType, ts.IndexKind.String);
    if (index !== undefined) walk(checker, child, index, `${path}.${key}`, unknown);
    else unknown.push(`${path}.${key}`);
  }
}

/** Every field path of the object that its kind's interface lacks (empty when it has them all). */
export function unknownFields(object: { readonly kind: string }): string[] {
  const { checker, byKind } = load();
  const property = checker.getPropertyOfType(byKind, object.kind);
  if (property === undefined) return [`${object.kind} (no model)`];
  const unknown: string[] = [];
  walk(checker, object, checker.getTypeOfSymbol(property), object.kind, unknown);
  return unknown;
}
