-- Accounts and merge: the cart follows the shopper. Sign-up needs nothing
-- here: converting an anonymous user keeps its id. When a shopper with an
-- anonymous cart logs in to an existing account (Supabase replaces the
-- anonymous user by the account's), checkout.merge_carts moves what the
-- anonymous user had into the account: cart lines (by the store's
-- cart_merge_strategy), order sessions and orders. The Edge Function
-- merge-cart proves both identities (the account's JWT and a fresh access
-- token of the anonymous user) and calls it as service_role.
--
-- The merge requires the anonymous user's live Auth session: after it signs
-- out (POST /auth/v1/logout deletes its auth.sessions row) its access token
-- stays valid until it expires, so checkout.merge_carts takes the token's
-- session_id claim and refuses (CKU03, the function answers 401) unless that
-- session exists, belongs to the anonymous user and has not timed out; a
-- deleted account is CKU03 too.
--
-- Order sessions and orders change owner only here: their transition
-- triggers refuse a new session_id except under the transaction-local marker
-- checkout.owner_move naming exactly this move (04_order_sessions.sql,
-- 06_payments_and_orders.sql).
--
-- One checkout group per cart across a merge, so that a merged cart is never
-- paid twice (an anonymous checkout the merge cancelled stays payable in the
-- old MercadoPago tab until reconcile expires its preference):
--   * the merge joins the group of the checkout it cancels to the account's
--     open group (the group of the account's checkout in progress, else of an
--     earlier merge still without an order), and records it in
--     cart_merges.checkout_group;
--   * every checkout of the account joins that group until one of its
--     sessions becomes an order (checkout.begin_checkout, the only writer
--     of order sessions, asks private.merged_checkout_group);
--   * so a payment for any session that held those lines is judged against
--     the account's checkouts by the rule that already exists
--     (private.settle_approved): one order, the other payments refunded as
--     superseded, or the old tab taking over a newer unpaid checkout;
--   * checkout.audit() reports two_orders_one_merged_cart from the event log,
--     not the groups, so it also sees a database where they were never joined.

-- ---------------------------------------------------------------------------
-- Tables

create table checkout.cart_merges (
  anonymous_id uuid primary key,
  account_id uuid not null,
  strategy text not null,
  report jsonb,
  merged_at timestamptz not null default now(),
  checkout_group uuid,
  constraint cart_merges_two_users check (anonymous_id <> account_id)
);
comment on table checkout.cart_merges is
  'One row per anonymous user merged into an account, with the report the merge returned: what makes a retry, or a concurrent second merge, return the same report and change nothing. Service role only.';
comment on column checkout.cart_merges.checkout_group is
  'The account''s checkout group that the checkout this merge cancelled joined; the account''s next checkouts join it until one of its sessions becomes an order (private.merged_checkout_group). NULL when the anonymous user had no checkout in progress.';

create index cart_merges_account_idx on checkout.cart_merges (account_id);

-- No policy: only the service role (which bypasses RLS) and the definer
-- routine below use it.
alter table checkout.cart_merges enable row level security;
grant select on checkout.cart_merges to service_role;

-- ---------------------------------------------------------------------------
-- Routines

create function private.merged_checkout_group(p_account_id uuid)
returns uuid
language plpgsql stable set search_path = ''
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
comment on function private.merged_checkout_group(uuid) is
  'The checkout group a checkout of this account joins because a merge cancelled an anonymous checkout whose MercadoPago preference may still be paid: the latest merge''s group that has no order yet; NULL when there is none.';
grant execute on function private.merged_checkout_group(uuid) to service_role;

create function private.merge_cart_lines(p_anonymous_id uuid, p_account_id uuid, p_strategy text)
returns jsonb
language plpgsql set search_path = ''
as $$
declare
  cfg private.settings := private.current_settings();
  -- A cart line's ceiling: max_line_quantity, and the fair-stock cap on what
  -- one shopper may hold of a product (max_units_per_variant).
  max_qty integer := least(cfg.max_line_quantity, cfg.max_units_per_variant);
  account_has_lines boolean;
  anonymous_has_lines boolean;
  account_currency text;
  changes jsonb := '[]'::jsonb;
  moved integer := 0;
  l record;
  room integer;
  take integer;
  reason text;
begin
  account_has_lines := exists (select 1 from public.cart_items where session_id = p_account_id);
  anonymous_has_lines := exists (select 1 from public.cart_items where session_id = p_anonymous_id);

  if p_strategy = 'keep_account' and account_has_lines then
    -- The account's cart wins; every anonymous line is dropped.
    select coalesce(jsonb_agg(jsonb_build_object(
             'variant_id', ci.variant_id, 'sku', v.sku, 'title', p.title || ' - ' || v.title, 'from', 'anonymous',
             'requested', ci.quantity, 'quantity', 0, 'reason', 'kept_account_cart') order by v.sku), '[]'::jsonb)
      into changes
      from public.cart_items ci
      join public.variants v on v.id = ci.variant_id
      join public.products p on p.id = v.product_id
     where ci.session_id = p_anonymous_id;
    return jsonb_build_object('changes', changes, 'moved', 0);
  end if;

  if p_strategy = 'replace' and anonymous_has_lines and account_has_lines then
    -- The account's lines give way to the anonymous ones.
    select coalesce(jsonb_agg(jsonb_build_object(
             'variant_id', ci.variant_id, 'sku', v.sku, 'title', p.title || ' - ' || v.title, 'from', 'account',
             'requested', ci.quantity, 'quantity', 0, 'reason', 'replaced') order by v.sku), '[]'::jsonb)
      into changes
      from public.cart_items ci
      join public.variants v on v.id = ci.variant_id
      join public.products p on p.id = v.product_id
     where ci.session_id = p_account_id
       and not exists (select 1 from public.cart_items a where a.session_id = p_anonymous_id and a.variant_id = ci.variant_id);
    delete from public.cart_items where session_id = p_account_id;
  end if;

  -- merge (and keep_account into an empty cart, replace after clearing):
  -- each anonymous line adds what fits, in a fixed order.
  for l in
    select ci.variant_id, ci.quantity, v.sku, p.title || ' - ' || v.title as title, v.currency,
           v.active and p.active as for_sale, greatest(private.available_stock(v.id), 0) as available,
           coalesce(acc.quantity, 0) as account_quantity
      from public.cart_items ci
      join public.variants v on v.id = ci.variant_id
      join public.products p on p.id = v.product_id
      left join public.cart_items acc on acc.session_id = p_account_id and acc.variant_id = ci.variant_id
     where ci.session_id = p_anonymous_id
     order by ci.added_at, v.sku
  loop
    select min(v.currency) into account_currency
      from public.cart_items ci join public.variants v on v.id = ci.variant_id
     where ci.session_id = p_account_id;
    reason := null;
    take := 0;
    if not l.for_sale then
      reason := 'not_for_sale';
    elsif account_currency is not null and account_currency <> l.currency then
      reason := 'currency_mismatch';
    else
      room := greatest(least(max_qty, l.available) - l.account_quantity, 0);
      take := least(l.quantity, room);
      if take < l.quantity then
        reason := case when l.account_quantity + l.quantity > max_qty and max_qty <= l.available
                       then 'max_line_quantity' else 'insufficient_stock' end;
      end if;
      if take > 0 then
        insert into public.cart_items (session_id, variant_id, quantity)
        values (p_account_id, l.variant_id, take)
        on conflict (session_id, variant_id) do update set quantity = public.cart_items.quantity + excluded.quantity;
        moved := moved + 1;
      end if;
    end if;
    if reason is not null then
      changes := changes || jsonb_build_object(
        'variant_id', l.variant_id, 'sku', l.sku, 'title', l.title, 'from', 'anonymous',
        'requested', l.quantity, 'quantity', take, 'reason', reason,
        'available', l.available, 'max_line_quantity', max_qty, 'account_quantity', l.account_quantity);
    end if;
  end loop;
  return jsonb_build_object('changes', changes, 'moved', moved);
end
$$;
comment on function private.merge_cart_lines(uuid, uuid, text) is
  'Moves the anonymous cart''s lines into the account''s by a strategy (merge, keep_account, replace), each line capped at what is available and at the per-line ceiling (least of max_line_quantity and max_units_per_variant, reported as max_line_quantity); returns {changes: [every line capped or dropped, with its reason], moved}. Called by checkout.merge_carts, which holds both carts'' locks.';

create function private.merge_replay(p_done checkout.cart_merges, p_account_id uuid)
returns jsonb
language plpgsql stable set search_path = ''
as $$
begin
  if p_done.account_id <> p_account_id then
    raise exception 'the anonymous user % was already merged into another account', p_done.anonymous_id
      using errcode = 'CKU02', detail = jsonb_build_object('anonymous_id', p_done.anonymous_id)::text;
  end if;
  return p_done.report || jsonb_build_object('already_merged', true, 'cart', private.cart_json(p_account_id));
end
$$;
comment on function private.merge_replay(checkout.cart_merges, uuid) is
  'The answer to a merge that already happened: its report and the account''s cart now, or CKU02 when it went to another account. Called by checkout.merge_carts.';

create function checkout.merge_carts(
  p_anonymous_id uuid,
  p_account_id uuid,
  p_anonymous_session_id uuid
)
returns jsonb
language plpgsql security definer set search_path = ''
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
comment on function checkout.merge_carts(uuid, uuid, uuid) is
  'Service role only (the merge-cart Edge Function, after verifying both tokens; p_anonymous_session_id is the anonymous token''s session_id claim, which must name a live auth.sessions row of that user). Moves an anonymous user''s cart into a permanent account''s by the store''s cart_merge_strategy, cancels the anonymous checkout in progress (its stock released; its checkout group joins the account''s, so that one order at most comes of the merged cart), and moves its order sessions and orders to the account; atomic and idempotent (a retry or a concurrent merge returns the same report with already_merged true). Returns {strategy, changes: [lines capped or dropped: variant_id, sku, title, from, requested, quantity, reason], lines_moved, cancelled_order_session, order_sessions_moved, orders_moved, already_merged, cart}. Errors: CKI01 bad input, CKU03 the anonymous Auth session is signed out or unknown (or the account is gone), CKU01 not an anonymous user and a distinct permanent account, CKU02 already merged into another account.';
grant execute on function checkout.merge_carts(uuid, uuid, uuid) to service_role;
