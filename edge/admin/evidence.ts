/**
 * POST /admin/disputes/{id}/evidence: the dashboard uploads a chargeback's
 * documentation to MercadoPago (`POST /v1/chargebacks/{id}/documentation`,
 * multipart `files[]`). MercadoPago's documented limits are checked here
 * first, so a wrong file never reaches it: .jpg, .png or .pdf (by name,
 * declared type and content), 10 MB overall. MercadoPago's own refusals
 * (deadline passed, no documentation required, ...) come back as 409
 * `evidence_refused` naming its code. The chargeback is then fetched again
 * and recorded (documentation_status review_pending).
 */
import type { Claims } from '../_shared/admin.ts';
import type { Deps } from '../_shared/deps.ts';
import { HttpError, readBodyBytes } from '../_shared/http.ts';
import { MercadoPagoRejected, MercadoPagoUnavailable } from '../_shared/mercadopago.ts';
import type { EvidenceFile } from '../_shared/mp-disputes.ts';

/** MercadoPago: "Files can be .jpg, .png or .pdf", "They should not exceed 10 MB overall". */
export const EVIDENCE_MAX_BYTES = 10 * 1024 * 1024;
export const EVIDENCE_MAX_FILES = 10;
const TYPES: Record<string, { mime: string; magic: number[] }> = {
  jpg: { mime: 'image/jpeg', magic: [0xff, 0xd8, 0xff] },
  jpeg: { mime: 'image/jpeg', magic: [0xff, 0xd8, 0xff] },
  png: { mime: 'image/png', magic: [0x89, 0x50, 0x4e, 0x47] },
  pdf: { mime: 'application/pdf', magic: [0x25, 0x50, 0x44, 0x46] },
};

const badType = (name: string) => new HttpError(400, 'invalid_file_type', `${name}: evidence files must be .jpg, .png or .pdf`, { file: name });

/** The multipart body's files[], checked against MercadoPago's limits. */
export async function readEvidence(req: Request): Promise<EvidenceFile[]> {
  const contentType = req.headers.get('content-type') ?? '';
  if (!/^multipart\/form-data;/i.test(contentType)) {
    await req.body?.cancel().catch(() => undefined);
    throw new HttpError(400, 'validation_failed', 'send the files as multipart/form-data fields named files[]', {
      issues: [{ path: 'files[]', message: 'multipart/form-data expected' }],
    });
  }
  // The files plus the multipart framing; anything bigger is refused unread.
  const bytes = await readBodyBytes(req, EVIDENCE_MAX_BYTES + 64 * 1024);
  let form: FormData;
  try {
    form = await new Response(bytes, { headers: { 'content-type': contentType } }).formData();
  } catch {
    throw new HttpError(400, 'validation_failed', 'the body is not valid multipart/form-data', {
      issues: [{ path: 'files[]', message: 'malformed multipart body' }],
    });
  }
  const parts = form.getAll('files[]');
  if (parts.length === 0 || parts.length > EVIDENCE_MAX_FILES || parts.some((p) => typeof p === 'string')) {
    throw new HttpError(400, 'validation_failed', `send 1 to ${EVIDENCE_MAX_FILES} files as fields named files[]`, {
      issues: [{ path: 'files[]', message: `1 to ${EVIDENCE_MAX_FILES} files` }],
    });
  }
  const files: EvidenceFile[] = [];
  let total = 0;
  for (const part of parts as File[]) {
    const name = part.name.slice(0, 200) || 'file';
    const ext = /\.([a-z0-9]+)$/i.exec(name)?.[1]?.toLowerCase() ?? '';
    const kind = TYPES[ext];
    if (!kind || (part.type && part.type !== kind.mime && part.type !== 'application/octet-stream')) throw badType(name);
    const content = new Uint8Array(await part.arrayBuffer());
    if (!kind.magic.every((b, i) => content[i] === b)) throw badType(name);
    total += content.byteLength;
    files.push({ name, type: kind.mime, bytes: content });
  }
  if (total > EVIDENCE_MAX_BYTES) {
    throw new HttpError(413, 'payload_too_large', "evidence files must not exceed 10 MB overall (MercadoPago's limit)", { bytes: total });
  }
  return files;
}

export async function uploadEvidence(deps: Deps, claims: Claims, id: string, req: Request) {
  const disputes = deps.routines.disputes;
  const chargeback = await disputes.chargebackForEvidence(claims, id);
  const files = await readEvidence(req);
  try {
    await deps.mp.uploadChargebackDocumentation(chargeback.mp_id, files);
  } catch (err) {
    if (err instanceof MercadoPagoUnavailable) {
      throw new HttpError(502, 'payment_provider_unavailable', 'MercadoPago is unavailable; the evidence was not sent, try again');
    }
    if (!(err instanceof MercadoPagoRejected)) throw err;
    deps.log('evidence_refused', { dispute_id: id, chargeback_id: chargeback.mp_id, code: err.code, message: err.message, by: claims.sub });
    throw new HttpError(409, 'evidence_refused', `MercadoPago refused the evidence: ${err.message}`, { mp_error: err.code, chargeback_id: chargeback.mp_id });
  }
  const recorded = await disputes.recordDispute('chargeback', await deps.mp.getChargeback(chargeback.mp_id));
  deps.log('evidence_uploaded', { dispute_id: id, chargeback_id: chargeback.mp_id, files: files.length, by: claims.sub });
  return recorded.dispute;
}
