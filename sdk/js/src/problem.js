// askgate's errors: every refusal is problem+json (RFC 9457).

/** An askgate refusal: `status`, the stable `code` (e.g. `insufficient_tokens`), `detail`, and the rest of the body. */
export class AskgateError extends Error {
  constructor(status, body) {
    super(body?.detail || body?.title || `askgate answered ${status}`);
    this.name = 'AskgateError';
    this.status = status;
    this.code = body?.code ?? 'unexpected';
    this.problem = body ?? null;
  }
}

/** The JSON body of `res`, or the AskgateError it is. */
export async function readJson(res) {
  const text = await res.text();
  let body = null;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = { detail: text.slice(0, 200) };
    }
  }
  if (!res.ok) throw new AskgateError(res.status, body);
  return body;
}

/** The askgate origin of `url`, checked to be http(s). */
export function baseUrl(url) {
  const parsed = new URL(url);
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new TypeError(`not an askgate URL: ${url}`);
  }
  return parsed.origin;
}
