/** The catalog, rendered on the server: each variant's price, stock and an "add" form (a Server Action). */
import { pageStorefront } from '../lib/session';
import { availability, money, t, variantLabel } from '../lib/format';
import { addToCart } from './actions';
import { Notice, type SearchParams } from './notice';
import { Shell } from './shell';

export default async function CatalogPage({ searchParams }: { searchParams: SearchParams }) {
  const { storefront } = await pageStorefront();
  const products = await storefront.catalog();
  return (
    <Shell>
      <h1>{t('catalog')}</h1>
      <Notice searchParams={searchParams} ok={t('added')} />
      <ul className='products' data-testid='catalog'>
        {products.map((p) => (
          <li key={p.id} className='product' data-testid={`product-${p.slug}`}>
            <h2>{p.title}</h2>
            {p.description && <p className='muted'>{p.description}</p>}
            <ul className='variants'>
              {p.variants.map((v) => (
                <li key={v.id} data-testid={`variant-${v.sku}`} data-available={v.available}>
                  <span className='variant'>{variantLabel(v.title, v.attributes)}</span>
                  <span className='price' data-testid={`price-${v.sku}`}>{money(v.price, v.currency)}</span>
                  <span className='stock' data-testid={`stock-${v.sku}`}>{availability(v.available)}</span>
                  <form action={addToCart} className='add'>
                    <input type='hidden' name='variantId' value={v.id} />
                    <input type='hidden' name='sku' value={v.sku} />
                    <input type='hidden' name='back' value='/' />
                    <input
                      name='quantity'
                      type='number'
                      min={1}
                      max={Math.max(v.available, 1)}
                      defaultValue={1}
                      aria-label={t('quantityOf', { product: `${p.title} ${variantLabel(v.title, v.attributes)}` })}
                      data-testid={`qty-${v.sku}`}
                    />
                    <button type='submit' disabled={v.available <= 0} data-testid={`add-${v.sku}`}>{t('add')}</button>
                  </form>
                </li>
              ))}
            </ul>
          </li>
        ))}
      </ul>
    </Shell>
  );
}
