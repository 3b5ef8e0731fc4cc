/**
 * MercadoPago's dispute resources: chargebacks through the official SDK
 * (`GET /v1/chargebacks/{id}`); claims (`GET /post-purchase/v1/claims/{id}`)
 * and the chargeback documentation upload (`POST
 * /v1/chargebacks/{id}/documentation`, multipart `files[]`), which the SDK
 * does not cover, with fetch and the same token, base URL and time-out.
 */
import { Chargeback, type MercadoPagoConfig } from 'mercadopago';

/** A chargeback or claim as MercadoPago answers it (recorded by checkout.record_dispute). */
export type DisputeResource = Record<string, unknown>;

/** One evidence file for a chargeback. */
export interface EvidenceFile {
  name: string;
  type: string;
  bytes: Uint8Array<ArrayBuffer>;
}

export interface DisputesApi {
  getChargeback(id: string): Promise<DisputeResource>;
  getClaim(id: string): Promise<DisputeResource>;
  uploadChargebackDocumentation(id: string, files: EvidenceFile[]): Promise<DisputeResource>;
}

/** The error MercadoPago's HTTP answer or a failed call becomes (classified by mercadopago.ts). */
class HttpFailure extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly error: string | null,
  ) {
    super(message);
  }
}

export function disputesApi(
  client: MercadoPagoConfig,
  opts: { accessToken: string; baseUrl: string; timeoutMs: number },
  classify: (err: unknown) => Error,
): DisputesApi {
  const chargebacks = new Chargeback(client);
  const call = async (method: string, path: string, body?: FormData): Promise<DisputeResource> => {
    let res: Response;
    try {
      res = await fetch(`${opts.baseUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${opts.accessToken}` },
        body,
        signal: AbortSignal.timeout(opts.timeoutMs),
      });
    } catch (err) {
      throw classify(err);
    }
    const text = await res.text();
    let parsed: unknown = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = null;
    }
    const obj = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
    if (!res.ok) {
      const code = typeof obj.error === 'string' ? obj.error : null;
      const message = typeof obj.message === 'string' ? obj.message : `HTTP ${res.status}`;
      throw classify(new HttpFailure(message, res.status, code));
    }
    return obj;
  };
  return {
    async getChargeback(id) {
      try {
        return { ...(await chargebacks.get({ id })) } as DisputeResource;
      } catch (err) {
        throw classify(err);
      }
    },
    getClaim: (id) => call('GET', `/post-purchase/v1/claims/${encodeURIComponent(id)}`),
    uploadChargebackDocumentation(id, files) {
      const form = new FormData();
      for (const f of files) form.append('files[]', new Blob([f.bytes], { type: f.type }), f.name);
      return call('POST', `/v1/chargebacks/${encodeURIComponent(id)}/documentation`, form);
    },
  };
}
