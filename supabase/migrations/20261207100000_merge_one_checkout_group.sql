-- A merged cart could be paid twice (issue 20). An anonymous shopper opens
-- checkout S_A, then logs in: the merge cancels S_A and moves its lines to
-- the account X. X checks out and pays; then the old MercadoPago tab pays
-- S_A, whose preference MercadoPago still accepts until reconcile expires it.
-- S_A kept its own checkout_group, so X's checkout was never linked to it:
-- two orders, no refund, and checkout.audit() saw nothing.
--
-- One checkout group per cart across a merge:
--
--   * the merge joins the group of the checkout it cancels to the account's
--     open group (the group of the account's checkout in progress, else of
--     an earlier merge still without an order), and records it in
--     checkout.cart_merges.checkout_group;
--   * every checkout of the account joins that group until one of its
--     sessions becomes an order (trigger order_sessions_join_merged_group,
--     whoever inserts the session);
--   * so a payment for any session that held those lines is judged against
--     the account's checkouts by the rule that already exists
--     (private.settle_approved): one order, the other payments refunded as
--     superseded, or the old tab taking over a newer unpaid checkout;
--   * checkout.audit() reports two_orders_one_merged_cart: an order from a
--     checkout a merge cancelled, and another order from a checkout of the
--     account open at the merge or begun after it, before that order. It
--     reads the event log, not the groups, so it also sees a database where
--     the groups were never joined.
--
-- merge-cart requires a live Auth session (issue 20): after the anonymous
-- user signs out (POST /auth/v1/logout deletes its auth.sessions row) its
-- access token stays valid until it expires, and merge-cart moved the cart
-- and orders anyway. checkout.merge_carts now takes the token's session_id
-- claim and refuses (CKU03, the function answers 401) unless that session
-- exists, belongs to the anonymous user and has not timed out; a deleted
-- account is CKU03 too.

-- ---------------------------------------------------------------------------
-- Tables

alter table checkout.cart_merges add column checkout_group uuid;
comment on column checkout.cart_merges.checkout_group is
  'The account''s checkout group that the checkout this merge cancelled joined; the account''s next checkouts join it until one of its sessions becomes an order (private.merged_checkout_group). NULL when the anonymous user had no checkout in progress.';

-- ---------------------------------------------------------------------------
-- Routines

create function private.merged_checkout_group(p_account_id uuid)
returns uuid
language plpgsql
stable
set search_path = ''
as $$
begin
  return (
    select m.checkout_group
      from checkout.cart_merges m
     where m.account_id = p_account_id
       and m.checkout_group is not null
       and not exists (select 1 from public.order_sessions g join public.orders o on o.order_session_id = g.id
                        where g.checkout_group = m.checkout_group)
     order by m.merged_at desc
     limit 1);
end
$$;
revoke execute on function private.merged_checkout_group(uuid) from public, anon, authenticated;
comment on function private.merged_checkout_group(uuid) is
  'The checkout group a checkout of this account joins because a merge cancelled an anonymous checkout whose MercadoPago preference may still be paid: the latest merge''s group that has no order yet; NULL when there is none.';
grant execute on function private.merged_checkout_group(uuid) to service_role;

create function private.join_merged_checkout_group()
returns trigger
language plpgsql
set search_path = ''
as $$
declare
  merged uuid;
begin
  -- Only accounts that merged a checkout in progress have a row; for
  -- everyone else this is one index probe that finds nothing.
  merged := private.merged_checkout_group(new.session_id);
  if merged is not null then
    new.checkout_group := merged;
  end if;
  return new;
end
$$;
revoke execute on function private.join_merged_checkout_group() from public, anon, authenticated;
comment on function private.join_merged_checkout_group() is
  'Trigger (before insert on order_sessions): a checkout of an account that merged an anonymous checkout in progress joins that checkout''s group (private.merged_checkout_group), so that at most one of them becomes an order.';

create trigger order_sessions_join_merged_group
  before insert on public.order_sessions
  for each row execute function private.join_merged_checkout_group();

drop function checkout.merge_carts(uuid, uuid);

create function checkout.merge_carts(p_anonymous_id uuid, p_account_id uuid, p_anonymous_session_id uuid)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  strategy text := (private.current_settings()).cart_merge_strategy;
  done checkout.cart_merges;
  claimed boolean;
  first_id uuid;
  second_id uuid;
  active_id uuid;
  cancelled_ids uuid[] := '{}';
  cancelled_token text;
  open_groups uuid[];
  target uuid;
  lines jsonb;
  moved_sessions integer;
  moved_orders integer;
  v_report jsonb;
begin
  if p_anonymous_id is null or p_account_id is null then
    raise exception 'both users are required' using errcode = 'CKI01';
  end if;
  -- 0. The anonymous token must belong to a live Auth session: signed out
  --    (the row deleted), timed out, or its user deleted, nothing moves.
  --    Checked before anything, a replay included.
  if p_anonymous_session_id is null or not exists (
       select 1 from auth.sessions s
        where s.id = p_anonymous_session_id and s.user_id = p_anonymous_id
          and (s.not_after is null or s.not_after > now())) then
    raise exception 'the anonymous user''s Auth session is signed out or unknown' using errcode = 'CKU03',
      detail = jsonb_build_object('anonymous_id', p_anonymous_id, 'session_id', p_anonymous_session_id)::text,
      hint = 'Merge with a fresh access token of an anonymous user who is still signed in.';
  end if;
  if not exists (select 1 from auth.users u where u.id = p_account_id) then
    raise exception 'the account % no longer exists', p_account_id using errcode = 'CKU03',
      detail = jsonb_build_object('account_id', p_account_id)::text, hint = 'Sign in again.';
  end if;
  -- A retry after the merge returns its report.
  select * into done from checkout.cart_merges m where m.anonymous_id = p_anonymous_id;
  if found then
    return private.merge_replay(done, p_account_id);
  end if;
  if p_anonymous_id = p_account_id then
    raise exception 'cannot merge a user into itself' using errcode = 'CKU01',
      detail = jsonb_build_object('user_id', p_account_id)::text;
  end if;
  if not exists (select 1 from auth.users u where u.id = p_anonymous_id and u.is_anonymous) then
    raise exception 'user % is not an anonymous user', p_anonymous_id using errcode = 'CKU01',
      detail = jsonb_build_object('anonymous_id', p_anonymous_id)::text;
  end if;
  if not exists (select 1 from auth.users u where u.id = p_account_id and not u.is_anonymous) then
    raise exception 'user % is not a permanent account', p_account_id using errcode = 'CKU01',
      detail = jsonb_build_object('account_id', p_account_id)::text;
  end if;

  -- 1. Once per anonymous user. The primary key serialises concurrent
  --    merges of the same anonymous user: the second waits for the first
  --    and then returns its report.
  insert into checkout.cart_merges (anonymous_id, account_id, strategy)
  values (p_anonymous_id, p_account_id, strategy)
  on conflict (anonymous_id) do nothing;
  get diagnostics claimed = row_count;
  if not claimed then
    select * into done from checkout.cart_merges m where m.anonymous_id = p_anonymous_id;
    return private.merge_replay(done, p_account_id);
  end if;

  -- 2. Both carts, locked in id order (created if missing so that there is a
  --    row to lock), then, as everywhere, order sessions before variants.
  --    Payments lock the cart of their session's owner first, so with both
  --    carts locked no payment of either shopper is being applied.
  first_id := least(p_anonymous_id, p_account_id);
  second_id := greatest(p_anonymous_id, p_account_id);
  insert into public.carts (session_id) values (first_id) on conflict (session_id) do update set updated_at = now();
  insert into public.carts (session_id) values (second_id) on conflict (session_id) do update set updated_at = now();

  -- 3. The anonymous user's checkout in progress is cancelled and its stock
  --    released, through the one release routine. (checkout.audit() finds
  --    these sessions by this reason.)
  for active_id in
    select id from public.order_sessions where session_id = p_anonymous_id and status = 'active' order by id
  loop
    select (checkout.release_session(active_id, 'merged into an account') ->> 'token') into cancelled_token;
    cancelled_ids := cancelled_ids || active_id;
  end loop;

  -- 3b. One checkout group per cart. The cancelled checkout's preference can
  --     still be paid at MercadoPago, and its lines are now the account's:
  --     its group (unless it already has an order) joins the account's open
  --     group (its checkout in progress, else an earlier merge's), or
  --     becomes it, and the account's next checkouts join it
  --     (order_sessions_join_merged_group). Whichever session is paid first
  --     becomes the order; a payment for another is refunded as superseded
  --     (private.settle_approved).
  select coalesce(array_agg(distinct s.checkout_group), '{}') into open_groups
    from public.order_sessions s
   where s.id = any (cancelled_ids)
     and not exists (select 1 from public.order_sessions g join public.orders o on o.order_session_id = g.id
                      where g.checkout_group = s.checkout_group);
  if cardinality(open_groups) > 0 then
    select s.checkout_group into target
      from public.order_sessions s
     where s.session_id = p_account_id and s.status = 'active'
       and not exists (select 1 from public.order_sessions g join public.orders o on o.order_session_id = g.id
                        where g.checkout_group = s.checkout_group);
    target := coalesce(target, private.merged_checkout_group(p_account_id), open_groups[1]);
    update public.order_sessions set checkout_group = target
     where checkout_group = any (open_groups) and checkout_group <> target;
    update checkout.cart_merges m set checkout_group = target where m.anonymous_id = p_anonymous_id;
  end if;

  -- 4. The lines.
  lines := private.merge_cart_lines(p_anonymous_id, p_account_id, strategy);
  delete from public.carts where session_id = p_anonymous_id;

  -- 5. Its order sessions and orders follow it (get_my_orders shows them).
  perform set_config('checkout.owner_move', p_anonymous_id::text || '>' || p_account_id::text, true);
  update public.order_sessions set session_id = p_account_id, updated_at = now() where session_id = p_anonymous_id;
  get diagnostics moved_sessions = row_count;
  update public.orders set session_id = p_account_id, updated_at = now() where session_id = p_anonymous_id;
  get diagnostics moved_orders = row_count;
  perform set_config('checkout.owner_move', '', true);

  v_report := jsonb_build_object(
    'anonymous_id', p_anonymous_id,
    'account_id', p_account_id,
    'strategy', strategy,
    'changes', lines -> 'changes',
    'lines_moved', (lines ->> 'moved')::integer,
    'cancelled_order_session', cancelled_token,
    'order_sessions_moved', moved_sessions,
    'orders_moved', moved_orders
  );
  update checkout.cart_merges m set report = v_report where m.anonymous_id = p_anonymous_id;
  return v_report || jsonb_build_object('already_merged', false, 'cart', private.cart_json(p_account_id));
end
$$;
revoke execute on function checkout.merge_carts(uuid, uuid, uuid) from public, anon, authenticated;
comment on function checkout.merge_carts(uuid, uuid, uuid) is
  'Service role only (the merge-cart Edge Function, after verifying both tokens; p_anonymous_session_id is the anonymous token''s session_id claim, which must name a live auth.sessions row of that user). Moves an anonymous user''s cart into a permanent account''s by the store''s cart_merge_strategy, cancels the anonymous checkout in progress (its stock released; its checkout group joins the account''s, so that one order at most comes of the merged cart), and moves its order sessions and orders to the account; atomic and idempotent (a retry or a concurrent merge returns the same report with already_merged true). Returns {strategy, changes: [lines capped or dropped: variant_id, sku, title, from, requested, quantity, reason], lines_moved, cancelled_order_session, order_sessions_moved, orders_moved, already_merged, cart}. Errors: CKI01 bad input, CKU03 the anonymous Auth session is signed out or unknown (or the account is gone), CKU01 not an anonymous user and a distinct permanent account, CKU02 already merged into another account.';
grant execute on function checkout.merge_carts(uuid, uuid, uuid) to service_role;

create or replace function checkout.audit()
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce(jsonb_agg(v order by v ->> 'invariant', v ->> 'subject'), '[]'::jsonb)
    from (
      -- variants.reserved is the sum of its reservation rows
      select jsonb_build_object('invariant', 'reserved_counter_mismatch', 'subject', v.sku,
                                'detail', jsonb_build_object('variant_id', v.id, 'reserved', v.reserved, 'reservation_rows', coalesce(r.units, 0))) as v
        from public.variants v
        left join (select variant_id, sum(quantity)::integer as units from checkout.stock_reservations group by variant_id) r on r.variant_id = v.id
       where v.reserved <> coalesce(r.units, 0)
      union all
      -- no stock below zero, and no more units promised than are on hand
      select jsonb_build_object('invariant', 'stock_below_zero', 'subject', v.sku,
                                'detail', jsonb_build_object('variant_id', v.id, 'stock_on_hand', v.stock_on_hand,
                                                             'unexpired_reservations', coalesce(r.units, 0)))
        from public.variants v
        left join (select variant_id, sum(quantity)::integer as units from checkout.stock_reservations
                    where expires_at > now() group by variant_id) r on r.variant_id = v.id
       where v.stock_on_hand < 0 or v.reserved < 0 or v.stock_on_hand < coalesce(r.units, 0)
      union all
      -- every approved payment has an order or a refund (those matching no
      -- session included: money that arrived for nothing we know)
      select jsonb_build_object('invariant', 'approved_payment_unsettled', 'subject', pe.payment_id::text,
                                'detail', jsonb_build_object('payment_id', pe.payment_id, 'order_session_id', pe.order_session_id,
                                                             'external_reference', pe.external_reference, 'amount', pe.transaction_amount,
                                                             'currency', pe.currency, 'received_at', pe.received_at,
                                                             'matches_no_session', pe.order_session_id is null))
        from checkout.payment_events pe
       where pe.status = 'approved'
         and not exists (select 1 from public.orders o where o.payment_id = pe.payment_id)
         and not exists (select 1 from checkout.payment_refunds r where r.payment_id = pe.payment_id)
      union all
      -- every order has an approved payment
      select jsonb_build_object('invariant', 'order_without_approved_payment', 'subject', o.order_number,
                                'detail', jsonb_build_object('order_id', o.id, 'payment_id', o.payment_id))
        from public.orders o
       where not exists (select 1 from checkout.payment_events pe where pe.payment_id = o.payment_id and pe.status = 'approved')
      union all
      -- one order per cart checkout (the sessions of a checkout group)
      select jsonb_build_object('invariant', 'two_orders_one_checkout', 'subject', s.checkout_group::text,
                                'detail', jsonb_build_object('orders', jsonb_agg(o.order_number order by o.order_number)))
        from public.orders o
        join public.order_sessions s on s.id = o.order_session_id
       group by s.checkout_group
      having count(*) > 1
      union all
      -- one order per merged cart: a checkout that a cart merge cancelled
      -- became an order (so it was paid late), and so did another checkout
      -- of the account that was open at the merge or begun after it, no
      -- later than that order. Read from the event log and the merges, not
      -- from the checkout groups. (The merge is the account's latest one
      -- that began before the cancellation was logged.)
      select jsonb_build_object('invariant', 'two_orders_one_merged_cart', 'subject', oc.order_number,
                                'detail', jsonb_build_object('account_id', c.session_id, 'merged_checkout', c.id,
                                                             'merged_at', mg.merged_at,
                                                             'orders', to_jsonb(array[oc.order_number] || array_agg(o2.order_number order by o2.order_number))))
        from public.orders oc
        join public.order_sessions c on c.id = oc.order_session_id
        join lateral (select max(m.merged_at) as merged_at
                        from checkout.cart_merges m
                       where m.account_id = c.session_id
                         and m.merged_at <= (select min(ev.created_at) from checkout.order_session_events ev
                                              where ev.order_session_id = c.id and ev.kind = 'cancelled'
                                                and ev.detail ->> 'reason' = 'merged into an account')) mg on mg.merged_at is not null
        join public.order_sessions n on n.session_id = c.session_id and n.id <> c.id and n.created_at <= oc.created_at
                                    and coalesce(n.closed_at, 'infinity'::timestamptz) >= mg.merged_at
        join public.orders o2 on o2.order_session_id = n.id
       where oc.paid_late
       group by oc.order_number, c.session_id, c.id, mg.merged_at
      union all
      -- a session marked paid has its order; closed sessions hold no stock
      select jsonb_build_object('invariant', 'paid_session_without_order', 'subject', s.id::text, 'detail', jsonb_build_object('token', s.token))
        from public.order_sessions s
       where s.status = 'paid' and not exists (select 1 from public.orders o where o.order_session_id = s.id)
      union all
      select jsonb_build_object('invariant', 'closed_session_holds_stock', 'subject', s.id::text,
                                'detail', jsonb_build_object('status', s.status))
        from public.order_sessions s
       where s.status <> 'active' and exists (select 1 from checkout.stock_reservations r where r.order_session_id = s.id)
      union all
      -- refunds owed are made within the hour
      select jsonb_build_object('invariant', 'refund_owed_over_1h', 'subject', r.payment_id::text,
                                'detail', jsonb_build_object('payment_id', r.payment_id, 'order_session_id', r.order_session_id,
                                                             'reason', r.reason, 'amount', r.amount, 'currency', r.currency,
                                                             'owed_since', r.created_at, 'attempts', r.attempts, 'last_error', r.last_error))
        from checkout.payment_refunds r
       where r.status = 'owed' and r.created_at < now() - interval '1 hour'
    ) x(v)
$$;
comment on function checkout.audit() is
  'Service role only (and GET /order-sessions-admin/audit). Every violation of the money and stock invariants, as [{invariant, subject, detail}]; empty when all hold: reserved_counter_mismatch, stock_below_zero (also fewer units on hand than unexpired reservations), approved_payment_unsettled (no order and no refund; matches_no_session for money that arrived for nothing we know), order_without_approved_payment, two_orders_one_checkout, two_orders_one_merged_cart (an order from a checkout a cart merge cancelled, and another from a checkout of the account open at the merge or begun after it, before that order), paid_session_without_order, closed_session_holds_stock, refund_owed_over_1h.';
