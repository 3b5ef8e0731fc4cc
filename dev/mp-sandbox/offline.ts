/**
 * Cash tickets, ATM payments, Pix and bank transfers: what MercadoPago hands
 * the buyer (barcode, Pix copy-and-paste code and QR), when it stops being
 * payable, and the sandbox page standing for the printed ticket.
 *
 * An offline payment is `pending` until paid (control API) or until its
 * `date_of_expiration`, then `cancelled` / `expired`. Any payment left
 * `pending` or `in_process` for 30 days is cancelled the same way.
 */
import { crc32, deflateSync } from 'node:zlib';
import QRCode from 'qrcode';
import type { PaymentRecord, PaymentTypeId, PreferenceRecord } from './types.ts';

export const OFFLINE_TYPES: ReadonlySet<PaymentTypeId> = new Set(['ticket', 'atm', 'bank_transfer']);

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** Without the preference's `date_of_expiration`: 3 days for cash (MercadoPago's recommended minimum), 24 h for transfers and Pix. */
export const DEFAULT_EXPIRATION_MS: Readonly<Record<string, number>> = { ticket: 3 * DAY, atm: 3 * DAY, bank_transfer: DAY };
/** MercadoPago cancels a payment still unconfirmed after 30 days. */
export const UNCONFIRMED_LIMIT_MS = 30 * DAY;

/** When an offline payment made now stops being payable. */
export function expirationOf(type: PaymentTypeId, pref: PreferenceRecord, now: number): number | null {
  if (!OFFLINE_TYPES.has(type)) return null;
  if (pref.dateOfExpiration !== null) return Date.parse(pref.dateOfExpiration);
  return now + (DEFAULT_EXPIRATION_MS[type] ?? DAY);
}

/** Why a payment has to expire at `now`, or null. */
export function expiryReason(p: PaymentRecord, now: number): 'date_of_expiration' | 'unconfirmed_30_days' | null {
  if (p.status === 'pending' && p.expiresAt !== null && now > p.expiresAt) return 'date_of_expiration';
  if ((p.status === 'pending' || p.status === 'in_process') && now - p.createdAt > UNCONFIRMED_LIMIT_MS) return 'unconfirmed_30_days';
  return null;
}

/** A 44-digit barcode, stable for a payment (the digits mean nothing outside the sandbox). */
export function barcodeFor(paymentId: number, amount: number): string {
  const cents = String(Math.round(amount * 100)).padStart(12, '0').slice(-12);
  const digits = `7${String(paymentId).padStart(16, '0')}${cents}`;
  return (digits + '0'.repeat(44)).slice(0, 44);
}

// ---- Pix: EMV "BR Code" (copia e cola) with its CRC16 ----------------------

const tlv = (id: string, value: string): string => `${id}${String(value.length).padStart(2, '0')}${value}`;

/** CRC16/CCITT-FALSE over the payload, as the Pix BR Code ends with. */
function crc16(text: string): string {
  let crc = 0xffff;
  for (const byte of Buffer.from(text, 'utf8')) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc.toString(16).toUpperCase().padStart(4, '0');
}

export function pixCode(paymentId: number, amount: number, collectorId: number): string {
  const body = tlv('00', '01') +
    tlv('01', '12') +
    tlv('26', tlv('00', 'br.gov.bcb.pix') + tlv('01', `sandbox-${collectorId}@mp-sandbox.invalid`)) +
    tlv('52', '0000') +
    tlv('53', '986') +
    tlv('54', amount.toFixed(2)) +
    tlv('58', 'BR') +
    tlv('59', 'MP SANDBOX') +
    tlv('60', 'SAO PAULO') +
    tlv('62', tlv('05', `mpqr${paymentId}`));
  const withCrcTag = `${body}6304`;
  return withCrcTag + crc16(withCrcTag);
}

// ---- PNG of a QR code (qrcode encodes; a grey-scale PNG is a few lines) ------

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const typed = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(typed));
  return Buffer.concat([len, typed, crc]);
}

/** The QR code of `text` as a PNG (4 px per module, 4-module quiet zone). */
export function qrPng(text: string, scale = 4, margin = 4): Buffer {
  const modules = QRCode.create(text, { errorCorrectionLevel: 'M' }).modules;
  const size = (modules.size + 2 * margin) * scale;
  const raw = Buffer.alloc(size * (size + 1), 255);
  for (let y = 0; y < size; y++) {
    raw[y * (size + 1)] = 0; // filter: none
    const my = Math.floor(y / scale) - margin;
    for (let x = 0; x < size; x++) {
      const mx = Math.floor(x / scale) - margin;
      const dark = mx >= 0 && my >= 0 && mx < modules.size && my < modules.size && modules.get(my, mx) === 1;
      if (dark) raw[y * (size + 1) + 1 + x] = 0;
    }
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(size, 0);
  header.writeUInt32BE(size, 4);
  header[8] = 8; // bit depth
  header[9] = 0; // grey-scale
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** What the buyer needs to pay an offline payment, set when the payment is made. */
export function offlineInstructions(
  p: Pick<PaymentRecord, 'id' | 'paymentTypeId' | 'paymentMethodId' | 'amount'>,
  collectorId: number,
): Pick<PaymentRecord, 'barcode' | 'pix'> {
  if (p.paymentMethodId === 'pix') {
    const qrCode = pixCode(p.id, p.amount, collectorId);
    return { barcode: null, pix: { qrCode, qrCodeBase64: qrPng(qrCode).toString('base64') } };
  }
  if (p.paymentTypeId === 'ticket' || p.paymentTypeId === 'atm') return { barcode: barcodeFor(p.id, p.amount), pix: null };
  return { barcode: null, pix: null };
}

/** The sandbox page standing for the ticket / Pix page (`external_resource_url`, `ticket_url`). */
export const ticketPath = (paymentId: number): string => `/checkout/v1/ticket?payment_id=${paymentId}`;
