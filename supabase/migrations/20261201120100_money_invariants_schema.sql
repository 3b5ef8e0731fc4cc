-- Nothing lost, nothing doubled (issue 10): the columns and checks the
-- routines of the next migrations rely on.
--
--   * order_sessions.checkout_group: the sessions one cart checkout went
--     through. A new checkout that cancels (replaces) an active session joins
--     its group; two orders in one group would sell the same cart twice.
--   * order_sessions.next_check_at / checks: when the reconciliation job next
--     asks MercadoPago about a session that could have been paid unheard, and
--     how many times it asked (the back-off).
--   * order_sessions.preference_expired_at: when the MercadoPago preference of
--     a cancelled or expired session was expired at MercadoPago.
--   * payment_refunds: two more reasons (stock lowered below what was
--     reserved; a superseded checkout paid after its group was paid), and the
--     retry schedule of refunds owed (attempts, next_attempt_at, last_error).
--   * Whole-unit currencies (CLP, COP): prices and fixed coupons are checked
--     when written (SQLSTATE CKM02).

-- ---------------------------------------------------------------------------
-- Tables

alter table public.order_sessions
  add column checkout_group uuid not null default gen_random_uuid(),
  add column next_check_at timestamptz not null default now() + interval '2 minutes',
  add column checks integer not null default 0 check (checks >= 0),
  add column preference_expired_at timestamptz;
comment on column public.order_sessions.checkout_group is
  'The cart checkout this session belongs to: a checkout that replaces an active session joins its group. At most one session of a group may become an order; a payment for another is taken over or refunded (see private.settle_superseded).';
comment on column public.order_sessions.next_check_at is
  'When the reconciliation job (Edge Function reconcile) may next ask MercadoPago about this session; moved forward with back-off by checkout.claim_reconciliation.';
comment on column public.order_sessions.checks is 'How many times the reconciliation job asked MercadoPago about this session.';
comment on column public.order_sessions.preference_expired_at is
  'When the preference of this cancelled or expired session was expired at MercadoPago (best effort, by the reconcile function); NULL while it may still be payable there.';

create index order_sessions_checkout_group_idx on public.order_sessions (checkout_group);
create index order_sessions_reconcile_idx on public.order_sessions (next_check_at)
  where status in ('active', 'expired', 'cancelled');
create index order_sessions_preference_open_idx on public.order_sessions (closed_at)
  where status in ('expired', 'cancelled') and preference_id is not null and preference_expired_at is null;

alter table public.payment_refunds drop constraint payment_refunds_reason_check;
alter table public.payment_refunds add constraint payment_refunds_reason_check check (reason in (
  'out_of_stock', 'amount_mismatch', 'duplicate_payment', 'coupon_used_up', 'stock_lowered', 'superseded'));
alter table public.payment_refunds
  add column attempts integer not null default 0 check (attempts >= 0),
  add column next_attempt_at timestamptz not null default now(),
  add column last_error text;
comment on column public.payment_refunds.reason is
  'Why the payment is owed back: out_of_stock (paid late, no stock), stock_lowered (paid on time, but the store lowered stock below the reservation), coupon_used_up, superseded (another session of the same cart checkout became the order), amount_mismatch, duplicate_payment.';
comment on column public.payment_refunds.attempts is 'Refund calls made to MercadoPago for this payment (by the webhook or the reconcile function).';
comment on column public.payment_refunds.next_attempt_at is 'When the reconcile function may next try the refund (exponential back-off, capped at 6 hours).';
comment on column public.payment_refunds.last_error is 'What MercadoPago answered to the last failed refund attempt.';

create index payment_refunds_due_idx on public.payment_refunds (next_attempt_at) where status = 'owed';
create index payment_events_approved_idx on public.payment_events (payment_id) where status = 'approved';

alter table public.order_session_events drop constraint order_session_events_kind_check;
alter table public.order_session_events add constraint order_session_events_kind_check check (kind in (
  'created', 'reserved', 'preference_attached', 'payment_seen', 'committed',
  'expired', 'cancelled', 'amount_mismatch', 'refund_owed', 'refunded', 'order_status_changed',
  'taken_over', 'preference_expired', 'refund_failed'));

-- ---------------------------------------------------------------------------
-- Triggers: whole-unit currencies

create function private.is_whole_unit_currency(p_currency text)
returns boolean
language sql
immutable
set search_path = ''
as $$
  select p_currency in ('CLP', 'COP')
$$;
revoke execute on function private.is_whole_unit_currency(text) from public, anon, authenticated;
comment on function private.is_whole_unit_currency(text) is
  'Currencies MercadoPago charges in whole units (no cents): CLP and COP. One list, used by the price checks and the discount rounding.';
grant execute on function private.is_whole_unit_currency(text) to service_role;

create function private.check_whole_unit_price()
returns trigger
language plpgsql
set search_path = ''
as $$
declare
  -- One function for both tables: read the row as JSON, so each names its own columns.
  rec jsonb := to_jsonb(new);
  amount numeric := (rec ->> case tg_table_name when 'variants' then 'price' else 'value' end)::numeric;
  cur text := rec ->> 'currency';
begin
  if tg_table_name = 'coupons' and rec ->> 'kind' <> 'fixed' then
    return new;
  end if;
  if private.is_whole_unit_currency(cur) and amount <> trunc(amount) then
    raise exception '% amounts are whole units: % has cents', cur, amount
      using errcode = 'CKM02',
            detail = jsonb_build_object('table', tg_table_name, 'currency', cur, 'amount', amount,
                                        'suggestion', round(amount))::text,
            hint = 'MercadoPago rejects CLP and COP amounts with decimals; round the price.';
  end if;
  return new;
end
$$;
revoke execute on function private.check_whole_unit_price() from public, anon, authenticated;
comment on function private.check_whole_unit_price() is
  'Trigger: a variant price, or a fixed coupon value, in a whole-unit currency (CLP, COP) has no cents. Error CKM02 with detail {table, currency, amount, suggestion}.';

-- `of price, currency`: the hot paths (reserved counter, stock) never fire it.
create trigger variants_whole_unit_price
  before insert or update of price, currency on public.variants
  for each row execute function private.check_whole_unit_price();
create trigger coupons_whole_unit_value
  before insert or update of value, currency, kind on public.coupons
  for each row execute function private.check_whole_unit_price();
