/**
 * MercadoPago's error body: `{ message, error, status, cause: [{ code, description }] }`.
 * Handlers throw `MpError`; the server turns it into that JSON. The official SDK
 * reads `message`, `error`, `status` and `cause` from it (see its `buildError`).
 */
export interface MpCause {
  code: string | number;
  description: string;
  data?: string | null;
}

export interface MpErrorBody {
  message: string;
  error: string;
  status: number;
  cause: MpCause[];
}

export class MpError extends Error {
  readonly status: number;
  readonly error: string;
  readonly causes: MpCause[];

  constructor(status: number, error: string, message: string, cause?: MpCause[]) {
    super(message);
    this.status = status;
    this.error = error;
    this.causes = cause ?? [{ code: error, description: message }];
  }

  toBody(): MpErrorBody {
    return { message: this.message, error: this.error, status: this.status, cause: this.causes };
  }
}

export const badRequest = (error: string, message: string, cause?: MpCause[]): MpError => new MpError(400, error, message, cause);

export const notFound = (message: string, cause?: MpCause[]): MpError => new MpError(404, 'not_found', message, cause);
