-- private becomes private for anon (issue 15). anon's one routine,
-- public.get_catalog() (security invoker), showed each variant's available
-- stock through private.available_stock, so anon held usage on schema private
-- and execute on that function. Now what anon may compute beyond the catalog
-- tables lives in a schema of its own, storefront: not exposed through the
-- Data API, holding only security definer functions the public RPC calls
-- (today one). anon loses usage on private altogether; authenticated keeps
-- it (the cart routines and triggers it runs as invoker live there).

create schema if not exists storefront;
comment on schema storefront is
  'Not exposed through the Data API. Security definer functions the shopper RPC in public (security invoker) calls to show what the shopper''s own privileges cannot read: the stock available. anon reaches nothing in private.';
revoke all on schema storefront from public;
grant usage on schema storefront to anon, authenticated, service_role;

create function storefront.available_stock(p_variant_id uuid)
returns integer
language sql
stable
security definer
set search_path = ''
as $$
  select private.available_stock(p_variant_id)
$$;
comment on function storefront.available_stock(uuid) is
  'Units of a variant that can still be sold (private.available_stock, for the catalog): security definer, so anon needs nothing in private. NULL for an unknown variant.';
grant execute on function storefront.available_stock(uuid) to anon, authenticated, service_role;

create or replace function public.get_catalog()
returns jsonb
language sql
stable
set search_path = ''
as $$
  select coalesce(jsonb_agg(p.product order by p.title), '[]'::jsonb)
  from (
    select pr.title, jsonb_build_object(
      'id', pr.id,
      'slug', pr.slug,
      'title', pr.title,
      'description', pr.description,
      'image_url', pr.image_url,
      'variants', coalesce((
        select jsonb_agg(jsonb_build_object(
          'id', v.id,
          'sku', v.sku,
          'title', v.title,
          'attributes', v.attributes,
          'price', v.price,
          'currency', v.currency,
          'available', greatest(storefront.available_stock(v.id), 0)
        ) order by v.position, v.sku)
        from public.variants v
        where v.product_id = pr.id and v.active
      ), '[]'::jsonb)
    ) as product
    from public.products pr
    where pr.active
  ) p
$$;

revoke execute on function private.available_stock(uuid) from anon;
revoke usage on schema private from anon;
comment on function private.available_stock(uuid) is
  'Units of a variant that can still be sold: stock on hand minus unexpired reservations (an expired reservation is free at once, cron or not). NULL for an unknown variant. Read-only, security definer. Executed by authenticated (the cart routines), service_role (checkout) and storefront.available_stock (the catalog); not by anon.';
