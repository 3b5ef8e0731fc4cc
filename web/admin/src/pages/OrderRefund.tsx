/**
 * An order's refunds by the store: by units of its lines (the preview shows
 * the amount, the line's share of a discount taken off as admin.refund_order
 * does) or by an amount; the server spreads it over the order's payments and
 * the notice says which payment (card) got how much. Below, those made so far.
 */
import { type FormEvent, useState } from 'react';
import type { AdminApi, OrderDetail, RefundRequest } from '../api.ts';
import { dateTime, describeError, money } from '../format.ts';
import { t } from '../i18n/index.ts';

type Mode = 'lines' | 'amount';

/** What a refund of `qty` units per line comes to: the lines' price, less their share of the discount (admin.refund_order's rule). */
function linesAmount(order: OrderDetail, qty: number[]): number {
  const gross = order.lines.reduce((s, l, i) => s + Number(l.unit_price) * (qty[i] ?? 0), 0);
  const subtotal = Number(order.subtotal);
  return subtotal > 0 ? Math.round((gross * Number(order.total) / subtotal) * 100) / 100 : 0;
}

export function OrderRefund({ api, order, refresh }: { api: AdminApi; order: OrderDetail; refresh: () => Promise<void> }) {
  const [mode, setMode] = useState<Mode>('lines');
  const [qty, setQty] = useState<number[]>(() => order.lines.map(() => 0));
  const [amount, setAmount] = useState('');
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<{ ok: boolean; text: string; parts?: { payment_id: string; amount: number | string; status: string }[] } | null>(null);
  const refunds = order.order_refunds ?? [];
  const paidIn = (order.money?.parts ?? []).reduce((s, p) => s + Number(p.amount), 0);
  const left = Math.max(0, paidIn - refunds.reduce((s, r) => s + Number(r.amount), 0));
  const preview = linesAmount(order, qty);
  const closed = order.status === 'refunded' || order.status === 'charged_back';

  const request = (): RefundRequest | string => {
    if (mode === 'lines') {
      // line_no is the line's position: the order's lines come ordered by it, numbered from 1 (checkout.commit_order).
      const lines = qty.map((q, i) => ({ line_no: i + 1, quantity: q })).filter((l) => l.quantity > 0);
      return lines.length ? { lines } : t('refundPickLines');
    }
    const text = amount.trim().replace(',', '.');
    return /^\d+(\.\d{1,2})?$/.test(text) && Number(text) > 0 ? { amount: Number(text) } : t('amountInvalid');
  };

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setNotice(null);
    const body = request();
    if (typeof body === 'string') return setNotice({ ok: false, text: body });
    setBusy(true);
    try {
      const r = await api.refundOrder(order.order_number, body);
      const parts = r.refunds.map((x) =>
        t(x.status === 'refunded' ? 'refundPart' : 'refundPartPending', { amount: money(x.amount, order.currency), id: x.payment_id })
      );
      setNotice({ ok: r.refunds.every((x) => x.status === 'refunded'), text: t('refundDone', { parts: parts.join(', ') }), parts: r.refunds });
      setAmount('');
      setQty(order.lines.map(() => 0));
    } catch (err) {
      setNotice({ ok: false, text: describeError(err, order.currency) });
    } finally {
      setBusy(false);
      await refresh();
    }
  };

  return (
    <section className='card'>
      <h2>{t('refund')}</h2>
      <form className='refund' onSubmit={(e) => void submit(e)} aria-label={t('refund')}>
        <fieldset className='row'>
          <legend className='small muted'>{t('refundHow')}</legend>
          {(['lines', 'amount'] as const).map((m) => (
            <label key={m} className='inline'>
              <input type='radio' name='refund-mode' checked={mode === m} onChange={() => setMode(m)} data-testid={`refund-mode-${m}`} />
              {m === 'lines' ? t('refundByLines') : t('refundByAmount')}
            </label>
          ))}
        </fieldset>
        {mode === 'lines'
          ? (
            <>
              <table data-testid='refund-lines'>
                <tbody>
                  {order.lines.map((l, i) => (
                    <tr key={l.sku}>
                      <td>{l.title}</td>
                      <td className='num'>{money(l.unit_price, order.currency)}</td>
                      <td className='num'>
                        <input
                          type='number'
                          min={0}
                          max={l.quantity}
                          step={1}
                          value={qty[i] ?? 0}
                          aria-label={t('refundQty', { title: l.title })}
                          data-testid={`refund-qty-${i + 1}`}
                          onChange={(e) =>
                            setQty((q) => q.map((v, j) => (j === i ? Math.max(0, Math.min(l.quantity, Math.trunc(Number(e.target.value) || 0))) : v)))}
                        />{' '}
                        <span className='small muted'>{t('refundOfQty', { n: l.quantity })}</span>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
              <p className='small' data-testid='refund-preview' data-amount={preview}>
                {preview > 0 ? t('refundPreview', { amount: money(preview, order.currency) }) : t('refundPreviewNone')}
              </p>
            </>
          )
          : (
            <label>
              {t('amountIn', { currency: order.currency })}
              <input
                type='text'
                inputMode='decimal'
                value={amount}
                onChange={(e) => setAmount(e.target.value)}
                placeholder='1500'
                data-testid='refund-amount'
              />
            </label>
          )}
        <p className='small muted' data-testid='refund-left'>{t('refundLeft', { amount: money(left, order.currency) })}</p>
        <button type='submit' disabled={busy || closed}>{busy ? t('refunding') : t('refund')}</button>
      </form>
      {notice && (
        <div className={`alert ${notice.ok ? 'ok' : 'bad'}`} role='status' data-testid='refund-notice'>
          {notice.text}
          {notice.parts && (
            <ul data-testid='refund-parts'>
              {notice.parts.map((p) => (
                <li key={p.payment_id} data-payment-id={p.payment_id} data-amount={p.amount}>
                  <span className='mono'>{p.payment_id}</span>: {money(p.amount, order.currency)}
                  {p.status === 'refunded' ? '' : ` (${t('pending')})`}
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
      {refunds.length > 0 && (
        <ul data-testid='order-refunds'>
          {refunds.map((r) => (
            <li key={r.id}>
              {money(r.amount, r.currency)} {t('ofPayment')} <span className='mono small'>{r.payment_id}</span> {r.status === 'refunded'
                ? t('refundedAt', { date: r.refunded_at ? dateTime(r.refunded_at) : '' })
                : t('pendingWhy', { error: r.last_error ?? '—' })}
            </li>
          ))}
        </ul>
      )}
      <p className='small muted'>{t('refundSpread')}</p>
    </section>
  );
}
