-- The cap on unpaid expiries counts them through private.unpaid_expiries,
-- the one statement of the rule, instead of a copy of its conditions in
-- private.checkout_fair_hold's read (20261208093000); the renewal reads the
-- shopper's replaced holds on its own. Behaviour unchanged.

create or replace function private.checkout_fair_hold(
  p_session_id uuid,
  p_lines jsonb,
  p_item_count integer,
  p_expires_at timestamptz,
  cfg private.settings
)
returns timestamptz
language plpgsql set search_path = ''
as $$
declare
  over jsonb;
  prev_expires timestamptz;
  expiries timestamptz[];
begin
  -- 1. Caps on what one checkout holds (the shopper has at most one active
  --    session, so these are per shopper).
  select jsonb_agg(jsonb_build_object('variant_id', x.variant_id, 'sku', x.sku, 'requested', x.quantity) order by x.sku)
    into over
    from jsonb_to_recordset(p_lines) as x(variant_id uuid, sku text, quantity integer)
   where x.quantity > cfg.max_units_per_variant;
  if over is not null then
    raise exception 'at most % units of one product per shopper: %', cfg.max_units_per_variant, (
      select string_agg(format('%s (requested %s)', e ->> 'sku', e ->> 'requested'), ', ') from jsonb_array_elements(over) e)
      using errcode = 'CKH01', detail = jsonb_build_object('max', cfg.max_units_per_variant, 'lines', over)::text;
  end if;
  if p_item_count > cfg.max_units_per_checkout then
    raise exception 'at most % units per checkout, % requested', cfg.max_units_per_checkout, p_item_count
      using errcode = 'CKH02', detail = jsonb_build_object('max', cfg.max_units_per_checkout, 'requested', p_item_count)::text;
  end if;

  -- 2. Expired unpaid within the window (private.unpaid_expiries), after the
  --    session being replaced was cancelled.
  select array_agg(u.expired_at order by u.expired_at desc)
    into expiries
    from private.unpaid_expiries(p_session_id, now() - cfg.unpaid_expiry_window) u;
  -- 3. Renewal: a replaced hold still running (a session cancelled, by a new
  --    checkout or a release, before its expiry) keeps its expiry, unless
  --    the shopper has paid since.
  select max(s.expires_at)
    into prev_expires
    from public.order_sessions s
   where s.session_id = p_session_id and s.status = 'cancelled' and s.expires_at > now()
     and s.created_at > coalesce((select max(p.created_at) from public.order_sessions p
                                   where p.session_id = p_session_id and p.status in ('paid', 'refund_owed', 'refunded')),
                                 '-infinity');
  if coalesce(cardinality(expiries), 0) >= cfg.max_unpaid_expiries then
    raise exception 'too many reservations expired unpaid (% in %); try again after %',
      cardinality(expiries), cfg.unpaid_expiry_window, expiries[cfg.max_unpaid_expiries] + cfg.unpaid_expiry_window
      using errcode = 'CKH03',
            detail = jsonb_build_object(
              'expired_unpaid', cardinality(expiries),
              'max', cfg.max_unpaid_expiries,
              'window_seconds', extract(epoch from cfg.unpaid_expiry_window)::integer,
              'retry_after', expiries[cfg.max_unpaid_expiries] + cfg.unpaid_expiry_window)::text;
  end if;
  return least(p_expires_at, prev_expires);
end
$$;
comment on function private.unpaid_expiries(uuid, timestamptz) is
  'The expiry times of a shopper''s order sessions that expired unpaid since p_since, newest first. Used by private.checkout_fair_hold (the cap on unpaid expiries) and checkout.top_holders.';
