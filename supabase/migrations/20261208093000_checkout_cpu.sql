-- Issue 25: PostgreSQL CPU per checkout. begin_checkout is the only writer of
-- order sessions, so the per-row work of the insert's triggers is done by
-- the routine, once, from what it already knows:
--   * the fair-stock caps (trigger private.check_fair_hold) are
--     private.checkout_fair_hold, called with the settings begin_checkout
--     read once (as is private.checkout_snapshot now);
--   * the merged account's checkout group (trigger
--     private.join_merged_checkout_group) is asked for in the insert;
--   * the cart's analytics fact (trigger analytics.record_checkout, which
--     found the cart again through a join) is stamped by its key: the cart
--     is locked, and its created_at read, by begin_checkout.
-- No coupon code, no call to private.checkout_coupon.
-- The event log gets one row per checkout ('created', with the lines and the
-- expiry that 'reserved' carried) instead of two.
-- order_sessions_reconcile_idx only holds sessions with a preference (what
-- checkout.claim_reconciliation asks for): a new session is no longer
-- written into it at insert.
-- As declared in supabase/schemas/04_order_sessions.sql, 05_checkout.sql,
-- 08_fair_stock.sql, 09_accounts_and_merge.sql and 10_analytics.sql.

drop trigger order_sessions_fair_hold on public.order_sessions;
drop function private.check_fair_hold();
drop trigger order_sessions_join_merged_group on public.order_sessions;
drop function private.join_merged_checkout_group();
drop trigger order_sessions_record_checkout on public.order_sessions;
drop function analytics.record_checkout();

drop index public.order_sessions_reconcile_idx;
create index order_sessions_reconcile_idx on public.order_sessions (next_check_at)
  where status in ('active', 'expired', 'cancelled') and preference_id is not null;

create function private.checkout_fair_hold(
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

  -- 2. and 3., from one read of the shopper's sessions (after the session
  --    being replaced was cancelled):
  --    2. expired unpaid within the window: the rule of
  --       private.unpaid_expiries (expired, or cancelled or still active
  --       after expires_at passed);
  --    3. renewal: a replaced hold still running (a session cancelled, by a
  --       new checkout or a release, before its expiry) keeps its expiry,
  --       unless the shopper has paid since.
  with mine as (
    select s.status, s.expires_at, s.closed_at, s.created_at
      from public.order_sessions s
     where s.session_id = p_session_id
  )
  select array_agg(m.expires_at order by m.expires_at desc)
           filter (where m.status in ('active', 'expired', 'cancelled')
                     and m.expires_at > now() - cfg.unpaid_expiry_window
                     and m.expires_at <= now()
                     and m.expires_at <= coalesce(m.closed_at, now())),
         max(m.expires_at)
           filter (where m.status = 'cancelled' and m.expires_at > now()
                     and m.created_at > coalesce((select max(p.created_at) from mine p where p.status in ('paid', 'refund_owed', 'refunded')),
                                                 '-infinity'))
    into expiries, prev_expires
    from mine m;
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
comment on function private.checkout_fair_hold(uuid, jsonb, integer, timestamptz, private.settings) is
  'begin_checkout''s fair-stock rules for the session it is about to write (lines, item_count, its expiry p_expires_at), with the settings it read: CKH01 over max_units_per_variant, CKH02 over max_units_per_checkout, CKH03 after max_unpaid_expiries unpaid expiries within unpaid_expiry_window. Returns the session''s expiry: p_expires_at, or the expiry of a still-running hold it replaces when sooner.';

comment on function private.unpaid_expiries(uuid, timestamptz) is
  'The expiry times of a shopper''s order sessions that expired unpaid since p_since, newest first. Used by checkout.top_holders; private.checkout_fair_hold applies the same rule within its one read of the shopper''s sessions.';

-- The snapshot takes the store's currency from the settings begin_checkout read.
drop function private.checkout_snapshot(uuid, uuid[]);
create function private.checkout_snapshot(
  p_session_id uuid,
  p_freed uuid[],
  p_store_currency text default null,
  out lines jsonb,
  out variant_ids uuid[],
  out currency text,
  out subtotal numeric,
  out item_count integer
)
language plpgsql
stable
set search_path = ''
as $$
declare
  snapshot jsonb;
  ids uuid[];
  currencies integer;
  cur text;
  v_subtotal numeric(12, 2);
  v_items integer;
  all_free boolean;
  short jsonb;
  store_currency text := coalesce(p_store_currency, (private.current_settings()).currency);
begin
  -- The lines, summed per variant, at the prices read now.
  with items as (
    select ci.variant_id, sum(ci.quantity)::integer as quantity
      from public.cart_items ci
     where ci.session_id = p_session_id
     group by ci.variant_id
  ), priced as (
    select i.variant_id, i.quantity, v.sku, p.title || ' - ' || v.title as title, v.price, v.currency,
           v.active and p.active and v.stock_on_hand - v.reserved >= i.quantity as surely_free
      from items i
      join public.variants v on v.id = i.variant_id
      join public.products p on p.id = v.product_id
  )
  select jsonb_agg(jsonb_build_object(
           'variant_id', variant_id, 'sku', sku, 'title', title, 'unit_price', price,
           'quantity', quantity, 'line_total', price * quantity) order by sku),
         array_agg(variant_id order by variant_id),
         count(distinct priced.currency), min(priced.currency), sum(price * quantity), sum(quantity), bool_and(surely_free)
    into snapshot, ids, currencies, cur, v_subtotal, v_items, all_free
    from priced;

  if ids is null then
    raise exception 'the cart is empty' using errcode = 'CKC01';
  end if;
  if currencies > 1 then
    raise exception 'the cart mixes currencies' using errcode = 'CKM01';
  end if;
  if cur <> store_currency then
    raise exception 'the cart is priced in % but the store sells in %', cur, store_currency
      using errcode = 'CKM03', detail = jsonb_build_object('currency', cur, 'store_currency', store_currency)::text;
  end if;

  -- Sold out? Read without any lock (the units of the shopper's own active
  -- session, p_freed, count as free): a shopper who cannot have the units is
  -- answered at once instead of queueing behind the buyers for the variant's
  -- lock. The check under the lock (private.checkout_reserve) is the one
  -- that counts. On hand less every reservation counted is a lower bound of
  -- what is free, so the full rule runs only when a line looks short by it.
  short := case when all_free then '[]'::jsonb else private.short_lines(snapshot, p_freed => p_freed, p_for_sale => true) end;
  if jsonb_array_length(short) > 0 then
    perform private.raise_not_enough_stock(short);
  end if;

  lines := snapshot;
  variant_ids := ids;
  currency := cur;
  subtotal := v_subtotal;
  item_count := v_items;
end
$$;
comment on function private.checkout_snapshot(uuid, uuid[], text) is
  'begin_checkout, step 2: the shopper''s cart lines summed per variant at the prices read now (lines [{variant_id, sku, title, unit_price, quantity, line_total}] by sku, variant_ids by id, currency, subtotal, item_count). CKC01 empty cart, CKM01 mixed currencies, CKM03 a currency other than the store''s (p_store_currency, the caller''s read of private.settings.currency, or read here when null), CKS01 (private.raise_not_enough_stock) when a line cannot be had now, read without a lock; p_freed''s units (the sessions being replaced) count as free.';

create or replace function checkout.begin_checkout(
  p_session_id uuid,
  p_payer jsonb,
  p_shipping_address jsonb,
  p_coupon_code text default null
)
returns jsonb
language plpgsql security definer set search_path = ''
as $$
declare
  -- The settings, read once and passed to the steps that need them.
  cfg private.settings := (select st from private.settings st where st.id);
  cart_created_at timestamptz;
  prev_id uuid;
  prev_ids uuid[];
  v_group uuid;
  snap record;
  v_coupon_id uuid;
  v_coupon_code text;
  v_discount numeric := 0;
  v_expires_at timestamptz;
  s public.order_sessions;
  v_result jsonb;
begin
  if p_session_id is null then
    raise exception 'session id is required' using errcode = 'CKI01';
  end if;
  if jsonb_typeof(p_payer) is distinct from 'object'
     or coalesce(p_payer ->> 'email', '') !~ '^[^@[:space:]]+@[^@[:space:]]+\.[^@[:space:]]+$' then
    raise exception 'payer must be an object with a valid email' using errcode = 'CKI01';
  end if;
  if jsonb_typeof(p_shipping_address) is distinct from 'object' then
    raise exception 'shipping address must be an object' using errcode = 'CKI01';
  end if;

  -- Locks, always in this order everywhere: the admission line and slots
  -- (only begin_checkout takes them), the shopper's cart, order sessions, the
  -- coupon, then variants by id. The variant locks serialise checkouts of a
  -- hot product, so everything that can be done before them is: they are
  -- taken last, by the update that checks and counts, and held only for
  -- that and the reservation rows.

  -- 1. Admission: this checkout's turn for its variants.
  perform private.checkout_admission(p_session_id, cfg.checkout_slots_per_variant);

  -- One checkout at a time per shopper: lock the cart.
  select c.created_at into cart_created_at from public.carts c where c.session_id = p_session_id for update;
  if not found then
    raise exception 'the cart is empty' using errcode = 'CKC01';
  end if;

  -- A shopper has at most one active order session: the previous one is
  -- cancelled and its stock released before this one reserves. The new
  -- session joins its checkout group (04_order_sessions.sql).
  select coalesce(array_agg(id order by id), '{}'), min(checkout_group::text)::uuid into prev_ids, v_group
    from (select id, checkout_group from public.order_sessions
           where session_id = p_session_id and status = 'active'
           order by id
             for update) prev;

  -- 2. The snapshot; "sold out" answered here, before any variant lock.
  snap := private.checkout_snapshot(p_session_id, prev_ids, cfg.currency);

  -- 3. The coupon, when a code was given.
  if nullif(btrim(p_coupon_code), '') is not null then
    select c.coupon_id, c.coupon_code, c.discount into v_coupon_id, v_coupon_code, v_discount
      from private.checkout_coupon(p_coupon_code, snap.subtotal, snap.currency, prev_ids) c;
  end if;

  -- Cancel the previous session. Its release updates its variants, so they
  -- are locked with the cart's, by id, first.
  if cardinality(prev_ids) > 0 then
    perform 1 from public.variants v
     where v.id = any (snap.variant_ids)
        or v.id in (select r.variant_id from checkout.stock_reservations r where r.order_session_id = any (prev_ids))
     order by v.id
       for update;
    foreach prev_id in array prev_ids loop
      perform private.close_order_session(prev_id, 'cancelled', 'replaced by a new checkout');
    end loop;
  end if;

  -- The fair-stock caps (CKH01-03), and the expiry: a checkout replacing a
  -- hold that is still running keeps that hold's expiry (08_fair_stock.sql).
  v_expires_at := private.checkout_fair_hold(p_session_id, snap.lines, snap.item_count, now() + cfg.reservation_ttl, cfg);

  -- The order session and its event (written before the variant locks, to
  -- hold those briefly; an error below rolls them back). begin_checkout is
  -- the only writer of order sessions, so what triggers would do per row is
  -- done here, once, from what this routine already knows: the fair-stock
  -- caps above, the checkout group (an account that merged an anonymous
  -- checkout in progress joins its group: private.merged_checkout_group,
  -- 09_accounts_and_merge.sql) and the cart's analytics fact below.
  -- The client address's key comes from checkout.begin_client_checkout
  -- (a transaction-local setting): the row is written once, with it.
  insert into public.order_sessions (
    session_id, lines, item_count, subtotal, discount, total, currency,
    coupon_id, coupon_code, payer, shipping_address, expires_at, checkout_group, client_address
  ) values (
    p_session_id, snap.lines, snap.item_count, snap.subtotal, v_discount, snap.subtotal - v_discount, snap.currency,
    v_coupon_id, v_coupon_code, p_payer, p_shipping_address, v_expires_at,
    coalesce(private.merged_checkout_group(p_session_id), v_group, gen_random_uuid()),
    nullif(current_setting('checkout.client_address', true), '')
  )
  returning * into s;
  -- One event: what was created and what it reserves.
  insert into checkout.order_session_events (order_session_id, kind, detail) values
    (s.id, 'created', jsonb_build_object(
       'total', s.total, 'currency', s.currency, 'coupon', s.coupon_code, 'replaces', to_jsonb(prev_ids),
       'lines', (select jsonb_agg(jsonb_build_object('sku', x.sku, 'quantity', x.quantity))
                   from jsonb_to_recordset(snap.lines) as x(sku text, quantity integer)),
       'expires_at', s.expires_at));
  -- The cart's first checkout stamps its analytics fact (10_analytics.sql),
  -- found by its key: the cart is locked above.
  update analytics.cart_facts f set checkout_at = now()
   where f.session_id = p_session_id and f.created_at = cart_created_at and f.checkout_at is null;

  v_result := private.order_session_json(s);

  -- 4. The reservation, last.
  perform private.checkout_reserve(s.id, snap.lines, s.expires_at);

  return v_result;
end
$$;
comment on function checkout.begin_checkout(uuid, jsonb, jsonb, text) is
  'Service role only. Turns a shopper''s cart into an order session with its stock reserved for reservation_ttl, in steps: waits its turn for each variant (private.checkout_admission: first come first served, checkout_slots_per_variant at a time; a cart that looks short does not wait), locks the cart, snapshots the lines at the prices read now and answers "sold out" before any variant lock (private.checkout_snapshot), applies the coupon (private.checkout_coupon), cancels the previous active session (the new one joins its checkout_group, or a merged account''s: private.merged_checkout_group), applies the fair-stock caps and keeps a replaced running hold''s expiry (private.checkout_fair_hold), writes the order session with one created event (its lines and expiry) and stamps the cart''s analytics fact (checkout_at), then reserves: per variant by id one conditional update that locks, checks and counts, and the reservation rows (private.checkout_reserve). The session records the client address key that checkout.begin_client_checkout passes in the transaction-local setting checkout.client_address (none when unset). Errors (nothing written): CKI01 bad input, CKC01 empty cart, CKS01 not enough stock (detail {"short": [...]}, built by private.short_lines), CKM01 mixed currencies, CKP01/02/03 coupon unknown, not applicable, used up, CKH01/02/03 over a fair-stock cap.';
comment on table analytics.cart_facts is
  'One row per cart ever created, kept after the purge deletes the cart: when it was created, got its first item, began its first checkout, was first paid, was last reminded by email, and what it still held (units, value at the prices of that moment) when it was deleted. Written by triggers (checkout_at by checkout.begin_checkout); service_role reads it.';
