/** Today and a chosen range: revenue, orders, conversion, average order; per-day charts and checkouts by outcome. */
import type { ChartConfiguration } from 'chart.js';
import { useMemo, useState } from 'react';
import type { AdminApi, Dashboard, Figures } from '../api.ts';
import { ChartCanvas } from '../Chart.tsx';
import { day, integer, moneyByCurrency, percent, SESSION_OUTCOMES, sessionOutcome } from '../format.ts';
import { usePolled } from '../hooks.ts';
import { Kpi, Updated } from './common.tsx';
import { t } from '../i18n/index.ts';

const TZ = Intl.DateTimeFormat().resolvedOptions().timeZone || 'America/Argentina/Buenos_Aires';
const iso = (d: Date) => new Intl.DateTimeFormat('en-CA', { timeZone: TZ, year: 'numeric', month: '2-digit', day: '2-digit' }).format(d);
const OUTCOME_COLORS: Record<string, string> = {
  active: '#0b6bcb',
  paid: '#1a7f37',
  expired: '#9aa4b2',
  cancelled: '#5f6b7a',
  refund_owed: '#b42318',
  refunded: '#9a6700',
};

function FigureRow({ f, prefix }: { f: Figures; prefix: string }) {
  return (
    <div className='kpis'>
      <Kpi label={t('revenue')} value={moneyByCurrency(f.revenue)} testId={`${prefix}-revenue`} />
      <Kpi label={t('orders')} value={integer(f.orders)} testId={`${prefix}-orders`} />
      <Kpi
        label={t('conversion')}
        value={percent(f.conversion_rate)}
        testId={`${prefix}-conversion`}
        hint={t('conversionHint', { paid: integer(f.checkouts_paid), started: integer(f.checkouts) })}
      />
      <Kpi label={t('averageOrder')} value={moneyByCurrency(f.average_order)} testId={`${prefix}-average`} />
    </div>
  );
}

/** The currency with the most revenue in the range: the charts draw it. */
function mainCurrency(d: Dashboard): string {
  const entries = Object.entries(d.range.revenue).sort((a, b) => Number(b[1]) - Number(a[1]));
  return entries[0]?.[0] ?? 'ARS';
}

export function OverviewPage({ api }: { api: AdminApi }) {
  const today = new Date();
  const [from, setFrom] = useState(iso(new Date(today.getTime() - 29 * 86_400_000)));
  const [to, setTo] = useState(iso(today));
  const { data, error, updatedAt } = usePolled(() => api.dashboard(from, to, TZ), [api, from, to]);

  const perDay = useMemo<ChartConfiguration | null>(() => {
    if (!data) return null;
    const currency = mainCurrency(data);
    return {
      type: 'bar',
      data: {
        labels: data.per_day.map((p) => day(p.day)),
        datasets: [
          { type: 'bar', label: t('orders'), data: data.per_day.map((p) => p.orders), backgroundColor: '#0b6bcb', yAxisID: 'y' },
          {
            type: 'line',
            label: t('revenueIn', { currency }),
            data: data.per_day.map((p) => Number(p.revenue[currency] ?? 0)),
            borderColor: '#1a7f37',
            backgroundColor: '#1a7f37',
            yAxisID: 'y1',
          },
        ],
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        scales: {
          y: { beginAtZero: true, position: 'left', ticks: { precision: 0 }, title: { display: true, text: t('orders') } },
          y1: { beginAtZero: true, position: 'right', grid: { drawOnChartArea: false }, title: { display: true, text: currency } },
        },
      },
    } as ChartConfiguration;
  }, [data]);

  const outcomes = useMemo<ChartConfiguration | null>(() => {
    if (!data) return null;
    const keys = SESSION_OUTCOMES;
    return {
      type: 'doughnut',
      data: {
        labels: keys.map(sessionOutcome),
        datasets: [{ data: keys.map((k) => data.sessions_by_outcome[k] ?? 0), backgroundColor: keys.map((k) => OUTCOME_COLORS[k]!) }],
      },
      options: { responsive: true, maintainAspectRatio: false, plugins: { legend: { position: 'right' } } },
    };
  }, [data]);

  return (
    <>
      <div className='page-head'>
        <h1>{t('nav_overview')}</h1>
        <Updated at={updatedAt} error={error} />
      </div>
      {data && (
        <>
          <section className='card'>
            <h2>{t('today')}</h2>
            <FigureRow f={data.today} prefix='today' />
            <p className='small muted'>
              {t('liveNow')} <strong data-testid='live-active'>{integer(data.live.active_checkouts)}</strong> {t('liveActive')}{' '}
              <strong>{integer(data.live.reserved_units)}</strong> {t('liveReserved')} <strong>{integer(data.live.refunds_owed)}</strong> {t('liveRefunds')}
            </p>
          </section>
          <section className='card'>
            <div className='row'>
              <h2>{t('period')}</h2>
              <label className='inline'>
                {t('from')} <input type='date' value={from} max={to} onChange={(e) => e.target.value && setFrom(e.target.value)} data-testid='from' />
              </label>
              <label className='inline'>
                {t('to')} <input type='date' value={to} min={from} onChange={(e) => e.target.value && setTo(e.target.value)} data-testid='to' />
              </label>
            </div>
            <FigureRow f={data.range} prefix='range' />
          </section>
          <div className='grid2'>
            <section className='card'>
              <h2>{t('perDay')}</h2>
              {perDay && <ChartCanvas config={perDay} label={t('perDay')} testId='chart-per-day' />}
            </section>
            <section className='card'>
              <h2>{t('byOutcome')}</h2>
              {outcomes && <ChartCanvas config={outcomes} label={t('byOutcomeLabel')} testId='chart-outcomes' />}
            </section>
          </div>
        </>
      )}
    </>
  );
}
