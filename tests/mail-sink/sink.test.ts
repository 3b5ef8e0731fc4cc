/**
 * The Resend API emulator, driven by the official `resend` client (Node):
 * sends, Idempotency-Key semantics, the documented errors, fault injection,
 * and the page that lists what was sent.
 */
import { Resend } from 'resend';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type MailSink, startMailSink } from '../../dev/mail-sink/index.ts';

let sink: MailSink;
let resend: Resend;
const email = {
  from: 'Tienda <tienda@example.com>',
  to: 'ana@example.com',
  subject: 'Hola',
  html: '<p>Hola <a href="https://x.test/?a=1&amp;b=2">x</a></p>',
  text: 'Hola',
};

beforeAll(async () => {
  sink = await startMailSink();
  resend = new Resend(sink.apiKey, { baseUrl: sink.url });
});
afterAll(() => sink.close());
beforeEach(() => sink.reset());

describe('mail sink (Resend API emulator)', () => {
  it('sends through the official client and keeps the email', async () => {
    const { data, error } = await resend.emails.send({
      ...email,
      headers: { 'List-Unsubscribe': '<https://x.test/u>' },
      tags: [{ name: 'kind', value: 'test' }],
    });
    expect(error).toBeNull();
    expect(data!.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(sink.emails()).toHaveLength(1);
    expect(sink.emails()[0]).toMatchObject({ id: data!.id, to: ['ana@example.com'], subject: 'Hola', headers: { 'List-Unsubscribe': '<https://x.test/u>' } });
    const got = await resend.emails.get(data!.id);
    expect(got.data).toMatchObject({ id: data!.id, subject: 'Hola' });
  });

  it('Idempotency-Key: the same request again answers the same id and sends nothing; another body is a 409', async () => {
    const a = await resend.emails.send(email, { idempotencyKey: 'k-1' });
    const b = await resend.emails.send(email, { idempotencyKey: 'k-1' });
    expect(b.data!.id).toBe(a.data!.id);
    expect(sink.emails()).toHaveLength(1);
    const c = await resend.emails.send({ ...email, subject: 'Otro' }, { idempotencyKey: 'k-1' });
    expect(c.error).toMatchObject({ statusCode: 409, name: 'invalid_idempotent_request' });
    expect((await resend.emails.send(email, { idempotencyKey: 'k-2' })).data!.id).not.toBe(a.data!.id);
    expect(sink.emails()).toHaveLength(2);
  });

  it('the documented errors: missing or wrong key, missing fields, bad addresses', async () => {
    expect((await new Resend('re_wrong', { baseUrl: sink.url }).emails.send(email)).error).toMatchObject({ statusCode: 403, name: 'invalid_api_key' });
    const noAuth = await fetch(`${sink.url}/emails`, { method: 'POST', body: JSON.stringify(email) });
    expect(noAuth.status).toBe(401);
    expect((await resend.emails.send({ ...email, subject: '' })).error).toMatchObject({ statusCode: 422, name: 'missing_required_field' });
    expect((await resend.emails.send({ ...email, to: 'not an address' })).error).toMatchObject({ statusCode: 422 });
    expect((await resend.emails.send({ ...email, from: 'nope' })).error).toMatchObject({ statusCode: 422, name: 'invalid_from_address' });
    expect(sink.emails()).toHaveLength(0);
  });

  it('fault injection: the next sends answer 429 (with retry-after), 500, 400, then it works again', async () => {
    sink.inject({ status: 429, count: 1 });
    sink.inject({ status: 500, count: 1 });
    sink.inject({ status: 400, count: 1 });
    const r1 = await resend.emails.send(email, { idempotencyKey: 'f-1' });
    expect(r1.error).toMatchObject({ statusCode: 429, name: 'rate_limit_exceeded' });
    expect(r1.headers?.['retry-after']).toBe('1');
    expect((await resend.emails.send(email, { idempotencyKey: 'f-1' })).error).toMatchObject({ statusCode: 500 });
    expect((await resend.emails.send(email, { idempotencyKey: 'f-1' })).error).toMatchObject({ statusCode: 400, name: 'validation_error' });
    expect((await resend.emails.send(email, { idempotencyKey: 'f-1' })).error).toBeNull(); // a faulted try did not use up the key
    expect(sink.emails()).toHaveLength(1);
    expect(sink.attempts()).toBe(4);
  });

  it('the page lists the emails and renders one, with its links', async () => {
    const { data } = await resend.emails.send(email);
    const list = await (await fetch(sink.url)).text();
    expect(list).toContain(`/view/${data!.id}`);
    const view = await (await fetch(`${sink.url}/view/${data!.id}`)).text();
    expect(view).toContain('https://x.test/?a=1&#38;b=2');
    expect(view).toContain('<iframe sandbox');
  });
});
