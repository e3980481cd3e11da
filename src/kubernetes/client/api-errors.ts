import { BerthError } from '../../errors.ts';
import { escapeControls } from '../../terminal-text.ts';

/** What a request was doing, so a refusal can say what it needed. */
export interface RequestContext {
  /** The RBAC verb: get, list, create, patch, delete, watch. */
  verb: string;
  /** Kubernetes' resource name (deployments) and API group ('' for the core group). */
  resource: string;
  group: string;
  namespace: string | undefined;
  /** Deployment shop/web, when the request was about one object. */
  object: string | undefined;
  dryRun?: boolean;
}

/** The fields of a metav1.Status berth uses. */
interface Status {
  message?: string;
  reason?: string;
  details?: { causes?: { field?: string; message?: string }[] };
}

function parseStatus(body: string): Status | undefined {
  try {
    const value: unknown = JSON.parse(body);
    if (typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'Status') return value as Status;
  } catch {
    // Not JSON: a proxy's page, or a truncated answer.
  }
  return undefined;
}

const MAX_MESSAGE = 2000;

function clip(text: string): string {
  // The server's text (which may quote an app's values) must not drive a terminal.
  const clean = escapeControls(text.length > MAX_MESSAGE ? text.slice(0, MAX_MESSAGE) : text, { keepTabs: false });
  return text.length > MAX_MESSAGE ? `${clean}…` : clean;
}

/**
 * The BerthError for an API server's refusal: the code from the HTTP status,
 * the object the request was about, the Status message (which names the
 * field for a 422), and for a 403 the RBAC rule berth lacks.
 */
export function apiError(httpStatus: number, body: string, context: RequestContext): BerthError {
  const status = parseStatus(body);
  const serverMessage = clip(status?.message ?? (body.trim() === '' ? `HTTP ${httpStatus}` : body.trim()));
  const about = context.object === undefined ? `${context.verb} ${context.resource}` : `${context.dryRun === true ? 'dry run of ' : ''}${context.object}`;
  if (httpStatus === 401) {
    return new BerthError('BERTH_E_KUBE_UNAUTHORIZED', 'the Kubernetes API server refused berth\'s credentials (401)', { status: 502, hint: 'the token is expired, revoked or wrong, or the client certificate is not trusted: make a new token for berth\'s service account and put it in the kubeconfig' });
  }
  if (httpStatus === 403) {
    const where = context.namespace === undefined ? 'cluster-wide' : `in namespace ${context.namespace}`;
    const group = context.group === '' ? 'the core API group ("")' : `API group ${context.group}`;
    return new BerthError('BERTH_E_KUBE_FORBIDDEN', `${about}: ${serverMessage}`, { status: 502, hint: `berth's account needs the verb "${context.verb}" on "${context.resource}" in ${group} ${where}: add it to berth's Role or ClusterRole` });
  }
  if (httpStatus === 422 || (httpStatus === 400 && status?.reason === 'BadRequest')) {
    const causes = (status?.details?.causes ?? []).map((cause) => `${cause.field ?? ''}: ${cause.message ?? ''}`).filter((line) => line !== ': ');
    const detail = causes.length > 0 && !serverMessage.includes(causes[0]!.split(': ')[1] ?? '\0') ? ` (${clip(causes.join('; '))})` : '';
    return new BerthError('BERTH_E_KUBE_INVALID', `the cluster refused ${about}: ${serverMessage}${detail}`, { status: 422, hint: 'fix the field named; nothing of this set of objects was applied' });
  }
  if (httpStatus === 409) {
    return new BerthError('BERTH_E_KUBE_CONFLICT', `the cluster refused ${about}: ${serverMessage}`, { status: 409, hint: 'another change to the object is under way (or it is being deleted): try again' });
  }
  if (httpStatus === 404 && status?.reason === 'NotFound' && /^the server could not find the requested resource/.test(serverMessage)) {
    return new BerthError('BERTH_E_KUBE_UNSUPPORTED', `the cluster does not serve ${context.resource} in ${context.group === '' ? 'the core group' : context.group}: ${serverMessage}`, { status: 502, hint: 'the cluster is older than the API version used; let berth pick versions from discovery' });
  }
  return new BerthError('BERTH_E_KUBE_API', `the Kubernetes API server answered ${httpStatus} to ${about}: ${serverMessage}`, { status: 502 });
}

/** A connection that failed before any answer. */
export function unreachable(server: string, err: unknown): BerthError {
  const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = e.code ?? e.cause?.code;
  const why = `${code === undefined ? '' : `${code}: `}${e.message ?? e.cause?.message ?? String(err)}`;
  const tls = code !== undefined && /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code);
  return new BerthError('BERTH_E_KUBE_UNREACHABLE', `the Kubernetes API server at ${server} cannot be reached: ${clip(why)}`, {
    status: 502,
    cause: err,
    hint: tls ? 'its certificate is not signed by the kubeconfig\'s certificate-authority: give the cluster\'s CA' : 'check the kubeconfig\'s server address and that the cluster is up',
  });
}
