/** Stock: on hand, reserved (and by how many checkouts), available; adjust on hand with a reason. */
import { type FormEvent, useState } from 'react';
import type { AdminApi } from '../api.ts';
import { dateTime, describeError, integer } from '../format.ts';
import { usePolled } from '../hooks.ts';
import { Empty, Updated } from './common.tsx';
import { t } from '../i18n/index.ts';

export function StockPage({ api }: { api: AdminApi }) {
  const { data, error, updatedAt, refresh } = usePolled(() => api.stock(), [api]);
  const [variantId, setVariantId] = useState('');
  const [delta, setDelta] = useState('');
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<{ ok: boolean; text: string } | null>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setNotice(null);
    if (!variantId) return setNotice({ ok: false, text: t('pickVariant') });
    const text = delta.trim();
    if (!/^[+-]?\d+$/.test(text) || Number(text) === 0) {
      return setNotice({ ok: false, text: t('deltaInvalid') });
    }
    setBusy(true);
    try {
      const r = await api.adjustStock(variantId, Number(text), reason);
      setNotice({ ok: true, text: t('adjusted', { on_hand: integer(r.on_hand_after), available: integer(r.available) }) });
      setDelta('');
      setReason('');
    } catch (err) {
      setNotice({ ok: false, text: describeError(err) });
    } finally {
      setBusy(false);
      await refresh();
    }
  };

  return (
    <>
      <div className='page-head'>
        <h1>{t('nav_stock')}</h1>
        <Updated at={updatedAt} error={error} />
      </div>
      {data && (
        <>
          <section className='card'>
            <h2>{t('adjustStock')}</h2>
            <form className='adjust' onSubmit={(e) => void submit(e)} aria-label={t('adjustStock')}>
              <label>
                {t('variant')}
                <select value={variantId} onChange={(e) => setVariantId(e.target.value)} data-testid='adjust-variant'>
                  <option value=''>{t('pick')}</option>
                  {data.variants.map((v) => (
                    <option key={v.id} value={v.id}>
                      {v.product} · {v.title} ({v.sku})
                    </option>
                  ))}
                </select>
              </label>
              <label>
                {t('deltaLabel')}
                <input type='text' inputMode='numeric' value={delta} onChange={(e) => setDelta(e.target.value)} placeholder='-3' data-testid='adjust-delta' />
              </label>
              <label className='grow'>
                {t('reason')}
                <input
                  type='text'
                  value={reason}
                  onChange={(e) => setReason(e.target.value)}
                  placeholder={t('reasonPlaceholder')}
                  data-testid='adjust-reason'
                />
              </label>
              <button type='submit' disabled={busy}>{busy ? t('saving') : t('adjust')}</button>
            </form>
            {notice && <p className={`alert ${notice.ok ? 'ok' : 'bad'}`} role='status' data-testid='notice'>{notice.text}</p>}
            <p className='small muted'>
              {t('stockNote')}
            </p>
          </section>
          <section className='card'>
            <h2>{t('variants')}</h2>
            {data.variants.length === 0 ? <Empty>{t('noProducts')}</Empty> : (
              <div className='table-wrap'>
                <table data-testid='stock'>
                  <thead>
                    <tr>
                      <th>{t('col_product')}</th>
                      <th>{t('col_sku')}</th>
                      <th className='num'>{t('col_onHand')}</th>
                      <th className='num'>{t('col_reserved')}</th>
                      <th className='num'>{t('col_available')}</th>
                    </tr>
                  </thead>
                  <tbody>
                    {data.variants.map((v) => (
                      <tr key={v.id} data-sku={v.sku} className={v.active ? '' : 'inactive'}>
                        <td>
                          {v.product} · {v.title}
                        </td>
                        <td className='mono'>{v.sku}</td>
                        <td className='num' data-col='on_hand'>{integer(v.on_hand)}</td>
                        <td className='num' data-col='reserved'>
                          {integer(v.reserved)}
                          {v.reserving_sessions > 0 && (
                            <span className='small muted'>{v.reserving_sessions === 1 ? t('checkouts1') : t('checkoutsN', { n: v.reserving_sessions })}</span>
                          )}
                        </td>
                        <td className={`num ${v.available <= 0 ? 'bad' : v.available < 5 ? 'warn' : ''}`} data-col='available'>{integer(v.available)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </section>
          {data.adjustments.length > 0 && (
            <section className='card'>
              <h2>{t('lastAdjustments')}</h2>
              <ul className='plain' data-testid='adjustments'>
                {data.adjustments.map((a) => (
                  <li key={a.id}>
                    <span className='mono'>{a.sku}</span>: {a.delta > 0 ? '+' : ''}
                    {a.delta} ({a.on_hand_before} → {a.on_hand_after}) · {a.reason}
                    <br />
                    <span className='small muted'>
                      {dateTime(a.created_at)} · {a.staff_email ?? ''}
                    </span>
                  </li>
                ))}
              </ul>
            </section>
          )}
        </>
      )}
    </>
  );
}
