-- Issue 23, seven countries: the store's country (private.settings.site_id,
-- its currency generated from it, the emails' locale), read by the Edge
-- Functions through checkout.store_country(); a checkout of a cart priced in
-- another currency is refused (CKM03). Declared in 00_foundation.sql and
-- 05_checkout.sql.

alter table private.settings
  add column site_id text not null default 'MLA'
    check (site_id in ('MLA', 'MLB', 'MLM', 'MLC', 'MCO', 'MPE', 'MLU')),
  add column currency text not null generated always as (
    case site_id when 'MLA' then 'ARS' when 'MLB' then 'BRL' when 'MLM' then 'MXN' when 'MLC' then 'CLP'
                 when 'MCO' then 'COP' when 'MPE' then 'PEN' when 'MLU' then 'UYU' end
  ) stored,
  add column locale text not null default 'es-AR'
    check (locale in ('es-AR', 'pt-BR', 'es-MX', 'es-CL', 'es-CO', 'es-PE', 'es-UY'));
comment on column private.settings.site_id is
  'The store''s country: the MercadoPago site of its account (MLA Argentina, MLB Brazil, MLM Mexico, MLC Chile, MCO Colombia, MPE Peru, MLU Uruguay). It decides the currency and the payer''s identification types (edge/_shared/country.ts); the access token must be of an account of this site.';
comment on column private.settings.currency is
  'The one currency the store sells in, its site''s (generated from site_id): a checkout of a cart priced in another is refused (CKM03).';
comment on column private.settings.locale is
  'The locale of the emails (texts and Intl formatting of money and dates): es-AR, pt-BR, es-MX, or es-CL, es-CO, es-PE, es-UY (formatted in their own locale, texts from the nearest catalog).';


create function checkout.store_country()
returns jsonb
language sql stable security definer set search_path = ''
as $$
  select jsonb_build_object('site_id', s.site_id, 'currency', s.currency, 'locale', s.locale)
    from private.settings s
   where s.id
$$;
comment on function checkout.store_country() is
  'The store''s country as the Edge Functions need it: {site_id, currency, locale} (create-preference checks the payer''s identification type against it; the emails use its locale). service_role only.';
grant execute on function checkout.store_country() to service_role;

create or replace function private.checkout_snapshot(
  p_session_id uuid,
  p_freed uuid[],
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
  store_currency text := (private.current_settings()).currency;
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
comment on function private.checkout_snapshot(uuid, uuid[]) is
  'begin_checkout, step 2: the shopper''s cart lines summed per variant at the prices read now (lines [{variant_id, sku, title, unit_price, quantity, line_total}] by sku, variant_ids by id, currency, subtotal, item_count). CKC01 empty cart, CKM01 mixed currencies, CKM03 a currency other than the store''s (private.settings.currency), CKS01 (private.raise_not_enough_stock) when a line cannot be had now, read without a lock; p_freed''s units (the sessions being replaced) count as free.';
