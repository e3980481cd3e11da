/**
 * The API's routes: a method and a path pattern with `:name` parameters
 * (`/apps/:app/config`). Matching is pure: the table is data, the handler is
 * looked up, parameters are decoded and validated by the handler.
 */
export interface RouteMatch<H> {
  readonly handler: H;
  readonly params: Readonly<Record<string, string>>;
}

interface CompiledRoute<H> {
  readonly method: string;
  readonly segments: readonly string[];
  readonly handler: H;
}

export class ApiRouter<H> {
  readonly #routes: CompiledRoute<H>[] = [];

  add(method: string, pattern: string, handler: H): this {
    this.#routes.push({ method, segments: pattern.split('/').filter((s) => s !== ''), handler });
    return this;
  }

  /**
   * The route for a request, 'method-not-allowed' when the path exists with
   * other methods (405, with the allowed ones), or null (404).
   */
  match(method: string, path: string): RouteMatch<H> | { readonly allowed: readonly string[] } | null {
    const parts = path.split('/').filter((s) => s !== '');
    const allowed: string[] = [];
    for (const route of this.#routes) {
      const params = matchSegments(route.segments, parts);
      if (params === null) continue;
      if (route.method === method) return { handler: route.handler, params };
      allowed.push(route.method);
    }
    return allowed.length > 0 ? { allowed } : null;
  }
}

function matchSegments(pattern: readonly string[], parts: readonly string[]): Record<string, string> | null {
  if (pattern.length !== parts.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const want = pattern[i]!;
    const got = parts[i]!;
    if (want.startsWith(':')) {
      let decoded: string;
      try {
        decoded = decodeURIComponent(got);
      } catch {
        return null;
      }
      params[want.slice(1)] = decoded;
    } else if (want !== got) {
      return null;
    }
  }
  return params;
}
