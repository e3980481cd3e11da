// The shape shared by every object berth makes. The bodies are plain JSON
// (what the API server and the YAML take); the tests check each against
// the Kubernetes API schemas, which is stronger than any type here.

export type Json = string | number | boolean | null | readonly Json[] | { readonly [key: string]: Json };

// A type, not an interface: it is then assignable to the client's metadata, which has an index signature.
export type ObjectMeta = {
  readonly name: string;
  readonly namespace?: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
};

export interface KubeObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: ObjectMeta;
  readonly [field: string]: Json | ObjectMeta;
}
