/** An order's refunds by the store: a partial or whole refund by amount, spread by the server over the order's payments, and those made so far (which payment got how much). */
import { type FormEvent, useState } from 'react';
import type { AdminApi, OrderDetail } from '../api.ts';
import { dateTime, describeError, money } from '../format.ts';

export function OrderRefund({ api, order, refresh }: { api: AdminApi; order: OrderDetail; refresh: () => Promise<void> }) {
  const [amount, setAmount] = useState('');
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<{ ok: boolean; text: string } | null>(null);
  const refunds = order.order_refunds ?? [];

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setNotice(null);
    const text = amount.trim().replace(',', '.');
    if (!/^\d+(\.\d{1,2})?$/.test(text) || Number(text) <= 0) {
      return setNotice({ ok: false, text: 'El monto tiene que ser un número positivo (por ejemplo 1500 o 99.90).' });
    }
    setBusy(true);
    try {
      const r = await api.refundOrder(order.order_number, Number(text));
      const parts = r.refunds.map((x) => `${money(x.amount, order.currency)} del pago ${x.payment_id}${x.status === 'refunded' ? '' : ' (pendiente)'}`);
      setNotice({ ok: r.refunds.every((x) => x.status === 'refunded'), text: `Reembolso: ${parts.join(', ')}.` });
      setAmount('');
    } catch (err) {
      setNotice({ ok: false, text: describeError(err) });
    } finally {
      setBusy(false);
      await refresh();
    }
  };

  return (
    <section className='card'>
      <h2>Reembolsar</h2>
      <form className='adjust' onSubmit={(e) => void submit(e)} aria-label='Reembolsar'>
        <label>
          Monto ({order.currency})
          <input type='text' inputMode='decimal' value={amount} onChange={(e) => setAmount(e.target.value)} placeholder='1500' data-testid='refund-amount' />
        </label>
        <button type='submit' disabled={busy || order.status === 'refunded' || order.status === 'charged_back'}>
          {busy ? 'Reembolsando…' : 'Reembolsar'}
        </button>
      </form>
      {notice && <p className={`alert ${notice.ok ? 'ok' : 'bad'}`} role='status' data-testid='refund-notice'>{notice.text}</p>}
      {refunds.length > 0 && (
        <ul data-testid='order-refunds'>
          {refunds.map((r) => (
            <li key={r.id}>
              {money(r.amount, r.currency)} del pago <span className='mono small'>{r.payment_id}</span>{' '}
              {r.status === 'refunded' ? `reembolsado ${r.refunded_at ? dateTime(r.refunded_at) : ''}` : `pendiente${r.last_error ? `: ${r.last_error}` : ''}`}
            </li>
          ))}
        </ul>
      )}
      <p className='small muted'>Con dos tarjetas, el reembolso se reparte entre los pagos, empezando por el que tiene más para devolver.</p>
    </section>
  );
}
